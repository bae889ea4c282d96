//! The WebSocket opening handshake (RFC 6455 §4.2) on an HTTP/1.1 request: what makes
//! a request an upgrade, the `101 Switching Protocols` answer, and what serves the
//! connection once answered: a request that came through hyper continues on hyper's
//! upgraded connection; one that [`super::listener`] read itself on the bare TCP stream
//! (the listener writes the answer and hands the continuation the socket).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use axum::extract::FromRequestParts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use tungstenite::protocol::WebSocketConfig;

use super::socket::{Io, Socket};

/// A request to open a WebSocket: its key, and the way to the connection once answered.
pub(super) struct Handshake {
    key: HeaderValue,
    upgrade: Upgrade,
}

/// Where the upgraded connection comes from.
enum Upgrade {
    /// hyper's, once it has written the answer.
    Hyper(hyper::upgrade::OnUpgrade),
    /// The listener's, which writes the answer and runs what the handler leaves here.
    Direct(DirectUpgrade),
}

/// What serves a WebSocket once the listener has written the `101`.
pub(super) type Continuation = Box<dyn FnOnce(Socket) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// The slot a request the listener read carries (an extension), where the handler that
/// accepts it leaves the [`Continuation`].
pub(super) type DirectUpgrade = Arc<Mutex<Option<Continuation>>>;

/// Why a request to the WebSocket endpoint is not an upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(super) enum NotAnUpgrade {
    #[error("a WebSocket upgrade must be a GET request")]
    NotGet,
    #[error("a WebSocket upgrade needs `Connection: upgrade`")]
    NoConnectionUpgrade,
    #[error("a WebSocket upgrade needs `Upgrade: websocket`")]
    NotWebSocket,
    #[error("a WebSocket upgrade needs `Sec-WebSocket-Version: 13`")]
    Version,
    #[error("a WebSocket upgrade needs a `Sec-WebSocket-Key` header")]
    NoKey,
    #[error("a WebSocket upgrade's `Sec-WebSocket-Key` must be 16 bytes in base64 (RFC 6455 §4.2.1)")]
    BadKey,
    #[error("this connection cannot be upgraded (it is not HTTP/1.1)")]
    NotUpgradable,
}

impl IntoResponse for NotAnUpgrade {
    fn into_response(self) -> Response {
        let status = match self {
            NotAnUpgrade::NotGet => StatusCode::METHOD_NOT_ALLOWED,
            NotAnUpgrade::NotUpgradable => StatusCode::UPGRADE_REQUIRED,
            _ => StatusCode::BAD_REQUEST,
        };
        let mut response = (status, self.to_string()).into_response();
        match self {
            // RFC 6455 §4.4: name the version this server speaks.
            NotAnUpgrade::Version => {
                response.headers_mut().insert(header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
            }
            // RFC 9110 §15.5.6: a 405 names the methods the resource takes.
            NotAnUpgrade::NotGet => {
                response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET"));
            }
            _ => {}
        }
        response
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Handshake {
    type Rejection = NotAnUpgrade;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, NotAnUpgrade> {
        let key = upgrade_key(&parts.method, &parts.headers)?.clone();
        let upgrade = match parts.extensions.remove::<DirectUpgrade>() {
            Some(direct) => Upgrade::Direct(direct),
            None => Upgrade::Hyper(
                parts.extensions.remove::<hyper::upgrade::OnUpgrade>().ok_or(NotAnUpgrade::NotUpgradable)?,
            ),
        };
        Ok(Handshake { key, upgrade })
    }
}

impl Handshake {
    /// Answers `101 Switching Protocols`, and runs `serve` with the socket once the
    /// connection is upgraded (on a task of its own). `config` is the reader's;
    /// `write_batch_bytes` is what the writer gathers before a write is due.
    pub(super) fn accept<F, Fut>(self, config: WebSocketConfig, write_batch_bytes: usize, serve: F) -> Response
    where
        F: FnOnce(Socket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Some(answer) = switching_protocols(&self.key) else {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        match self.upgrade {
            Upgrade::Hyper(on_upgrade) => {
                tokio::spawn(async move {
                    let upgraded = match on_upgrade.await {
                        Ok(upgraded) => upgraded,
                        Err(error) => return tracing::debug!(%error, "the WebSocket upgrade did not complete"),
                    };
                    serve(Socket::new(Io::Upgraded(TokioIo::new(upgraded)), config, write_batch_bytes).await).await;
                });
            }
            Upgrade::Direct(slot) => {
                *crate::sync::lock(&slot) = Some(Box::new(move |socket| Box::pin(serve(socket))));
            }
        }
        let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
        response.headers_mut().extend(answer);
        response
    }
}

/// The `Sec-WebSocket-Key` of a request that is a WebSocket upgrade (RFC 6455 §4.2.1),
/// or what makes it none.
pub(super) fn upgrade_key<'h>(method: &Method, headers: &'h HeaderMap) -> Result<&'h HeaderValue, NotAnUpgrade> {
    if method != Method::GET {
        return Err(NotAnUpgrade::NotGet);
    }
    if !has_token(headers, header::CONNECTION, "upgrade") {
        return Err(NotAnUpgrade::NoConnectionUpgrade);
    }
    if !has_token(headers, header::UPGRADE, "websocket") {
        return Err(NotAnUpgrade::NotWebSocket);
    }
    if !has_token(headers, header::SEC_WEBSOCKET_VERSION, "13") {
        return Err(NotAnUpgrade::Version);
    }
    let key = headers.get(header::SEC_WEBSOCKET_KEY).ok_or(NotAnUpgrade::NoKey)?;
    if !is_websocket_key(key.as_bytes()) {
        return Err(NotAnUpgrade::BadKey);
    }
    Ok(key)
}

/// Whether `key` is 16 bytes in base64 (RFC 6455 §4.2.1): 22 characters of the base64
/// alphabet, the last carrying no bits past the 16th byte, and `==`.
fn is_websocket_key(key: &[u8]) -> bool {
    const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let [digits @ .., b'=', b'='] = key else { return false };
    let Some(values) = digits.iter().map(|c| BASE64.iter().position(|b| b == c)).collect::<Option<Vec<_>>>() else {
        return false;
    };
    // 22 digits carry 132 bits: the last digit's low 4 bits are past the 128th.
    values.len() == 22 && values[21] & 0b1111 == 0
}

/// The headers of the `101 Switching Protocols` answer to `key` (RFC 6455 §4.2.2), the
/// same whether hyper writes them or [`super::listener`] does. `None` only if the
/// accept key were no header value, which base64 always is.
pub(super) fn switching_protocols(key: &HeaderValue) -> Option<[(HeaderName, HeaderValue); 3]> {
    let accept = HeaderValue::try_from(tungstenite::handshake::derive_accept_key(key.as_bytes())).ok()?;
    Some([
        (header::CONNECTION, HeaderValue::from_static("upgrade")),
        (header::UPGRADE, HeaderValue::from_static("websocket")),
        (header::SEC_WEBSOCKET_ACCEPT, accept),
    ])
}

/// Whether header `name` lists `token` (comma-separated, any case): `Connection:
/// keep-alive, Upgrade` lists `upgrade`.
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| item.trim().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_found_in_lists_in_any_case() {
        let mut headers = HeaderMap::new();
        headers.append(header::CONNECTION, HeaderValue::from_static("keep-alive, Upgrade"));
        assert!(has_token(&headers, header::CONNECTION, "upgrade"));
        assert!(!has_token(&headers, header::CONNECTION, "close"));
        headers.append(header::UPGRADE, HeaderValue::from_static("WebSocket"));
        assert!(has_token(&headers, header::UPGRADE, "websocket"));
        assert!(!has_token(&headers, header::SEC_WEBSOCKET_VERSION, "13"));
    }

    #[test]
    fn a_key_must_be_sixteen_bytes_in_base64() {
        assert!(is_websocket_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "RFC 6455's example");
        for bad in [
            &b"short"[..],
            b"",
            b"dGhlIHNhbXBsZSBub25jZQ",
            b"dGhlIHNhbXBsZSBub25jZQ=",
            b"dGhlIHNhbXBsZSBub25jZR==",
            b"dGhlIHNhbXBsZSBub25j*Q==",
            b"dGhlIHNhbXBsZSBub25jZSBtb3Jl",
            b"AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ] {
            assert!(!is_websocket_key(bad), "{}", String::from_utf8_lossy(bad));
        }
        let mut headers = HeaderMap::new();
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        headers.insert(header::SEC_WEBSOCKET_KEY, HeaderValue::from_static("short"));
        assert_eq!(upgrade_key(&Method::GET, &headers), Err(NotAnUpgrade::BadKey));
    }

    #[test]
    fn the_accept_key_is_rfc_6455s() {
        // The example of RFC 6455 §1.3.
        assert_eq!(
            tungstenite::handshake::derive_accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}

//! The WebSocket upgrade at `GET /ws`: the origin check, the query string
//! (`v`, `resume`, `last_seq`), the cap on sessions, authentication, and the hand-off
//! to the connection. Every upgrade comes here, through the router and the app's
//! layers, whether hyper read it or [`super::listener`] did.

use std::sync::Arc;

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use tungstenite::protocol::WebSocketConfig;

use super::ServerShared;
use super::access::{self, Identity};
use super::admission::{RETRY_AFTER, SessionSlot};
use super::handshake::{Handshake, NotAnUpgrade};
use super::{ConnectRequest, session_task};
use crate::config::Config;
use crate::guard::{self, Callback};
use crate::id::SessionId;
use crate::protocol::{self, Query};

/// The path of the WebSocket endpoint.
pub(super) const WS_PATH: &str = "/ws";

pub(super) async fn upgrade(
    State(server): State<Arc<ServerShared>>,
    ws: Result<Handshake, NotAnUpgrade>,
    parts: Parts,
) -> Response {
    let query = UpgradeQuery::read(parts.uri.query().unwrap_or_default());
    let ws = match ws {
        Ok(ws) => ws,
        Err(_) if query.probe => return probe(&server, parts.headers, &query).await,
        Err(not_an_upgrade) => return not_an_upgrade.into_response(),
    };
    if !server.admits_origin(&parts.headers).await {
        let refusal = server.config().origins.refusal(&parts.headers);
        tracing::warn!("WebSocket upgrade refused: {refusal}");
        return (axum::http::StatusCode::FORBIDDEN, refusal).into_response();
    }
    // A new session needs a place; resuming one that is alive takes none.
    let slot = match query.resume() {
        Some((id, _)) if server.registry.find_session(id).is_some() => None,
        _ => match server.admission.reserve_session() {
            Ok(slot) => Some(slot),
            Err(refusal) => {
                server.refused(None, &refusal);
                let retry_after = (axum::http::header::RETRY_AFTER, RETRY_AFTER.as_secs().to_string());
                return (axum::http::StatusCode::SERVICE_UNAVAILABLE, [retry_after], refusal.to_string())
                    .into_response();
            }
        },
    };
    let opening = Opening::read(&server, parts, query, slot).await;
    ws.accept(websocket_config(server.config()), server.config().write_buffer_bytes, move |socket| {
        session_task::run(server, socket, opening)
    })
}

/// [`protocol::PROBE_ORIGIN_HEADER`](crate::protocol::PROBE_ORIGIN_HEADER).
const PROBE_ORIGIN: HeaderName = HeaderName::from_static(crate::protocol::PROBE_ORIGIN_HEADER);

/// A plain `GET /ws?…&probe=1`: how an upgrade with these headers would be answered,
/// without one. A browser cannot read why its upgrade was refused (it sees only a
/// failed WebSocket), so the TypeScript client asks this after a handshake fails, and
/// tells the page and the console. The origin is the request's `Origin`, or else the
/// one a same-origin page names in `X-Pulse-Origin`. Readable from any origin
/// (`Access-Control-Allow-Origin: *`): it says no more than the refusal itself would.
async fn probe(server: &ServerShared, mut headers: HeaderMap, query: &UpgradeQuery) -> Response {
    if !headers.contains_key(header::ORIGIN) {
        if let Some(origin) = headers.get(&PROBE_ORIGIN).cloned() {
            headers.insert(header::ORIGIN, origin);
        }
    }
    let live_resume = query.resume().is_some_and(|(id, _)| server.registry.find_session(id).is_some());
    let (status, reason) = if !server.admits_origin(&headers).await {
        (StatusCode::FORBIDDEN, server.config().origins.refusal(&headers))
    } else if let Some(refusal) = server.admission.session_refusal().filter(|_| !live_resume) {
        (StatusCode::SERVICE_UNAVAILABLE, refusal.to_string())
    } else {
        (StatusCode::OK, "ok: an upgrade with these headers would be taken".to_owned())
    };
    let headers = [
        (header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*")),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ];
    (status, headers, reason).into_response()
}

/// What a connection takes from its upgrade request.
pub(super) struct Opening {
    /// The protocol version the client asked for (`v`).
    pub(super) version: Option<u32>,
    /// What the authentication hook said, if the server has one.
    pub(super) identity: Option<Result<Identity, String>>,
    /// The session to resume and the last sequence number its client saw.
    pub(super) resume: Option<(SessionId, u64)>,
    /// The query, for the session's parameters.
    pub(super) params: Query,
    /// The place a new session takes among the server's sessions, unless the request
    /// resumes a session that was alive.
    pub(super) slot: Option<SessionSlot>,
    /// The cluster's nodes, if this client is told them.
    pub(super) nodes: Option<tokio::sync::watch::Receiver<Arc<[String]>>>,
}

impl Opening {
    /// Reads the query string of `uri` and asks the authentication hook about the
    /// request.
    async fn read(server: &ServerShared, parts: Parts, query: UpgradeQuery, slot: Option<SessionSlot>) -> Self {
        let nodes = server.nodes_for(&parts.headers);
        let params = query.params.clone();
        let identity = authenticate(server, parts, &params).await;
        Opening { version: query.version(), identity, resume: query.resume(), params, slot, nodes }
    }
}

/// What the authentication hook says of a request for a session with `params`, if the
/// server has one.
pub(super) async fn authenticate(
    server: &ServerShared,
    parts: Parts,
    params: &Query,
) -> Option<Result<Identity, String>> {
    let authenticate = server.authenticator.as_ref()?;
    let request = ConnectRequest::new(parts, params.clone());
    let verdict =
        guard::call_async(Callback::Authenticate, server.registry.telemetry.as_ref(), || authenticate(request));
    // A panic refuses the connection, as an `Err` would (logged and counted).
    Some(verdict.await.unwrap_or_else(|_panicked| Err(access::AUTHENTICATE_PANICKED.to_owned())))
}

/// The reader's settings: frames and messages up to `Config::max_frame_bytes`, and a
/// parser buffer of `Config::read_buffer_bytes`.
pub(crate) fn websocket_config(config: &Config) -> WebSocketConfig {
    let limit = config.max_frame_bytes;
    WebSocketConfig::default()
        .max_message_size(Some(limit))
        .max_frame_size(Some(limit))
        .read_buffer_size(config.read_buffer_bytes)
}

/// The upgrade's query string: `v=<version>`, and `resume=<session id>&last_seq=<n>`
/// to resume a session; the app's own parameters, for the session. Every value is read
/// as text and parsed afterwards, so a malformed one never answers HTTP 400: a missing,
/// repeated or non-numeric `v` reaches the connection as no version (closed with 4500
/// `unsupported_version`), an unreadable `resume` id means a fresh session, and a
/// missing `last_seq` means 0.
#[derive(Debug, Default)]
pub(super) struct UpgradeQuery {
    params: Query,
    /// Whether this is a probe: a plain request asking how an upgrade would be answered.
    probe: bool,
}

impl UpgradeQuery {
    fn read(query: &str) -> Self {
        let params = Query::parse(query);
        let probe = params.get(protocol::PROBE_PARAM).is_some();
        UpgradeQuery { params, probe }
    }

    /// The `v` parameter of the query string, if present and a number.
    fn version(&self) -> Option<u32> {
        self.params.get(protocol::VERSION_PARAM)?.parse().ok()
    }

    /// The session to resume and the last sequence number its client saw:
    /// `resume=<session id>&last_seq=<n>`.
    fn resume(&self) -> Option<(SessionId, u64)> {
        let session = self.params.get(protocol::RESUME_PARAM)?.parse().ok()?;
        let last_seq = self.params.get(protocol::LAST_SEQ_PARAM).and_then(|n| n.parse().ok()).unwrap_or(0);
        Some((session, last_seq))
    }
}

#[cfg(test)]
mod tests {
    use super::UpgradeQuery;
    use crate::id::SessionId;

    const ID: &str = "6f1c0e4a9b2d4c8e8a7f3b1d2c4e5f60";

    /// Reads `uri`'s query the way the `upgrade` handler does.
    fn query(uri: &str) -> UpgradeQuery {
        UpgradeQuery::read(uri.split_once('?').map_or("", |(_, query)| query))
    }

    #[test]
    fn the_probe_parameter_is_the_protocols() {
        let probe = crate::protocol::PROBE_PARAM;
        assert!(query(&format!("/ws?v=1&{probe}=1")).probe);
        assert!(!query("/ws?v=1").probe);
    }

    fn id() -> SessionId {
        ID.parse().unwrap()
    }

    #[test]
    fn version_parameter() {
        assert_eq!(query("/ws?v=1").version(), Some(1));
        assert_eq!(query("/ws?x=2&v=3").version(), Some(3));
        assert_eq!(query("/ws?v=abc").version(), None);
        assert_eq!(query("/ws?v=").version(), None);
        assert_eq!(query("/ws?v=-1").version(), None);
        assert_eq!(query("/ws?x=1").version(), None);
        assert_eq!(query("/ws").version(), None);
    }

    #[test]
    fn resume_parameters() {
        assert_eq!(query(&format!("/ws?v=1&resume={ID}&last_seq=41")).resume(), Some((id(), 41)));
        assert_eq!(query(&format!("/ws?last_seq=7&resume={ID}&v=1")).resume(), Some((id(), 7)));
        // A missing or unreadable `last_seq` is 0.
        assert_eq!(query(&format!("/ws?v=1&resume={ID}")).resume(), Some((id(), 0)));
        assert_eq!(query(&format!("/ws?v=1&resume={ID}&last_seq=x")).resume(), Some((id(), 0)));
        // No `resume`, or one that is not a session id: a fresh session.
        assert_eq!(query("/ws?v=1").resume(), None);
        assert_eq!(query("/ws?v=1&last_seq=41").resume(), None);
        assert_eq!(query("/ws?v=1&resume=&last_seq=41").resume(), None);
        assert_eq!(query("/ws?v=1&resume=not-a-session&last_seq=41").resume(), None);
        assert_eq!(query(&format!("/ws?v=1&resume={}", ID.to_uppercase())).resume(), None);
        assert_eq!(query("/ws").resume(), None);
    }

    #[test]
    fn malformed_resume_keeps_the_version() {
        let parsed = query("/ws?v=1&resume=zzz&last_seq=-3");
        assert_eq!(parsed.version(), Some(1));
        assert_eq!(parsed.resume(), None);
    }

    #[test]
    fn a_repeated_parameter_is_absent_and_the_others_are_read() {
        let parsed = query(&format!("/ws?v=1&v=1&resume={ID}"));
        assert_eq!(parsed.version(), None);
        assert_eq!(parsed.resume(), Some((id(), 0)));
    }
}

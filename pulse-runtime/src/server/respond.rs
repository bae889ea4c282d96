//! HTTP answers the listener writes itself, on a connection hyper never sees: refusals
//! made before a request is read (`503`), a request head that never came whole (`408`),
//! and the router's answer to a WebSocket upgrade it read. Each is followed by a
//! lingering close, so a client still sending reads the answer rather than a reset.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode, header};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// How long a connection that was answered and is being closed may go on sending
/// before it is closed anyway.
pub(super) const LINGER: Duration = Duration::from_secs(1);

/// Most bytes read (and dropped) from a connection that is being closed.
const LINGER_BYTES: usize = 256 * 1024;

/// Largest body of an answer to an upgrade the listener writes (a refusal's text); a
/// longer one is cut to an empty `500`.
const MAX_BODY: usize = 64 * 1024;

/// The head of a short plain-text answer that closes the connection.
pub(super) fn plain_head(status: StatusCode, retry_after: Option<Duration>, body: &str) -> Vec<u8> {
    let mut head = status_line(status);
    if let Some(after) = retry_after {
        head.extend_from_slice(format!("retry-after: {}\r\n", after.as_secs()).as_bytes());
    }
    head.extend_from_slice(b"content-type: text/plain; charset=utf-8\r\n");
    head.extend_from_slice(format!("content-length: {}\r\nconnection: close\r\n\r\n", body.len()).as_bytes());
    head.extend_from_slice(body.as_bytes());
    head
}

/// `HTTP/1.1 <code> <reason>\r\n`.
fn status_line(status: StatusCode) -> Vec<u8> {
    format!("HTTP/1.1 {} {}\r\n", status.as_str(), status.canonical_reason().unwrap_or("")).into_bytes()
}

/// Writes `answer` (a whole response) and closes the connection, lingering.
pub(super) async fn answer_and_close(mut stream: TcpStream, answer: &[u8]) {
    if stream.write_all(answer).await.is_ok() {
        linger_close(stream).await;
    }
}

/// The bytes of `response`, a non-`101` answer with its body read whole; the
/// connection closes after it.
pub(super) async fn encode(response: Response<Body>) -> Vec<u8> {
    let (mut parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(body) => body,
        Err(error) => {
            tracing::warn!(%error, "the answer to a WebSocket upgrade had no readable body; answering 500");
            parts.status = StatusCode::INTERNAL_SERVER_ERROR;
            Default::default()
        }
    };
    for name in [header::CONTENT_LENGTH, header::TRANSFER_ENCODING, header::CONNECTION] {
        parts.headers.remove(name);
    }
    parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    parts.headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    let mut bytes = head(parts.status, &parts.headers);
    bytes.extend_from_slice(&body);
    bytes
}

/// A response head: the status line, `headers`, and the blank line.
pub(super) fn head(status: StatusCode, headers: &axum::http::HeaderMap) -> Vec<u8> {
    let mut bytes = status_line(status);
    for (name, value) in headers {
        bytes.extend_from_slice(name.as_str().as_bytes());
        bytes.extend_from_slice(b": ");
        bytes.extend_from_slice(value.as_bytes());
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"\r\n");
    bytes
}

/// Closes `stream` the way RFC 9112 §9.6 asks: the sending side first, then what the
/// client still sends is read and dropped until it closes too (or [`LINGER`] or
/// [`LINGER_BYTES`] pass), so its last writes do not make the kernel reset the
/// connection before the client has read the answer.
pub(super) async fn linger_close(mut stream: TcpStream) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let drain = async {
        let mut dropped = 0;
        let mut buf = [0; 4096];
        while dropped < LINGER_BYTES {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => dropped += n,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_answer_is_http_1_1_with_its_length_and_a_close() {
        let response = Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header("www-authenticate", "Bearer")
            .header(header::TRANSFER_ENCODING, "chunked")
            .body(Body::from("who are you?"))
            .unwrap();
        let text = String::from_utf8(encode(response).await).unwrap();
        assert_eq!(
            text,
            "HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Bearer\r\ncontent-length: 12\r\nconnection: close\r\n\r\nwho are you?"
        );
    }

    #[test]
    fn a_refusal_says_when_to_come_back() {
        let head = plain_head(StatusCode::SERVICE_UNAVAILABLE, Some(Duration::from_secs(5)), "busy");
        assert_eq!(
            String::from_utf8(head).unwrap(),
            "HTTP/1.1 503 Service Unavailable\r\nretry-after: 5\r\ncontent-type: text/plain; charset=utf-8\r\n\
             content-length: 4\r\nconnection: close\r\n\r\nbusy"
        );
    }
}

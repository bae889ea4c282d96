//! The listener under [`Server::bind`](super::Server::bind) and [`serve`](super::serve).
//! It peeks at each new connection's request head and, when that is a WebSocket upgrade
//! to `/ws` this server takes, answers `101 Switching Protocols` itself and serves the
//! WebSocket on the bare TCP stream. Every other connection goes on to axum with its
//! bytes still unread, so axum answers it as it would have: pages, metrics, assets, an
//! upgrade that is refused or malformed, and a head that did not arrive whole at once.
//!
//! hyper gives each connection an 8 KiB read buffer and an 8 KiB buffer for the answer's
//! head, for the whole handshake. Sessions made during a burst of connects are placed
//! among those buffers once freed, so the process keeps their pages: about 1 KiB per
//! session at 1,000 sessions (docs/benchmarks.md, W2). Here the head is peeked into the
//! thread's shared read buffer, and a handshake allocates only the parsed headers.

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Poll, ready};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Uri, header};
use tokio::io::{AsyncRead as _, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use super::connection;
use super::handshake::{switching_protocols, upgrade_key};
use super::registry::ServerShared;
use super::socket::{Io, Socket, with_scratch};
use super::upgrade::{Opening, WS_PATH, websocket_config};
use crate::config::Origins;

/// Most header lines the listener reads; a request with more goes to axum.
const MAX_HEADERS: usize = 32;

/// A connection for axum, and its peer.
type Passed = (TcpStream, SocketAddr);

/// Accepts TCP connections, takes the WebSocket upgrades and hands axum the rest.
pub(super) struct Listener {
    tcp: TcpListener,
    server: Arc<ServerShared>,
    /// The connections passed on, until axum accepts them.
    passed: mpsc::UnboundedReceiver<Passed>,
    pass: mpsc::UnboundedSender<Passed>,
    /// Dropped with the listener, when axum stops accepting: connections that have not
    /// sent their request yet are closed then.
    accepting: watch::Sender<()>,
}

impl Listener {
    pub(super) fn new(tcp: TcpListener, server: Arc<ServerShared>) -> Self {
        let (pass, passed) = mpsc::unbounded_channel();
        Listener { tcp, server, passed, pass, accepting: watch::Sender::new(()) }
    }
}

impl axum::serve::Listener for Listener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> Passed {
        loop {
            tokio::select! {
                biased;
                Some(passed) = self.passed.recv() => return passed,
                accepted = self.tcp.accept() => match accepted {
                    Ok((stream, peer)) => {
                        // Small frames must go out at once: Nagle's algorithm would hold the
                        // second of two back-to-back frames until the peer's delayed ACK.
                        if let Err(error) = stream.set_nodelay(true) {
                            tracing::debug!(%error, "could not set TCP_NODELAY");
                        }
                        let taken = take(stream, self.server.clone(), self.accepting.subscribe());
                        let pass = self.pass.clone();
                        tokio::spawn(async move {
                            if let Some(stream) = taken.await {
                                // Refused only once axum has stopped accepting.
                                let _ = pass.send((stream, peer));
                            }
                        });
                    }
                    Err(error) => accept_failed(error).await,
                },
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// After a failed `accept`: nothing to do if only that connection failed; otherwise
/// (out of file descriptors, most likely) a pause before the next, as hyper used to.
async fn accept_failed(error: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(error.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::error!(%error, "accepting a connection failed; pausing for a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Serves `stream` if its request is an upgrade this listener answers; otherwise gives
/// it back, unread, for axum. `accepting` ends when the server stops accepting.
async fn take(stream: TcpStream, server: Arc<ServerShared>, mut accepting: watch::Receiver<()>) -> Option<TcpStream> {
    let head = tokio::select! {
        head = peek(&stream, &server) => head,
        // The server is shutting down; this connection never asked for anything.
        _ = accepting.changed() => return None,
    };
    match head {
        Ok(Head::Upgrade(upgrade)) => {
            // Boxed: a connection waits for its request in a task of a few hundred
            // bytes, and the answer's state (about 2 KiB) is only made once it came.
            if let Err(error) = Box::pin(upgrade.answer(stream, server)).await {
                tracing::debug!(%error, "the WebSocket upgrade did not complete");
            }
            None
        }
        Ok(Head::Other) => Some(stream),
        Ok(Head::Closed) => None,
        Err(error) => {
            tracing::debug!(%error, "connection failed before its request arrived");
            None
        }
    }
}

/// What a connection's first bytes are, as far as the listener is concerned.
#[derive(Debug)]
enum Head {
    /// An upgrade request it answers.
    Upgrade(Box<Upgrade>),
    /// Anything else: axum's to answer.
    Other,
    /// The peer closed the connection before sending anything.
    Closed,
}

/// An upgrade request to `/ws`, read whole from the socket's first bytes.
#[derive(Debug)]
struct Upgrade {
    /// The length of the request head, to be read off the socket once answered.
    len: usize,
    uri: Uri,
    headers: HeaderMap,
    /// The `101 Switching Protocols` answer, whole.
    answer: Vec<u8>,
}

/// Waits for the connection's first bytes and reads them without taking them off the
/// socket.
async fn peek(stream: &TcpStream, server: &ServerShared) -> io::Result<Head> {
    poll_fn(|cx| {
        with_scratch(|scratch| {
            let mut buf = ReadBuf::new(scratch);
            ready!(stream.poll_peek(cx, &mut buf))?;
            Poll::Ready(Ok(Head::parse(buf.filled(), &server.config.origins)))
        })
    })
    .await
}

impl Head {
    /// Reads `bytes`, a connection's first, as a request head. An upgrade that is
    /// incomplete, refused or unusual in any way is `Other`, for axum to answer.
    fn parse(bytes: &[u8], origins: &Origins) -> Head {
        if bytes.is_empty() {
            return Head::Closed;
        }
        let mut lines = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut lines);
        let Ok(httparse::Status::Complete(len)) = request.parse(bytes) else { return Head::Other };
        if request.method != Some("GET") || request.version != Some(1) {
            return Head::Other;
        }
        let Some(target) = request.path.filter(|path| is_ws_path(path)) else { return Head::Other };
        let Ok(uri) = Uri::try_from(target) else { return Head::Other };
        let mut headers = HeaderMap::with_capacity(request.headers.len());
        for line in request.headers.iter() {
            let (Ok(name), Ok(value)) =
                (HeaderName::from_bytes(line.name.as_bytes()), HeaderValue::from_bytes(line.value))
            else {
                return Head::Other;
            };
            headers.append(name, value);
        }
        // An upgrade has no body: bytes after the head are WebSocket frames.
        if headers.contains_key(header::CONTENT_LENGTH) || headers.contains_key(header::TRANSFER_ENCODING) {
            return Head::Other;
        }
        if !origins.allows(&headers) {
            return Head::Other;
        }
        let Some(answer) = upgrade_key(&Method::GET, &headers).ok().and_then(switching_protocols) else {
            return Head::Other;
        };
        let mut head = b"HTTP/1.1 101 Switching Protocols\r\n".to_vec();
        for (name, value) in answer {
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"\r\n");
        Head::Upgrade(Box::new(Upgrade { len, uri, headers, answer: head }))
    }
}

/// Whether a request target is the WebSocket endpoint, with or without a query.
fn is_ws_path(target: &str) -> bool {
    target.strip_prefix(WS_PATH).is_some_and(|rest| rest.is_empty() || rest.starts_with('?'))
}

impl Upgrade {
    /// Reads the request off the socket, asks the authentication hook, answers, and
    /// starts the connection.
    async fn answer(self, mut stream: TcpStream, server: Arc<ServerShared>) -> io::Result<()> {
        discard(&mut stream, self.len).await?;
        let opening = Opening::read(&server, self.headers, &self.uri).await;
        stream.write_all(&self.answer).await?;
        let config = websocket_config(&server.config);
        let socket = Socket::new(Io::Tcp(stream), config, server.config.write_buffer_bytes).await;
        connection::run(server, socket, opening).await;
        Ok(())
    }
}

/// Reads `len` bytes off `stream` (a request head it has peeked at) into nothing.
async fn discard(stream: &mut TcpStream, mut len: usize) -> io::Result<()> {
    while len > 0 {
        let read = poll_fn(|cx| {
            with_scratch(|scratch| {
                let room = len.min(scratch.len());
                let mut buf = ReadBuf::new(&mut scratch[..room]);
                ready!(Pin::new(&mut *stream).poll_read(cx, &mut buf))?;
                Poll::Ready(Ok::<_, io::Error>(buf.filled().len()))
            })
        })
        .await?;
        if read == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        len -= read;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPGRADE: &str = "GET /ws?v=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
                           Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

    fn parse(request: &str) -> Head {
        Head::parse(request.as_bytes(), &Origins::SameHost)
    }

    #[test]
    fn an_upgrade_is_answered_with_rfc_6455s_accept_key() {
        let Head::Upgrade(upgrade) = parse(UPGRADE) else { panic!("not taken") };
        assert_eq!(upgrade.len, UPGRADE.len());
        assert_eq!(upgrade.uri, "/ws?v=1");
        assert_eq!(upgrade.headers.len(), 5);
        assert_eq!(
            String::from_utf8(upgrade.answer).unwrap(),
            "HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n\
             sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        );
    }

    #[test]
    fn bytes_after_the_head_stay_on_the_socket() {
        let Head::Upgrade(upgrade) = parse(&format!("{UPGRADE}\u{81}\u{0}")) else { panic!("not taken") };
        assert_eq!(upgrade.len, UPGRADE.len());
    }

    #[test]
    fn nothing_at_all_is_a_closed_connection() {
        assert!(matches!(parse(""), Head::Closed));
    }

    #[test]
    fn whatever_is_not_a_plain_upgrade_to_the_endpoint_goes_to_axum() {
        let cut = &UPGRADE[..UPGRADE.len() - 2];
        let post = UPGRADE.replacen("GET", "POST", 1);
        let http10 = UPGRADE.replacen("HTTP/1.1", "HTTP/1.0", 1);
        let elsewhere = UPGRADE.replacen("/ws?v=1", "/metrics", 1);
        let no_key = UPGRADE.replacen("Sec-WebSocket-Key", "X-Key", 1);
        let old = UPGRADE.replacen("Version: 13", "Version: 8", 1);
        let body = UPGRADE.replacen("Host: x\r\n", "Host: x\r\nContent-Length: 2\r\n", 1);
        let chunked = UPGRADE.replacen("Host: x\r\n", "Host: x\r\nTransfer-Encoding: chunked\r\n", 1);
        let cross_site = UPGRADE.replacen("Host: x\r\n", "Host: x\r\nOrigin: https://elsewhere.example\r\n", 1);
        let many = UPGRADE.replacen("Host: x\r\n", &"Host: x\r\n".repeat(MAX_HEADERS), 1);
        let garbage = "\u{16}\u{3}\u{1}\u{2}\u{0}\u{1}\u{0}\u{1}\u{fc}\u{3}\u{3}";
        for request in [cut, &post, &http10, &elsewhere, &no_key, &old, &body, &chunked, &cross_site, &many, garbage] {
            assert!(matches!(parse(request), Head::Other), "{request:?}");
        }
    }

    #[test]
    fn a_connection_waits_for_its_request_in_a_small_task() {
        fn future_size<A, B, C, Fut>(_: impl FnOnce(A, B, C) -> Fut) -> usize {
            std::mem::size_of::<Fut>()
        }
        let waiting = future_size(take);
        assert!(waiting <= 384, "a connection's task is {waiting} bytes while it waits");
    }

    #[test]
    fn only_the_endpoint_is_the_endpoint() {
        for path in ["/ws", "/ws?v=1", "/ws?"] {
            assert!(is_ws_path(path), "{path}");
        }
        for path in ["/", "/ws/", "/wss", "/ws#x", "/metrics", "http://host/ws", "*", "/WS"] {
            assert!(!is_ws_path(path), "{path}");
        }
    }
}

//! The listener under [`Server::bind`](super::Server::bind) and [`serve`](super::serve).
//! It admits or refuses each new connection the moment it is accepted
//! ([`super::admission`]), then waits, up to `Config::request_head_timeout`, for its
//! request head. A WebSocket upgrade to `/ws` goes to the router (the app's layers
//! included) as a request the listener read itself; when the router answers `101
//! Switching Protocols`, the listener writes it and serves the WebSocket on the bare
//! TCP stream. Every other connection goes to hyper ([`super::http`]) with the bytes
//! read so far, and hyper serves it with the same router.
//!
//! hyper gives each connection an 8 KiB read buffer and an 8 KiB buffer for the answer's
//! head, for the whole handshake. Sessions made during a burst of connects are placed
//! among those buffers once freed, so the process keeps their pages: about 1 KiB per
//! session at 1,000 sessions (docs/benchmarks.md, W2). Here a head that arrives in one
//! piece is peeked into the thread's shared read buffer, and a handshake allocates only
//! the request it hands the router.

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode, Uri, Version, header};
use tokio::io::{AsyncRead as _, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower_service::Service as _;

use super::ServerShared;
use super::admission::{ConnectionPermit, RETRY_AFTER, Refusal};
use super::handshake::{Continuation, DirectUpgrade};
use super::http::{self, ClientAddr, Rewind};
use super::respond;
use super::socket::{Io, Socket, with_scratch};
use super::upgrade::{WS_PATH, websocket_config};

/// Most header lines of a request head the listener reads; a request with more goes to
/// hyper, which answers it.
const MAX_HEADERS: usize = 64;

/// Most bytes of a request head the listener waits for; a longer head goes to hyper,
/// which refuses it (`431`).
pub(crate) const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Refused connections closed gently at once (their refusal written, then what they
/// send read until they close); past it, a refused connection is dropped at once, so a
/// flood of refusals cannot hold the descriptors the caps keep free.
const MAX_LINGERING: usize = 256;

/// Accepts TCP connections, takes the WebSocket upgrades and hands hyper the rest.
pub(super) struct Listener {
    tcp: TcpListener,
    server: Arc<ServerShared>,
    router: Router,
    lingering: Arc<AtomicUsize>,
}

impl Listener {
    pub(super) fn new(tcp: TcpListener, server: Arc<ServerShared>, router: Router) -> Self {
        Listener { tcp, server, router, lingering: Arc::default() }
    }

    /// Accepts connections until `stop` completes; then stops accepting, closes the
    /// connections that have not sent a request, lets hyper finish the requests in
    /// progress, and returns once every connection it serves has ended.
    pub(super) async fn run(self, stop: impl Future<Output = ()>) {
        let (stopping, watcher) = watch::channel(false);
        tokio::pin!(stop);
        loop {
            let (stream, peer) = tokio::select! {
                biased;
                () = &mut stop => break,
                accepted = self.tcp.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        accept_failed(error).await;
                        continue;
                    }
                },
            };
            // Small frames must go out at once: Nagle's algorithm would hold the
            // second of two back-to-back frames until the peer's delayed ACK.
            if let Err(error) = stream.set_nodelay(true) {
                tracing::debug!(%error, "could not set TCP_NODELAY");
            }
            match self.server.admission.admit(peer) {
                Ok(permit) => {
                    let connection = Connection { stream, peer, permit, server: self.server.clone() };
                    tokio::spawn(connection.serve(self.router.clone(), watcher.clone()));
                }
                Err(refusal) => self.refuse(stream, peer, &refusal),
            }
        }
        drop(self.tcp);
        drop(watcher);
        let _ = stopping.send(true);
        stopping.closed().await;
    }

    /// Answers `503` with `Retry-After` to a connection past a cap, without reading it.
    fn refuse(&self, stream: TcpStream, peer: SocketAddr, refusal: &Refusal) {
        self.server.refused(Some(peer), refusal);
        if self.lingering.fetch_add(1, Ordering::AcqRel) >= MAX_LINGERING {
            self.lingering.fetch_sub(1, Ordering::AcqRel);
            return; // dropped: closed at once
        }
        let answer = respond::plain_head(StatusCode::SERVICE_UNAVAILABLE, Some(RETRY_AFTER), &refusal.to_string());
        let lingering = self.lingering.clone();
        tokio::spawn(async move {
            respond::answer_and_close(stream, &answer).await;
            lingering.fetch_sub(1, Ordering::AcqRel);
        });
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

/// An admitted connection whose request has not been read yet.
struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    permit: ConnectionPermit,
    server: Arc<ServerShared>,
}

impl Connection {
    /// Waits for the request head, then serves the connection.
    async fn serve(self, router: Router, mut stopping: watch::Receiver<bool>) {
        let timeout = self.server.config().request_head_timeout;
        let head = tokio::select! {
            head = tokio::time::timeout(timeout, read_head(&self.stream)) => head,
            // The server is shutting down; this connection never asked for anything.
            _ = stopping.wait_for(|stop| *stop) => return,
        };
        match head {
            Err(_elapsed) => {
                tracing::debug!(peer = %self.peer, "no whole request head in {timeout:?}; closing the connection");
                let reason = format!("request_head_timeout: no whole request head in {} s", timeout.as_secs_f32());
                let answer = respond::plain_head(StatusCode::REQUEST_TIMEOUT, None, &reason);
                Box::pin(respond::answer_and_close(self.stream, &answer)).await;
            }
            Ok(Err(error)) => tracing::debug!(%error, "connection failed before its request arrived"),
            Ok(Ok(Head::Closed)) => {}
            Ok(Ok(Head::Upgrade(upgrade))) => {
                // Boxed: a connection waits for its request in a task of a few hundred
                // bytes, and the answer's state is only made once it came.
                Box::pin(upgrade.answer(self, router)).await;
            }
            Ok(Ok(Head::Other(read))) => {
                let Connection { stream, peer, permit, server } = self;
                let io = Rewind::new(read, stream, permit);
                Box::pin(http::serve(io, peer, &server, router, stopping)).await;
            }
        }
    }
}

/// A connection's request head, as far as the listener is concerned.
#[derive(Debug)]
pub(crate) enum Head {
    /// A WebSocket upgrade to `/ws`, for the listener to answer.
    Upgrade(Box<Upgrade>),
    /// Anything else, and the bytes read off the socket so far: hyper's to answer.
    Other(Vec<u8>),
    /// The peer closed the connection before sending a whole head.
    Closed,
}

/// An upgrade request to `/ws`, read whole.
#[derive(Debug)]
pub(crate) struct Upgrade {
    /// The request, for the router.
    pub(crate) request: Box<Request<Body>>,
    /// Bytes of the head still on the socket (it was only peeked at).
    pub(crate) unread: usize,
    /// Bytes read off the socket after the head: the client's first frames.
    pub(crate) after: Vec<u8>,
}

/// Reads a connection's request head: peeked at, if it arrives in one piece (the bytes
/// stay on the socket); otherwise read off the socket as it comes, up to
/// [`MAX_HEAD_BYTES`].
async fn read_head(stream: &TcpStream) -> io::Result<Head> {
    let first = poll_fn(|cx| {
        with_scratch(|scratch| {
            let mut buf = ReadBuf::new(scratch);
            ready!(stream.poll_peek(cx, &mut buf))?;
            Poll::Ready(Ok::<_, io::Error>(first_look(buf.filled())))
        })
    })
    .await?;
    match first {
        Some(head) => Ok(head),
        // Boxed: the common case, a head in one piece, keeps the waiting task small.
        None => Box::pin(read_in_pieces(stream)).await,
    }
}

/// What a connection's first bytes, peeked at, say: the head, if they hold all of it
/// (or show it is not one the listener reads); `None` if more must be read.
pub(crate) fn first_look(peeked: &[u8]) -> Option<Head> {
    match parse(peeked) {
        Parsed::Complete(len, upgrade) => Some(upgrade.map_or(Head::Other(Vec::new()), |request| {
            Head::Upgrade(Box::new(Upgrade { request, unread: len, after: Vec::new() }))
        })),
        Parsed::Other => Some(Head::Other(Vec::new())),
        Parsed::Partial if peeked.is_empty() => Some(Head::Closed),
        Parsed::Partial => None,
    }
}

/// Reads a request head that came in pieces (or slowly) off the socket as it comes.
async fn read_in_pieces(stream: &TcpStream) -> io::Result<Head> {
    let mut head = HeadReader::default();
    loop {
        stream.readable().await?;
        let took = with_scratch(|scratch| {
            let room = head.room().min(scratch.len());
            match stream.try_read(&mut scratch[..room]) {
                Ok(0) => Ok(Some(Head::Closed)),
                Ok(n) => Ok(head.feed(&scratch[..n])),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => Ok(None),
                Err(error) => Err(error),
            }
        })?;
        if let Some(head) = took {
            return Ok(head);
        }
    }
}

/// A request head read as the socket delivers it, piece by piece (sans-IO: the caller
/// reads, at most [`HeadReader::room`] bytes at a time).
#[derive(Debug, Default)]
pub(crate) struct HeadReader {
    read: Vec<u8>,
}

impl HeadReader {
    /// Most bytes the next read may take: a head past [`MAX_HEAD_BYTES`] is hyper's to
    /// refuse, so one byte more than that is all the listener ever holds.
    pub(crate) fn room(&self) -> usize {
        MAX_HEAD_BYTES + 1 - self.read.len()
    }

    /// Takes the next piece read (at most [`HeadReader::room`] bytes); the head, once
    /// it is whole or known not to be one the listener reads.
    pub(crate) fn feed(&mut self, piece: &[u8]) -> Option<Head> {
        self.read.extend_from_slice(piece);
        match parse(&self.read) {
            Parsed::Complete(len, Some(request)) => {
                let mut read = std::mem::take(&mut self.read);
                let after = read.split_off(len);
                Some(Head::Upgrade(Box::new(Upgrade { request, unread: 0, after })))
            }
            Parsed::Complete(_, None) | Parsed::Other => Some(Head::Other(std::mem::take(&mut self.read))),
            Parsed::Partial if self.read.len() > MAX_HEAD_BYTES => Some(Head::Other(std::mem::take(&mut self.read))),
            Parsed::Partial => None,
        }
    }
}

/// What a connection's first bytes are.
pub(crate) enum Parsed {
    /// A whole head of this length; the request if it is a WebSocket upgrade to `/ws`.
    Complete(usize, Option<Box<Request<Body>>>),
    /// Not a whole head yet.
    Partial,
    /// Not a request the listener reads (malformed, or too many header lines).
    Other,
}

/// Reads `bytes`, a connection's first, as a request head.
pub(crate) fn parse(bytes: &[u8]) -> Parsed {
    let mut lines = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut head = httparse::Request::new(&mut lines);
    let len = match head.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(_) => return Parsed::Other,
    };
    Parsed::Complete(len, upgrade_request(&head).map(Box::new))
}

/// The request `head` is, if it is a WebSocket upgrade to the endpoint: a `GET` of
/// `/ws` in HTTP/1.1 that asks for `Upgrade: websocket` and has no body. Whether it is
/// a valid one is the router's to say.
fn upgrade_request(head: &httparse::Request<'_, '_>) -> Option<Request<Body>> {
    if head.method != Some("GET") || head.version != Some(1) {
        return None;
    }
    let uri = Uri::try_from(head.path.filter(|path| is_ws_path(path))?).ok()?;
    let mut headers = HeaderMap::with_capacity(head.headers.len());
    for line in head.headers.iter() {
        let name = HeaderName::from_bytes(line.name.as_bytes()).ok()?;
        headers.append(name, HeaderValue::from_bytes(line.value).ok()?);
    }
    // An upgrade has no body: bytes after the head are WebSocket frames.
    if headers.contains_key(header::CONTENT_LENGTH) || headers.contains_key(header::TRANSFER_ENCODING) {
        return None;
    }
    let upgrade = headers.get(header::UPGRADE)?.to_str().ok()?;
    if !upgrade.split(',').any(|protocol| protocol.trim().eq_ignore_ascii_case("websocket")) {
        return None;
    }
    let mut request = Request::new(Body::empty());
    *request.uri_mut() = uri;
    *request.version_mut() = Version::HTTP_11;
    *request.headers_mut() = headers;
    Some(request)
}

/// Whether a request target is the WebSocket endpoint, with or without a query.
fn is_ws_path(target: &str) -> bool {
    target.strip_prefix(WS_PATH).is_some_and(|rest| rest.is_empty() || rest.starts_with('?'))
}

impl Upgrade {
    /// Asks the router for the answer (the app's layers, the origin check, the
    /// authentication hook); writes it, and, if it is `101`, serves the WebSocket.
    async fn answer(self, connection: Connection, router: Router) {
        let Connection { mut stream, peer, mut permit, server } = connection;
        let Upgrade { mut request, unread, after } = self;
        if let Err(error) = discard(&mut stream, unread).await {
            return tracing::debug!(%error, "the connection failed during its upgrade");
        }
        let client = server.admission.client_address(peer.ip(), request.headers());
        if let Err(refusal) = permit.admit_client(client) {
            server.refused(Some(peer), &refusal);
            let answer = respond::plain_head(StatusCode::SERVICE_UNAVAILABLE, Some(RETRY_AFTER), &refusal.to_string());
            return respond::answer_and_close(stream, &answer).await;
        }
        let slot = for_the_router(&mut request, peer, client);
        let Ok(response) = router.clone().call(*request).await;
        let continuation: Option<Continuation> = crate::sync::lock(&slot).take();
        match continuation {
            Some(serve) if response.status() == StatusCode::SWITCHING_PROTOCOLS => {
                let head = respond::head(response.status(), response.headers());
                drop(response);
                if let Err(error) = stream.write_all(&head).await {
                    return tracing::debug!(%error, "the WebSocket upgrade did not complete");
                }
                let config = websocket_config(server.config());
                let io = Io::Tcp { stream, _permit: permit };
                serve(Socket::with_read(io, after, config, server.config().write_buffer_bytes).await).await;
            }
            _ => respond::answer_and_close(stream, &respond::encode(response).await).await,
        }
    }
}

/// Gives an upgrade request what the router's handlers read from it: the peer's and the
/// client's address, and the slot where the WebSocket handler leaves the session to
/// serve once the listener has written `101`.
pub(crate) fn for_the_router(request: &mut Request<Body>, peer: SocketAddr, client: std::net::IpAddr) -> DirectUpgrade {
    let slot: DirectUpgrade = Arc::new(Mutex::new(None));
    request.extensions_mut().insert(ConnectInfo(peer));
    request.extensions_mut().insert(ClientAddr(client));
    request.extensions_mut().insert(slot.clone());
    slot
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

    #[test]
    fn an_upgrade_to_the_endpoint_is_read_whole_for_the_router() {
        let Parsed::Complete(len, Some(request)) = parse(UPGRADE.as_bytes()) else { panic!("not taken") };
        assert_eq!(len, UPGRADE.len());
        assert_eq!(request.uri(), "/ws?v=1");
        assert_eq!(request.method(), "GET");
        assert_eq!(request.headers().len(), 5);
        assert_eq!(request.headers()["sec-websocket-key"], "dGhlIHNhbXBsZSBub25jZQ==");
    }

    #[test]
    fn bytes_after_the_head_are_not_the_heads() {
        let Parsed::Complete(len, Some(_)) = parse(format!("{UPGRADE}\u{81}\u{0}").as_bytes()) else {
            panic!("not taken")
        };
        assert_eq!(len, UPGRADE.len());
    }

    #[test]
    fn a_head_not_yet_whole_is_partial() {
        for cut in [0, 1, 20, UPGRADE.len() - 2, UPGRADE.len() - 1] {
            assert!(matches!(parse(&UPGRADE.as_bytes()[..cut]), Parsed::Partial), "{cut}");
        }
    }

    #[test]
    fn whatever_is_not_an_upgrade_to_the_endpoint_goes_to_hyper() {
        let post = UPGRADE.replacen("GET", "POST", 1);
        let head = UPGRADE.replacen("GET", "HEAD", 1);
        let http10 = UPGRADE.replacen("HTTP/1.1", "HTTP/1.0", 1);
        let elsewhere = UPGRADE.replacen("/ws?v=1", "/metrics", 1);
        let no_upgrade = UPGRADE.replacen("Upgrade: websocket\r\n", "", 1);
        let h2c = UPGRADE.replacen("Upgrade: websocket", "Upgrade: h2c", 1);
        let body = UPGRADE.replacen("Host: x\r\n", "Host: x\r\nContent-Length: 2\r\n", 1);
        let chunked = UPGRADE.replacen("Host: x\r\n", "Host: x\r\nTransfer-Encoding: chunked\r\n", 1);
        for request in [&post, &head, &http10, &elsewhere, &no_upgrade, &h2c, &body, &chunked] {
            assert!(matches!(parse(request.as_bytes()), Parsed::Complete(_, None)), "{request:?}");
        }
        let many = UPGRADE.replacen("Host: x\r\n", &"Host: x\r\n".repeat(MAX_HEADERS), 1);
        let garbage = "\u{16}\u{3}\u{1}\u{2}\u{0}\u{1}\u{0}\u{1}\u{fc}\u{3}\u{3}";
        for request in [&many, garbage] {
            assert!(matches!(parse(request.as_bytes()), Parsed::Other), "{request:?}");
        }
    }

    #[test]
    fn a_refused_or_malformed_upgrade_is_still_the_routers_to_answer() {
        // The router answers these (403, 400, 426): one path, whatever started the server.
        let no_key = UPGRADE.replacen("Sec-WebSocket-Key", "X-Key", 1);
        let old = UPGRADE.replacen("Version: 13", "Version: 8", 1);
        let cross_site = UPGRADE.replacen("Host: x\r\n", "Host: x\r\nOrigin: https://elsewhere.example\r\n", 1);
        for request in [&no_key, &old, &cross_site] {
            assert!(matches!(parse(request.as_bytes()), Parsed::Complete(_, Some(_))), "{request:?}");
        }
    }

    #[test]
    fn a_connection_waits_for_its_request_in_a_small_task() {
        fn future_size<A, B, C, Fut>(_: impl FnOnce(A, B, C) -> Fut) -> usize {
            std::mem::size_of::<Fut>()
        }
        // The connection, its permit, the router, the head timeout's timer and the
        // shutdown watch: about 650 bytes. The answer, a head in pieces and the HTTP
        // connection are boxed, made only once needed.
        let waiting = future_size(Connection::serve);
        assert!(waiting <= 704, "a connection's task is {waiting} bytes while it waits");
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

//! The server's edge, fed as a socket feeds it: an input is a control byte, a seed, and
//! the bytes a client sends, which the seed cuts into the pieces successive reads
//! return. The invariants checked are the ones the server relies on:
//!
//! - a request head reads the same however it is cut, the listener never holds more
//!   than [`MAX_HEAD_BYTES`] and one byte of it, and the router's `101` always comes with
//!   the session it is to serve (the listener writes `101` only then);
//! - the WebSocket read path yields the same messages, and ends the same way, however
//!   the bytes are cut, and whether the first piece came behind the request head;
//! - after the server's close, the drain stops exactly when the client's close frame has
//!   passed whole (checked against a frame walk of its own), or at the end of what the
//!   client sent.

use std::cell::RefCell;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::http::StatusCode;
use futures_util::StreamExt as _;
use tokio::io::{AsyncRead, ReadBuf};
use tokio_tungstenite::WebSocketStream;
use tower_service::Service as _;
use tungstenite::Message;
use tungstenite::protocol::Role;

use crate::Config;
use crate::server::{
    Head, HeadReader, Inbound, LazyRead, MAX_HEAD_BYTES, Parsed, Replies, drain, first_look, for_the_router, parse,
    read_error_ending, websocket_config,
};
use crate::session::Ending;

/// Piece sizes a seed picks from: single bytes, odd small cuts, and reads as large as a
/// socket's.
const SIZES: [usize; 10] = [1, 2, 3, 5, 8, 13, 64, 500, 4096, 20_000];

/// An input's control byte, and its data cut into the pieces a socket would deliver
/// (the data whole when the seed is 0).
fn cut(input: &[u8]) -> (u8, Vec<&[u8]>) {
    let (control, seed, mut data) = match input {
        [control, seed, data @ ..] => (*control, *seed, data),
        [control] => (*control, 0, &[][..]),
        [] => (0, 0, &[][..]),
    };
    if seed == 0 {
        return (control, if data.is_empty() { Vec::new() } else { vec![data] });
    }
    let mut state = u64::from(seed).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut pieces = Vec::new();
    while !data.is_empty() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let size = SIZES[(state % SIZES.len() as u64) as usize].min(data.len());
        let (piece, rest) = data.split_at(size);
        pieces.push(piece);
        data = rest;
    }
    (control, pieces)
}

/// A client's bytes as successive socket reads return them: each read takes at most
/// the rest of the current piece; after the last, the end of the stream.
struct Pieces<'a> {
    pieces: Vec<&'a [u8]>,
    next: usize,
    at: usize,
    /// Bytes not handed out yet.
    left: usize,
}

impl<'a> Pieces<'a> {
    fn new(pieces: Vec<&'a [u8]>) -> Self {
        let left = pieces.iter().map(|piece| piece.len()).sum();
        Pieces { pieces, next: 0, at: 0, left }
    }

    /// The next read of at most `room` bytes; empty at the end.
    fn read(&mut self, room: usize) -> &'a [u8] {
        let Some(piece) = self.pieces.get(self.next) else { return &[] };
        let n = room.min(piece.len() - self.at);
        let read = &piece[self.at..self.at + n];
        self.at += n;
        if self.at == piece.len() {
            self.next += 1;
            self.at = 0;
        }
        self.left -= n;
        read
    }
}

impl AsyncRead for Pieces<'_> {
    fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let read = self.read(buf.remaining());
        buf.put_slice(read);
        Poll::Ready(Ok(()))
    }
}

thread_local! {
    /// A runtime to run the async parts on (nothing here ever waits: the reads are all
    /// ready), and a default server's router.
    static RUNTIME: tokio::runtime::Runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    static ROUTER: RefCell<Option<Router>> = const { RefCell::new(None) };
}

fn block_on<F: Future>(future: F) -> F::Output {
    RUNTIME.with(|runtime| runtime.block_on(future))
}

fn router() -> Router {
    ROUTER.with(|router| {
        let mut router = router.borrow_mut();
        let router = router.get_or_insert_with(|| {
            RUNTIME.with(|runtime| {
                let _entered = runtime.enter();
                crate::Server::builder().build().router()
            })
        });
        router.clone()
    })
}

/// The listener's reading of a request head, then the router's answer to an upgrade.
pub fn request_head(input: &[u8]) {
    let (_, pieces) = cut(input);
    let data = pieces.concat();
    let mut socket = Pieces::new(pieces.clone());
    // The first piece is only peeked at; it stays on the socket.
    let head = match first_look(pieces.first().copied().unwrap_or_default()) {
        Some(head) => {
            check_peeked(&head, &data);
            head
        }
        None => {
            let mut reader = HeadReader::default();
            loop {
                let room = reader.room();
                let read = socket.read(room);
                assert!(read.len() <= room);
                if read.is_empty() {
                    // The client closed before a whole head.
                    assert!(matches!(parse(&data), Parsed::Partial), "a whole head was not seen");
                    assert!(data.len() <= MAX_HEAD_BYTES, "more than the limit was waited for");
                    break Head::Closed;
                }
                let taken = data.len() - socket.left;
                if let Some(head) = reader.feed(read) {
                    check_read(&head, &data[..taken]);
                    break head;
                }
                assert!(taken <= MAX_HEAD_BYTES, "the listener held {taken} bytes of a head");
            }
        }
    };
    if let Head::Upgrade(upgrade) = head {
        let mut request = *upgrade.request;
        let peer = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 40_000);
        let slot = for_the_router(&mut request, peer, peer.ip());
        let mut router = router();
        let response = block_on(async move {
            let Ok(response) = router.call(request).await;
            response
        });
        let status = response.status();
        let continuation = crate::sync::lock(&slot).take();
        assert_eq!(
            status == StatusCode::SWITCHING_PROTOCOLS,
            continuation.is_some(),
            "a 101 comes with the session to serve, and only a 101: {status}"
        );
        assert!([101, 400, 403, 405, 426, 503].contains(&status.as_u16()), "an upgrade answered {status}");
    }
}

/// A head peeked at in one piece is what the whole of what the client sent says.
fn check_peeked(head: &Head, data: &[u8]) {
    match (head, parse(data)) {
        (Head::Upgrade(upgrade), Parsed::Complete(len, Some(request))) => {
            assert_eq!((upgrade.unread, upgrade.after.len()), (len, 0));
            assert_same_request(&upgrade.request, &request);
        }
        (Head::Other(read), Parsed::Complete(_, None) | Parsed::Other) => assert!(read.is_empty()),
        (Head::Closed, _) => assert!(data.is_empty()),
        (head, _) => panic!("peeked {head:?}, but the whole says otherwise"),
    }
}

/// A head read in pieces (`read`, all the listener took off the socket) is what the
/// same bytes in one piece say.
fn check_read(head: &Head, read: &[u8]) {
    assert!(read.len() <= MAX_HEAD_BYTES + 1, "the listener read {} bytes of a head", read.len());
    match (head, parse(read)) {
        (Head::Upgrade(upgrade), Parsed::Complete(len, Some(request))) => {
            assert_eq!(upgrade.unread, 0);
            assert_eq!(upgrade.after, read[len..], "the bytes after the head are the client's first frames");
            assert_same_request(&upgrade.request, &request);
        }
        (Head::Other(taken), whole) => {
            assert_eq!(taken, read, "hyper gets every byte read");
            let too_long = matches!(whole, Parsed::Partial) && read.len() > MAX_HEAD_BYTES;
            assert!(too_long || matches!(whole, Parsed::Complete(_, None) | Parsed::Other));
        }
        (head, _) => panic!("read {head:?} in pieces, but the whole says otherwise"),
    }
}

fn assert_same_request(a: &axum::http::Request<axum::body::Body>, b: &axum::http::Request<axum::body::Body>) {
    assert_eq!((a.method(), a.uri(), a.version()), (b.method(), b.uri(), b.version()));
    assert_eq!(a.headers(), b.headers());
}

/// How reading a client's frames went: the messages, and how it ended (`None`: the
/// client closed the stream; `Some(code)`: the close code the server sends).
#[derive(Debug, PartialEq)]
struct Reading {
    messages: Vec<Message>,
    ending: Option<u16>,
}

type FuzzReader<'a> = WebSocketStream<Inbound<LazyRead<Pieces<'a>>>>;

/// The read path a connection has, over `pieces`; the first piece handed over as the
/// bytes the listener read behind the request head when `behind_head`.
fn reader<'a>(mut pieces: Vec<&'a [u8]>, behind_head: bool, config: &Config) -> FuzzReader<'a> {
    let pending = if behind_head && !pieces.is_empty() { pieces.remove(0).to_vec() } else { Vec::new() };
    let inbound = Inbound::new(LazyRead::with_pending(Pieces::new(pieces), pending), Arc::new(Replies::default()));
    block_on(WebSocketStream::from_raw_socket(inbound, Role::Server, Some(websocket_config(config))))
}

/// Reads up to `most` messages as the connection's read loop does: until the stream
/// ends, the parser fails, or the client's close.
fn read(reader: &mut FuzzReader<'_>, most: usize, config: &Config) -> Reading {
    let mut messages = Vec::new();
    let ending = loop {
        if messages.len() == most {
            break None;
        }
        match block_on(reader.next()) {
            None => break None,
            Some(Ok(message)) => {
                let close = message.is_close();
                messages.push(message);
                if close {
                    break None;
                }
            }
            Some(Err(error)) => match read_error_ending(error, config) {
                Ending::Close(code, _) => break Some(code.code()),
                _ => break None,
            },
        }
    };
    Reading { messages, ending }
}

/// A config whose message limit the control byte picks: small, so a fuzzer reaches it.
fn config(control: u8) -> Config {
    let max_frame_bytes = [125, 1024, 64 * 1024][usize::from(control >> 6) % 3];
    Config { max_frame_bytes, read_buffer_bytes: 64, ..Config::default() }
}

/// The WebSocket read path: the same messages and the same ending however the bytes are
/// cut, and whether or not they began behind the request head.
pub fn websocket_read(input: &[u8]) {
    let (control, pieces) = cut(input);
    let config = config(control);
    let whole = pieces.concat();
    let wholes = if whole.is_empty() { Vec::new() } else { vec![&whole[..]] };
    let reference = read(&mut reader(wholes, false, &config), usize::MAX, &config);
    let cut_up = read(&mut reader(pieces, control & 1 == 1, &config), usize::MAX, &config);
    assert_eq!(cut_up, reference, "the same bytes read differently when cut");
}

/// The close handshake: the server closes after the message the control byte says
/// (or when the parser fails), then drains until the client's close frame.
pub fn close_drain(input: &[u8]) {
    let (control, pieces) = cut(input);
    let config = config(control);
    let whole = pieces.concat();
    let mut reader = reader(pieces, control & 1 == 1, &config);
    let reading = read(&mut reader, usize::from(control >> 1 & 0x7), &config);
    if reading.messages.last().is_some_and(Message::is_close) {
        // The client closed first: the handshake is its own.
        return;
    }
    let parser_failed = reading.ending.is_some();
    block_on(drain(&mut reader, parser_failed));
    let inbound = reader.get_ref();
    let lazy = inbound.get_ref();
    // What passed up through the frame scan: all but what the socket and `LazyRead` hold.
    let passed = whole.len() - lazy.get_ref().left - lazy.unread();
    let close_end = first_close_end(&whole);
    assert_eq!(
        inbound.close_arrived(),
        close_end.is_some_and(|end| passed >= end),
        "the close frame ends at {close_end:?}; {passed} bytes passed"
    );
    assert!(inbound.close_arrived() || passed == whole.len(), "the drain stopped early, at {passed}");
}

/// Where the first close frame in `bytes` ends, walking frame headers (a second reading
/// of RFC 6455 §5.2, apart from the server's).
fn first_close_end(bytes: &[u8]) -> Option<usize> {
    let mut at = 0usize;
    loop {
        let header = bytes.get(at..)?;
        let (&first, &second) = (header.first()?, header.get(1)?);
        let (length, mut header_len) = match second & 0x7f {
            126 => (u64::from(u16::from_be_bytes(header.get(2..4)?.try_into().ok()?)), 4),
            127 => (u64::from_be_bytes(header.get(2..10)?.try_into().ok()?), 10),
            short => (u64::from(short), 2),
        };
        if second & 0x80 != 0 {
            header_len += 4;
        }
        if header.len() < header_len {
            return None;
        }
        let end = u64::try_from(at + header_len).ok()?.checked_add(length)?;
        let end = usize::try_from(end).ok()?;
        if first & 0x0f == 0x8 {
            return (end <= bytes.len()).then_some(end);
        }
        at = end;
    }
}

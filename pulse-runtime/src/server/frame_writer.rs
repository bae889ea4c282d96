//! Writing a connection's frames: each frame's WebSocket header, its `{"seq":N,` and its
//! shared body go straight into one buffer, which one system call sends with every
//! other frame queued beside it.
//!
//! Frames a server sends are unmasked and never fragmented (RFC 6455 §5.1, §5.2), so
//! encoding one is a header of 2, 4 or 10 bytes and a copy of its payload. A delivery
//! therefore costs one copy of its body here (and the kernel's), with no allocation for
//! its sequence number: a broadcast's body is encoded once and shared by every session.
//!
//! The reader's protocol engine (tungstenite) still answers the client's pings and
//! close frame itself; what it writes lands in [`Replies`], and the writer sends it
//! between two of its own frames.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;
use tokio::io::{AsyncWrite, AsyncWriteExt as _};

use super::frame_scan::FrameScan;
use crate::protocol::frames::{Body, decimal, truncate_to};

const FIN: u8 = 0x80;
const OP_TEXT: u8 = 0x1;
const OP_CLOSE: u8 = 0x8;

/// The longest close reason: a close frame's payload is at most 125 bytes, two of which
/// are the code.
const CLOSE_REASON_MAX: usize = 123;

/// Most bytes of replies (pongs, the answer to a close) left unsent before the
/// connection counts as broken: a client that pings without reading the answers.
const REPLIES_MAX: usize = 64 * 1024;

/// Writes a connection's frames. Every method that queues a frame appends whole frames
/// only, and [`FrameWriter::flush`] keeps what it has not written yet, so a flush that
/// is cancelled (the session ended meanwhile) leaves no half frame before the next one.
pub(crate) struct FrameWriter<W> {
    io: W,
    /// Encoded frames; `buf[written..]` is not written yet.
    buf: Vec<u8>,
    written: usize,
    replies: Arc<Replies>,
    /// Bytes worth writing at once: [`FrameWriter::is_full`] past this.
    batch_bytes: usize,
}

impl<W: AsyncWrite + Unpin> FrameWriter<W> {
    /// A writer into `io`, sending `replies` too; `batch_bytes` is how much it gathers
    /// before a write is due (`Config::write_buffer_bytes`).
    pub(crate) fn new(io: W, replies: Arc<Replies>, batch_bytes: usize) -> Self {
        FrameWriter { io, buf: Vec::new(), written: 0, replies, batch_bytes }
    }

    /// Queues a text frame of exactly `text`.
    pub(crate) fn text(&mut self, text: &str) {
        self.header(OP_TEXT, text.len());
        self.buf.extend_from_slice(text.as_bytes());
    }

    /// Makes room for `frames` more frames of about `bytes` bytes in all, so a batch
    /// grows the buffer once; at most what one write takes (a larger batch is written
    /// in parts, see [`FrameWriter::is_full`]).
    pub(crate) fn reserve(&mut self, frames: usize, bytes: usize) {
        // Per frame: a header of at most 10 bytes and `{"seq":<up to 20 digits>,`.
        self.buf.reserve((bytes + frames * 38).min(self.batch_bytes));
    }

    /// Queues the text frame `{"seq":<seq>,` followed by `body`.
    pub(crate) fn numbered(&mut self, seq: u64, body: &Body) {
        let mut digits = [0u8; 20];
        let digits = decimal(seq, &mut digits).as_bytes();
        const OPEN: &[u8] = b"{\"seq\":";
        let body = body.bytes();
        self.header(OP_TEXT, OPEN.len() + digits.len() + 1 + body.len());
        self.buf.extend_from_slice(OPEN);
        self.buf.extend_from_slice(digits);
        self.buf.push(b',');
        self.buf.extend_from_slice(body);
    }

    /// Queues a close frame with `code` and `reason` (cut to 123 bytes at a character
    /// boundary).
    pub(crate) fn close(&mut self, code: u16, reason: &str) {
        let reason = truncate_to(reason, CLOSE_REASON_MAX);
        self.header(OP_CLOSE, 2 + reason.len());
        self.buf.extend_from_slice(&code.to_be_bytes());
        self.buf.extend_from_slice(reason.as_bytes());
    }

    fn header(&mut self, opcode: u8, len: usize) {
        self.buf.push(FIN | opcode);
        if len < 126 {
            self.buf.push(len as u8);
        } else if let Ok(len) = u16::try_from(len) {
            self.buf.push(126);
            self.buf.extend_from_slice(&len.to_be_bytes());
        } else {
            self.buf.push(127);
            self.buf.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }

    /// Whether enough is queued that it should be written before more is added.
    pub(crate) fn is_full(&self) -> bool {
        self.buf.len() - self.written >= self.batch_bytes
    }

    /// Whether replies wait to be sent.
    pub(crate) fn has_replies(&self) -> bool {
        self.replies.waiting.load(Ordering::Acquire)
    }

    /// Resolves once replies wait to be sent. (A future holding `&Replies`, not the
    /// writer: the writer is not `Sync`.)
    pub(crate) fn replies_arrived(&self) -> impl Future<Output = ()> + Send + '_ {
        let replies = &*self.replies;
        std::future::poll_fn(move |cx| {
            replies.waker.register(cx.waker());
            if replies.waiting.load(Ordering::Acquire) { Poll::Ready(()) } else { Poll::Pending }
        })
    }

    /// Writes everything queued, and the replies waiting, in order. Cancel-safe: what
    /// was not written yet stays queued.
    pub(crate) async fn flush(&mut self) -> io::Result<()> {
        self.replies.take_into(&mut self.buf);
        while self.written < self.buf.len() {
            let n = self.io.write(&self.buf[self.written..]).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            self.written += n;
        }
        self.io.flush().await?;
        self.buf.clear();
        self.written = 0;
        Ok(())
    }

    /// Frees the buffer if nothing in it waits: an idle connection keeps none.
    pub(crate) fn release(&mut self) {
        if self.written == self.buf.len() {
            self.buf = Vec::new();
            self.written = 0;
        }
    }

    /// Writes what is queued, then shuts the sending side (TCP FIN).
    pub(crate) async fn shutdown(&mut self) -> io::Result<()> {
        self.flush().await?;
        self.io.shutdown().await
    }
}

/// What the reader's protocol engine writes (pongs, the answer to a close frame), kept
/// for the writer. The engine writes whole frames, and writing here never blocks, so
/// the bytes kept are always whole frames.
#[derive(Default)]
pub(crate) struct Replies {
    bytes: Mutex<Vec<u8>>,
    waiting: AtomicBool,
    waker: AtomicWaker,
}

impl Replies {
    /// Keeps `bytes` for the writer and wakes it.
    fn push(&self, bytes: &[u8]) -> io::Result<()> {
        let mut kept = self.bytes.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() + bytes.len() > REPLIES_MAX {
            return Err(io::Error::other("the client does not read the answers to its pings"));
        }
        kept.extend_from_slice(bytes);
        drop(kept);
        self.waiting.store(true, Ordering::Release);
        self.waker.wake();
        Ok(())
    }

    /// Appends the replies waiting to `buf`.
    fn take_into(&self, buf: &mut Vec<u8>) {
        if self.waiting.swap(false, Ordering::AcqRel) {
            let mut kept = self.bytes.lock().unwrap_or_else(PoisonError::into_inner);
            buf.append(&mut kept);
            *kept = Vec::new();
        }
    }
}

/// The reader's side of a connection: reads from the socket, and writes into
/// [`Replies`] (tungstenite's automatic answers), never into the socket.
pub(crate) struct Inbound<R> {
    read: R,
    replies: Arc<Replies>,
    /// Where the client's frames begin and end in what was read.
    frames: FrameScan,
}

impl<R> Inbound<R> {
    pub(crate) fn new(read: R, replies: Arc<Replies>) -> Self {
        Inbound { read, replies, frames: FrameScan::default() }
    }

    /// Whether the client's close frame has been read whole.
    pub(crate) fn close_arrived(&self) -> bool {
        self.frames.closed()
    }

    /// The reader underneath.
    #[cfg(feature = "fuzzing")]
    pub(crate) fn get_ref(&self) -> &R {
        &self.read
    }
}

impl<R: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Inbound<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let read = Pin::new(&mut this.read).poll_read(cx, buf);
        this.frames.feed(&buf.filled()[before..]);
        read
    }
}

impl<R: Unpin> AsyncWrite for Inbound<R> {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(self.replies.push(buf).map(|()| buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::WebSocketStream;
    use tungstenite::Message;
    use tungstenite::protocol::Role;

    use super::*;

    /// A writer into one end of a pipe, and a WebSocket client reading the other.
    async fn pipe(
        batch_bytes: usize,
    ) -> (FrameWriter<tokio::io::DuplexStream>, WebSocketStream<tokio::io::DuplexStream>) {
        let (server, client) = tokio::io::duplex(1 << 20);
        let writer = FrameWriter::new(server, Arc::default(), batch_bytes);
        (writer, WebSocketStream::from_raw_socket(client, Role::Client, None).await)
    }

    #[tokio::test]
    async fn a_client_reads_every_frame_of_every_length_whole_and_in_order() {
        let (mut writer, mut client) = pipe(8 * 1024).await;
        // Around each change of the length's encoding: 125/126, 65,535/65,536.
        let lengths = [0, 1, 100, 105, 106, 107, 200, 65_500, 65_514, 65_515, 65_516, 70_000, 200_000];
        let mut sent = Vec::new();
        for (i, len) in lengths.into_iter().enumerate() {
            let body = Body::for_test(&format!("\"t\":\"x\",\"p\":\"{}\"}}", "é".repeat(len / 2)));
            writer.numbered(i as u64 * 1_000_003, &body);
            sent.push(body.with_seq(i as u64 * 1_000_003));
            writer.text(&"y".repeat(len));
            sent.push("y".repeat(len));
        }
        // More than the pipe holds: the client reads while the writer writes.
        let read = async {
            for text in sent {
                match client.next().await.unwrap().unwrap() {
                    Message::Text(got) => assert!(got.as_str() == text, "a frame of {} bytes", text.len()),
                    other => panic!("expected a text frame, got {other:?}"),
                }
            }
        };
        let (flushed, ()) = tokio::join!(writer.flush(), read);
        flushed.unwrap();
    }

    #[tokio::test]
    async fn a_close_frame_carries_the_code_and_a_reason_cut_at_a_character() {
        let (mut writer, mut client) = pipe(8 * 1024).await;
        writer.close(4001, &"ü".repeat(100));
        writer.flush().await.unwrap();
        match client.next().await.unwrap().unwrap() {
            Message::Close(Some(frame)) => {
                assert_eq!(u16::from(frame.code), 4001);
                assert_eq!(frame.reason.as_str(), "ü".repeat(61));
            }
            other => panic!("expected a close frame, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn replies_go_out_between_whole_frames() {
        let (mut writer, mut client) = pipe(8 * 1024).await;
        writer.text("before");
        // What tungstenite writes for a pong: a whole frame.
        writer.replies.push(&[FIN | 0xA, 2, b'h', b'i']).unwrap();
        assert!(writer.has_replies());
        writer.flush().await.unwrap();
        assert!(!writer.has_replies());
        writer.text("after");
        writer.flush().await.unwrap();
        assert_eq!(client.next().await.unwrap().unwrap(), Message::text("before"));
        assert_eq!(client.next().await.unwrap().unwrap(), Message::Pong(b"hi".as_slice().into()));
        assert_eq!(client.next().await.unwrap().unwrap(), Message::text("after"));
    }

    #[tokio::test]
    async fn a_cancelled_flush_leaves_no_half_frame() {
        // A pipe that holds 10 bytes: the first flush writes part of a frame and waits.
        let (server, client) = tokio::io::duplex(10);
        let mut writer = FrameWriter::new(server, Arc::default(), 8 * 1024);
        let mut client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        writer.text(&"a".repeat(50));
        assert!(tokio::time::timeout(std::time::Duration::from_millis(20), writer.flush()).await.is_err());
        writer.close(1000, "bye");
        let (flushed, first) = tokio::join!(writer.flush(), client.next());
        flushed.unwrap();
        assert_eq!(first.unwrap().unwrap(), Message::text("a".repeat(50)));
        assert!(matches!(client.next().await.unwrap().unwrap(), Message::Close(Some(_))));
    }

    #[tokio::test]
    async fn what_tungstenite_answers_reaches_the_replies() {
        // tungstenite on the server's side of a pipe, writing into `Inbound`.
        let (server, client) = tokio::io::duplex(1024);
        let replies = Arc::new(Replies::default());
        let inbound = Inbound::new(server, replies.clone());
        let mut engine = WebSocketStream::from_raw_socket(inbound, Role::Server, None).await;
        let mut client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        client.send(Message::Ping(b"p".as_slice().into())).await.unwrap();
        client.send(Message::text("x")).await.unwrap();
        assert!(matches!(engine.next().await.unwrap().unwrap(), Message::Ping(_)));
        assert_eq!(engine.next().await.unwrap().unwrap(), Message::text("x"));
        let mut buf = Vec::new();
        replies.take_into(&mut buf);
        assert_eq!(buf, [FIN | 0xA, 1, b'p']);
    }

    #[test]
    fn replies_past_the_limit_are_an_error() {
        let replies = Replies::default();
        replies.push(&vec![0; REPLIES_MAX]).unwrap();
        assert!(replies.push(&[0]).is_err());
    }

    #[tokio::test]
    async fn a_large_batch_is_written_in_parts_of_the_batch_size() {
        let (mut writer, mut client) = pipe(1024).await;
        writer.reserve(64, 64 * 60_000);
        assert!(writer.buf.capacity() < 64 * 60_000, "room for one write, not the whole batch");
        let body = Body::for_test(&format!("\"p\":\"{}\"}}", "x".repeat(600)));
        let read = async {
            for seq in 1..=20 {
                assert_eq!(client.next().await.unwrap().unwrap(), Message::text(body.with_seq(seq)));
            }
        };
        let write = async {
            for seq in 1..=20 {
                writer.numbered(seq, &body);
                if writer.is_full() {
                    writer.flush().await.unwrap();
                    assert!(writer.buf.capacity() < 4 * 1024, "the buffer stays near the batch size");
                }
            }
            writer.flush().await.unwrap();
        };
        tokio::join!(read, write);
    }

    #[tokio::test]
    async fn an_idle_writer_keeps_no_buffer() {
        let (mut writer, _client) = pipe(8 * 1024).await;
        writer.text("x");
        writer.flush().await.unwrap();
        writer.release();
        assert_eq!(writer.buf.capacity(), 0);
    }
}

//! The connection's socket, split in two: the reader is tungstenite over the connection,
//! reading through [`LazyRead`] so an idle connection keeps no read chunk of its own;
//! the writer is a [`FrameWriter`], which writes frames straight into the socket.

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tungstenite::protocol::{Role, WebSocketConfig};

use super::admission::ConnectionPermit;
use super::frame_writer::{FrameWriter, Inbound, Replies};

/// The connection under a WebSocket.
pub(crate) enum Io {
    /// A TCP stream whose upgrade request [`super::listener`] answered itself, and its
    /// place among the server's connections, given back when the stream closes.
    Tcp { stream: TcpStream, _permit: ConnectionPermit },
    /// hyper's upgraded connection, for a request that came through axum (the router
    /// mounted in an app of the user's, or a request the listener passed on).
    Upgraded(TokioIo<hyper::upgrade::Upgraded>),
}

impl AsyncRead for Io {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Tcp { stream, .. } => Pin::new(stream).poll_read(cx, buf),
            Io::Upgraded(upgraded) => Pin::new(upgraded).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Tcp { stream, .. } => Pin::new(stream).poll_write(cx, buf),
            Io::Upgraded(upgraded) => Pin::new(upgraded).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Tcp { stream, .. } => Pin::new(stream).poll_write_vectored(cx, bufs),
            Io::Upgraded(upgraded) => Pin::new(upgraded).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Io::Tcp { stream, .. } => stream.is_write_vectored(),
            Io::Upgraded(upgraded) => upgraded.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Tcp { stream, .. } => Pin::new(stream).poll_flush(cx),
            Io::Upgraded(upgraded) => Pin::new(upgraded).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Tcp { stream, .. } => Pin::new(stream).poll_shutdown(cx),
            Io::Upgraded(upgraded) => Pin::new(upgraded).poll_shutdown(cx),
        }
    }
}

/// A connection's reader.
pub(crate) type Reader = WebSocketStream<Inbound<LazyRead<ReadHalf<Io>>>>;
/// A connection's writer.
pub(crate) type Writer = FrameWriter<WriteHalf<Io>>;

/// One connection's WebSocket: what reads its frames, and what writes them.
pub(crate) struct Socket {
    /// Parses what the client sends; tungstenite answers pings and close frames itself,
    /// through the writer.
    pub(crate) reader: Reader,
    /// Writes the server's frames.
    pub(crate) writer: Writer,
    /// The cluster's nodes, if this client is told them: in its `hello`, then in a
    /// `nodes` frame each time they change (`ServerShared::nodes_for`).
    pub(crate) nodes: Option<tokio::sync::watch::Receiver<std::sync::Arc<[String]>>>,
}

impl Socket {
    /// The WebSocket on a connection whose upgrade was answered; `write_batch_bytes` is
    /// what the writer gathers before a write is due.
    pub(crate) async fn new(io: Io, config: WebSocketConfig, write_batch_bytes: usize) -> Self {
        Self::with_read(io, Vec::new(), config, write_batch_bytes).await
    }

    /// Like [`Socket::new`], for a connection off which `read` was read already (the
    /// client's first frames, behind its request head): the reader takes them first.
    pub(crate) async fn with_read(io: Io, read: Vec<u8>, config: WebSocketConfig, write_batch_bytes: usize) -> Self {
        let (read_half, write) = tokio::io::split(io);
        let replies = Arc::new(Replies::default());
        let inbound = Inbound::new(LazyRead::with_pending(read_half, read), replies.clone());
        Socket {
            reader: WebSocketStream::from_raw_socket(inbound, Role::Server, Some(config)).await,
            writer: FrameWriter::new(write, replies, write_batch_bytes),
            nodes: None,
        }
    }
}

/// Most bytes read and dropped, after the server's close, from a client whose frames
/// the parser could no longer read: enough for a client that was writing a message
/// far past the limit in one write to finish it and read the close.
const DRAIN_BYTES: usize = 16 * 1024 * 1024;

/// After the server has sent its close frame: reads what the client still sends, and
/// drops it, until the client's close frame has arrived (the handshake is complete and
/// the connection can close without a reset), the client closes, or [`DRAIN_BYTES`]
/// have passed. The frame parser reads while it can; once it has failed (or if it had,
/// `parser_failed`), the bytes are read raw and the close frame is found by the
/// connection's [`FrameScan`](super::frame_scan::FrameScan). The caller bounds the time.
pub(crate) async fn drain<S: AsyncRead + Unpin>(
    reader: &mut WebSocketStream<Inbound<LazyRead<S>>>,
    parser_failed: bool,
) {
    use futures_util::StreamExt as _;
    if !parser_failed {
        loop {
            match reader.next().await {
                Some(Ok(_)) => {}
                Some(Err(tungstenite::Error::Capacity(_) | tungstenite::Error::Utf8(_))) => break,
                Some(Err(tungstenite::Error::Protocol(error))) if !is_reset(&error) => break,
                None | Some(Err(_)) => return,
            }
        }
    }
    let inbound = reader.get_mut();
    let mut dropped = 0;
    while !inbound.close_arrived() && dropped < DRAIN_BYTES {
        let read = std::future::poll_fn(|cx| {
            with_scratch(|scratch| {
                // A whole chunk: `LazyRead` reads into it directly.
                let mut buf = ReadBuf::new(scratch);
                ready!(Pin::new(&mut *inbound).poll_read(cx, &mut buf))?;
                Poll::Ready(Ok::<_, io::Error>(buf.filled().len()))
            })
        })
        .await;
        match read {
            Ok(0) | Err(_) => return,
            Ok(n) => dropped += n,
        }
    }
}

/// Whether a parser error only says the client closed the connection without a close
/// frame.
pub(crate) fn is_reset(error: &tungstenite::error::ProtocolError) -> bool {
    matches!(error, tungstenite::error::ProtocolError::ResetWithoutClosingHandshake)
}

/// The most one read system call takes from a socket.
const READ_CHUNK: usize = 16 * 1024;

thread_local! {
    /// Where every connection on this thread reads into, before the bytes go to the
    /// frame parser and, if it did not ask for them all yet, to the connection.
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_CHUNK].into_boxed_slice());
}

/// Runs `f` on this thread's read buffer of [`READ_CHUNK`] bytes (or, were it already
/// in use, which nothing here does, on a buffer of its own).
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut [u8]) -> R) -> R {
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut scratch) => f(&mut scratch),
        Err(_) => f(&mut vec![0; READ_CHUNK]),
    })
}

/// A reader that asks the socket for up to [`READ_CHUNK`] bytes at once, however few
/// its caller asks for, and keeps what the caller did not take only until it does.
///
/// tungstenite keeps a read buffer per connection for its whole life, and reads at most
/// that buffer's size per call: a large buffer costs every idle connection its size, a
/// small one costs a system call per few hundred bytes. Under this reader the buffer
/// can be small (`Config::read_buffer_bytes`) and a burst or a large frame still takes
/// one system call per [`READ_CHUNK`]: the bytes land in a buffer shared by the
/// thread's connections, and the rest of a read waits in `pending`, freed once taken.
pub(crate) struct LazyRead<S> {
    inner: S,
    pending: Vec<u8>,
    taken: usize,
}

impl<S> LazyRead<S> {
    /// A reader of `inner` that gives `pending` (bytes read off it already) first.
    pub(crate) fn with_pending(inner: S, pending: Vec<u8>) -> Self {
        LazyRead { inner, pending, taken: 0 }
    }

    /// The reader underneath.
    pub(crate) fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The reader underneath.
    pub(crate) fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Bytes read off the reader underneath and not given out yet.
    #[cfg(feature = "fuzzing")]
    pub(crate) fn unread(&self) -> usize {
        self.pending.len() - self.taken
    }

    /// Moves what is pending into `buf`, as much as fits; frees it once all is taken.
    fn take_pending(&mut self, buf: &mut ReadBuf<'_>) {
        let rest = &self.pending[self.taken..];
        let n = rest.len().min(buf.remaining());
        buf.put_slice(&rest[..n]);
        self.taken += n;
        if self.taken == self.pending.len() {
            self.pending = Vec::new();
            self.taken = 0;
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for LazyRead<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.taken < this.pending.len() {
            this.take_pending(buf);
            return Poll::Ready(Ok(()));
        }
        if buf.remaining() >= READ_CHUNK {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        with_scratch(|scratch| {
            let mut chunk = ReadBuf::new(scratch);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut chunk))?;
            let read = chunk.filled();
            let n = read.len().min(buf.remaining());
            buf.put_slice(&read[..n]);
            if n < read.len() {
                this.pending = read[n..].to_vec();
            }
            Poll::Ready(Ok(()))
        })
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    /// What a caller asking `ask` bytes at a time reads through a `LazyRead`, and how
    /// many reads reached the socket.
    async fn read_through(sent: &[u8], ask: usize) -> (Vec<u8>, usize) {
        let (mut client, server) = tokio::io::duplex(4 * READ_CHUNK);
        client.write_all(sent).await.unwrap();
        drop(client);
        let mut reader = LazyRead::with_pending(Counting { inner: server, reads: 0 }, Vec::new());
        let mut got = Vec::new();
        let mut buf = vec![0; ask];
        loop {
            let n = reader.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        (got, reader.inner.reads)
    }

    struct Counting<S> {
        inner: S,
        reads: usize,
    }

    impl<S: AsyncRead + Unpin> AsyncRead for Counting<S> {
        fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
            self.reads += 1;
            Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    #[tokio::test]
    async fn small_reads_take_every_byte_in_order_with_one_socket_read_per_chunk() {
        let sent: Vec<u8> = (0..3 * READ_CHUNK + 100).map(|i| (i % 251) as u8).collect();
        for ask in [1, 14, 512, READ_CHUNK - 1, READ_CHUNK, 2 * READ_CHUNK] {
            let (got, reads) = read_through(&sent, ask).await;
            assert!(got == sent, "asking {ask} at a time");
            // Four chunks of data and the end; the duplex pipe may split a chunk.
            assert!(reads <= 2 * 5, "asking {ask} at a time took {reads} socket reads");
        }
    }

    #[tokio::test]
    async fn what_was_taken_is_freed() {
        let (mut client, server) = tokio::io::duplex(READ_CHUNK);
        client.write_all(&[7; 1000]).await.unwrap();
        let mut reader = LazyRead::with_pending(server, Vec::new());
        let mut buf = [0; 600];
        assert_eq!(reader.read(&mut buf).await.unwrap(), 600);
        assert_eq!(reader.pending.len() - reader.taken, 400);
        assert_eq!(reader.read(&mut buf).await.unwrap(), 400);
        assert_eq!(reader.pending.capacity(), 0, "nothing is kept between reads");
    }
}

//! A Rust client for the Pulse protocol, on tokio-tungstenite. Used by the tests and
//! the benchmarks; also handy for tools and bots that talk to a Pulse server.

mod frames;

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};

pub use crate::protocol::Hello;
pub use frames::{DecodeError, ServerFrame};

use crate::error::ChannelError;
use crate::id::{ChannelId, SessionId};
use crate::protocol::{ClientFrame, WireError};
use crate::sync::lock;
use frames::{Decoded, encode};

/// Why a client could not connect or send.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The WebSocket connection could not be made.
    #[error("connect failed: {0}")]
    Connect(#[from] tokio_tungstenite::tungstenite::Error),
    /// The server closed the connection before or instead of `hello`.
    #[error("refused by server: close code {code:?}, reason {reason:?}")]
    Refused {
        /// The close code, if any.
        code: Option<u16>,
        /// The close reason.
        reason: String,
    },
    /// The first frame was not a `hello`.
    #[error("bad handshake: {0}")]
    Handshake(String),
    /// The connection has ended.
    #[error("the connection is closed")]
    Closed,
    /// A payload could not be encoded.
    #[error("payload could not be encoded: {0}")]
    Encode(#[from] serde_json::Error),
}

/// How a [`Client`] behaves.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Answer the server's `ping` with `pong` (on by default; turn off to test idle
    /// timeouts).
    pub auto_pong: bool,
    /// Default timeout of [`Client::request`].
    pub request_timeout: Duration,
    /// Largest message the client accepts.
    pub max_message_bytes: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions { auto_pong: true, request_timeout: Duration::from_secs(10), max_message_bytes: 16 << 20 }
    }
}

type AnswerSlot = oneshot::Sender<Result<Value, ChannelError>>;

struct Pending {
    channel: ChannelId,
    answer: AnswerSlot,
}

struct Shared {
    out: mpsc::UnboundedSender<Message>,
    pending: Mutex<Option<HashMap<u64, Pending>>>,
    next_id: AtomicU64,
    request_timeout: Duration,
}

impl Shared {
    fn send_text(&self, text: String) -> Result<(), ClientError> {
        self.out.send(Message::Text(text.into())).map_err(|_| ClientError::Closed)
    }

    /// Fails pending requests on `channel` (or all, with `None`) with `error`.
    fn fail_pending(&self, channel: Option<ChannelId>, error: ChannelError, forever: bool) {
        let failed: Vec<Pending> = {
            let mut pending = lock(&self.pending);
            let Some(map) = pending.as_mut() else { return };
            let ids: Vec<u64> =
                map.iter().filter(|(_, p)| channel.is_none_or(|c| p.channel == c)).map(|(id, _)| *id).collect();
            let failed = ids.iter().filter_map(|id| map.remove(id)).collect();
            if forever {
                *pending = None;
            }
            failed
        };
        for p in failed {
            let _ = p.answer.send(Err(error.clone()));
        }
    }
}

/// A connected session. Frames that are not answers to this client's requests arrive
/// through [`Client::next_frame`].
pub struct Client {
    shared: Arc<Shared>,
    hello: Hello,
    frames: mpsc::UnboundedReceiver<ServerFrame>,
    reader: tokio::task::JoinHandle<()>,
}

impl Client {
    /// Connects to `url` (such as `ws://127.0.0.1:3000/ws?v=1`) and waits for `hello`.
    pub async fn connect(url: &str) -> Result<Client, ClientError> {
        Self::connect_with(url, ClientOptions::default()).await
    }

    /// Connects with non-default options.
    pub async fn connect_with(url: &str, options: ClientOptions) -> Result<Client, ClientError> {
        let config = WebSocketConfig::default()
            .max_message_size(Some(options.max_message_bytes))
            .max_frame_size(Some(options.max_message_bytes));
        let (socket, _response) = tokio_tungstenite::connect_async_with_config(url, Some(config), true).await?;
        let (mut sink, mut stream) = socket.split();
        let hello = match stream.next().await {
            Some(Ok(Message::Text(text))) => serde_json::from_str::<Hello>(text.as_str())
                .map_err(|e| ClientError::Handshake(format!("expected hello, got {text}: {e}")))?,
            Some(Ok(Message::Close(frame))) => {
                return Err(ClientError::Refused {
                    code: frame.as_ref().map(|f| u16::from(f.code)),
                    reason: frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                });
            }
            Some(Ok(other)) => return Err(ClientError::Handshake(format!("expected hello, got {other:?}"))),
            Some(Err(e)) => return Err(e.into()),
            None => return Err(ClientError::Refused { code: None, reason: "connection closed".into() }),
        };

        let (out, mut outgoing) = mpsc::unbounded_channel::<Message>();
        let shared = Arc::new(Shared {
            out,
            pending: Mutex::new(Some(HashMap::new())),
            next_id: AtomicU64::new(1),
            request_timeout: options.request_timeout,
        });
        tokio::spawn(async move {
            while let Some(message) = outgoing.recv().await {
                let closing = matches!(message, Message::Close(_));
                if sink.feed(message).await.is_err() {
                    return;
                }
                while let Ok(more) = outgoing.try_recv() {
                    if sink.feed(more).await.is_err() {
                        return;
                    }
                }
                if sink.flush().await.is_err() || closing {
                    return;
                }
            }
            // Every handle is gone: say goodbye properly.
            let _ = sink.close().await;
        });

        let (deliver, frames) = mpsc::unbounded_channel();
        let reader_shared = shared.clone();
        let auto_pong = options.auto_pong;
        let reader = tokio::spawn(async move {
            let shared = reader_shared;
            let ending = loop {
                let message = match stream.next().await {
                    None => break ServerFrame::Disconnected { code: None, reason: "connection lost".into() },
                    Some(Err(e)) => break ServerFrame::Disconnected { code: None, reason: e.to_string() },
                    Some(Ok(message)) => message,
                };
                let text = match message {
                    Message::Text(text) => text,
                    Message::Close(frame) => {
                        break ServerFrame::Disconnected {
                            code: frame.as_ref().map(|f| u16::from(f.code)),
                            reason: frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                        };
                    }
                    _ => continue,
                };
                match frames::decode(text.as_str()) {
                    Ok(Decoded::Ping) => {
                        if auto_pong {
                            let _ = shared.send_text(r#"{"t":"pong"}"#.to_owned());
                        }
                    }
                    Ok(Decoded::Nodes) => {} // this client does not fail over
                    Ok(Decoded::Frame(frame)) => {
                        if let Some(frame) = route(&shared, frame) {
                            let _ = deliver.send(frame);
                        }
                    }
                    Err(error) => tracing::warn!(%error, "client dropped an undecodable frame"),
                }
            };
            shared.fail_pending(None, ChannelError::Disconnected, true);
            let _ = deliver.send(ending);
        });

        Ok(Client { shared, hello, frames, reader })
    }

    /// The session's id.
    pub fn session_id(&self) -> SessionId {
        self.hello.session
    }

    /// The server's `hello`.
    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// The next frame from the server, in order. After [`ServerFrame::Disconnected`]
    /// it returns `None`.
    pub async fn next_frame(&mut self) -> Option<ServerFrame> {
        self.frames.recv().await
    }

    /// A frame that has already arrived, without waiting.
    pub fn try_next_frame(&mut self) -> Option<ServerFrame> {
        self.frames.try_recv().ok()
    }

    /// Emits `event` on `channel`, fire-and-forget.
    pub fn emit<P: Serialize + ?Sized>(&self, channel: ChannelId, event: &str, payload: &P) -> Result<(), ClientError> {
        let channel = channel.hex();
        self.shared.send_text(encode(&ClientFrame::Emit {
            channel: channel.as_str().into(),
            event: event.into(),
            payload,
        })?)
    }

    /// Asks the server to answer `event` on `channel`.
    pub fn request<P: Serialize + ?Sized>(&self, channel: ChannelId, event: &str, payload: &P) -> ClientRequest {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let hex = channel.hex();
        let frame = encode(&ClientFrame::Request { channel: hex.as_str().into(), id, event: event.into(), payload });
        ClientRequest { shared: self.shared.clone(), channel, id, frame, timeout: self.shared.request_timeout }
    }

    /// Answers the server's request `id` on `channel`.
    pub fn answer<P: Serialize + ?Sized>(&self, channel: ChannelId, id: u64, answer: &P) -> Result<(), ClientError> {
        let channel = channel.hex();
        let frame = ClientFrame::Answer { channel: channel.as_str().into(), id, ok: Some(answer), error: None };
        self.shared.send_text(encode(&frame)?)
    }

    /// Answers the server's request `id` on `channel` with a failure.
    pub fn answer_error(&self, channel: ChannelId, id: u64, error: &WireError) -> Result<(), ClientError> {
        let channel = channel.hex();
        let frame: ClientFrame<'_, &()> =
            ClientFrame::Answer { channel: channel.as_str().into(), id, ok: None, error: Some(Cow::Borrowed(error)) };
        self.shared.send_text(encode(&frame)?)
    }

    /// Releases `channel`: the server closes it and both sides fail its pending requests.
    pub fn close_channel(&self, channel: ChannelId) -> Result<(), ClientError> {
        self.shared.fail_pending(Some(channel), ChannelError::Closed, false);
        let channel = channel.hex();
        let frame: ClientFrame<'_, &()> = ClientFrame::Close { channel: channel.as_str().into() };
        self.shared.send_text(encode(&frame)?)
    }

    /// Runs the server-side DOM callback `id` (from a `{"$cb": id}` prop) with event `data`.
    pub fn callback<P: Serialize + ?Sized>(&self, id: &str, data: &P) -> Result<(), ClientError> {
        self.shared.send_text(encode(&ClientFrame::Callback { callback: id.into(), data })?)
    }

    /// Tells the server the client went to page `path` (`/rooms/x?y=1`): it renders
    /// that page.
    pub fn navigate(&self, path: &str) -> Result<(), ClientError> {
        let frame: ClientFrame<'_, &()> = ClientFrame::Navigate { path: path.into() };
        self.shared.send_text(encode(&frame)?)
    }

    /// Sends any text as a frame, well-formed or not (for tests of bad input).
    pub fn send_raw_text(&self, text: impl Into<String>) -> Result<(), ClientError> {
        self.shared.send_text(text.into())
    }

    /// Sends a binary message (which the protocol does not allow).
    pub fn send_raw_binary(&self, bytes: Vec<u8>) -> Result<(), ClientError> {
        self.shared.out.send(Message::Binary(bytes.into())).map_err(|_| ClientError::Closed)
    }

    /// Closes the connection normally and waits until the server has seen it.
    pub async fn close(mut self) {
        let frame = CloseFrame { code: WsCloseCode::Normal, reason: "bye".into() };
        let _ = self.shared.out.send(Message::Close(Some(frame)));
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.reader).await;
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Handles answers to this client's requests and channel closes; returns the frame if
/// the user should see it.
fn route(shared: &Shared, frame: ServerFrame) -> Option<ServerFrame> {
    match frame {
        ServerFrame::Answer { seq, channel, id, result } => {
            let waiting = lock(&shared.pending).as_mut().and_then(|map| map.remove(&id));
            match waiting {
                Some(pending) => {
                    let _ = pending.answer.send(result.map_err(ChannelError::from_wire));
                    None
                }
                None => Some(ServerFrame::Answer { seq, channel, id, result }),
            }
        }
        ServerFrame::Close { channel, .. } => {
            shared.fail_pending(Some(channel), ChannelError::Closed, false);
            Some(frame)
        }
        other => Some(other),
    }
}

/// A client-to-server request, sent when awaited.
#[must_use = "a request is sent only when awaited"]
pub struct ClientRequest {
    shared: Arc<Shared>,
    channel: ChannelId,
    id: u64,
    frame: Result<String, serde_json::Error>,
    timeout: Duration,
}

impl ClientRequest {
    /// Fails with [`ChannelError::Timeout`] if no answer came after `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The request id on the wire.
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl IntoFuture for ClientRequest {
    type Output = Result<Value, ChannelError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let frame = self.frame.map_err(|e| ChannelError::Payload(e.to_string()))?;
            let (answer, receiver) = oneshot::channel();
            {
                let mut pending = lock(&self.shared.pending);
                let Some(map) = pending.as_mut() else { return Err(ChannelError::Disconnected) };
                map.insert(self.id, Pending { channel: self.channel, answer });
            }
            if self.shared.send_text(frame).is_err() {
                return Err(ChannelError::Disconnected);
            }
            match tokio::time::timeout(self.timeout, receiver).await {
                Ok(Ok(result)) => result,
                Ok(Err(_)) => Err(ChannelError::Disconnected),
                Err(_) => {
                    if let Some(map) = lock(&self.shared.pending).as_mut() {
                        map.remove(&self.id);
                    }
                    Err(ChannelError::Timeout)
                }
            }
        })
    }
}

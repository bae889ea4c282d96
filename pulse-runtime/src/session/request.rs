//! The future of a server-to-client request.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::error::ChannelError;
use crate::session::channel::RawChannel;

/// A request to the client, sent when awaited. Resolves to the client's answer decoded
/// as `T` (a JSON value by default), or to a [`ChannelError`].
#[must_use = "a request is sent only when awaited"]
pub struct Request<T = serde_json::Value> {
    channel: RawChannel,
    event: String,
    payload: Result<Box<RawValue>, ChannelError>,
    timeout: Option<Duration>,
    decode: fn(&str) -> Result<T, serde_json::Error>,
}

/// Decodes an answer with serde.
pub(crate) fn decode_json<T: DeserializeOwned>(json: &str) -> Result<T, serde_json::Error> {
    serde_json::from_str(json)
}

impl<T> Request<T> {
    /// A request whose answer is decoded by `decode`.
    pub(crate) fn new(
        channel: RawChannel,
        event: String,
        payload: Result<Box<RawValue>, ChannelError>,
        decode: fn(&str) -> Result<T, serde_json::Error>,
    ) -> Self {
        Request { channel, event, payload, timeout: None, decode }
    }
}

impl<T> Request<T> {
    /// Fails with [`ChannelError::Timeout`] if no answer came after `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Decodes the answer as `U` instead.
    pub fn answer_as<U: DeserializeOwned>(self) -> Request<U> {
        Request {
            channel: self.channel,
            event: self.event,
            payload: self.payload,
            timeout: self.timeout,
            decode: decode_json::<U>,
        }
    }
}

/// Removes the pending entry if the request future is dropped before its answer.
struct ForgetOnDrop<'a> {
    channel: &'a RawChannel,
    id: Option<u64>,
}

impl Drop for ForgetOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.channel.forget_request(id);
        }
    }
}

impl<T: Send + 'static> IntoFuture for Request<T> {
    type Output = Result<T, ChannelError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let payload = self.payload?;
            let timeout = self.timeout.unwrap_or_else(|| self.channel.default_timeout());
            let (id, answer) = self.channel.start_request(&self.event, &payload, timeout)?;
            let mut guard = ForgetOnDrop { channel: &self.channel, id: Some(id) };
            let outcome = tokio::time::timeout(timeout, answer).await;
            let raw = match outcome {
                Err(_elapsed) => return Err(ChannelError::Timeout),
                // The sender is only dropped when the session is torn down.
                Ok(Err(_dropped)) => {
                    guard.id = None;
                    return Err(ChannelError::Disconnected);
                }
                Ok(Ok(result)) => {
                    guard.id = None;
                    result?
                }
            };
            (self.decode)(raw.get()).map_err(|e| {
                ChannelError::Payload(format!("the answer to `{}` does not match its declared type: {e}", self.event))
            })
        })
    }
}

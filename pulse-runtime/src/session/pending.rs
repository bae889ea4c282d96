//! Requests both ways: the server's to the client (started, answered, expired) and the
//! client's to the server (begun and finished in the core, so an answer goes out once).

use std::time::Instant;

use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::oneshot;

use super::channel::ChannelShared;
use super::{AnswerOutcome, AnswerReceiver, SessionShared};
use crate::error::ChannelError;
use crate::id::ChannelId;
use crate::protocol::{
    self,
    frames::{self, Body},
};
use crate::session_core::{AnswerRoute, StartRefused};
use crate::sync::lock;

impl SessionShared {
    /// Fails the server's requests whose deadline has passed.
    pub(crate) fn expire_requests(&self, now: Instant) {
        let expired = lock(&self.core).expire(now);
        for answer in expired {
            let _ = answer.send(Err(ChannelError::Timeout));
        }
    }

    /// Sends a server-to-client request that fails after `timeout`; the answer arrives
    /// on the returned receiver.
    pub(crate) fn start_request<P: Serialize + ?Sized>(
        &self,
        channel: &ChannelShared,
        event: &str,
        payload: &P,
        timeout: std::time::Duration,
    ) -> Result<(u64, AnswerReceiver), ChannelError> {
        let (answer, receiver) = oneshot::channel();
        let deadline = Instant::now() + timeout;
        let started = lock(&self.core).start_request(channel.id, deadline, answer, |id| {
            frames::request(channel.id, id, event, payload).map_err(|e| ChannelError::Payload(e.to_string()))
        });
        match started {
            Ok(id) => {
                self.wake.notify_one();
                Ok((id, receiver))
            }
            Err(StartRefused::Ended) => Err(ChannelError::Disconnected),
            Err(StartRefused::ChannelClosed) => Err(ChannelError::Closed),
            Err(StartRefused::Encode(error)) => Err(error),
            Err(StartRefused::Overflow) => {
                let cause = lock(&self.core).gap();
                self.settle_gap(cause);
                Err(ChannelError::Disconnected)
            }
        }
    }

    /// Forgets a request whose caller stopped waiting (timeout or dropped future).
    pub(crate) fn forget_request(&self, id: u64) {
        lock(&self.core).forget_request(id);
    }

    /// Routes the client's answer to the request waiting for it.
    pub(crate) fn deliver_answer(
        &self,
        channel: &str,
        id: u64,
        result: Result<Box<RawValue>, ChannelError>,
    ) -> AnswerOutcome {
        let route = lock(&self.core).answer(channel.parse().ok(), id);
        match route {
            AnswerRoute::Delivered(answer) => {
                let _ = answer.send(result);
                AnswerOutcome::Delivered
            }
            AnswerRoute::UnknownChannel => AnswerOutcome::UnknownChannel,
            AnswerRoute::Late => AnswerOutcome::Late,
            AnswerRoute::Unknown => AnswerOutcome::Unknown,
        }
    }

    /// Records an inbound request id; refuses duplicates and too many at once.
    pub(crate) fn begin_inbound(&self, id: u64, channel: ChannelId) -> Result<(), protocol::ErrorCode> {
        lock(&self.core).begin_inbound(id, channel)
    }

    /// The handler of an inbound request finished: its `answer` is queued, unless its
    /// channel closed or the session ended meanwhile (in the same step, so no answer
    /// can follow the channel's `close`).
    pub(crate) fn finish_inbound(&self, id: u64, channel: ChannelId, answer: Body) {
        let pushed = lock(&self.core).finish_inbound(id, channel, answer);
        let _ = self.after_push(pushed);
    }

    /// Requests waiting for an answer, both ways.
    pub(crate) fn pending_count(&self) -> usize {
        lock(&self.core).pending_count()
    }
}

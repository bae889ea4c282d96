//! A session's outbound stream: frames queued through the core (which numbers and
//! keeps them), taken in batches by the writer, kept while the session is detached, and
//! replayed to a connection that resumes it.

use super::{Ending, SessionShared};
use crate::error::ChannelError;
use crate::id::ChannelId;
use crate::protocol::CloseCode;
use crate::protocol::frames::Body;
use crate::session_core::{CannotResume, Refused};
use crate::sync::lock;

impl SessionShared {
    /// The frames queued for the client, taken as a writer would (tests without sockets).
    #[cfg(test)]
    pub(crate) fn take_queued(&self) -> Vec<String> {
        let mut out = Vec::new();
        lock(&self.core).take_batch(usize::MAX, &mut out);
        out.into_iter().map(|(seq, body)| body.with_seq(seq)).collect()
    }

    /// Queues a frame for the client without waiting. A full queue means the client
    /// does not keep up: the session is ended as a slow consumer, and nobody waits.
    pub(crate) fn enqueue(&self, body: Body) -> Result<(), ChannelError> {
        let pushed = lock(&self.core).push(body);
        self.after_push(pushed).map_err(|_| ChannelError::Disconnected)
    }

    /// Queues `bodies` together, in order, taking one place in the outbound queue (a
    /// room's history replayed to a joining channel): its length is the history's, not
    /// the live queue's to bound.
    pub(crate) fn enqueue_run(&self, bodies: Vec<Body>) -> Result<(), ChannelError> {
        let pushed = lock(&self.core).push_run(bodies);
        self.after_push(pushed).map_err(|_| ChannelError::Disconnected)
    }

    /// Queues a frame naming channel `channel` (an emit); refused once it has closed.
    pub(crate) fn enqueue_on(&self, channel: ChannelId, body: Body) -> Result<(), ChannelError> {
        let pushed = lock(&self.core).push_on(channel, body);
        self.after_push(pushed).map_err(|refused| match refused {
            Refused::ChannelClosed => ChannelError::Closed,
            Refused::Ended | Refused::Overflow | Refused::OverBudget => ChannelError::Disconnected,
        })
    }

    /// A frame the core queued itself (`open`, `close`) may have overflowed the queue:
    /// then the session is a slow consumer like any other.
    pub(super) fn settle_gap(&self, gap: Option<Refused>) {
        if let Some(cause) = gap {
            let _ = self.after_push(Err(cause));
        }
    }

    pub(super) fn after_push(&self, pushed: Result<bool, Refused>) -> Result<(), Refused> {
        match pushed {
            Ok(wake) => {
                if wake {
                    self.wake.notify_one();
                }
                Ok(())
            }
            Err(Refused::Overflow) => {
                let limit = self.host.config().outbound_queue_frames;
                tracing::warn!(session = %self.id, limit, "outbound queue full; disconnecting slow consumer");
                self.signal_end(Ending::Close(
                    CloseCode::SlowConsumer,
                    format!("slow_consumer: more than {limit} frames waiting"),
                ));
                Err(Refused::Overflow)
            }
            Err(Refused::OverBudget) => {
                self.over_detached_budget();
                Err(Refused::OverBudget)
            }
            Err(refused @ (Refused::Ended | Refused::ChannelClosed)) => Err(refused),
        }
    }

    /// Up to `max` frames for the writer, numbered and kept for replay.
    pub(crate) fn take_batch(&self, max: usize, out: &mut Vec<(u64, Body)>) {
        lock(&self.core).take_batch(max, out);
    }

    /// Waits until frames may be queued for the writer (or a wake-up was left for it).
    pub(crate) async fn frames_queued(&self) {
        self.wake.notified().await;
    }

    /// The connection is gone: frames wait for a resume, unless what the session holds
    /// does not fit in what detached sessions may hold together: then it ends.
    pub(crate) fn detach(&self) {
        let detached = lock(&self.core).detach();
        if detached.is_err() {
            self.over_detached_budget();
        }
    }

    /// The session, detached, would hold more than detached sessions may together: it
    /// ends (its client gets a fresh session when it comes back).
    pub(super) fn over_detached_budget(&self) {
        let limit = self.host.detached_budget().limit();
        tracing::warn!(
            session = %self.id,
            limit,
            "sessions waiting to be resumed hold their limit of bytes; ending this one"
        );
        self.signal_end(Ending::Close(
            CloseCode::Overloaded,
            format!("overloaded: sessions waiting to be resumed hold more than {limit} bytes"),
        ));
    }

    /// Attaches a resuming connection whose client saw up to `last_seq`; returns the
    /// frames it missed.
    pub(crate) fn resume(&self, last_seq: u64) -> Result<Vec<(u64, Body)>, CannotResume> {
        lock(&self.core).resume(last_seq)
    }
}

//! A session's life: its end signal (why its connection or the session itself ends),
//! the hand-over of a resuming connection, idleness, and the end that closes it all.

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::channel::CloseReason;
use super::{Ending, Resuming, SessionShared, elapsed_ms};
use crate::error::ChannelError;
use crate::sync::lock;

impl SessionShared {
    /// Why the current connection ends, if it does.
    pub(crate) fn ending(&self) -> Option<Ending> {
        self.ending.with(Option::clone)
    }

    /// Waits until the current connection is asked to end.
    pub(crate) async fn wait_connection_end(&self) {
        self.ending.wait_for(Option::is_some).await;
    }

    /// Waits until the session is asked to end for good.
    pub(crate) async fn wait_session_end(&self) {
        self.ending.wait_for(|ending| ending.as_ref().is_some_and(Ending::is_terminal)).await;
    }

    /// Asks the connection to end. The first reason wins, except that a reason that
    /// ends the session replaces one that would only have detached it.
    pub(crate) fn signal_end(&self, ending: Ending) {
        self.ending.modify(|current| {
            let replaces = match current {
                None => true,
                Some(existing) => !existing.is_terminal() && ending.is_terminal(),
            };
            if replaces {
                *current = Some(ending);
            }
            replaces
        });
    }

    /// A connection is about to be attached: forget why the last one ended, unless
    /// that ends the session (a shutdown or an overflow that came meanwhile must not
    /// be forgotten).
    pub(crate) fn reset_connection(&self) {
        self.ending.modify(|current| {
            if current.as_ref().is_some_and(Ending::is_terminal) {
                return false;
            }
            *current = None;
            true
        });
    }

    /// Hands a resuming connection to the session's task, which serves it (closing the
    /// session's current connection, if any, with 4005). Gives it back if the session
    /// has ended.
    pub(crate) async fn hand_over(&self, reattach: Resuming) -> Result<(), Resuming> {
        self.resumes.send(reattach).await
    }

    /// Whether the session ended for good.
    pub(crate) fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    pub(crate) fn is_ending(&self) -> bool {
        self.ending.with(Option::is_some)
    }

    pub(crate) fn touch(&self) {
        self.last_inbound_ms.store(elapsed_ms(self.host.started(), Instant::now()), Ordering::Relaxed);
    }

    pub(crate) fn idle_since(&self, now: Instant) -> std::time::Duration {
        let last = self.last_inbound_ms.load(Ordering::Relaxed);
        let now_ms = elapsed_ms(self.host.started(), now);
        std::time::Duration::from_millis(now_ms.saturating_sub(last))
    }

    /// Ends the session for good: every channel closes, every pending request fails
    /// with `Disconnected`, and the session leaves every topic.
    pub(crate) fn end(&self) {
        self.finished.store(true, Ordering::Release);
        self.on_finish.notify_waiters();
        lock(&self.callbacks).clear();
        let ended = lock(&self.core).end();
        for (id, topic, channel) in &ended.channels {
            channel.mark_closed(CloseReason::SessionEnded, &self.inbound);
            self.host.leave(topic, self.key, *id);
        }
        for answer in ended.failed {
            let _ = answer.send(Err(ChannelError::Disconnected));
        }
        for (_, _, channel) in ended.channels {
            channel.release_handler(self.host.telemetry());
        }
    }
}

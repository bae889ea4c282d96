//! `Sent<T>`: what a typed emit or broadcast did, reported without demanding a look.

use crate::error::ChannelError;

/// What a typed emit (`Sent<()>`) or broadcast (`Sent<Delivery>`) did by the time it
/// returned: sent, or why not (a closed channel, a gone session, a full queue, a
/// payload that does not encode).
///
/// Emits are fire-and-forget, so a `Sent` may be ignored (a channel closing at the
/// edge of a session is normal; the failure is logged at `debug`). Where a failure
/// matters, [`Sent::result`] turns it into an error:
///
/// ```
/// # use pulse_runtime::{ChannelError, Sent};
/// fn notify(sent: Sent) -> Result<(), ChannelError> {
///     sent.result()?;  // `channel.notification(notice).result()?`
///     Ok(())
/// }
/// ```
#[derive(Debug)]
pub struct Sent<T = ()>(Result<T, ChannelError>);

impl<T> Sent<T> {
    pub(crate) fn new(outcome: Result<T, ChannelError>) -> Self {
        Sent(outcome)
    }

    /// The outcome as a `Result`, for `?`.
    pub fn result(self) -> Result<T, ChannelError> {
        self.0
    }

    /// Whether it was sent.
    pub fn is_sent(&self) -> bool {
        self.0.is_ok()
    }

    /// Why it was not sent, if it was not.
    pub fn error(&self) -> Option<&ChannelError> {
        self.0.as_ref().err()
    }
}

impl Sent<crate::target::Delivery> {
    /// How many of this node's sessions the broadcast was queued for, if it was sent
    /// and queued already (`None` when kept in a Redis history first: see
    /// [`Delivery`](crate::Delivery)).
    pub fn queued(&self) -> Option<usize> {
        self.0.as_ref().ok()?.queued()
    }
}

impl<T> From<Sent<T>> for Result<T, ChannelError> {
    fn from(sent: Sent<T>) -> Self {
        sent.0
    }
}

//! How generated dispatchers reach a handler and turn its results into replies.

use crate::protocol::{ErrorCode, WireError};

/// Gives a channel's dispatcher `&mut` access to its handler. [`Owned`] holds the
/// handler itself; component state (a later layer) lends it from a shared cell.
pub trait HandlerCell: Send + 'static {
    /// The handler type (it implements the channel's generated handler trait).
    type Handler;
    /// Runs `f` on the handler; `None` if the handler is gone (its owner was dropped).
    fn with_mut<R>(&mut self, f: impl FnOnce(&mut Self::Handler) -> R) -> Option<R>;

    /// Like `with_mut`, for the handler's `on_open`, which runs while the state that
    /// handles the channel is being made (component state is not re-rendered for it:
    /// the render in progress sees what `on_open` changed).
    fn with_mut_at_open<R>(&mut self, f: impl FnOnce(&mut Self::Handler) -> R) -> Option<R> {
        self.with_mut(f)
    }

    /// Runs the handler's `on_close`. Component state may be locked by the very code
    /// that closed the channel (a DOM callback of the state closing it, a handler of the
    /// state closing another of its channels); then `f` runs on a task once the state
    /// is free, instead of waiting for a lock its own thread holds.
    fn at_close(&mut self, f: impl FnOnce(&mut Self::Handler) + Send + 'static) {
        let _ = self.with_mut(f);
    }
}

/// A handler owned by its channel.
pub struct Owned<H>(pub H);

impl<H: Send + 'static> HandlerCell for Owned<H> {
    type Handler = H;
    fn with_mut<R>(&mut self, f: impl FnOnce(&mut H) -> R) -> Option<R> {
        Some(f(&mut self.0))
    }
}

/// The refusal of an emit for a request event, or of a request for a plain event.
pub fn wrong_kind(event: &str, is_request: bool) -> WireError {
    let how = if is_request { "a request: send it with `request`" } else { "not a request: send it with `emit`" };
    WireError::new(ErrorCode::UnknownEvent, format!("`{event}` is {how}"))
}

/// The refusal of a frame whose handler is gone: the state that handled the channel
/// was dropped (its component unmounted) and the channel is closing. Never silent: an
/// emit gets this as an `error` frame, a request as its failed answer.
pub fn handler_gone() -> WireError {
    WireError::new(ErrorCode::ChannelClosed, "this channel is closing: the state that handled it is gone")
}

/// What an async emit handler's future becomes: work its channel awaits before its next
/// event (`None`: handler gone). The future owns what it uses (the handler trait's
/// `use<Self>`), so it runs on a task of its own while `&mut self` is free again.
pub fn emit_later<F>(future: Option<F>) -> Result<crate::Emitted, WireError>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    match future {
        Some(future) => Ok(crate::Emitted::Later(Box::pin(async move {
            future.await;
            Ok(())
        }))),
        None => Err(handler_gone()),
    }
}

/// A sync emit handler ran (`None`: handler gone).
pub fn emit_done(ran: Option<()>) -> Result<crate::Emitted, WireError> {
    ran.map(|()| crate::Emitted::Done).ok_or_else(handler_gone)
}

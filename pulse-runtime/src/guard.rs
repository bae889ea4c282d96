//! The app's code runs guarded: each callback the server calls (hooks, handlers,
//! renders) runs under `catch_unwind`, so a panic in it fails that call only, never a
//! task the server shares (a connection's, the backplane's). A caught panic is logged
//! at error level, naming the callback and the panic's message, and counted in
//! `pulse_callback_panics_total{callback}`.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};

use futures_util::FutureExt as _;

use crate::telemetry::Telemetry;

/// A kind of callback the server calls, as `pulse_callback_panics_total` labels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Callback {
    /// `ServerBuilder::authenticate`'s hook (its call and its future).
    Authenticate,
    /// `ServerBuilder::authorize`'s hook.
    Authorize,
    /// An `on_session` hook (its call and its future).
    OnSession,
    /// An `on_remote_broadcast` hook.
    OnRemoteBroadcast,
    /// A component's render (the root's included).
    Render,
    /// A channel's event or request handler (its call and its future).
    Handler,
    /// A channel handler's `on_open`.
    OnOpen,
    /// A channel handler's `on_close`.
    OnClose,
    /// A component's callback for a DOM event.
    DomEvent,
}

impl Callback {
    /// Every callback, in the order the metric's series are registered.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) const ALL: [Callback; 9] = [
        Callback::Authenticate,
        Callback::Authorize,
        Callback::OnSession,
        Callback::OnRemoteBroadcast,
        Callback::Render,
        Callback::Handler,
        Callback::OnOpen,
        Callback::OnClose,
        Callback::DomEvent,
    ];

    /// Its name: the metric's label and the log's `callback` field.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Callback::Authenticate => "authenticate",
            Callback::Authorize => "authorize",
            Callback::OnSession => "on_session",
            Callback::OnRemoteBroadcast => "on_remote_broadcast",
            Callback::Render => "render",
            Callback::Handler => "handler",
            Callback::OnOpen => "on_open",
            Callback::OnClose => "on_close",
            Callback::DomEvent => "dom_event",
        }
    }
}

impl std::fmt::Display for Callback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A callback panicked (it was logged and counted when caught).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {callback} callback panicked: {message}")]
pub(crate) struct Panicked {
    /// Which callback.
    pub(crate) callback: Callback,
    /// The panic's message, when it was text.
    pub(crate) message: String,
}

/// What a panic said: its message when it is a `&str` or a `String` (what `panic!`
/// makes), otherwise a placeholder.
pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message")
}

/// Logs and counts a panic caught in `callback` (in the current span, which names the
/// session or channel when there is one).
pub(crate) fn caught(callback: Callback, telemetry: Option<&Telemetry>, panic: &(dyn Any + Send)) -> Panicked {
    let message = panic_message(panic).to_owned();
    tracing::error!(callback = callback.name(), panic = %message, "a callback panicked; the panic was caught");
    if let Some(telemetry) = telemetry {
        telemetry.callback_panicked(callback);
    }
    Panicked { callback, message }
}

/// Calls `f` (the app's `callback`); a panic is caught, logged and counted.
pub(crate) fn call<R>(callback: Callback, telemetry: Option<&Telemetry>, f: impl FnOnce() -> R) -> Result<R, Panicked> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|panic| caught(callback, telemetry, panic.as_ref()))
}

/// Calls `make` and awaits the future it returns (the app's `callback`); a panic in
/// either is caught, logged and counted.
pub(crate) async fn call_async<F: Future>(
    callback: Callback,
    telemetry: Option<&Telemetry>,
    make: impl FnOnce() -> F,
) -> Result<F::Output, Panicked> {
    let outcome = match catch_unwind(AssertUnwindSafe(make)) {
        Ok(future) => AssertUnwindSafe(future).catch_unwind().await,
        Err(panic) => Err(panic),
    };
    outcome.map_err(|panic| caught(callback, telemetry, panic.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panics_message_is_read_when_it_is_text() {
        let text: Box<dyn Any + Send> = Box::new("static text");
        assert_eq!(panic_message(text.as_ref()), "static text");
        let formatted: Box<dyn Any + Send> = Box::new(format!("formatted {}", 7));
        assert_eq!(panic_message(formatted.as_ref()), "formatted 7");
        let other: Box<dyn Any + Send> = Box::new(42_u32);
        assert_eq!(panic_message(other.as_ref()), "a panic without a message");
    }

    #[test]
    fn a_panic_becomes_the_calls_error() {
        assert_eq!(call(Callback::Authorize, None, || 5), Ok(5));
        let error = call(Callback::Authorize, None, || -> u8 { panic!("no access today") }).unwrap_err();
        assert_eq!(error, Panicked { callback: Callback::Authorize, message: "no access today".to_owned() });
        assert_eq!(error.to_string(), "the authorize callback panicked: no access today");
    }

    #[tokio::test]
    async fn a_panic_in_the_call_or_in_its_future_is_caught() {
        let done = call_async(Callback::OnSession, None, || async { 1 }).await;
        assert_eq!(done, Ok(1));
        let in_call = call_async(Callback::OnSession, None, || -> std::future::Ready<()> { panic!("at once") }).await;
        assert_eq!(in_call.unwrap_err().message, "at once");
        let in_future = call_async(Callback::OnSession, None, || async {
            tokio::task::yield_now().await;
            panic!("later {}", 2)
        })
        .await;
        assert_eq!(in_future.unwrap_err().message, "later 2");
    }

    #[test]
    fn every_callback_has_its_own_label() {
        let names: std::collections::HashSet<_> = Callback::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), Callback::ALL.len());
    }

    #[cfg(feature = "metrics")]
    #[test]
    fn a_caught_panic_is_counted_under_its_callback() {
        let telemetry = Telemetry::new();
        let _ = call(Callback::OnRemoteBroadcast, Some(&telemetry), || panic!("boom"));
        let stats = crate::ServerStats::default();
        let text = telemetry.render(stats, &[]);
        assert!(text.lines().any(|l| l == "pulse_callback_panics_total{callback=\"on_remote_broadcast\"} 1"), "{text}");
        assert!(text.lines().any(|l| l == "pulse_callback_panics_total{callback=\"authorize\"} 0"), "{text}");
    }
}

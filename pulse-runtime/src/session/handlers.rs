//! [`Handlers`]: a channel handler assembled from closures, one per event name.
//!
//! The string-keyed layer for code that does not use `#[channel]` (tests, tools,
//! dynamic channels). The macro generates a typed [`RawHandler`] instead.

use std::collections::HashMap;
use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::protocol::{ErrorCode, WireError};
use crate::session::channel::{Emitted, RawCx, RawHandler, Reply, malformed_payload, to_raw, unknown_event};

type EmitFn = Box<dyn FnMut(&RawCx<'_>, &RawValue) -> Result<Emitted, WireError> + Send>;
type RequestFn = Box<dyn FnMut(&RawCx<'_>, &RawValue) -> Reply + Send>;

/// Closures for a channel's client-to-server events and requests, with payloads
/// decoded through serde. Unknown events are refused with `unknown_event`, payloads of
/// the wrong shape with `malformed_payload`.
#[derive(Default)]
pub struct Handlers {
    emits: HashMap<String, EmitFn>,
    requests: HashMap<String, RequestFn>,
}

impl Handlers {
    /// No handlers yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Handles the client's `event`, decoding its payload as `T`.
    pub fn on<T, F>(mut self, event: &str, mut f: F) -> Self
    where
        T: DeserializeOwned,
        F: FnMut(&RawCx<'_>, T) + Send + 'static,
    {
        let name = event.to_owned();
        self.emits.insert(
            event.to_owned(),
            Box::new(move |cx, payload| {
                let value = serde_json::from_str(payload.get()).map_err(|e| malformed_payload(&name, e))?;
                f(cx, value);
                Ok(Emitted::Done)
            }),
        );
        self
    }

    /// Handles the client's `event` with a future, which runs on its own task; the
    /// channel's later events wait for it.
    pub fn on_async<T, Fut, F>(mut self, event: &str, mut f: F) -> Self
    where
        T: DeserializeOwned,
        Fut: Future<Output = ()> + Send + 'static,
        F: FnMut(&RawCx<'_>, T) -> Fut + Send + 'static,
    {
        let name = event.to_owned();
        self.emits.insert(
            event.to_owned(),
            Box::new(move |cx, payload| {
                let value = serde_json::from_str(payload.get()).map_err(|e| malformed_payload(&name, e))?;
                let future = f(cx, value);
                Ok(Emitted::Later(Box::pin(async move {
                    future.await;
                    Ok(())
                })))
            }),
        );
        self
    }

    /// Answers the client's request `event`; an `Err(message)` is sent as a failed
    /// handler.
    pub fn on_request<T, R, F>(mut self, event: &str, mut f: F) -> Self
    where
        T: DeserializeOwned,
        R: Serialize,
        F: FnMut(&RawCx<'_>, T) -> Result<R, String> + Send + 'static,
    {
        let name = event.to_owned();
        self.requests.insert(
            event.to_owned(),
            Box::new(move |cx, payload| match serde_json::from_str(payload.get()) {
                Err(e) => Reply::rejected(malformed_payload(&name, e)),
                Ok(value) => match f(cx, value) {
                    Ok(answer) => Reply::json(&answer),
                    Err(message) => Reply::failed(message),
                },
            }),
        );
        self
    }

    /// Answers the client's request `event` with the output of a future, which runs on
    /// its own task; the channel's later events wait for it.
    pub fn on_request_async<T, R, Fut, F>(mut self, event: &str, mut f: F) -> Self
    where
        T: DeserializeOwned,
        R: Serialize,
        Fut: Future<Output = Result<R, String>> + Send + 'static,
        F: FnMut(&RawCx<'_>, T) -> Fut + Send + 'static,
    {
        let name = event.to_owned();
        self.requests.insert(
            event.to_owned(),
            Box::new(move |cx, payload| match serde_json::from_str(payload.get()) {
                Err(e) => Reply::rejected(malformed_payload(&name, e)),
                Ok(value) => {
                    let answer = f(cx, value);
                    Reply::Later(Box::pin(async move {
                        match answer.await {
                            Ok(value) => to_raw(&value),
                            Err(message) => Err(WireError::new(ErrorCode::HandlerFailed, message)),
                        }
                    }))
                }
            }),
        );
        self
    }
}

impl RawHandler for Handlers {
    fn on_emit(&mut self, cx: &RawCx<'_>, event: &str, payload: &RawValue) -> Result<Emitted, WireError> {
        match self.emits.get_mut(event) {
            Some(f) => f(cx, payload),
            None => Err(unknown_event(event)),
        }
    }

    fn on_request(&mut self, cx: &RawCx<'_>, event: &str, payload: &RawValue) -> Reply {
        match self.requests.get_mut(event) {
            Some(f) => f(cx, payload),
            None => Reply::rejected(unknown_event(event)),
        }
    }
}

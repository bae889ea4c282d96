//! DOM event handlers that run on the server.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::protocol::WireError;
use crate::session::host::CallbackFn;

/// What the browser tells about a DOM event. Each field is present when it applies:
/// `value` for inputs, `checked` for checkboxes, `key` for key events, `form` for
/// submitted forms.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ts_rs::TS)]
#[serde(default)]
#[ts(rename = "DomEventData", optional_fields)]
#[non_exhaustive]
pub struct DomEvent {
    /// The event type (`click`, `change`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// The target's value (inputs, selects, textareas).
    pub value: Option<String>,
    /// Whether the target checkbox is checked.
    pub checked: Option<bool>,
    /// The key of a key event (`Enter`, `a`).
    pub key: Option<String>,
    /// The fields of a submitted form, by name.
    #[ts(as = "Option<crate::protocol::JsonObject>")]
    pub form: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A DOM event handler. Made from a closure (`|event: &DomEvent| ...`) or, to change
/// component state, with [`StateRef::on`](super::StateRef::on).
#[derive(Clone)]
pub struct Callback(pub(crate) Arc<dyn Fn(&DomEvent) + Send + Sync>);

impl Callback {
    /// A callback running `f`.
    pub fn new(f: impl Fn(&DomEvent) + Send + Sync + 'static) -> Self {
        Callback(Arc::new(f))
    }

    /// The callback as its session keeps it: decoding the event data from the
    /// `callback` frame (a `malformed_payload` refusal if it is not a `DomEvent`), then
    /// running the callback.
    pub(crate) fn into_session_fn(self) -> CallbackFn {
        Arc::new(move |data: &RawValue| {
            let event: DomEvent = serde_json::from_str(data.get()).map_err(|e| {
                WireError::new(crate::protocol::ErrorCode::MalformedPayload, format!("callback event data: {e}"))
            })?;
            (self.0)(&event);
            Ok(())
        })
    }
}

impl<F: Fn(&DomEvent) + Send + Sync + 'static> From<F> for Callback {
    fn from(f: F) -> Self {
        Callback::new(f)
    }
}

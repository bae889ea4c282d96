//! `Codec<T>`: everything the typed layer does with a payload type, captured once.
//!
//! `#[channel]` makes one `Codec` per payload and response type, in a constant spanned
//! at the user's type. That constant is the only place that requires `T: Payload`, so
//! a type that is not Serialize, Deserialize or TS gives one error per missing trait,
//! pointing at the type in the declaration, instead of one per generated use.

use serde::Serializer;
use serde::ser::SerializeStruct as _;
use serde_json::value::RawValue;

use super::schema::{TypeCollector, TypeRef};
use super::{Payload, Sent};
use crate::error::ChannelError;
use crate::protocol::WireError;
use crate::session::channel::RawChannel;
use crate::session::request::Request;
use crate::target::Delivery;

/// Encoding, decoding and TypeScript naming of one payload type.
pub struct Codec<T: 'static> {
    encode: fn(&T) -> Result<Box<RawValue>, serde_json::Error>,
    decode: fn(&str) -> Result<T, serde_json::Error>,
    ts_name: fn(&ts_rs::Config) -> String,
    collect: fn(&mut TypeCollector),
}

impl<T> Clone for Codec<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Codec<T> {}

fn encode_json<T: Payload>(value: &T) -> Result<Box<RawValue>, serde_json::Error> {
    serde_json::value::to_raw_value(value)
}

/// The codec of `T`; fails to compile unless `T` is a [`Payload`], with one error per
/// missing trait, each pointing at the type.
pub const fn codec<T: Payload>() -> Codec<T> {
    Codec {
        encode: encode_json::<T>,
        decode: crate::session::request::decode_json::<T>,
        ts_name: <T as ts_rs::TS>::name,
        collect: super::schema::collect_type::<T>,
    }
}

impl<T> Codec<T> {
    /// `value` as JSON.
    pub fn encode(&self, value: &T) -> Result<Box<RawValue>, serde_json::Error> {
        (self.encode)(value)
    }

    /// The payload of `event`, decoded; a mismatch is a `malformed_payload` refusal.
    pub fn decode_payload(&self, event: &str, payload: &RawValue) -> Result<T, WireError> {
        (self.decode)(payload.get()).map_err(|e| crate::session::channel::malformed_payload(event, e))
    }

    /// The schema's reference to `T`, written `rust` in the declaration.
    pub fn type_ref(&self, rust: &'static str) -> TypeRef {
        TypeRef::new(rust, self.ts_name, self.collect)
    }

    /// Emits `event` with `payload` on `raw` (fire-and-forget; failures are logged).
    pub fn emit(&self, raw: &RawChannel, event: &'static str, payload: &T) -> Sent {
        match self.encode(payload) {
            Ok(json) => super::channel::emit_event(raw, event, &*json),
            Err(error) => {
                tracing::warn!(channel = raw.name(), event, %error, "payload could not be encoded");
                Sent::new(Err(ChannelError::Payload(error.to_string())))
            }
        }
    }

    /// Broadcasts `event` with `payload`.
    pub fn broadcast(&self, broadcaster: &super::Broadcaster, event: &'static str, payload: &T) -> Sent<Delivery> {
        match self.encode(payload) {
            Ok(json) => Sent::new(broadcaster.emit(event, &*json)),
            Err(error) => {
                tracing::warn!(event, %error, "payload could not be encoded");
                Sent::new(Err(ChannelError::Payload(error.to_string())))
            }
        }
    }

    /// A request for `event` on `raw` whose answer this codec decodes; `payload` is
    /// the encoded payload, `None` for an event without one.
    pub fn request(
        &self,
        raw: &RawChannel,
        event: &'static str,
        payload: Option<Result<Box<RawValue>, serde_json::Error>>,
    ) -> Request<T> {
        let payload = match payload {
            None => Ok(RawValue::NULL.to_owned()),
            Some(encoded) => encoded.map_err(|e| crate::ChannelError::Payload(e.to_string())),
        };
        Request::new(raw.clone(), event.to_owned(), payload, self.decode)
    }

    /// The reply to a request whose handler returned `value` (`None`: handler gone).
    pub fn answer(&self, value: Option<T>) -> crate::Reply {
        match value {
            Some(value) => crate::Reply::Ready(self.encode_answer(&value)),
            None => crate::Reply::rejected(super::dispatch::handler_gone()),
        }
    }

    /// The reply to a request whose async handler returned `future` (`None`: handler
    /// gone): the answer is sent when the future completes.
    pub fn answer_later<F>(self, future: Option<F>) -> crate::Reply
    where
        F: std::future::Future<Output = T> + Send + 'static,
        T: Send,
    {
        match future {
            Some(future) => crate::Reply::Later(Box::pin(async move { self.encode_answer(&future.await) })),
            None => crate::Reply::rejected(super::dispatch::handler_gone()),
        }
    }

    fn encode_answer(&self, value: &T) -> Result<Box<RawValue>, WireError> {
        self.encode(value).map_err(crate::session::channel::answer_not_encoded)
    }
}

/// The codecs of a fallible request: its answer `T` and its error `E`.
pub struct Fallible<T: 'static, E: 'static> {
    /// The answer's codec.
    pub ok: Codec<T>,
    /// The error's codec.
    pub error: Codec<E>,
}

impl<T: 'static, E: 'static> Clone for Fallible<T, E> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: 'static, E: 'static> Copy for Fallible<T, E> {}

impl<T, E> Fallible<T, E> {
    /// The reply to a request whose handler returned `result` (`None`: handler gone):
    /// `Ok` is the answer, `Err` a `failed` answer carrying the error value.
    pub fn answer(&self, result: Option<Result<T, E>>) -> crate::Reply {
        match result {
            Some(result) => crate::Reply::Ready(self.encode_result(&result)),
            None => crate::Reply::rejected(super::dispatch::handler_gone()),
        }
    }

    /// Like [`Fallible::answer`], for an async handler's future.
    pub fn answer_later<F>(self, future: Option<F>) -> crate::Reply
    where
        F: std::future::Future<Output = Result<T, E>> + Send + 'static,
        T: Send,
        E: Send,
    {
        match future {
            Some(future) => crate::Reply::Later(Box::pin(async move { self.encode_result(&future.await) })),
            None => crate::Reply::rejected(super::dispatch::handler_gone()),
        }
    }

    fn encode_result(&self, result: &Result<T, E>) -> Result<Box<RawValue>, WireError> {
        match result {
            Ok(value) => self.ok.encode_answer(value),
            Err(error) => {
                let json = self.error.encode(error).map_err(crate::session::channel::answer_not_encoded)?;
                let value = serde_json::from_str(json.get()).map_err(crate::session::channel::answer_not_encoded)?;
                Err(WireError::failed(value))
            }
        }
    }
}

/// Emits `event` without payload (`null`).
pub fn emit_null(raw: &RawChannel, event: &'static str) -> Sent {
    super::channel::emit_event(raw, event, &())
}

/// Broadcasts `event` without payload (`null`).
pub fn broadcast_null(broadcaster: &super::Broadcaster, event: &'static str) -> Sent<Delivery> {
    Sent::new(broadcaster.emit(event, &()))
}

/// Serializes a wire-enum value as `{"event": ..., "payload": ...}`.
pub fn serialize_event<S: Serializer, T>(
    serializer: S,
    event: &'static str,
    payload: Option<(&Codec<T>, &T)>,
) -> Result<S::Ok, S::Error> {
    let mut fields = serializer.serialize_struct("Event", if payload.is_some() { 2 } else { 1 })?;
    fields.serialize_field("event", event)?;
    if let Some((codec, value)) = payload {
        let json = codec.encode(value).map_err(serde::ser::Error::custom)?;
        fields.serialize_field("payload", &*json)?;
    }
    fields.end()
}

/// The `event` and `payload` fields of a wire-enum value, for its `decode`.
#[derive(serde::Deserialize)]
pub struct EventFields {
    /// The event name.
    pub event: String,
    /// The payload (`null` when absent).
    #[serde(default)]
    pub payload: Option<Box<RawValue>>,
}

impl EventFields {
    /// The payload, `null` when absent.
    pub fn payload(&self) -> &RawValue {
        self.payload.as_deref().unwrap_or(RawValue::NULL)
    }
}

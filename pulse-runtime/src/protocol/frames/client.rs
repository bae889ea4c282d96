//! A client's frames, defined once: the Rust client encodes them (`client/`), the
//! server decodes them leniently into the same type (`decode.rs`) and the TypeScript
//! client's types are generated from them (`pulse-client-gen`).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::WireError;

/// A frame a client sends.
///
/// `P` holds the frame's open JSON values (a payload, an answer, a DOM event's data):
/// raw JSON borrowed from the frame's text when the server decodes, any `Serialize`
/// when the Rust client encodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(tag = "t", rename_all = "snake_case")]
#[ts(concrete(P = serde_json::Value), bound = "")]
#[non_exhaustive]
pub enum ClientFrame<'a, P = serde_json::Value> {
    /// An event on one of the session's channels.
    Emit {
        /// The channel's id.
        channel: Cow<'a, str>,
        /// The event's name.
        event: Cow<'a, str>,
        /// Its payload (`null` when absent).
        #[ts(type = "unknown")]
        payload: P,
    },
    /// A request, answered by an `answer` frame with the same `channel` and `id`.
    Request {
        /// The channel's id.
        channel: Cow<'a, str>,
        /// The request's id, unique among the session's pending requests.
        id: u64,
        /// The event's name.
        event: Cow<'a, str>,
        /// Its payload (`null` when absent).
        #[ts(type = "unknown")]
        payload: P,
    },
    /// The answer to a server's request: `ok`, or `error`.
    Answer {
        /// The channel's id, as the request named it.
        channel: Cow<'a, str>,
        /// The request's id.
        id: u64,
        /// The value answered (`null` when absent and there is no `error`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional, type = "unknown")]
        ok: Option<P>,
        /// Why the request failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        error: Option<Cow<'a, WireError>>,
    },
    /// The client closes one of its channels.
    Close {
        /// The channel's id.
        channel: Cow<'a, str>,
    },
    /// A DOM event for a server component's callback.
    Callback {
        /// The callback's id, from the `{"$cb": id}` prop.
        callback: Cow<'a, str>,
        /// What the browser saw.
        #[ts(type = "DomEventData")]
        data: P,
    },
    /// The client went to another page of the app (a link followed, back or forward):
    /// the server renders that page.
    Navigate {
        /// The page's address: its path and query (`/rooms/x?y=1`).
        path: Cow<'a, str>,
    },
    /// The answer to a `ping`.
    Pong,
}

impl<P> ClientFrame<'_, P> {
    /// The frame's `t`.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientFrame::Emit { .. } => "emit",
            ClientFrame::Request { .. } => "request",
            ClientFrame::Answer { .. } => "answer",
            ClientFrame::Close { .. } => "close",
            ClientFrame::Callback { .. } => "callback",
            ClientFrame::Navigate { .. } => "navigate",
            ClientFrame::Pong => "pong",
        }
    }
}

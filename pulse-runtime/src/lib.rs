//! # Pulse for Rust — the runtime
//!
//! Typed, bidirectional channels between a Rust server and a browser client, over one
//! WebSocket per session. This crate holds the server (on axum), sessions, channels,
//! request/answer with timeouts, broadcast, and a Rust client.
//!
//! The protocol is described in `docs/protocol.md`; [`protocol`] implements it.
//!
//! ```no_run
//! use pulse_runtime::{Handlers, Server};
//!
//! # async fn run() -> std::io::Result<()> {
//! let server = Server::builder()
//!     .on_session(|session| async move {
//!         let handlers = Handlers::new().on("say", |cx, text: String| {
//!             let _ = cx.channel().broadcast("said", &text);
//!         });
//!         let _ = session.open_channel("room", handlers);
//!     })
//!     .build();
//! pulse_runtime::serve("127.0.0.1:3000", server).await
//! # }
//! ```

#![warn(clippy::unwrap_used)]

pub mod backplane;
pub mod component;
mod config;
mod error;
mod history;
mod id;
mod presence;
pub mod protocol;
mod server;
mod session;
mod session_core;
mod sync;
mod target;
pub mod typed;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzz;

#[cfg(feature = "client")]
pub mod client;

pub use config::{Config, Origins};
pub use error::{ChannelError, OpenError};
pub use history::{History, Position};
pub use id::{ChannelId, InvalidId, SessionId, Untyped};
pub use server::{ConnectRequest, REDIS_URL_VAR, RunningServer, Server, ServerBuilder, ServerStats, serve, serve_with};
pub use session::channel::{
    CloseReason, Emitted, PushOnly, RawChannel, RawCx, RawHandler, Reply, malformed_payload, to_raw, unknown_event,
};
pub use session::handlers::Handlers;
pub use session::request::Request;
pub use session::{Access, Session};
pub use target::{Identity, Target};

pub use typed::{Broadcaster, Channel, ChannelCx, ChannelSpec, HandledBy, Later, Payload};

#[doc(hidden)]
pub use typed::private as __private;

/// Declares a channel; see the `pulse_macros` crate for the syntax.
pub use pulse_macros::channel;
/// Declares a server component (on a function) or a client component's props (on a struct).
pub use pulse_macros::component;
/// Marks a struct as component state.
pub use pulse_macros::state;

/// Re-exported so users and generated code name the same versions.
pub use axum;
pub use serde;
pub use serde_json;
pub use tracing;
pub use ts_rs;

/// What a channel declaration and its handlers need in scope.
pub mod prelude {
    pub use crate::component::html::*;
    pub use crate::component::{
        Callback, DomEvent, IntoNode, IntoNodes, Keyed, Node, Scope, Shared, State, StateCx, StateRef, WeakState,
        fragment,
    };
    pub use crate::protocol::ErrorCode;
    pub use crate::typed::{Channel, ChannelCx, ChannelSpec, Later};
    pub use crate::{ChannelError, ChannelId, History, Server, Session, channel, component, state};
    pub use crate::{CloseReason, SessionId};
    pub use serde::{Deserialize, Serialize};
    pub use std::time::Duration;
    pub use ts_rs::TS;
}

//! # Pulse for Rust — the runtime
//!
//! Typed, bidirectional channels between a Rust server and a React client, over one
//! WebSocket per session, on tokio and axum: sessions that resume without loss,
//! requests with timeouts in both directions, broadcast to rooms, users and sessions
//! (across nodes through Redis with the `redis` feature), history and presence, and
//! server components whose state re-renders into the browser's React tree. The
//! browser side is the npm package `@pulse-rs/client`; `pulse-client-gen` writes the
//! TypeScript module that types it from these declarations.
//!
//! ## A channel, end to end
//!
//! [`channel`] declares every event once, with its direction and payload; rustc then
//! refuses a missing handler, a misspelt event or a wrong payload. Here a server
//! answers a Rust [`client`] (the browser does the same through the generated hook):
//!
//! ```
//! use pulse_runtime::client::{Client, ServerFrame};
//! use pulse_runtime::prelude::*;
//!
//! #[channel(name = "echo", events(
//!     say(String)      => server,  // the client emits, a handler takes it
//!     said(String)     => client,  // the server emits or broadcasts
//!     count() -> usize => server,  // the client asks, the handler answers
//! ))]
//! pub struct Echo;
//!
//! struct Counter(usize);
//!
//! impl EchoHandler for Counter {
//!     fn say(&mut self, cx: &mut ChannelCx<Echo>, text: String) {
//!         self.0 += 1;
//!         cx.broadcast().said(text.to_uppercase());  // every session with an `echo`
//!     }
//!     fn count(&mut self, _cx: &mut ChannelCx<Echo>) -> usize {
//!         self.0
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = Server::builder()
//!     .on_session(|session| async move {
//!         let _ = Echo::open(&session, Counter(0));  // `Echo::open_in(.., &room, ..)` with rooms
//!     })
//!     .build();
//! let running = server.bind("127.0.0.1:0").await?;  // or `pulse_runtime::serve(addr, server)`
//!
//! let mut client = Client::connect(&running.ws_url()).await?;
//! let Some(ServerFrame::Open { channel, .. }) = client.next_frame().await else { panic!() };
//! client.emit(channel, "say", "hi")?;
//! match client.next_frame().await {
//!     Some(ServerFrame::Broadcast { event, payload, .. }) => assert_eq!((event.as_str(), payload), ("said", "HI".into())),
//!     other => panic!("{other:?}"),
//! }
//! assert_eq!(client.request(channel, "count", &()).await?, 1);
//! running.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! ## Where to go next
//!
//! - [`ServerBuilder`]: the root component ([`ServerBuilder::root`]), history
//!   ([`ServerBuilder::history`]), authentication and authorization, a backplane, the
//!   built client's files ([`ServerBuilder::assets`]) and metrics.
//! - [`Server::router`] to mount it in your own axum app, [`Server::bind_with`] /
//!   [`serve_with`] to serve it beside your own routes.
//! - [`component`](mod@component): `#[component]`, `#[state]`, [`Shared`](component::Shared) state and the
//!   HTML builders.
//! - [`Channel`] and [`ChannelCx`]: emit, broadcast to a room, a user or the others,
//!   requests with timeouts, presence.
//! - `docs/guide.md` for the whole tour, `docs/protocol.md` for the wire format.

#![warn(clippy::unwrap_used)]

// The macros name this crate `::pulse_runtime`, in its own tests and doc tests too.
extern crate self as pulse_runtime;

pub mod backplane;
pub mod component;
mod config;
mod error;
mod guard;
mod history;
mod id;
mod presence;
pub mod protocol;
mod registry;
pub mod routes;
mod server;
mod session;
mod session_core;
mod stats;
mod sync;
mod target;
mod telemetry;
pub mod typed;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzz;

#[cfg(feature = "client")]
pub mod client;

pub use config::{Config, Origins, ProxyAddresses, ProxyAddressesError};
pub use error::{ChannelError, OpenError};
pub use history::{History, Position};
pub use id::{ChannelId, InvalidId, SessionId, Untyped};
pub use server::{
    ClientAddr, ConnectRequest, NODES_VAR, ORIGINS_VAR, REDIS_URL_VAR, RunningServer, Server, ServerBuilder,
    TRUSTED_PROXIES_VAR, serve, serve_with, stop_signal,
};
pub use session::channel::{
    CloseReason, Emitted, PushOnly, RawChannel, RawCx, RawHandler, Reply, malformed_payload, to_raw, unknown_event,
};
pub use session::handlers::Handlers;
pub use session::request::Request;
pub use session::{Access, Session};
pub use stats::ServerStats;
pub use target::{Identity, Target};

pub use target::Delivery;
pub use typed::{Broadcaster, Channel, ChannelCx, ChannelSpec, HandledBy, Payload, RoomHistory, RoomLog, Sent};

/// What only the code `#[channel]` generates uses: not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use crate::server::{broadcast_to, broadcast_to_room};
    pub use crate::typed::private::*;
}

/// Declares the app's pages on an enum; see [`routes`].
pub use pulse_macros::Routes;
/// Declares a channel; see the `pulse_macros` crate for the syntax.
pub use pulse_macros::channel;
/// Declares a server component (on a function) or a client component's props (on a struct).
pub use pulse_macros::component;
/// Marks a struct as component state.
pub use pulse_macros::state;
pub use routes::{Routed, Routes};

/// Re-exported so users and generated code name the same versions.
pub use axum;
pub use serde;
pub use serde_json;
pub use tracing;
pub use ts_rs;

pub use component::html;

/// What an app names in most files: declarations and their handlers, components and
/// their state, the server. The HTML builders (`div`, `p`, `main`, …) are in [`html`],
/// imported where a component renders: `use pulse_runtime::html::*;`.
pub mod prelude {
    pub use crate::component::{
        Callback, DomEvent, IntoNode, IntoNodes, Keyed, Node, Scope, Shared, State, StateCx, StateRef, WeakState,
        fragment,
    };
    pub use crate::protocol::ErrorCode;
    pub use crate::typed::{Channel, ChannelCx, ChannelSpec, RoomHistory};
    pub use crate::{ChannelError, ChannelId, History, OpenError, Server, Session, channel, component, state};
    pub use crate::{CloseReason, Config, Origins, SessionId};
    pub use crate::{Routed, Routes};
    pub use serde::{Deserialize, Serialize};
    pub use std::future::Future;
    pub use std::time::Duration;
    pub use ts_rs::TS;
}

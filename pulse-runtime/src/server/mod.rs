//! The server: an axum route for `/ws`, sessions, topics and graceful shutdown.

mod access;
mod admission;
mod builder;
mod connection;
mod dispatch;
mod frame_scan;
mod frame_writer;
mod handshake;
mod http;
mod listener;
mod memory;
mod nodes;
mod presence;
mod registry;
mod remote_hooks;
mod respond;
mod running;
mod socket;
mod topics;
mod upgrade;
mod views;

pub use access::ConnectRequest;
pub use builder::{NODES_VAR, ORIGINS_VAR, REDIS_URL_VAR, ServerBuilder, TRUSTED_PROXIES_VAR};
#[cfg(feature = "fuzzing")]
pub(crate) use connection::read_error_ending;
#[cfg(feature = "fuzzing")]
pub(crate) use dispatch::{binary_frame as dispatch_binary, text_frame as dispatch_text};
#[cfg(feature = "fuzzing")]
pub(crate) use frame_writer::{Inbound, Replies};
pub use http::ClientAddr;
#[cfg(feature = "fuzzing")]
pub(crate) use listener::{Head, HeadReader, MAX_HEAD_BYTES, Parsed, first_look, for_the_router, parse};
pub(crate) use registry::ServerShared;
pub use running::{
    RunningServer, Server, ServerStats, broadcast_to, broadcast_to_room, serve, serve_with, stop_signal,
};
pub(crate) use socket::Socket;
#[cfg(feature = "fuzzing")]
pub(crate) use socket::{LazyRead, drain};
#[cfg(feature = "fuzzing")]
pub(crate) use upgrade::websocket_config;

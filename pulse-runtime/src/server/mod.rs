//! The server (layer 6): the builder, the router and the listener, the WebSocket
//! upgrade and the connections, admission, the cluster's nodes, graceful shutdown.

mod access;
mod admission;
mod builder;
mod connection;
mod env;
mod first_paint;
mod frame_scan;
mod frame_writer;
mod handshake;
mod http;
mod index_page;
mod listener;
mod memory;
mod nodes;
mod pages;
mod rate;
mod respond;
mod running;
mod session_task;
mod shared;
mod socket;
mod upgrade;

pub use access::ConnectRequest;
pub use builder::ServerBuilder;
#[cfg(feature = "fuzzing")]
pub(crate) use connection::read_error_ending;
pub use env::{NODES_VAR, ORIGINS_VAR, REDIS_URL_VAR, TRUSTED_PROXIES_VAR};
#[cfg(feature = "fuzzing")]
pub(crate) use frame_writer::{Inbound, Replies};
pub use http::ClientAddr;
#[cfg(feature = "fuzzing")]
pub(crate) use listener::{Head, HeadReader, MAX_HEAD_BYTES, Parsed, first_look, for_the_router, parse};
pub use running::{RunningServer, Server, broadcast_to, broadcast_to_room, serve, serve_with, stop_signal};
pub(crate) use shared::ServerShared;
#[cfg(feature = "fuzzing")]
pub(crate) use socket::{LazyRead, drain};
#[cfg(feature = "fuzzing")]
pub(crate) use upgrade::websocket_config;

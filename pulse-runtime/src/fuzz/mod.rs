//! What the fuzz targets drive (feature `fuzzing`; not a stable API).
//!
//! - [`FuzzSession`]: a session without a socket, for the decoder and dispatcher
//!   (target `inbound`).
//! - [`request_head`], [`websocket_read`], [`close_drain`]: what reads the network
//!   first — the listener's reading of a request head, the WebSocket read path
//!   (`LazyRead` and the frame scan under the parser), and the close handshake's drain —
//!   with the input's bytes cut into pieces as a socket delivers them (targets
//!   `request_head`, `websocket_read`, `close_drain`). Each checks its own invariants
//!   and panics if one fails.

mod edge;
mod session;

pub use edge::{close_drain, request_head, websocket_read};
pub use session::FuzzSession;

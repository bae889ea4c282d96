//! The WebSocket URL's parameters (and the probe's header): their names, for the server
//! that reads them and the TypeScript client that writes them (generated from these).

/// The protocol version the client speaks: `/ws?v=1`.
pub const VERSION_PARAM: &str = "v";

/// The session a reconnecting client asks back.
pub const RESUME_PARAM: &str = "resume";

/// With [`RESUME_PARAM`]: the sequence number of the last frame the client saw.
pub const LAST_SEQ_PARAM: &str = "last_seq";

/// Where a reconnecting client stands in each room's history it has seen, a JSON list
/// of [`HistoryPosition`](super::HistoryPosition)s.
pub const SINCE_PARAM: &str = "since";

/// The address of the page the client runs in (its path and query, percent-encoded):
/// `session.param` falls back to the page's query.
pub const PAGE_PARAM: &str = "page";

/// The parameter that makes a plain `GET` of the WebSocket URL a probe: the server
/// answers how an upgrade with the same headers would be answered (`200`, or the
/// refusal's status and reason), readable from any origin.
pub const PROBE_PARAM: &str = "probe";

/// The header a same-origin page names its origin in when it probes (a same-origin
/// `fetch` sends no `Origin`).
pub const PROBE_ORIGIN_HEADER: &str = "x-pulse-origin";

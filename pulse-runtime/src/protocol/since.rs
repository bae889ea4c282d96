//! The `since` parameter of the WebSocket URL: where a reconnecting client stands in
//! each room's history it has seen ([`SINCE_PARAM`](super::SINCE_PARAM)), a JSON list of
//! [`HistoryPosition`]s.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The most positions of `since` the server reads; the rest are ignored.
pub const MAX_SINCE_POSITIONS: usize = 64;

/// Where a client stands in one room's history: the epoch, and the offset of the last
/// broadcast it saw.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
pub struct HistoryPosition<'a> {
    /// The channel name.
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    /// The room key, for a channel with rooms.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "unknown")]
    pub room: Option<&'a RawValue>,
    /// The history's epoch.
    #[serde(borrow)]
    pub epoch: Cow<'a, str>,
    /// The offset of the last broadcast seen (0 before the first).
    pub offset: u64,
}

//! A route table for the tests: every kind of segment, a query with a required and an
//! optional parameter, redirects; the TypeScript fixture's `routes` come from it.

use std::fmt;
use std::str::FromStr;

use pulse_runtime::Routes;

/// A room's key: lowercase letters, digits and `-`, at most 32.
#[derive(Debug, Clone, PartialEq, Eq, ts_rs::TS)]
pub struct RoomKey(pub String);

impl FromStr for RoomKey {
    type Err = &'static str;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let ok = !text.is_empty()
            && text.len() <= 32
            && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        ok.then(|| RoomKey(text.to_owned())).ok_or("not a room key")
    }
}

impl fmt::Display for RoomKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The pages.
#[derive(Routes, Debug, Clone, PartialEq)]
#[redirect("/?{room}", to = Room)]
#[redirect("/r/{room}", to = Room)]
pub enum Page {
    /// The lobby.
    #[route("/")]
    Lobby,
    /// One room.
    #[route("/rooms/{room}", title = "Room {room}", description = "The {{{room}}} room")]
    Room {
        /// Which room.
        room: RoomKey,
    },
    /// Declared after `Room`, and still tried first: text before a parameter.
    #[route("/rooms/new")]
    NewRoom,
    /// A file, by its path.
    #[route("/files/{*path}")]
    Files {
        /// The file's path.
        path: String,
    },
    /// What a search found.
    #[route("/search?{q}&{page}", title = "Search: {q}, page {page}")]
    Search {
        /// What to look for.
        q: Option<String>,
        /// Which page of results.
        page: u32,
    },
}

//! A page's first paint over HTTP: what the server embeds in the HTML it renders, for
//! the client that takes the page over.

use serde::Serialize;

use crate::id::SessionId;

/// The attribute of the element of `index.html` the server renders a page into (and
/// the client hydrates): `<div id="app" data-pulse-root></div>`. Without it, pages are
/// served as `index.html` is, and the client renders them once it is connected.
pub const ROOT_ATTRIBUTE: &str = "data-pulse-root";

/// The id of the `<script type="application/json">` holding the [`FirstPaint`].
pub const FIRST_PAINT_ID: &str = "pulse-first-paint";

/// What a server-rendered page carries for its client, as JSON in the page. `T` is
/// the tree (`[VNode]`, as a `tree` frame carries it).
#[derive(Debug, Serialize, ts_rs::TS)]
#[ts(concrete(T = serde_json::Value), bound = "")]
#[non_exhaustive]
pub struct FirstPaint<T> {
    /// The session that rendered the page, waiting for the page's connection to resume
    /// it (`resume=<session>&last_seq=0`); `null` when it cannot be resumed (the client
    /// starts a session of its own).
    #[ts(type = "string | null")]
    pub session: Option<SessionId>,
    /// The tree rendered into the page, as a `tree` frame carries it.
    #[ts(type = "VNode[]")]
    pub tree: T,
    /// How many of the session's `tree` and `patch` frames the tree already holds: a
    /// client that resumes the session applies the ones after them (the first render
    /// may have been sent before the one in the page, still loading).
    pub frames: u64,
    /// The app's own title, as `index.html`'s `<title>` writes it (character references
    /// included, for the browser to read; empty without one): the page's `<title>` is
    /// its route's, and a page without a title of its own shows this one.
    pub app_title: String,
}

//! Typed routes: the app's pages declared once as an enum (`#[derive(Routes)]`), an
//! address parsed into one of its values and written back from it, and the table as
//! data, from which `pulse-client-gen` renders the TypeScript `routes` (so a client
//! component's link is checked by tsc as a server component's is by rustc).
//!
//! `address.rs` reads an address and writes one (what generated code calls);
//! `schema.rs` is the table as data.

mod address;
mod schema;

pub use address::{Address, HrefWriter};
pub use schema::{ParamSchema, RouteSchema, SegmentSchema};

/// The app's pages, as `#[derive(Routes)]` implements it on an enum: each variant a
/// page, `#[route("/rooms/{room}")]` its path (its fields the typed parameters), and
/// `#[redirect("/?{room}", to = Room)]` on the enum an old address that leads to one.
pub trait Routes: Sized + Clone + PartialEq + std::fmt::Debug + Send + Sync + 'static {
    /// The page `path` (and `query`, without its `?`) names: a page, a redirect to one,
    /// or `None` when none matches or a parameter does not parse (the not-found page).
    fn route(path: &str, query: &str) -> Option<Routed<Self>>;

    /// This page's address: its path, percent-encoded, and its query if it has one.
    fn href(&self) -> String;

    /// The page's title (`#[route("/rooms/{room}", title = "Chat: {room}")]`): the
    /// `<title>` of the page rendered over HTTP, and the tab's title after each
    /// navigation. `None`: the title `index.html` has.
    fn title(&self) -> Option<String> {
        None
    }

    /// The page's description (`description = ".."` on its route): the `<meta
    /// name="description">` of the page rendered over HTTP, for search engines and
    /// link previews.
    fn description(&self) -> Option<String> {
        None
    }

    /// Each page's route as data, in declaration order (redirects are not pages).
    fn schema() -> Vec<RouteSchema>;

    /// The page `session`'s client is on: the address it connected from (which the
    /// TypeScript client sends), as this table reads it.
    fn current(session: &crate::Session) -> Option<Routed<Self>> {
        let (path, query) = session.page_address()?;
        Self::route(&path, &query)
    }
}

/// The address to send a tab reaching `page` through an old address to: the page's
/// own, if it is a path on this server and reads back as that very page (so a value
/// from the old address, its query's say, can never send the browser elsewhere).
pub(crate) fn redirect_address<R: Routes>(page: &R) -> Option<String> {
    let href = page.href();
    let (path, query) = crate::protocol::split_address(&href);
    let reads_back = R::route(path, query).is_some_and(|routed| routed == Routed::Page(page.clone()));
    (reads_back && is_local(&href)).then_some(href)
}

/// Whether `href` is a path on this server: `/`, or `/` then anything but a second `/`
/// or a `\\` (which browsers read as another host's address).
pub(crate) fn is_local(href: &str) -> bool {
    href.strip_prefix('/').is_some_and(|rest| !rest.starts_with(['/', '\\']))
}

/// What an address names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routed<R> {
    /// A page.
    Page(R),
    /// An old address of a page: go to the page's own.
    Redirect(R),
}

impl<R> Routed<R> {
    /// The page, whether it was reached directly or through a redirect.
    pub fn page(&self) -> &R {
        match self {
            Routed::Page(page) | Routed::Redirect(page) => page,
        }
    }
}

#[cfg(test)]
mod local_tests {
    use super::is_local;

    #[test]
    fn only_paths_on_this_server_are_local() {
        for local in ["/", "/rooms/x", "/a?b=//c"] {
            assert!(is_local(local), "{local}");
        }
        for elsewhere in ["//evil.com", "/\\evil.com", "http://evil.com", "evil.com", ""] {
            assert!(!is_local(elsewhere), "{elsewhere}");
        }
    }
}

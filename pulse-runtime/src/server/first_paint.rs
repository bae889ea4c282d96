//! A page's first paint over HTTP: a `GET` of a page starts the session its tab will
//! have, as an upgrade would (authentication, admission, the page's address as its
//! parameter), waits for the root's first whole render, and answers `index.html` with
//! that tree written as HTML into the element marked
//! [`ROOT_ATTRIBUTE`](crate::protocol::ROOT_ATTRIBUTE) and embedded as
//! JSON ([`FirstPaint`]). The session waits for the page's connection, which resumes it
//! (`resume=<session>&last_seq=0`): every frame since the session started is delivered
//! to it, so the client continues the render that made the HTML, and state is made once.

use std::sync::Arc;

use axum::http::request::Parts;

use super::ServerShared;
use super::index_page::IndexPage;
use super::pages::PageHead;
use super::session_task;
use crate::component::{Painted, json_in_script, to_html};
use crate::protocol::{CloseCode, FirstPaint, PAGE_PARAM, Query};
use crate::session::Ending;

/// `index` with the page at `address` rendered into it, by a session waiting for the
/// page's connection; `None` when the page is to be served as `index` is (the app
/// renders no components, `index` has no root element, the server takes no more
/// sessions now, or authentication refuses the request: its connection will say why).
pub(super) async fn render(
    server: &Arc<ServerShared>,
    parts: Parts,
    address: &str,
    index: &IndexPage,
    head: &PageHead,
) -> Option<String> {
    server.root.as_ref()?;
    index.mount()?;
    let config = server.config();
    if config.resume_grace.is_zero() || server.is_shutting_down() {
        return None;
    }
    let client = parts.extensions.get::<super::ClientAddr>().map(|client| client.0);
    let params =
        Query::parse(&form_urlencoded::Serializer::new(String::new()).append_pair(PAGE_PARAM, address).finish());
    let identity = match super::upgrade::authenticate(server, parts, &params).await {
        Some(Err(reason)) => {
            tracing::debug!(address, %reason, "page served without its first paint: authentication refused it");
            return None;
        }
        identity => identity.and_then(Result::ok),
    };
    let Ok(slot) = server.admission.reserve_session() else {
        tracing::debug!(address, "page served without its first paint: the server takes no more sessions");
        return None;
    };
    // Without a place among the sessions waiting for their page, the page is rendered
    // all the same (a crawler, a link preview), by a session that ends with it.
    let unattached = server.admission.reserve_unattached(client);
    let kept = unattached.is_some();
    let (paint, mut painted) = tokio::sync::watch::channel(None::<Arc<Painted>>);
    let session = session_task::start_unattached(server.clone(), identity, params, slot, unattached, paint);
    // Until the page goes out naming it, the session ends with this request: a request
    // given up (the client gone, no render in time) or a session that cannot wait
    // leaves nothing waiting.
    let mut unsent = EndUnlessSent(Some(session.clone()));
    if server.is_shutting_down() {
        return None;
    }
    let settled = painted.wait_for(|tree| tree.as_ref().is_some_and(|tree| tree.settled));
    if tokio::time::timeout(config.first_paint_wait, settled).await.is_err() {
        tracing::debug!(session = %session.id, address, "the page's render still shows data loading; sent as it is");
    }
    let tree = painted.borrow().clone()?;
    let html = to_html(&tree.tree);
    let named = if kept {
        unsent.0 = None;
        Some(session.id)
    } else {
        tracing::debug!(session = %session.id, address, "page rendered by a session that cannot wait for its tab: it ends");
        None
    };
    let paint = FirstPaint { session: named, tree: &tree.tree, frames: tree.frames, app_title: index.app_title() };
    index.fill(&html, &json_in_script(&paint), head)
}

/// Ends a page's session when dropped still holding it: the page did not go out naming it.
struct EndUnlessSent(Option<Arc<crate::session::SessionShared>>);

impl Drop for EndUnlessSent {
    fn drop(&mut self) {
        if let Some(session) = self.0.take() {
            let reason = "going_away: the page's session was not sent to its tab";
            session.signal_end(Ending::Close(CloseCode::GoingAway, reason.into()));
        }
    }
}

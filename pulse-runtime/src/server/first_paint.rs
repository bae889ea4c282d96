//! A page's first paint over HTTP: a `GET` of a page starts the session its tab will
//! have, as an upgrade would (authentication, admission, the page's address as its
//! parameter), waits for the root's first whole render, and answers `index.html` with
//! that tree written as HTML into the element marked [`ROOT_ATTRIBUTE`] and embedded as
//! JSON ([`FirstPaint`]). The session waits for the page's connection, which resumes it
//! (`resume=<session>&last_seq=0`): every frame since the session started is delivered
//! to it, so the client continues the render that made the HTML, and state is made once.

use std::sync::Arc;

use axum::http::request::Parts;

use super::ServerShared;
use super::pages::PageHead;
use super::session_task;
use crate::component::{Painted, escape_into, json_in_script, to_html};
use crate::protocol::{CloseCode, FIRST_PAINT_ID, FirstPaint, PAGE_PARAM, Query, ROOT_ATTRIBUTE};
use crate::session::Ending;

/// `index` with the page at `address` rendered into it, by a session waiting for the
/// page's connection; `None` when the page is to be served as `index` is (the app
/// renders no components, `index` has no root element, the server takes no more
/// sessions now, or authentication refuses the request: its connection will say why).
pub(super) async fn render(
    server: &Arc<ServerShared>,
    parts: Parts,
    address: &str,
    index: &str,
    head: &PageHead,
) -> Option<String> {
    server.root.as_ref()?;
    let mount = Mount::find(index)?;
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
    let data = json_in_script(&FirstPaint { session: named, tree: &tree.tree, frames: tree.frames });
    Some(mount.fill(index, &html, &data, head))
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

/// Where a page goes in `index.html`: after the start tag of the element marked
/// [`ROOT_ATTRIBUTE`], and its data before `</head>` (outside the element React
/// hydrates, which must hold what the tree renders and nothing else).
#[derive(Debug, PartialEq, Eq)]
struct Mount {
    /// Just after the root element's start tag.
    content: usize,
    /// Just before `</head>`, or else before the root element's start tag.
    data: usize,
}

impl Mount {
    fn find(index: &str) -> Option<Mount> {
        let attribute = attribute_at(index)?;
        let tag_start = index[..attribute].rfind('<')?;
        let content = attribute + index[attribute..].find('>')? + 1;
        let data = find_ignoring_case(&index[..tag_start], "</head>").unwrap_or(tag_start);
        Some(Mount { content, data })
    }

    fn fill(&self, index: &str, html: &str, data: &str, head: &PageHead) -> String {
        let script = format!(r#"<script type="application/json" id="{FIRST_PAINT_ID}">{data}</script>"#);
        let mut out = String::with_capacity(index.len() + html.len() + script.len());
        out.push_str(&index[..self.data]);
        if let Some(title) = &head.title {
            let mut element = String::from("<title>");
            escape_into(&mut element, title);
            element.push_str("</title>");
            replace_or_add(&mut out, "<title", "</title>", &element);
        }
        if let Some(description) = &head.description {
            let mut element = String::from(r#"<meta name="description" content=""#);
            escape_into(&mut element, description);
            element.push_str(r#"">"#);
            replace_or_add(&mut out, r#"<meta name="description""#, ">", &element);
        }
        out.push_str(&script);
        out.push_str(&index[self.data..self.content]);
        out.push_str(html);
        out.push_str(&index[self.content..]);
        out
    }
}

/// Where [`ROOT_ATTRIBUTE`] stands as an attribute (after a space, followed by the end
/// of its name) in `index`.
fn attribute_at(index: &str) -> Option<usize> {
    index.match_indices(ROOT_ATTRIBUTE).map(|(at, _)| at).find(|&at| {
        let before = index[..at].chars().next_back();
        let after = index[at + ROOT_ATTRIBUTE.len()..].chars().next();
        before.is_some_and(char::is_whitespace) && after.is_some_and(|c| c.is_whitespace() || "=/>".contains(c))
    })
}

/// Replaces the element of `head` that starts with `start` and ends with `end` by
/// `element`, or adds `element` at the end of `head`.
fn replace_or_add(head: &mut String, start: &str, end: &str, element: &str) {
    let lower = head.to_ascii_lowercase();
    let found = lower.find(start).and_then(|from| Some((from, from + lower[from..].find(end)? + end.len())));
    match found {
        Some((from, to)) => head.replace_range(from..to, element),
        None => head.push_str(element),
    }
}

fn find_ignoring_case(haystack: &str, needle: &str) -> Option<usize> {
    haystack.to_ascii_lowercase().rfind(needle)
}

#[cfg(test)]
mod tests {
    use super::{Mount, PageHead};

    const INDEX: &str = "<!doctype html>\n<html><head><title>t</title></HEAD><body>\
                         <div id=\"app\" data-pulse-root></div><script src=\"/app.js\"></script></body></html>";

    #[test]
    fn the_page_goes_into_the_root_element_and_its_data_into_the_head() {
        let mount = Mount::find(INDEX).unwrap();
        let page = mount.fill(INDEX, "<p>hi</p>", "{}", &PageHead::default());
        assert_eq!(
            page,
            "<!doctype html>\n<html><head><title>t</title><script type=\"application/json\" \
             id=\"pulse-first-paint\">{}</script></HEAD><body><div id=\"app\" data-pulse-root><p>hi</p></div>\
             <script src=\"/app.js\"></script></body></html>"
        );
    }

    #[test]
    fn the_pages_title_and_description_replace_the_apps_or_are_added() {
        let head = PageHead { title: Some("Chat: <x> & y".into()), description: Some("A \"room\"".into()) };
        let index = "<html><head><TITLE>App</TITLE><meta name=\"description\" content=\"old\"></head>\
                     <body><div data-pulse-root></div></body></html>";
        let page = Mount::find(index).unwrap().fill(index, "", "1", &head);
        assert!(
            page.starts_with(
                "<html><head><title>Chat: &lt;x&gt; &amp; y</title><meta name=\"description\" content=\"A &quot;room&quot;\">\
                 <script"
            ),
            "{page}"
        );
        let bare = "<html><head></head><body><div data-pulse-root></div></body></html>";
        let page = Mount::find(bare).unwrap().fill(bare, "", "1", &head);
        assert!(page.starts_with("<html><head><title>Chat: &lt;x&gt; &amp; y</title><meta"), "{page}");
    }

    #[test]
    fn without_the_attribute_there_is_no_first_paint() {
        for index in [
            "<div id=\"app\"></div>",
            "<div id=\"app\" data-pulse-rooted></div>",
            "<div id=\"app\">data-pulse-root</div>",
            "<div id=\"app\" x-data-pulse-root></div>",
        ] {
            assert_eq!(Mount::find(index), None, "{index}");
        }
        for index in ["<div data-pulse-root=\"\"></div>", "<div\ndata-pulse-root/>", "<main data-pulse-root>"] {
            assert!(Mount::find(index).is_some(), "{index}");
        }
    }

    #[test]
    fn without_a_head_the_data_goes_before_the_root_element() {
        let index = "<body><div data-pulse-root></div></body>";
        let page = Mount::find(index).unwrap().fill(index, "x", "1", &PageHead::default());
        assert_eq!(
            page,
            "<body><script type=\"application/json\" id=\"pulse-first-paint\">1</script><div data-pulse-root>x</div></body>"
        );
    }
}

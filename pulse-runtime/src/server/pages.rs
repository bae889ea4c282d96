//! The app's pages over HTTP: an address that is no file is answered as the app's
//! route table says: the app (`200`), a redirect to a page's own address (`308`), or
//! the app with `404` (its not-found page).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, Response, StatusCode, header};
use axum::response::IntoResponse as _;
use tower_http::services::ServeFile;

use super::ServerShared;
use super::index_page::IndexFile;

use crate::routes::{Routed, Routes};

/// What an address is to the app's route table, without its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PageStatus {
    /// A page, with what it says of itself in the HTML's head.
    Page(PageHead),
    /// An old address: the page's own.
    Redirect(String),
    NotFound,
}

/// What a page says of itself in the HTML's head.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PageHead {
    pub title: Option<String>,
    pub description: Option<String>,
}

/// The app's route table, its type erased.
#[derive(Clone, Copy)]
pub(crate) struct Pages {
    status: fn(&str, &str) -> PageStatus,
}

impl Pages {
    pub(crate) fn of<R: Routes>() -> Self {
        Pages {
            status: |path, query| match R::route(path, query) {
                Some(Routed::Page(page)) => {
                    PageStatus::Page(PageHead { title: page.title(), description: page.description() })
                }
                Some(Routed::Redirect(page)) => match crate::routes::redirect_address(&page) {
                    Some(href) => PageStatus::Redirect(href),
                    None => PageStatus::NotFound,
                },
                None => PageStatus::NotFound,
            },
        }
    }

    pub(crate) fn status(&self, path: &str, query: &str) -> PageStatus {
        (self.status)(path, query)
    }
}

/// Answers an address that is no file: `index` (the built app's page) with the status
/// its route gives, the page rendered into it when it can be (`first_paint.rs`), or the
/// redirect.
pub(crate) async fn answer(
    server: Arc<ServerShared>,
    pages: Pages,
    mut index: ServeFile,
    index_page: Arc<IndexFile>,
    request: Request<Body>,
) -> Response<Body> {
    let uri = request.uri();
    let status = pages.status(uri.path(), uri.query().unwrap_or_default());
    if let PageStatus::Redirect(to) = status {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
        if let Ok(location) = to.parse() {
            response.headers_mut().insert(header::LOCATION, location);
        }
        return response;
    }
    let (code, head) = match status {
        PageStatus::Page(head) => (StatusCode::OK, head),
        _ => (StatusCode::NOT_FOUND, PageHead::default()),
    };
    if request.method() == Method::GET && wants_a_page(request.headers()) {
        let (parts, body) = request.into_parts();
        let address = parts.uri.path_and_query().map_or("/", |address| address.as_str()).to_owned();
        if let Some(html) = index_page.read().await
            && let Some(page) = super::first_paint::render(&server, parts.clone(), &address, &html, &head).await
        {
            // The page names its session: never kept by a cache, never shared.
            let headers = [
                (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ];
            return (code, headers, page).into_response();
        }
        return serve_index(&mut index, Request::from_parts(parts, body), code).await;
    }
    serve_index(&mut index, request, code).await
}

/// Whether a request is for a page to show (a navigation's `Accept` names HTML; a
/// tool's names anything, or nothing) rather than for a file the page wanted (a
/// browser's icon, an image), which is not worth a session. A browser's request that is
/// no navigation (`Sec-Fetch-Mode`) from another site (`Sec-Fetch-Site`), a script's
/// `fetch` or an `<img>`, is not rendered either: it would start a session with the
/// user's cookies that no tab continues.
fn wants_a_page(headers: &axum::http::HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let navigation = header("sec-fetch-mode").is_none_or(|mode| mode == "navigate");
    let same_site = header("sec-fetch-site").is_none_or(|site| matches!(site, "same-origin" | "none"));
    if !navigation && !same_site {
        return false;
    }
    let Some(accept) = header("accept") else { return true };
    accept.trim() == "*/*" || accept.split(',').any(|kind| kind.trim().starts_with("text/html"))
}

/// `index` as a file, with `code`: a `404` is always the whole page, never a `304` or a
/// `206` of it.
async fn serve_index(index: &mut ServeFile, mut request: Request<Body>, code: StatusCode) -> Response<Body> {
    if code == StatusCode::NOT_FOUND {
        for conditional in [header::IF_MODIFIED_SINCE, header::IF_NONE_MATCH, header::IF_RANGE, header::RANGE] {
            request.headers_mut().remove(conditional);
        }
    }
    let mut response = match tower_service::Service::call(index, request).await {
        Ok(response) => response.map(Body::new),
        Err(never) => match never {},
    };
    if code == StatusCode::NOT_FOUND && response.status() == StatusCode::OK {
        *response.status_mut() = StatusCode::NOT_FOUND;
    }
    response
}

#[cfg(test)]
mod tests {
    #[test]
    fn pages_are_rendered_for_navigations_and_tools_not_for_icons() {
        use axum::http::{HeaderMap, HeaderValue, header};
        let with = |accept: &'static str| HeaderMap::from_iter([(header::ACCEPT, HeaderValue::from_static(accept))]);
        assert!(super::wants_a_page(&HeaderMap::new()));
        assert!(super::wants_a_page(&with("*/*")));
        assert!(super::wants_a_page(&with(
            "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
        )));
        assert!(!super::wants_a_page(&with("image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8")));
        assert!(!super::wants_a_page(&with("application/json")));
        // A browser's fetch from another site (no-cors, an image): no session; a
        // navigation from anywhere, or the app's own fetch: rendered.
        let browser = |mode: &'static str, site: &'static str| {
            HeaderMap::from_iter([
                (header::ACCEPT, HeaderValue::from_static("*/*")),
                (header::HeaderName::from_static("sec-fetch-mode"), HeaderValue::from_static(mode)),
                (header::HeaderName::from_static("sec-fetch-site"), HeaderValue::from_static(site)),
            ])
        };
        assert!(!super::wants_a_page(&browser("no-cors", "cross-site")));
        assert!(!super::wants_a_page(&browser("cors", "same-site")));
        assert!(super::wants_a_page(&browser("navigate", "cross-site")));
        assert!(super::wants_a_page(&browser("cors", "same-origin")));
    }
}

//! The app's pages over HTTP: an address that is no file is answered as the app's
//! route table says: the app (`200`), a redirect to a page's own address (`308`), or
//! the app with `404` (its not-found page).

use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use tower_http::services::ServeFile;

use crate::routes::{Routed, Routes};

/// What an address is to the app's route table, without its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PageStatus {
    Page,
    /// An old address: the page's own.
    Redirect(String),
    NotFound,
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
                Some(Routed::Page(_)) => PageStatus::Page,
                Some(Routed::Redirect(page)) => {
                    // Only to an address of this app that names that very page: a value
                    // from the old address (its query's, say) can never send the
                    // browser elsewhere, nor to an address that reads back otherwise.
                    let href = page.href();
                    let (to_path, to_query) = crate::protocol::split_address(&href);
                    let reads_back = R::route(to_path, to_query) == Some(Routed::Page(page));
                    if reads_back && is_local(&href) { PageStatus::Redirect(href) } else { PageStatus::NotFound }
                }
                None => PageStatus::NotFound,
            },
        }
    }

    pub(crate) fn status(&self, path: &str, query: &str) -> PageStatus {
        (self.status)(path, query)
    }
}

/// Whether `href` is a path on this server: `/`, or `/` then anything but a second `/`
/// or a `\\` (which browsers read as another host's address).
fn is_local(href: &str) -> bool {
    href.strip_prefix('/').is_some_and(|rest| !rest.starts_with(['/', '\\']))
}

/// Answers an address that is no file: `index` (the built app's page) with the status
/// its route gives, or the redirect.
pub(crate) async fn answer(pages: Pages, mut index: ServeFile, request: Request<Body>) -> Response<Body> {
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
    let mut request = request;
    if status == PageStatus::NotFound {
        // Always the whole page with its 404, never a `304` or a `206` of it.
        for conditional in [header::IF_MODIFIED_SINCE, header::IF_NONE_MATCH, header::IF_RANGE, header::RANGE] {
            request.headers_mut().remove(conditional);
        }
    }
    let mut response = match tower_service::Service::call(&mut index, request).await {
        Ok(response) => response.map(Body::new),
        Err(never) => match never {},
    };
    if status == PageStatus::NotFound && response.status() == StatusCode::OK {
        *response.status_mut() = StatusCode::NOT_FOUND;
    }
    response
}

#[cfg(test)]
mod tests {
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

//! Who may connect, and what a session may do: the authentication hook (at connect),
//! the authorization hook (on channel open and each inbound event or request), and the
//! origin check on the WebSocket upgrade.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::{COOKIE, HOST, ORIGIN};
use axum::http::request::Parts;

use crate::config::Origins;
use crate::protocol::Query;
pub(crate) use crate::session::host::Identity;

pub(crate) type Authenticator =
    Arc<dyn Fn(ConnectRequest) -> Pin<Box<dyn Future<Output = Result<Identity, String>> + Send>> + Send + Sync>;

pub(crate) use crate::registry::Authorizer;

/// The refusal when the authentication hook panicked: the client is not told the
/// panic's message (it may hold the server's internals), only that it was the server's
/// fault.
pub(crate) const AUTHENTICATE_PANICKED: &str = "internal error: the server's authentication failed";

/// A connection request, as the authentication hook sees it: the upgrade request's
/// parts (its URI, headers, and the extensions the app's layers put there), so axum
/// extractors work on it ([`ConnectRequest::extract`]), with shortcuts for what
/// authentication reads most.
#[derive(Debug, Clone)]
pub struct ConnectRequest {
    parts: Parts,
    query: Query,
}

impl ConnectRequest {
    pub(crate) fn new(parts: Parts, query: Query) -> Self {
        ConnectRequest { parts, query }
    }

    /// A request header, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.parts.headers.get(name)?.to_str().ok()
    }

    /// A cookie sent with the upgrade request.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.parts
            .headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find_map(|(k, v)| (k == name).then_some(v))
    }

    /// A parameter of the WebSocket URL's query (`/ws?v=1&token=...`), percent-decoded
    /// (`None` if absent or given twice).
    pub fn query(&self, name: &str) -> Option<std::borrow::Cow<'_, str>> {
        self.query.get(name)
    }

    /// The request's parts: method, URI, headers, extensions.
    pub fn parts(&self) -> &Parts {
        &self.parts
    }

    /// The request's parts, owned.
    pub fn into_parts(self) -> Parts {
        self.parts
    }

    /// Runs an axum extractor on the request: a `TypedHeader`, a cookie jar, an
    /// `Extension<T>` a layer of the app put there.
    ///
    /// ```
    /// # use pulse_runtime::ConnectRequest;
    /// use pulse_runtime::axum::Extension;
    /// # #[derive(Clone)] struct Sessions;
    /// async fn who(mut request: ConnectRequest) -> Result<String, String> {
    ///     let Extension(_sessions) = request.extract::<Extension<Sessions>>().await.map_err(|e| e.to_string())?;
    ///     Ok("ann".to_owned())
    /// }
    /// ```
    pub async fn extract<E: FromRequestParts<()>>(&mut self) -> Result<E, E::Rejection> {
        E::from_request_parts(&mut self.parts, &()).await
    }
}

/// The origin of the pages a node at WebSocket URL `node` serves
/// (`wss://a.example.com/ws` → `https://a.example.com`); `None` if it is not a
/// `ws://` or `wss://` URL.
pub(crate) fn node_origin(node: &str) -> Option<String> {
    let (scheme, rest) = node.split_once("://")?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "ws" => "http",
        "wss" => "https",
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next().filter(|a| !a.is_empty())?;
    Some(format!("{scheme}://{authority}"))
}

/// Whether the upgrade request's `Origin` passes `origins`, or is a page of one of the
/// cluster's `nodes`.
pub(crate) fn admits(origins: &Origins, nodes: &[String], headers: &HeaderMap) -> bool {
    if origins.allows(headers) {
        return true;
    }
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else { return true };
    nodes.iter().filter_map(|node| node_origin(node)).any(|page| page.eq_ignore_ascii_case(origin))
}

impl Origins {
    /// Whether the upgrade request's headers pass this policy.
    pub(crate) fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else { return true };
        match self {
            Origins::Any => true,
            Origins::List(list) => list.iter().any(|allowed| allowed.eq_ignore_ascii_case(origin)),
            Origins::SameHost => {
                let host = headers.get(HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
                let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
                !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
            }
        }
    }

    /// Why a refused upgrade was refused, and how to allow it: the body of the 403.
    pub(crate) fn refusal(&self, headers: &HeaderMap) -> String {
        let text = |name| headers.get(name).and_then(|v: &axum::http::HeaderValue| v.to_str().ok()).unwrap_or_default();
        let (origin, host) = (text(ORIGIN), text(HOST));
        let allow = format!("`Config {{ origins: Origins::List(vec![\"{origin}\".into()]), ..Config::default() }}`");
        match self {
            Origins::SameHost => format!(
                "origin not allowed: the page's origin {origin} is not this server's host ({host}), and the \
                 default rule (Origins::SameHost) admits only pages of this host. Behind a dev-server proxy, \
                 keep the browser's Host header (Vite: `changeOrigin: false`); for a page of another node of \
                 the cluster, name every node in PULSE_NODES (or Config::nodes); to admit that origin, serve \
                 with {allow} (or PULSE_ORIGINS={origin})"
            ),
            Origins::List(list) => format!(
                "origin not allowed: {origin} is not in the server's Config::origins ({}); add it to the list",
                list.join(", ")
            ),
            Origins::Any => "origin not allowed".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HOST, HeaderValue::from_str(host).unwrap());
        if let Some(origin) = origin {
            h.insert(ORIGIN, HeaderValue::from_str(origin).unwrap());
        }
        h
    }

    #[test]
    fn the_clusters_nodes_admit_each_others_pages() {
        assert_eq!(node_origin("ws://127.0.0.1:4101/ws").as_deref(), Some("http://127.0.0.1:4101"));
        assert_eq!(node_origin("WSS://a.example.com/ws?v=1").as_deref(), Some("https://a.example.com"));
        assert_eq!(node_origin("https://a.example.com/ws"), None);
        assert_eq!(node_origin("ws:///ws"), None);
        let nodes = vec!["ws://127.0.0.1:4100/ws".to_owned(), "ws://127.0.0.1:4101/ws".to_owned()];
        let same = Origins::SameHost;
        assert!(admits(&same, &nodes, &headers(Some("http://127.0.0.1:4101"), "127.0.0.1:4100")));
        assert!(admits(&same, &nodes, &headers(Some("http://127.0.0.1:4100"), "127.0.0.1:4100")));
        assert!(!admits(&same, &nodes, &headers(Some("http://127.0.0.1:4102"), "127.0.0.1:4100")));
        assert!(!admits(&same, &nodes, &headers(Some("https://127.0.0.1:4101"), "127.0.0.1:4100")), "scheme counts");
        assert!(!admits(&same, &[], &headers(Some("http://127.0.0.1:4101"), "127.0.0.1:4100")));
    }

    #[test]
    fn origin_policies() {
        let same = Origins::SameHost;
        assert!(same.allows(&headers(Some("http://127.0.0.1:3000"), "127.0.0.1:3000")));
        assert!(!same.allows(&headers(Some("https://evil.example"), "127.0.0.1:3000")));
        assert!(same.allows(&headers(None, "127.0.0.1:3000")));
        let list = Origins::List(vec!["https://app.example".into()]);
        assert!(list.allows(&headers(Some("https://app.example"), "api.example")));
        assert!(!list.allows(&headers(Some("https://other.example"), "api.example")));
        assert!(Origins::Any.allows(&headers(Some("https://any.example"), "x")));
    }

    #[test]
    fn a_refusal_says_how_to_allow_the_origin() {
        let refused = headers(Some("http://localhost:5173"), "127.0.0.1:3000");
        let said = Origins::SameHost.refusal(&refused);
        assert!(
            said.starts_with(
                "origin not allowed: the page's origin http://localhost:5173 is not this server's host (127.0.0.1:3000)"
            ),
            "{said}"
        );
        assert!(said.contains("`changeOrigin: false`"), "{said}");
        assert!(said.contains(r#"Origins::List(vec!["http://localhost:5173".into()])"#), "{said}");
        let said = Origins::List(vec!["https://app.example".into()]).refusal(&refused);
        assert_eq!(
            said,
            "origin not allowed: http://localhost:5173 is not in the server's Config::origins (https://app.example); add it to the list"
        );
    }

    #[test]
    fn request_parts() {
        let request = axum::http::Request::get("/ws?v=1&token=x%2By+z")
            .header(COOKIE, HeaderValue::from_static("a=1; token=abc; b=2"))
            .extension(7_u32)
            .body(())
            .unwrap();
        let (parts, ()) = request.into_parts();
        let query = crate::protocol::Query::parse(parts.uri.query().unwrap_or_default());
        let mut request = ConnectRequest::new(parts, query);
        assert_eq!(request.cookie("token"), Some("abc"));
        assert_eq!(request.query("token").as_deref(), Some("x+y z"));
        assert_eq!(request.cookie("missing"), None);
        assert_eq!(request.parts().uri.path(), "/ws");
        // An extractor sees what the app's layers put in the request's extensions.
        let extension = futures_util::FutureExt::now_or_never(request.extract::<axum::Extension<u32>>());
        assert!(matches!(extension, Some(Ok(axum::Extension(7)))));
    }
}

//! The WebSocket URL's query string, read one way by everyone who reads it (the
//! upgrade, the authentication hook, `Session::param`, history positions): as a
//! browser's `URLSearchParams` writes it (`+` is a space, `%2B` a plus), by
//! `form_urlencoded`.

use std::borrow::Cow;
use std::sync::Arc;

/// A query string. A parameter given more than once is ambiguous and reads as absent,
/// rather than one of its values being guessed at. Kept as its text (one small
/// allocation a session) and decoded when a parameter is read.
#[derive(Clone, Debug, Default)]
pub struct Query {
    text: Option<Arc<str>>,
}

impl Query {
    /// The query `query` (without the `?`).
    pub fn parse(query: &str) -> Self {
        Query { text: (!query.is_empty()).then(|| Arc::from(query)) }
    }

    /// The decoded value of parameter `name` (bytes that are not UTF-8 once decoded are
    /// replaced): `None` when it is absent or given more than once.
    pub fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        let text = self.text.as_deref()?;
        let mut values = form_urlencoded::parse(text.as_bytes()).filter(|(key, _)| key == name).map(|(_, value)| value);
        let value = values.next()?;
        values.next().is_none().then_some(value)
    }

    /// The page address in [`PAGE_PARAM`](super::PAGE_PARAM) as its path and its query
    /// text (`/boards/7?room=lobby#top`: `/boards/7` and `room=lobby`).
    pub fn page_address(&self) -> Option<(String, String)> {
        let page = self.get(super::PAGE_PARAM)?;
        let (path, query) = split_address(&page);
        Some((path.to_owned(), query.to_owned()))
    }
}

/// An address (`/boards/7?room=lobby#top`) as its path and its query text, without
/// the `?` and the fragment: `/boards/7` and `room=lobby`.
pub fn split_address(address: &str) -> (&str, &str) {
    let address = address.split('#').next().unwrap_or_default();
    address.split_once('?').unwrap_or((address, ""))
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::Query;

    #[test]
    fn values_are_decoded_as_browsers_encode_them() {
        let query = Query::parse("a=lobby&b=a%20b+c&c=caf%C3%A9&d=1%2B1&e=50%&f=%zz%4&g=&h");
        let get = |name| query.get(name).map(Cow::into_owned);
        assert_eq!(get("a").as_deref(), Some("lobby"));
        assert_eq!(get("b").as_deref(), Some("a b c"));
        assert_eq!(get("c").as_deref(), Some("café"));
        assert_eq!(get("d").as_deref(), Some("1+1"));
        assert_eq!(get("e").as_deref(), Some("50%"));
        assert_eq!(get("f").as_deref(), Some("%zz%4"));
        assert_eq!(get("g").as_deref(), Some(""));
        assert_eq!(get("h").as_deref(), Some(""));
        assert_eq!(get("missing"), None);
        assert_eq!(Query::parse("").get("a"), None);
    }

    #[test]
    fn a_parameter_given_twice_reads_as_absent() {
        let query = Query::parse("v=1&v=2&room=x");
        assert_eq!(query.get("v"), None);
        assert_eq!(query.get("room").as_deref(), Some("x"));
    }

    #[test]
    fn the_page_address_gives_its_path_and_query() {
        let query = Query::parse("v=1&room=mine&page=%2Fboards%2F7%3Froom%3Dpage%26tab%3Dall%23top");
        assert_eq!(query.get("page").as_deref(), Some("/boards/7?room=page&tab=all#top"));
        let (path, page_query) = query.page_address().unwrap();
        assert_eq!(path, "/boards/7");
        let page = Query::parse(&page_query);
        assert_eq!(page.get("room").as_deref(), Some("page"));
        assert_eq!(page.get("tab").as_deref(), Some("all"));
        assert_eq!(Query::parse("page=%2Fno-query").page_address(), Some(("/no-query".to_owned(), String::new())));
    }
}

//! The WebSocket URL's query string, parsed once for everyone who reads it (the
//! upgrade, the authentication hook, `Session::param`, history positions), the way a
//! browser's `URLSearchParams` writes it: `+` is a space, `%2B` a plus.

use std::sync::Arc;

/// A parsed query string. A parameter given more than once is ambiguous and reads as
/// absent, rather than one of its values being guessed at.
#[derive(Clone, Debug, Default)]
pub struct Query {
    pairs: Arc<[(String, String)]>,
}

impl Query {
    /// Parses `query` (without the `?`); bytes that are not UTF-8 once decoded are
    /// replaced.
    pub fn parse(query: &str) -> Self {
        Query { pairs: form_urlencoded::parse(query.as_bytes()).into_owned().collect() }
    }

    /// The decoded value of parameter `name`: `None` when it is absent or given more
    /// than once.
    pub fn get(&self, name: &str) -> Option<&str> {
        let mut values = self.pairs.iter().filter(|(key, _)| key == name);
        let (_, value) = values.next()?;
        values.next().is_none().then_some(value.as_str())
    }

    /// The query of the page address in parameter [`PAGE_PARAM`](super::PAGE_PARAM)
    /// (`/boards/7?room=lobby#top`: `room=lobby`), parsed.
    pub fn page_query(&self) -> Option<Query> {
        let (_, query) = self.get(super::PAGE_PARAM)?.split_once('?')?;
        Some(Query::parse(query.split('#').next().unwrap_or_default()))
    }

    /// The path of the page address in [`PAGE_PARAM`](super::PAGE_PARAM)
    /// (`/boards/7?room=lobby`: `/boards/7`).
    pub fn page_path(&self) -> Option<&str> {
        self.get(super::PAGE_PARAM)?.split(['?', '#']).next()
    }
}

#[cfg(test)]
mod tests {
    use super::Query;

    #[test]
    fn values_are_decoded_as_browsers_encode_them() {
        let query = Query::parse("a=lobby&b=a%20b+c&c=caf%C3%A9&d=1%2B1&e=50%&f=%zz%4&g=&h");
        assert_eq!(query.get("a"), Some("lobby"));
        assert_eq!(query.get("b"), Some("a b c"));
        assert_eq!(query.get("c"), Some("café"));
        assert_eq!(query.get("d"), Some("1+1"));
        assert_eq!(query.get("e"), Some("50%"));
        assert_eq!(query.get("f"), Some("%zz%4"));
        assert_eq!(query.get("g"), Some(""));
        assert_eq!(query.get("h"), Some(""));
        assert_eq!(query.get("missing"), None);
        assert_eq!(Query::parse("").get("a"), None);
    }

    #[test]
    fn a_parameter_given_twice_reads_as_absent() {
        let query = Query::parse("v=1&v=2&room=x");
        assert_eq!(query.get("v"), None);
        assert_eq!(query.get("room"), Some("x"));
    }

    #[test]
    fn the_page_address_gives_its_path_and_query() {
        let query = Query::parse("v=1&room=mine&page=%2Fboards%2F7%3Froom%3Dpage%26tab%3Dall%23top");
        assert_eq!(query.get("page"), Some("/boards/7?room=page&tab=all#top"));
        assert_eq!(query.page_path(), Some("/boards/7"));
        let page = query.page_query().unwrap();
        assert_eq!(page.get("room"), Some("page"));
        assert_eq!(page.get("tab"), Some("all"));
        assert!(Query::parse("page=%2Fno-query").page_query().is_none());
        assert_eq!(Query::parse("page=%2Fno-query").page_path(), Some("/no-query"));
    }
}

//! Reading an address into a route's parameters and writing one back: what the code
//! `#[derive(Routes)]` generates calls.

use std::borrow::Cow;
use std::fmt::Display;
use std::str::FromStr;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::protocol::Query;

/// What a path segment's text has percent-encoded: all but ASCII letters, digits and
/// `-_.!~*'()`, as JavaScript's `encodeURIComponent` does (the TypeScript `routes` use
/// it), so both sides write the same address, and no `/`, `\\`, `?` or `#` in a value
/// can change what the address means.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// Whether a decoded segment can be a parameter: not empty, and not `.` or `..`, which
/// browsers resolve away (so no address names a page with such a value).
fn is_value(segment: &str) -> bool {
    !matches!(segment, "" | "." | "..")
}

/// An address as the route matchers read it: its path's segments, percent-decoded,
/// and its query.
pub struct Address<'a> {
    segments: Vec<Cow<'a, str>>,
    query: Query,
}

impl<'a> Address<'a> {
    /// Reads `path` (`/rooms/lobby`, a trailing `/` ignored) and `query`; `None` if a
    /// segment is empty (`//`) or not UTF-8 once decoded.
    pub fn new(path: &'a str, query: &str) -> Option<Self> {
        let path = path.strip_prefix('/').unwrap_or(path);
        let mut segments: Vec<&str> = if path.is_empty() { Vec::new() } else { path.split('/').collect() };
        if segments.len() > 1 && segments.last() == Some(&"") {
            segments.pop();
        }
        let segments = segments
            .into_iter()
            .map(|segment| (!segment.is_empty()).then(|| percent_decode_str(segment).decode_utf8().ok()).flatten())
            .collect::<Option<_>>()?;
        Some(Address { segments, query: Query::parse(query) })
    }

    /// How many segments the path has.
    pub fn len(&self) -> usize {
        self.segments.len()
    }

    /// Whether the path is `/`.
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// Whether segment `at` is `literal`.
    pub fn is(&self, at: usize, literal: &str) -> bool {
        self.segments.get(at).is_some_and(|segment| segment == literal)
    }

    /// Segment `at` as a `T`; `None` if it does not parse (or is empty, `.` or `..`).
    pub fn param<T: FromStr>(&self, at: usize) -> Option<T> {
        self.segments.get(at).filter(|segment| is_value(segment))?.parse().ok()
    }

    /// The segments from `at` on, joined by `/`, as a `T` (a catch-all parameter);
    /// `None` if one of them is `.` or `..`.
    pub fn rest<T: FromStr>(&self, at: usize) -> Option<T> {
        let rest = self.segments.get(at..)?;
        if !rest.iter().all(|segment| is_value(segment)) {
            return None;
        }
        rest.join("/").parse().ok()
    }

    /// Query parameter `name` as a `T`: `Some(None)` when it is absent (or given twice),
    /// `None` when it is there but does not parse.
    pub fn query<T: FromStr>(&self, name: &str) -> Option<Option<T>> {
        match self.query.get(name) {
            None => Some(None),
            Some(value) => value.parse().ok().map(Some),
        }
    }
}

/// Writes a route's address: its segments percent-encoded, then its query.
#[derive(Default)]
pub struct HrefWriter {
    out: String,
    query: Option<form_urlencoded::Serializer<'static, String>>,
}

impl HrefWriter {
    /// An empty address.
    pub fn new() -> Self {
        HrefWriter::default()
    }

    /// Appends a literal segment.
    pub fn literal(&mut self, segment: &str) {
        self.out.push('/');
        self.out.push_str(segment);
    }

    /// Appends a parameter's segment, percent-encoded.
    pub fn param(&mut self, value: &impl Display) {
        self.out.push('/');
        self.out.extend(utf8_percent_encode(&value.to_string(), SEGMENT));
    }

    /// Appends a catch-all parameter: its `/`-separated parts, each percent-encoded.
    pub fn rest(&mut self, value: &impl Display) {
        for part in value.to_string().split('/') {
            self.out.push('/');
            self.out.extend(utf8_percent_encode(part, SEGMENT));
        }
    }

    /// Appends query parameter `name` (nothing for `None`).
    pub fn query(&mut self, name: &str, value: Option<&impl Display>) {
        if let Some(value) = value {
            self.query
                .get_or_insert_with(|| form_urlencoded::Serializer::new(String::new()))
                .append_pair(name, &value.to_string());
        }
    }

    /// The address.
    pub fn finish(mut self) -> String {
        if self.out.is_empty() {
            self.out.push('/');
        }
        if let Some(mut query) = self.query.take() {
            self.out.push('?');
            self.out.push_str(&query.finish());
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_decoded_and_a_trailing_slash_ignored() {
        let address = Address::new("/rooms/caf%C3%A9%20bar/", "").unwrap();
        assert_eq!(address.len(), 2);
        assert!(address.is(0, "rooms"));
        assert_eq!(address.param::<String>(1).as_deref(), Some("café bar"));
        assert!(Address::new("/", "").unwrap().is_empty());
        assert!(Address::new("/a/%FF", "").is_none(), "not UTF-8");
        for empty in ["//", "/a//b", "/a//"] {
            assert!(Address::new(empty, "").is_none(), "{empty}");
        }
        assert_eq!(Address::new("/n/x7", "").unwrap().param::<u32>(1), None);
        assert_eq!(Address::new("/files/a/b%2Fc/d", "").unwrap().rest::<String>(1).as_deref(), Some("a/b/c/d"));
    }

    #[test]
    fn query_parameters_are_absent_or_parsed() {
        let address = Address::new("/", "page=3&q=a+b&bad=x&twice=1&twice=2").unwrap();
        assert_eq!(address.query::<u32>("page"), Some(Some(3)));
        assert_eq!(address.query::<String>("q"), Some(Some("a b".to_owned())));
        assert_eq!(address.query::<u32>("bad"), None);
        assert_eq!(address.query::<u32>("missing"), Some(None));
        assert_eq!(address.query::<u32>("twice"), Some(None));
    }

    /// What is written reads back the same, whatever the text.
    #[test]
    fn written_addresses_read_back() {
        for text in ["lobby", "café bar", "a/b", "50%", "?#{}`\"<>", "ü/ñ/ü", " "] {
            let mut href = HrefWriter::new();
            href.literal("rooms");
            href.param(&text);
            href.query("q", Some(&text));
            let href = href.finish();
            let (path, query) = href.split_once('?').unwrap();
            let address = Address::new(path, query).unwrap();
            assert_eq!(address.len(), 2, "{href}");
            assert_eq!(address.param::<String>(1).as_deref(), Some(text), "{href}");
            assert_eq!(address.query::<String>("q"), Some(Some(text.to_owned())), "{href}");
        }
        let mut href = HrefWriter::new();
        href.rest(&"a b/c");
        assert_eq!(href.finish(), "/a%20b/c");
        assert_eq!(HrefWriter::new().finish(), "/");
    }

    /// A segment is encoded as `encodeURIComponent` encodes it (what the TypeScript
    /// `routes` call): every byte but ASCII letters, digits and `-_.!~*'()`.
    #[test]
    fn segments_are_encoded_as_encode_uri_component_does() {
        for byte in 0..=127u8 {
            let c = char::from(byte);
            let mut href = HrefWriter::new();
            href.param(&c);
            let kept = c.is_ascii_alphanumeric() || "-_.!~*'()".contains(c);
            let expected = if kept { format!("/{c}") } else { format!("/%{byte:02X}") };
            assert_eq!(href.finish(), expected, "{c:?}");
        }
        let mut href = HrefWriter::new();
        href.param(&"é\\/?#");
        assert_eq!(href.finish(), "/%C3%A9%5C%2F%3F%23");
    }

    #[test]
    fn dot_segments_and_empty_values_name_nothing() {
        for path in ["/a/.", "/a/..", "/a/%2E%2E", "/a/%2e"] {
            let address = Address::new(path, "").unwrap();
            assert_eq!(address.param::<String>(1), None, "{path}");
            assert_eq!(address.rest::<String>(1), None, "{path}");
        }
        assert_eq!(Address::new("/a/b/../c", "").unwrap().rest::<String>(1), None);
    }

    proptest::proptest! {
        /// Any text written as a parameter, a catch-all's part or a query value reads
        /// back as itself.
        #[test]
        fn any_text_reads_back(param in "\\PC+", rest in proptest::collection::vec("\\PC+", 1..4), query in "\\PC*") {
            // Values that name no page (empty, `.`, `..`) aside.
            let rest: Vec<String> = rest.into_iter().map(|part| part.replace('/', "")).filter(|p| is_value(p)).collect();
            proptest::prop_assume!(!rest.is_empty() && is_value(&param));
            let rest = rest.join("/");
            let mut href = HrefWriter::new();
            href.param(&param);
            href.query("q", Some(&query));
            href.rest(&rest);
            let href = href.finish();
            let (path, query_text) = href.split_once('?').unwrap_or((&href, ""));
            let address = Address::new(path, query_text).unwrap();
            proptest::prop_assert_eq!(address.param::<String>(0), Some(param));
            proptest::prop_assert_eq!(address.rest::<String>(1), Some(rest));
            proptest::prop_assert_eq!(address.query::<String>("q"), Some(Some(query)));
        }
    }
}

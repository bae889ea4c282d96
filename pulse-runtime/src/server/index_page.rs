//! The app's `index.html` as pages are rendered into it: read again only when the file
//! changes (a new build of the client), with where a page goes in it ([`Mount`]: the
//! element marked [`ROOT_ATTRIBUTE`], and the head) and the app's own title, found once.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::pages::PageHead;
use crate::component::escape_into;
use crate::protocol::{FIRST_PAINT_ID, ROOT_ATTRIBUTE};
use crate::sync::lock;

/// `index.html`, kept as last read, and read again when its modification time or its
/// length changes.
pub(super) struct IndexFile {
    path: Arc<Path>,
    kept: Mutex<Option<Kept>>,
}

struct Kept {
    modified: SystemTime,
    len: u64,
    page: Arc<IndexPage>,
}

impl IndexFile {
    pub(super) fn new(path: Arc<Path>) -> Self {
        IndexFile { path, kept: Mutex::new(None) }
    }

    /// The file as it is now; `None` when it cannot be read (the page is then served
    /// as the file server answers it).
    pub(super) async fn read(&self) -> Option<Arc<IndexPage>> {
        let metadata = tokio::fs::metadata(&*self.path).await.ok()?;
        let stamp = metadata.modified().ok().map(|modified| (modified, metadata.len()));
        if let Some((modified, len)) = stamp
            && let Some(kept) = lock(&self.kept).as_ref().filter(|kept| kept.modified == modified && kept.len == len)
        {
            return Some(kept.page.clone());
        }
        // Read after the stamp: a file changed in between is read again next time.
        let page = Arc::new(IndexPage::new(tokio::fs::read_to_string(&*self.path).await.ok()?));
        if let Some((modified, len)) = stamp {
            *lock(&self.kept) = Some(Kept { modified, len, page: page.clone() });
        }
        Some(page)
    }
}

/// `index.html`'s text, where a page goes in it, and the app's own title.
#[derive(Debug)]
pub(super) struct IndexPage {
    html: String,
    mount: Option<Mount>,
    app_title: String,
}

impl IndexPage {
    pub(super) fn new(html: String) -> Self {
        let mount = Mount::find(&html);
        let app_title = title_text(&html);
        IndexPage { html, mount, app_title }
    }

    /// Where a page goes; `None` when no element is marked [`ROOT_ATTRIBUTE`] (no
    /// first paint).
    pub(super) fn mount(&self) -> Option<&Mount> {
        self.mount.as_ref()
    }

    /// The text of the app's `<title>`, as a browser's `document.title` reads it
    /// (character references decoded, white space collapsed); empty without one.
    pub(super) fn app_title(&self) -> String {
        self.app_title.clone()
    }

    /// The page: see [`Mount::fill`]; `None` without a mount.
    pub(super) fn fill(&self, html: &str, data: &str, head: &PageHead) -> Option<String> {
        Some(self.mount.as_ref()?.fill(&self.html, html, data, head))
    }
}

/// The text of `html`'s first `<title>` element, as `document.title` reads it.
fn title_text(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let Some(start) = lower.find("<title").map(|at| at + "<title".len()) else { return String::new() };
    if !lower[start..].starts_with(|c: char| c == '>' || c.is_ascii_whitespace()) {
        return String::new();
    }
    let Some(open) = lower[start..].find('>').map(|at| start + at + 1) else { return String::new() };
    let close = lower[open..].find("</title").map_or(html.len(), |at| open + at);
    let text = decode_references(&html[open..close]);
    text.split_ascii_whitespace().collect::<Vec<_>>().join(" ")
}

/// `text` with its character references decoded: numeric ones, and the named ones a
/// title is likely to hold; any other is left as it is written.
fn decode_references(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let decoded = rest.find(';').filter(|&end| end <= 10).and_then(|end| {
            let name = &rest[1..end];
            let c = match name {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                "nbsp" => '\u{a0}',
                _ => {
                    let number = name.strip_prefix('#')?;
                    let code = match number.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => number.parse().ok()?,
                    };
                    char::from_u32(code)?
                }
            };
            Some((c, end + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Where a page goes in `index.html`: after the start tag of the element marked
/// [`ROOT_ATTRIBUTE`], and its data before `</head>` (outside the element React
/// hydrates, which must hold what the tree renders and nothing else).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Mount {
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

    /// `index` with `html` in the root element, `data` (the page's [`FirstPaint`] as
    /// JSON) before it, and the page's title and description in its head.
    ///
    /// [`FirstPaint`]: crate::protocol::FirstPaint
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
    use std::sync::Arc;

    use super::{IndexFile, Mount, PageHead, title_text};

    #[test]
    fn the_apps_title_is_read_as_a_browser_reads_it() {
        let cases = [
            ("<head><title>Pulse &amp; chat</title></head>", "Pulse & chat"),
            ("<HEAD><TITLE lang=en>\n  a \t b  </TITLE>", "a b"),
            ("<title>&#x41;&#66;&bogus; &amp &lt;3</title>", "AB&bogus; &amp <3"),
            ("<titles>no</titles>", ""),
            ("<head></head>", ""),
            ("<title>unclosed", "unclosed"),
        ];
        for (html, title) in cases {
            assert_eq!(title_text(html), title, "{html}");
        }
    }

    #[tokio::test]
    async fn the_index_is_read_again_when_it_changes_and_only_then() {
        let dir = std::env::temp_dir().join(format!("pulse-index-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path: Arc<std::path::Path> = dir.join("index.html").into();
        std::fs::write(&path, "<title>one</title><div data-pulse-root></div>").unwrap();
        let index = IndexFile::new(path.clone());
        let first = index.read().await.unwrap();
        assert_eq!(first.app_title(), "one");
        assert!(first.mount().is_some());
        assert!(Arc::ptr_eq(&first, &index.read().await.unwrap()), "read once while it is unchanged");
        std::fs::write(&path, "<title>two, rebuilt</title><div></div>").unwrap();
        let second = index.read().await.unwrap();
        assert_eq!(second.app_title(), "two, rebuilt");
        assert!(second.mount().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(index.read().await.is_none(), "a file gone is no page");
    }

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

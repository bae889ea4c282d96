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

/// `index.html`, kept as last read, and read again when the file changes: another
/// file in its place (a build renamed over it, a symlink swapped), or its length,
/// modification time or (on Unix) status change time changed.
pub(super) struct IndexFile {
    path: Arc<Path>,
    kept: Mutex<Option<(Stamp, Arc<IndexPage>)>>,
}

/// What tells one version of a file from another without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: SystemTime,
    /// Device, inode and status change time (seconds, nanoseconds), which no copy that
    /// keeps the modification time keeps.
    #[cfg(unix)]
    file: (u64, u64, i64, i64),
}

impl Stamp {
    fn of(metadata: &std::fs::Metadata) -> Option<Stamp> {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt as _;
        Some(Stamp {
            len: metadata.len(),
            modified: metadata.modified().ok()?,
            #[cfg(unix)]
            file: (metadata.dev(), metadata.ino(), metadata.ctime(), metadata.ctime_nsec()),
        })
    }
}

impl IndexFile {
    pub(super) fn new(path: Arc<Path>) -> Self {
        IndexFile { path, kept: Mutex::new(None) }
    }

    /// The file as it is now; `None` when it cannot be read (the page is then served
    /// as the file server answers it).
    pub(super) async fn read(&self) -> Option<Arc<IndexPage>> {
        let stamp = Stamp::of(&tokio::fs::metadata(&*self.path).await.ok()?);
        if let Some(stamp) = stamp
            && let Some((_, page)) = lock(&self.kept).as_ref().filter(|(kept, _)| *kept == stamp)
        {
            return Some(page.clone());
        }
        // Read after the stamp: a file changed in between is read again next time.
        let page = Arc::new(IndexPage::new(tokio::fs::read_to_string(&*self.path).await.ok()?));
        if let Some(stamp) = stamp {
            *lock(&self.kept) = Some((stamp, page.clone()));
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
        let app_title = title_source(&html).to_owned();
        IndexPage { html, mount, app_title }
    }

    /// Where a page goes; `None` when no element is marked [`ROOT_ATTRIBUTE`] (no
    /// first paint).
    pub(super) fn mount(&self) -> Option<&Mount> {
        self.mount.as_ref()
    }

    /// The app's `<title>`'s content as `index.html` writes it (its character
    /// references are the browser's to read); empty without one.
    pub(super) fn app_title(&self) -> String {
        self.app_title.clone()
    }

    /// The page: see [`Mount::fill`]; `None` without a mount.
    pub(super) fn fill(&self, html: &str, data: &str, head: &PageHead) -> Option<String> {
        Some(self.mount.as_ref()?.fill(&self.html, html, data, head))
    }
}

/// The content of the `<title>` element in `html`'s head (before `</head>`, so that an
/// SVG's `<title>` in the body is not taken for it), as written.
fn title_source(html: &str) -> &str {
    let lower = html.to_ascii_lowercase();
    let head = &lower[..lower.find("</head").unwrap_or(lower.len())];
    let start = head
        .match_indices("<title")
        .map(|(at, _)| at + "<title".len())
        .find(|&end| head[end..].starts_with(|c: char| c == '>' || c == '/' || c.is_ascii_whitespace()));
    let Some(open) = start.and_then(|start| Some(start + head[start..].find('>')? + 1)) else { return "" };
    let close = lower[open..].find("</title").map_or(html.len(), |at| open + at);
    &html[open..close]
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

    use super::{IndexFile, Mount, PageHead, title_source};

    #[test]
    fn the_apps_title_is_the_content_of_the_heads_title_as_written() {
        let cases = [
            ("<head><title>Pulse &amp; chat</title></head>", "Pulse &amp; chat"),
            ("<HEAD><TITLE lang=en>\n  a &mdash; b  </TITLE>", "\n  a &mdash; b  "),
            ("<head><titles>no</titles></head>", ""),
            ("<head></head><body><svg><title>an icon</title></svg></body>", ""),
            ("<head><title/>x</title></head>", "x"),
            ("<title>unclosed", "unclosed"),
        ];
        for (html, title) in cases {
            assert_eq!(title_source(html), title, "{html}");
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
        // A build renamed over it, of the same length and modification time.
        #[cfg(unix)]
        {
            let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
            let next = dir.join("index.html.next");
            std::fs::write(&next, "<title>two, renamed</title><div></div>").unwrap();
            std::fs::File::options().write(true).open(&next).unwrap().set_modified(modified).unwrap();
            std::fs::rename(&next, &path).unwrap();
            assert_eq!(index.read().await.unwrap().app_title(), "two, renamed");
        }
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

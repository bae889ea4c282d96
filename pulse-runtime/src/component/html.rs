//! Element builders for the HTML tags people use: `div(children)`, `input()`, ...

use super::node::{IntoNodes, Node};

macro_rules! container_tags {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[doc = concat!("A `<", stringify!($name), ">` element with `children`.")]
        pub fn $name(children: impl IntoNodes) -> Node {
            Node::element(stringify!($name), children)
        }
    )*};
}

macro_rules! void_tags {
    ($($name:ident),* $(,)?) => {$(
        #[doc = concat!("A `<", stringify!($name), ">` element (it has no children).")]
        pub fn $name() -> Node {
            Node::element(stringify!($name), ())
        }
    )*};
}

container_tags!(
    div, span, p, h1, h2, h3, h4, h5, h6, ul, ol, li, button, form, label, a, table, thead, tbody, tfoot, tr, td, th,
    caption, section, article, header, footer, nav, main, aside, strong, em, code, pre, small, blockquote, textarea,
    select, option, fieldset, legend, details, summary, dl, dt, dd, figure, figcaption
);

void_tags!(input, img, br, hr);

/// A link to page `page` of the app (`<a href>`): the browser follows it over the socket
/// (no reload; the address and history follow), as `<Link>` does in a client component.
/// A click with a modifier (a new tab) is the browser's, and without JavaScript it is a
/// plain link.
pub fn page_link<R: crate::Routes>(page: &R, children: impl IntoNodes) -> Node {
    a(children).href(page.href()).prop("data-pulse-link", true)
}

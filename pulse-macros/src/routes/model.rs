//! A route enum as the macro understands it.

use proc_macro2::Span;

/// The enum.
pub(crate) struct RoutesDecl {
    pub ident: syn::Ident,
    pub pages: Vec<Page>,
    pub redirects: Vec<Redirect>,
}

/// A variant: one page.
pub(crate) struct Page {
    pub ident: syn::Ident,
    pub docs: String,
    pub pattern: Pattern,
    pub fields: Vec<Field>,
    /// Written `Room { .. }` (or `Lobby`, a unit variant).
    pub braced: bool,
    /// `title = "Chat: {room}"`: the page's `<title>`.
    pub title: Option<Template>,
    /// `description = ".."`: the page's `<meta name="description">`.
    pub description: Option<Template>,
}

/// A text with the page's fields in it: `"Chat: {room}"` (`{{` and `}}` for braces).
pub(crate) struct Template {
    pub parts: Vec<TemplatePart>,
    /// The string literal, for errors.
    pub literal: syn::LitStr,
}

pub(crate) enum TemplatePart {
    Text(String),
    Field(String),
}

/// A page's field: one parameter.
pub(crate) struct Field {
    pub ident: syn::Ident,
    pub ty: syn::Type,
    /// `T` of an `Option<T>` field.
    pub option_of: Option<syn::Type>,
}

/// `#[redirect("/old/{room}", to = Room)]`: an old address of a page.
pub(crate) struct Redirect {
    pub pattern: Pattern,
    pub to: syn::Ident,
}

/// A route's address pattern: `/rooms/{room}?{q}`.
pub(crate) struct Pattern {
    pub segments: Vec<Segment>,
    pub query: Vec<String>,
    /// The string literal, for errors.
    pub span: Span,
    pub text: String,
}

#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Literal(String),
    Param(String),
    Rest(String),
}

impl Pattern {
    /// Every parameter the pattern names, path first.
    pub fn params(&self) -> impl Iterator<Item = &str> {
        let path = self.segments.iter().filter_map(|segment| match segment {
            Segment::Param(name) | Segment::Rest(name) => Some(name.as_str()),
            Segment::Literal(_) => None,
        });
        path.chain(self.query.iter().map(String::as_str))
    }

    /// Whether `name` is one of the path's parameters.
    pub fn in_path(&self, name: &str) -> bool {
        self.segments.iter().any(|segment| matches!(segment, Segment::Param(n) | Segment::Rest(n) if n == name))
    }

    /// The path's shape, parameters unnamed: two routes of one shape match the same
    /// addresses.
    pub fn shape(&self) -> Vec<Segment> {
        self.segments
            .iter()
            .map(|segment| match segment {
                Segment::Literal(text) => Segment::Literal(text.clone()),
                Segment::Param(_) => Segment::Param(String::new()),
                Segment::Rest(_) => Segment::Rest(String::new()),
            })
            .collect()
    }

    /// How specific the path is, segment by segment: text before a parameter before
    /// the rest; the more specific route is tried first.
    pub fn rank(&self) -> Vec<u8> {
        self.segments
            .iter()
            .map(|segment| match segment {
                Segment::Literal(_) => 0,
                Segment::Param(_) => 1,
                Segment::Rest(_) => 2,
            })
            .collect()
    }
}

//! What a render returns: a tree of elements, text, server components and client
//! components, with the conversions that let children be written as tuples, vectors,
//! iterators and strings.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use super::Component;
use super::callback::Callback;

/// One node of a rendered tree.
#[derive(Clone)]
pub enum Node {
    /// Text.
    Text(String),
    /// An HTML element.
    Element(ElementNode),
    /// Several nodes without a wrapper.
    Fragment(Vec<Node>),
    /// A server component: rendered on the server, its output inlined.
    Component(ComponentNode),
    /// A client component: rendered by the browser from its registered name.
    Client(ClientNode),
}

impl Node {
    /// Nothing at all.
    pub fn empty() -> Node {
        Node::Fragment(Vec::new())
    }

    /// Sets the key that keeps this node stable among its siblings across renders.
    pub fn key(self, key: impl fmt::Display) -> Node {
        let key = key.to_string();
        match self {
            Node::Element(mut e) => {
                e.key = Some(key);
                Node::Element(e)
            }
            Node::Component(mut c) => {
                c.key = Some(key);
                Node::Component(c)
            }
            Node::Client(mut c) => {
                c.key = Some(key);
                Node::Client(c)
            }
            other => other,
        }
    }

    /// For a client component: what stands in its place where the browser does not
    /// render it yet, in a page rendered over HTTP (before any script runs, or with
    /// none) and while the client takes that page over; nothing by default. Shaped like
    /// what the component renders, it keeps the page from moving when it appears. Other
    /// nodes are returned as they are.
    ///
    /// ```
    /// # use pulse_runtime::html::*;
    /// # use pulse_runtime::prelude::*;
    /// #[component(client)]
    /// struct Composer {}
    ///
    /// #[component]
    /// fn Room(cx: &mut Scope) -> Node {
    ///     div(Composer {}.into_node().fallback(p("loading the message box…"))).into_node()
    /// }
    /// ```
    pub fn fallback(self, fallback: impl IntoNodes) -> Node {
        match self {
            Node::Client(mut c) => {
                c.placeholder.clear();
                fallback.into_nodes(&mut c.placeholder);
                Node::Client(c)
            }
            other => other,
        }
    }

    /// A node for server component `component`.
    pub fn component<C: Component>(component: C) -> Node {
        Node::Component(ComponentNode { component: Arc::new(component), key: None })
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Text(t) => write!(f, "{t:?}"),
            Node::Element(e) => e.fmt(f),
            Node::Fragment(children) => f.debug_list().entries(children).finish(),
            Node::Component(c) => write!(f, "<{}>", c.component.name()),
            Node::Client(c) => write!(f, "<$${}>", c.name),
        }
    }
}

/// A server component placed in a tree.
#[derive(Clone)]
pub struct ComponentNode {
    pub(crate) component: Arc<dyn super::AnyComponent>,
    pub(crate) key: Option<String>,
}

/// A client component placed in a tree: its registered name and its props as JSON.
#[derive(Clone, Debug)]
pub struct ClientNode {
    pub(crate) name: &'static str,
    pub(crate) key: Option<String>,
    pub(crate) props: serde_json::Value,
    /// What stands in its place until the browser renders it: in a page rendered over
    /// HTTP, and while the client takes that page over.
    pub(crate) placeholder: Vec<Node>,
}

impl ClientNode {
    /// A client component `name` with `props` (already in their wire form).
    #[doc(hidden)]
    pub fn new(name: &'static str, props: serde_json::Value) -> Self {
        ClientNode { name, key: None, props, placeholder: Vec::new() }
    }
}

/// A property value of an element.
#[derive(Clone)]
pub enum PropValue {
    /// Any JSON value (strings, numbers, booleans, style objects).
    Json(serde_json::Value),
    /// A DOM event handler, run on the server.
    Callback(Callback),
}

impl fmt::Debug for PropValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PropValue::Json(v) => write!(f, "{v}"),
            PropValue::Callback(_) => f.write_str("<callback>"),
        }
    }
}

/// An HTML element's data: tag, key, props (React names: `className`, `onClick`) and
/// children. Built through [`Node`]'s methods (`div(..).class("x").on_click(..)`).
#[derive(Clone)]
pub struct ElementNode {
    pub(crate) tag: Cow<'static, str>,
    pub(crate) key: Option<String>,
    pub(crate) props: Vec<(Cow<'static, str>, PropValue)>,
    pub(crate) children: Vec<Node>,
}

impl fmt::Debug for ElementNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct(&self.tag);
        if let Some(key) = &self.key {
            d.field("key", key);
        }
        for (name, value) in &self.props {
            d.field(name, value);
        }
        if !self.children.is_empty() {
            d.field("children", &self.children);
        }
        d.finish()
    }
}

impl Node {
    /// An element with tag `tag` and `children` (the `html` functions call this).
    pub fn element(tag: impl Into<Cow<'static, str>>, children: impl IntoNodes) -> Node {
        let mut list = Vec::new();
        children.into_nodes(&mut list);
        Node::Element(ElementNode { tag: tag.into(), key: None, props: Vec::new(), children: list })
    }

    /// Sets property `name` of an element (React's spelling: `className`, `htmlFor`,
    /// `aria-label`). Props set on a non-element node are ignored.
    ///
    /// ```
    /// # use pulse_runtime::html::*;
    /// # use pulse_runtime::prelude::*;
    /// let bar = div(()).prop("role", "progressbar").prop("aria-valuenow", 40).class("bar");
    /// assert_eq!(format!("{bar:?}"), r#"div { role: "progressbar", aria-valuenow: 40, className: "bar" }"#);
    /// ```
    pub fn prop(self, name: impl Into<Cow<'static, str>>, value: impl Into<serde_json::Value>) -> Node {
        self.set(name.into(), PropValue::Json(value.into()))
    }

    fn set(mut self, name: Cow<'static, str>, value: PropValue) -> Node {
        match &mut self {
            Node::Element(element) => match element.props.iter_mut().find(|(n, _)| *n == name) {
                Some(slot) => slot.1 = value,
                None => element.props.push((name, value)),
            },
            other => tracing::debug!(prop = %name, node = ?other, "prop set on a node that is not an element"),
        }
        self
    }

    /// Sets a DOM event handler (`onClick`, ...), run on the server. The named
    /// shortcuts (`on_click`, `on_change`, `on_input`, `on_submit`, `on_key_down`,
    /// `on_key_up`) cover the common ones; any other React event name works here.
    ///
    /// ```
    /// # use pulse_runtime::html::*;
    /// # use pulse_runtime::prelude::*;
    /// #[state]
    /// struct Hover {
    ///     over: bool,
    /// }
    ///
    /// #[component]
    /// fn Card(cx: &mut Scope) -> Node {
    ///     let hover = cx.init(|_| Hover { over: false });
    ///     let class = if hover.read().over { "card lit" } else { "card" };
    ///     div("hover me")
    ///         .class(class)
    ///         .on("onMouseEnter", hover.on(|h, _| h.over = true))
    ///         .on("onMouseLeave", hover.on(|h, _| h.over = false))
    /// }
    /// ```
    pub fn on(self, event: impl Into<Cow<'static, str>>, callback: impl Into<Callback>) -> Node {
        self.set(event.into(), PropValue::Callback(callback.into()))
    }

    /// Appends more children to an element.
    pub fn child(mut self, children: impl IntoNodes) -> Node {
        match &mut self {
            Node::Element(element) => children.into_nodes(&mut element.children),
            Node::Fragment(nodes) => children.into_nodes(nodes),
            other => tracing::debug!(node = ?other, "children added to a node that cannot hold them"),
        }
        self
    }

    /// The `class` attribute.
    pub fn class(self, class: impl Into<String>) -> Node {
        self.prop("className", class.into())
    }

    /// The `id` attribute.
    pub fn id(self, id: impl Into<String>) -> Node {
        self.prop("id", id.into())
    }

    /// The `value` of an input, select or textarea.
    pub fn value(self, value: impl Into<String>) -> Node {
        self.prop("value", value.into())
    }

    /// The `placeholder` of an input.
    pub fn placeholder(self, text: impl Into<String>) -> Node {
        self.prop("placeholder", text.into())
    }

    /// The `type` attribute (`input().kind("checkbox")`).
    pub fn kind(self, kind: impl Into<String>) -> Node {
        self.prop("type", kind.into())
    }

    /// The `name` attribute.
    pub fn name(self, name: impl Into<String>) -> Node {
        self.prop("name", name.into())
    }

    /// The `href` of a link.
    pub fn href(self, href: impl Into<String>) -> Node {
        self.prop("href", href.into())
    }

    /// The `src` of an image.
    pub fn src(self, src: impl Into<String>) -> Node {
        self.prop("src", src.into())
    }

    /// The `alt` text of an image.
    pub fn alt(self, alt: impl Into<String>) -> Node {
        self.prop("alt", alt.into())
    }

    /// The `htmlFor` of a label.
    pub fn html_for(self, id: impl Into<String>) -> Node {
        self.prop("htmlFor", id.into())
    }

    /// Whether the element is disabled.
    pub fn disabled(self, disabled: bool) -> Node {
        self.prop("disabled", disabled)
    }

    /// Whether a checkbox is checked.
    pub fn checked(self, checked: bool) -> Node {
        self.prop("checked", checked)
    }

    /// Inline style, as CSS properties in React's camelCase (`[("fontWeight", "bold")]`).
    pub fn style<'a>(self, properties: impl IntoIterator<Item = (&'a str, &'a str)>) -> Node {
        let map: serde_json::Map<String, serde_json::Value> =
            properties.into_iter().map(|(k, v)| (k.to_owned(), serde_json::Value::from(v))).collect();
        self.prop("style", serde_json::Value::Object(map))
    }

    /// Runs on the server when the element is clicked: a closure over the
    /// [`DomEvent`](super::DomEvent), or a state change with [`StateRef::on`](super::StateRef::on).
    ///
    /// ```
    /// # use pulse_runtime::html::*;
    /// # use pulse_runtime::prelude::*;
    /// let log = button("log").on_click(|event: &DomEvent| tracing::info!(kind = %event.kind, "clicked"));
    /// # let _ = log;
    /// ```
    pub fn on_click(self, callback: impl Into<Callback>) -> Node {
        self.on("onClick", callback)
    }

    /// Runs on the server when an input's value changes; the event carries `value`.
    pub fn on_change(self, callback: impl Into<Callback>) -> Node {
        self.on("onChange", callback)
    }

    /// Runs on the server on each keystroke in an input; the event carries `value`.
    pub fn on_input(self, callback: impl Into<Callback>) -> Node {
        self.on("onInput", callback)
    }

    /// Runs on the server when a form is submitted (the browser does not navigate); the
    /// event carries the form's fields in `form`.
    pub fn on_submit(self, callback: impl Into<Callback>) -> Node {
        self.on("onSubmit", callback)
    }

    /// Runs on the server when a key goes down; the event carries `key`.
    pub fn on_key_down(self, callback: impl Into<Callback>) -> Node {
        self.on("onKeyDown", callback)
    }

    /// Runs on the server when a key goes up; the event carries `key`.
    pub fn on_key_up(self, callback: impl Into<Callback>) -> Node {
        self.on("onKeyUp", callback)
    }
}

/// Converts into one node: elements, text, numbers, components.
pub trait IntoNode {
    /// The node.
    fn into_node(self) -> Node;
}

impl IntoNode for Node {
    fn into_node(self) -> Node {
        self
    }
}

impl IntoNode for ClientNode {
    fn into_node(self) -> Node {
        Node::Client(self)
    }
}

impl IntoNode for &str {
    fn into_node(self) -> Node {
        Node::Text(self.to_owned())
    }
}

impl IntoNode for String {
    fn into_node(self) -> Node {
        Node::Text(self)
    }
}

impl IntoNode for &String {
    fn into_node(self) -> Node {
        Node::Text(self.clone())
    }
}

impl IntoNode for Cow<'_, str> {
    fn into_node(self) -> Node {
        Node::Text(self.into_owned())
    }
}

macro_rules! number_nodes {
    ($($ty:ty),*) => {$(
        impl IntoNode for $ty {
            fn into_node(self) -> Node {
                Node::Text(self.to_string())
            }
        }
    )*};
}
number_nodes!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, f32, f64, char);

/// Converts into a list of children: one node, a tuple, a `Vec`, an `Option`, an array,
/// or an iterator made with `.map(..)`.
pub trait IntoNodes {
    /// Appends the nodes to `out`.
    fn into_nodes(self, out: &mut Vec<Node>);
}

impl<T: IntoNode> IntoNodes for T {
    fn into_nodes(self, out: &mut Vec<Node>) {
        out.push(self.into_node());
    }
}

impl<T: IntoNode> IntoNodes for Vec<T> {
    fn into_nodes(self, out: &mut Vec<Node>) {
        out.extend(self.into_iter().map(IntoNode::into_node));
    }
}

impl<T: IntoNode> IntoNodes for Option<T> {
    fn into_nodes(self, out: &mut Vec<Node>) {
        out.extend(self.map(IntoNode::into_node));
    }
}

impl<T: IntoNode, const N: usize> IntoNodes for [T; N] {
    fn into_nodes(self, out: &mut Vec<Node>) {
        out.extend(self.into_iter().map(IntoNode::into_node));
    }
}

impl<I: Iterator, F: FnMut(I::Item) -> T, T: IntoNode> IntoNodes for std::iter::Map<I, F> {
    fn into_nodes(self, out: &mut Vec<Node>) {
        out.extend(self.map(IntoNode::into_node));
    }
}

impl<I: Iterator, F: FnMut(I::Item) -> Option<T>, T: IntoNode> IntoNodes for std::iter::FilterMap<I, F> {
    fn into_nodes(self, out: &mut Vec<Node>) {
        out.extend(self.map(IntoNode::into_node));
    }
}

impl<I: Iterator<Item = T>, P: FnMut(&T) -> bool, T: IntoNode> IntoNodes for std::iter::Filter<I, P> {
    fn into_nodes(self, out: &mut Vec<Node>) {
        out.extend(self.map(IntoNode::into_node));
    }
}

impl IntoNodes for () {
    fn into_nodes(self, _: &mut Vec<Node>) {}
}

macro_rules! tuple_nodes {
    ($($name:ident),+) => {
        impl<$($name: IntoNodes),+> IntoNodes for ($($name,)+) {
            #[allow(non_snake_case)]
            fn into_nodes(self, out: &mut Vec<Node>) {
                let ($($name,)+) = self;
                $($name.into_nodes(out);)+
            }
        }
    };
}
tuple_nodes!(A);
tuple_nodes!(A, B);
tuple_nodes!(A, B, C);
tuple_nodes!(A, B, C, D);
tuple_nodes!(A, B, C, D, E);
tuple_nodes!(A, B, C, D, E, F);
tuple_nodes!(A, B, C, D, E, F, G);
tuple_nodes!(A, B, C, D, E, F, G, H);
tuple_nodes!(A, B, C, D, E, F, G, H, I);
tuple_nodes!(A, B, C, D, E, F, G, H, I, J);
tuple_nodes!(A, B, C, D, E, F, G, H, I, J, K);
tuple_nodes!(A, B, C, D, E, F, G, H, I, J, K, L);

/// Several nodes without a wrapper element.
pub fn fragment(children: impl IntoNodes) -> Node {
    let mut list = Vec::new();
    children.into_nodes(&mut list);
    Node::Fragment(list)
}

/// Keys for anything that becomes a node (components, text): `Greeting { .. }.key(1)`.
pub trait Keyed: IntoNode + Sized {
    /// The node with `key`.
    fn keyed(self, key: impl fmt::Display) -> Node {
        self.into_node().key(key)
    }
}

impl<T: IntoNode> Keyed for T {}

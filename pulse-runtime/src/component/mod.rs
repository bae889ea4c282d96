//! Server components: a render cycle whose output is the browser's React tree.
//!
//! `#[component] fn ChatRoom(cx: &mut Scope) -> Node` is a component; `cx.init(..)`
//! gives it state kept across renders; a state change re-renders it, and only the
//! difference is sent. `#[component(client)]` declares a component implemented in
//! TypeScript, embedded with typed props.
//!
//! ## A component, its state and a click, end to end
//!
//! The builders are functions named after the HTML tags ([`html`], in the prelude)
//! taking the children (a node, a string, a tuple, a `Vec`, an iterator), with methods
//! for attributes (`.id()`, `.class()`, `.value()`, [`.prop()`](Node::prop) for any
//! other) and DOM events (`.on_click()`, `.on_change()`, [`.on()`](Node::on) for any
//! other). [`Scope::init`] makes a state on the first render; [`StateRef::on`] turns a
//! closure over it into a handler; [`Scope::watch`] re-renders when a [`Shared`] value
//! changes. Here a Rust [`Client`](crate::client::Client) plays the browser:
//!
//! ```
//! use pulse_runtime::client::{Client, ServerFrame};
//! use pulse_runtime::html::*;
//! use pulse_runtime::prelude::*;
//! use serde_json::json;
//!
//! #[state]
//! struct Count {
//!     n: u32,
//! }
//!
//! /// A chart drawn by the browser (`<PulseRoot components={{ Chart }}>`).
//! #[component(client)]
//! struct Chart {
//!     values: Vec<u32>,
//! }
//!
//! #[component]
//! fn Counter(cx: &mut Scope, total: Shared<u32>) -> Node {
//!     let count = cx.init(|_cx| Count { n: 0 });  // the same state on every render
//!     let total = *cx.watch(&total);               // re-renders when `total` changes
//!     let n = count.read().n;
//!     div((
//!         p(format!("{n} here, {total} in all")).class("count"),
//!         button("+").id("plus").on_click(count.on(|c, _event| c.n += 1)),
//!         input().value(n.to_string()).on_change(count.on(|c, event| {
//!             c.n = event.value.as_deref().and_then(|v| v.parse().ok()).unwrap_or(c.n);
//!         })),
//!         Chart { values: vec![n, total] },
//!     ))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let total = Shared::new(10);
//! let root_total = total.clone();
//! let server = Server::builder().root(move || Counter { total: root_total.clone() }).build();
//! let running = server.bind("127.0.0.1:0").await?;
//!
//! let mut browser = Client::connect(&running.ws_url()).await?;
//! let Some(ServerFrame::Tree { tree, .. }) = browser.next_frame().await else { panic!() };
//! let plus = &tree[0]["children"][1];
//! assert_eq!(plus["props"]["id"], "plus");
//! assert_eq!(tree[0]["children"][3]["tag"], "$$Chart");
//!
//! // A click runs the handler on the server; the change comes back as a patch.
//! let handler = plus["props"]["onClick"]["$cb"].as_str().unwrap();
//! browser.callback(handler, &json!({ "type": "click" }))?;
//! let Some(ServerFrame::Patch { ops, .. }) = browser.next_frame().await else { panic!() };
//! assert!(ops.to_string().contains("1 here, 10 in all"));
//!
//! total.update(|t| *t += 1);  // every session watching `total` re-renders
//! let Some(ServerFrame::Patch { ops, .. }) = browser.next_frame().await else { panic!() };
//! assert!(ops.to_string().contains("1 here, 11 in all"));
//! running.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! docs/guide.md, "API at a glance", lists every builder and what a handler's
//! [`DomEvent`] carries.

mod callback;
mod diff;
pub mod html;
mod node;
mod renderer;
mod scope;
mod shared;
mod state;
mod to_html;
mod tree;
mod vdom;

use std::sync::Arc;

pub use callback::{Callback, DomEvent};
pub use diff::diff;
pub use node::{ClientNode, ElementNode, IntoNode, IntoNodes, Keyed, Node, PropValue, fragment};
pub use scope::Scope;
pub use shared::{Shared, SharedRead};
pub use state::{State, StateCx, StateHandler, StateRead, StateRef, StateWrite, WeakState};
pub(crate) use to_html::escape_into;
pub use to_html::{json_in_script, to_html};
pub use vdom::{ChildRef, Op, VElement, VNode};

pub(crate) use renderer::{PaintSender, Painted, run as run_renderer};

/// What the app renders for each session: the root node (usually a component).
pub(crate) type RootFn = Arc<dyn Fn() -> Node + Send + Sync>;

/// A server component: implemented by `#[component]` on a function. The struct is the
/// component's props.
pub trait Component: Send + Sync + 'static {
    /// The component's name, for error messages.
    const NAME: &'static str;
    /// Renders the component. An `Err` is reported to the client as a render error; the
    /// component keeps its last output.
    fn render(&self, cx: &mut Scope<'_>) -> Result<Node, String>;
}

/// A client component: implemented by `#[component(client)]` on its props struct.
pub trait ClientComponent: serde::Serialize + ts_rs::TS + Send + Sync + 'static {
    /// The name it is registered under in the browser (`<PulseRoot components={{ Name }}>`).
    const NAME: &'static str;

    /// The node that mounts it.
    fn into_client_node(self) -> ClientNode
    where
        Self: Sized,
    {
        match serde_json::to_value(&self) {
            Ok(props) => ClientNode::new(Self::NAME, props),
            Err(error) => {
                tracing::warn!(component = Self::NAME, %error, "client component props could not be encoded");
                ClientNode::new(Self::NAME, serde_json::Value::Null)
            }
        }
    }
}

/// Object-safe view of a component, for the tree.
pub(crate) trait AnyComponent: Send + Sync {
    fn name(&self) -> &'static str;
    fn render_any(&self, cx: &mut Scope<'_>) -> Result<Node, String>;
    fn component_type(&self) -> std::any::TypeId;
}

impl<C: Component> AnyComponent for C {
    fn name(&self) -> &'static str {
        C::NAME
    }
    fn render_any(&self, cx: &mut Scope<'_>) -> Result<Node, String> {
        self.render(cx)
    }
    fn component_type(&self) -> std::any::TypeId {
        std::any::TypeId::of::<C>()
    }
}

/// What a component function may return: a node, or a result whose error is shown as a
/// render error.
pub trait IntoRendered {
    /// The node, or the error message.
    fn into_rendered(self) -> Result<Node, String>;
}

impl<T: IntoNode> IntoRendered for T {
    fn into_rendered(self) -> Result<Node, String> {
        Ok(self.into_node())
    }
}

impl<T: IntoNode, E: std::fmt::Display> IntoRendered for Result<T, E> {
    fn into_rendered(self) -> Result<Node, String> {
        self.map(IntoNode::into_node).map_err(|e| e.to_string())
    }
}

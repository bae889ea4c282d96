//! Server components: a render cycle whose output is the browser's React tree.
//!
//! `#[component] fn ChatRoom(cx: &mut Scope) -> Node` is a component; `cx.init(..)`
//! gives it state kept across renders; a state change re-renders it, and only the
//! difference is sent. `#[component(client)]` declares a component implemented in
//! TypeScript, embedded with typed props.

mod callback;
mod diff;
pub mod html;
mod node;
mod renderer;
mod scope;
mod shared;
mod state;
mod tree;
mod vdom;

use std::sync::Arc;

pub use callback::{Callback, DomEvent};
pub use diff::diff;
pub use node::{ClientNode, ElementNode, IntoNode, IntoNodes, Keyed, Node, PropValue, fragment};
pub use scope::Scope;
pub use shared::{Shared, SharedRead};
pub use state::{State, StateCx, StateHandler, StateRead, StateRef, StateWrite, WeakState};
pub use vdom::{ChildRef, Op, VElement, VNode};

pub(crate) use renderer::run as run_renderer;

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

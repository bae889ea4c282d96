//! Mounted components and the expansion of their output into the wire tree.
//!
//! Each mounted component keeps its state slots, the channels its state opened, its
//! last output and its child components. A render pass re-renders the components
//! that are dirty (and the children of re-rendered ones, whose props may have changed),
//! reuses every other component's last output, and expands everything into one tree
//! of [`VNode`]s, collecting the DOM callbacks under stable ids as it goes.

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use super::AnyComponent;
use super::callback::Callback;
use super::node::{ComponentNode, Node, PropValue};
use super::scope::Scope;
use super::shared::Shared;
use super::state::{Dirty, RenderWake};
use super::vdom::{VElement, VNode};
use crate::session::Session;
use crate::session::channel::RawChannel;

pub(crate) struct Instance {
    id: u64,
    type_id: TypeId,
    key: Option<String>,
    component: Arc<dyn AnyComponent>,
    hooks: Vec<Box<dyn Any + Send>>,
    owned: Vec<RawChannel>,
    dirty: Arc<Dirty>,
    output: Option<Node>,
    /// Its last render said it shows data still loading (`Scope::still_loading`).
    loading: bool,
    children: Vec<Instance>,
}

impl Drop for Instance {
    /// Unmount: the channels the component's state opened close (their pending
    /// requests fail at once); its state and callbacks go with it.
    fn drop(&mut self) {
        for channel in self.owned.drain(..) {
            channel.close_unmounted();
        }
    }
}

/// A render that failed, reported to the client as a `render_error` frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RenderFailure {
    pub component: &'static str,
    pub message: String,
}

/// The state of one expansion pass.
pub(crate) struct Expander<'a> {
    pub session: &'a Session,
    /// Bumped at each navigation of the session (see `Scope::page`).
    pub page: &'a Shared<u64>,
    pub wake: &'a Arc<RenderWake>,
    pub next_id: &'a mut u64,
    pub callbacks: HashMap<String, Callback>,
    pub failures: Vec<RenderFailure>,
    /// Some component in the tree shows data still loading.
    pub loading: bool,
    /// The page a component read in this pass (`Scope::page`).
    pub shown: Option<super::scope::ShownPage>,
}

impl Instance {
    pub(crate) fn mount(node: &ComponentNode, wake: &Arc<RenderWake>, next_id: &mut u64) -> Instance {
        *next_id += 1;
        Instance {
            id: *next_id,
            type_id: node.component.component_type(),
            key: node.key.clone(),
            component: node.component.clone(),
            hooks: Vec::new(),
            owned: Vec::new(),
            dirty: Dirty::new(wake.clone()),
            output: None,
            loading: false,
            children: Vec::new(),
        }
    }
}

impl Expander<'_> {
    /// Expands `instance` into `out`, rendering it first if `force`, if it is dirty, or
    /// if it never rendered.
    pub(crate) fn expand(&mut self, instance: &mut Instance, force: bool, out: &mut Vec<VNode>) {
        let dirty = instance.dirty.take();
        let rendered = force || dirty || instance.output.is_none();
        if rendered {
            self.render(instance);
        }
        self.loading |= instance.loading;
        let output = instance.output.clone().unwrap_or_else(Node::empty);
        let mut old_children = std::mem::take(&mut instance.children);
        let mut new_children = Vec::new();
        let mut walk = Walk { instance_id: instance.id, next_callback: 0, rerendered: rendered };
        self.walk(&output, &mut walk, &mut old_children, &mut new_children, out);
        instance.children = new_children;
        // Children not placed again are dropped here: they unmount.
        drop(old_children);
    }

    fn render(&mut self, instance: &mut Instance) {
        let mut scope = Scope {
            hooks: &mut instance.hooks,
            owned: &mut instance.owned,
            dirty: &instance.dirty,
            session: self.session,
            page: self.page,
            next_hook: 0,
            loading: false,
            shown: &mut self.shown,
        };
        let component = instance.component.clone();
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| component.render_any(&mut scope)));
        instance.loading = scope.loading;
        let message = match outcome {
            Ok(Ok(node)) => {
                instance.output = Some(node);
                return;
            }
            Ok(Err(message)) => {
                tracing::warn!(component = component.name(), %message, "render failed");
                message
            }
            Err(panic) => {
                let telemetry = self.session.shared.host.telemetry();
                let panicked = tracing::error_span!("render", component = component.name())
                    .in_scope(|| crate::guard::caught(crate::guard::Callback::Render, telemetry, panic.as_ref()));
                format!("render panicked: {}", panicked.message)
            }
        };
        // The component keeps showing its last good output (nothing, on a first render).
        self.failures.push(RenderFailure { component: component.name(), message });
    }

    fn walk(
        &mut self,
        node: &Node,
        walk: &mut Walk,
        old_children: &mut Vec<Instance>,
        new_children: &mut Vec<Instance>,
        out: &mut Vec<VNode>,
    ) {
        match node {
            Node::Text(text) => out.push(VNode::Text(text.clone())),
            Node::Fragment(nodes) => {
                for node in nodes {
                    self.walk(node, walk, old_children, new_children, out);
                }
            }
            Node::Element(element) => {
                let mut props = BTreeMap::new();
                for (name, value) in &element.props {
                    let json = match value {
                        PropValue::Json(json) => json.clone(),
                        PropValue::Callback(callback) => {
                            walk.next_callback += 1;
                            let id = format!("{}:{}", walk.instance_id, walk.next_callback);
                            self.callbacks.insert(id.clone(), callback.clone());
                            serde_json::json!({ "$cb": id })
                        }
                    };
                    props.insert(name.to_string(), json);
                }
                let mut children = Vec::new();
                for child in &element.children {
                    self.walk(child, walk, old_children, new_children, &mut children);
                }
                out.push(VNode::Element(VElement {
                    tag: element.tag.to_string(),
                    key: element.key.clone(),
                    props,
                    children,
                }));
            }
            Node::Client(client) => {
                let props = match &client.props {
                    serde_json::Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                    _ => BTreeMap::new(),
                };
                let mut children = Vec::new();
                for child in &client.placeholder {
                    self.walk(child, walk, old_children, new_children, &mut children);
                }
                out.push(VNode::Element(VElement {
                    tag: format!("$${}", client.name),
                    key: client.key.clone(),
                    props,
                    children,
                }));
            }
            Node::Component(component) => {
                let type_id = component.component.component_type();
                let reused = old_children.iter().position(|c| c.type_id == type_id && c.key == component.key);
                let mut child = match reused {
                    Some(index) => {
                        let mut child = old_children.remove(index);
                        child.component = component.component.clone();
                        child
                    }
                    None => Instance::mount(component, self.wake, self.next_id),
                };
                let start = out.len();
                // A re-rendered parent may pass new props: its children render again.
                self.expand(&mut child, walk.rerendered, out);
                if let (Some(key), Some(VNode::Element(first))) = (&component.key, out.get_mut(start)) {
                    first.key.get_or_insert_with(|| key.clone());
                }
                new_children.push(child);
            }
        }
    }
}

struct Walk {
    instance_id: u64,
    next_callback: u32,
    rerendered: bool,
}

//! The tree as it travels: plain elements and text, with server components expanded and
//! callbacks replaced by ids. See "Server components" in docs/protocol.md.

use std::collections::BTreeMap;

use serde::Serialize;

/// Props on the wire: a TypeScript `Record<string, unknown>`.
type Props = BTreeMap<String, serde_json::Value>;

/// One node on the wire: text, or an element (client components are elements whose tag
/// is `$$Name`).
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[serde(untagged)]
pub enum VNode {
    /// Text.
    Text(String),
    /// An element.
    Element(VElement),
}

/// An element on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct VElement {
    /// Tag (`div`), or `$$Name` for a client component.
    pub tag: String,
    /// Key among its siblings.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub key: Option<String>,
    /// Props; a server-side event handler is `{ "$cb": id }`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    #[ts(as = "Option<crate::protocol::JsonObject>", optional)]
    pub props: Props,
    /// Children.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[ts(as = "Option<Vec<VNode>>", optional)]
    pub children: Vec<VNode>,
}

impl VNode {
    pub(crate) fn key(&self) -> Option<&str> {
        match self {
            VNode::Element(e) => e.key.as_deref(),
            VNode::Text(_) => None,
        }
    }
}

/// One change to the tree the client holds. Ops apply in order; a path is the list of
/// child indices from the root list (`[]` is the root list itself).
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Replace the node at `path`.
    Replace {
        /// Where.
        path: Vec<usize>,
        /// The new node.
        node: VNode,
    },
    /// Change props of the element at `path`.
    Props {
        /// Where.
        path: Vec<usize>,
        /// Props set or changed.
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        #[ts(as = "Option<crate::protocol::JsonObject>", optional)]
        set: Props,
        /// Props removed.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        #[ts(as = "Option<Vec<String>>", optional)]
        remove: Vec<String>,
    },
    /// The new child list of the element at `path` (or of the root for `[]`), built
    /// from old children by index and new nodes: inserts, moves and removals at once.
    Children {
        /// The parent.
        path: Vec<usize>,
        /// The new children, in order.
        children: Vec<ChildRef>,
    },
}

/// One entry of a new child list: `{"keep": index}` or `{"node": node}`.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ChildRef {
    /// The old child at this index, kept (and diffed further by later ops).
    Keep(usize),
    /// A new node.
    Node(VNode),
}

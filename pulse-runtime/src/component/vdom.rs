//! The tree as it travels: plain elements and text, with server components expanded and
//! callbacks replaced by ids. See "Server components" in docs/protocol.md.

use std::collections::BTreeMap;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

/// One node on the wire: text, or an element (client components are elements whose tag
/// is `$$Name`).
#[derive(Debug, Clone, PartialEq)]
pub enum VNode {
    /// Text.
    Text(String),
    /// An element.
    Element(VElement),
}

/// An element on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct VElement {
    /// Tag (`div`), or `$$Name` for a client component.
    pub tag: String,
    /// Key among its siblings.
    pub key: Option<String>,
    /// Props; a callback is `{"$cb": "<id>"}`.
    pub props: BTreeMap<String, serde_json::Value>,
    /// Children.
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

impl Serialize for VNode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            VNode::Text(text) => serializer.serialize_str(text),
            VNode::Element(e) => {
                let len = 1
                    + usize::from(e.key.is_some())
                    + usize::from(!e.props.is_empty())
                    + usize::from(!e.children.is_empty());
                let mut map = serializer.serialize_map(Some(len))?;
                map.serialize_entry("tag", &e.tag)?;
                if let Some(key) = &e.key {
                    map.serialize_entry("key", key)?;
                }
                if !e.props.is_empty() {
                    map.serialize_entry("props", &e.props)?;
                }
                if !e.children.is_empty() {
                    map.serialize_entry("children", &e.children)?;
                }
                map.end()
            }
        }
    }
}

/// One change to the tree the client holds. Ops apply in order; a path is the list of
/// child indices from the root list (`[]` is the root list itself).
#[derive(Debug, Clone, PartialEq, Serialize)]
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
        set: BTreeMap<String, serde_json::Value>,
        /// Props removed.
        #[serde(skip_serializing_if = "Vec::is_empty")]
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

/// One entry of a new child list.
#[derive(Debug, Clone, PartialEq)]
pub enum ChildRef {
    /// The old child at this index, kept (and diffed further by later ops).
    Keep(usize),
    /// A new node.
    Node(VNode),
}

impl Serialize for ChildRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            ChildRef::Keep(index) => map.serialize_entry("keep", index)?,
            ChildRef::Node(node) => map.serialize_entry("node", node)?,
        }
        map.end()
    }
}

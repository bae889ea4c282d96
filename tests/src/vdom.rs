//! A client-side copy of the rendered tree for tests: applies `tree` and `patch` frames
//! exactly as docs/protocol.md says the browser does, and finds nodes in it.

use serde_json::Value;

/// The tree a client holds.
#[derive(Debug, Clone, Default)]
pub struct ClientTree {
    /// The root list.
    pub root: Vec<Value>,
}

impl ClientTree {
    /// A tree from a `tree` frame.
    pub fn new(tree: &Value) -> Self {
        ClientTree { root: tree.as_array().cloned().unwrap_or_default() }
    }

    /// Applies the ops of a `patch` frame, in order.
    pub fn apply(&mut self, ops: &Value) {
        for op in ops.as_array().expect("ops is a list") {
            let path: Vec<usize> = op["path"]
                .as_array()
                .expect("op has a path")
                .iter()
                .map(|i| i.as_u64().expect("index") as usize)
                .collect();
            match op["op"].as_str().expect("op name") {
                "replace" => *self.node_mut(&path) = op["node"].clone(),
                "props" => {
                    let node = self.node_mut(&path);
                    let props = node
                        .as_object_mut()
                        .expect("element")
                        .entry("props")
                        .or_insert_with(|| Value::Object(Default::default()));
                    let props = props.as_object_mut().expect("props object");
                    if let Some(set) = op["set"].as_object() {
                        for (k, v) in set {
                            props.insert(k.clone(), v.clone());
                        }
                    }
                    if let Some(remove) = op["remove"].as_array() {
                        for k in remove {
                            props.remove(k.as_str().expect("prop name"));
                        }
                    }
                }
                "children" => {
                    let old = self.children_mut(&path).clone();
                    let new: Vec<Value> = op["children"]
                        .as_array()
                        .expect("children list")
                        .iter()
                        .map(|c| match c.get("keep") {
                            Some(i) => old[i.as_u64().expect("index") as usize].clone(),
                            None => c["node"].clone(),
                        })
                        .collect();
                    *self.children_mut(&path) = new;
                }
                other => panic!("unknown op {other}"),
            }
        }
    }

    fn node_mut(&mut self, path: &[usize]) -> &mut Value {
        let (first, rest) = path.split_first().expect("a node path is not empty");
        let mut node = &mut self.root[*first];
        for i in rest {
            node = &mut node["children"][*i];
        }
        node
    }

    fn children_mut(&mut self, path: &[usize]) -> &mut Vec<Value> {
        if path.is_empty() {
            return &mut self.root;
        }
        let node = self.node_mut(path).as_object_mut().expect("element");
        node.entry("children").or_insert_with(|| Value::Array(Vec::new())).as_array_mut().expect("children")
    }

    /// Every node of the tree, depth first.
    pub fn nodes(&self) -> Vec<&Value> {
        fn walk<'a>(node: &'a Value, out: &mut Vec<&'a Value>) {
            out.push(node);
            if let Some(children) = node.get("children").and_then(Value::as_array) {
                for child in children {
                    walk(child, out);
                }
            }
        }
        let mut out = Vec::new();
        for node in &self.root {
            walk(node, &mut out);
        }
        out
    }

    /// The first element with `tag`.
    pub fn find(&self, tag: &str) -> Option<&Value> {
        self.nodes().into_iter().find(|n| n["tag"] == tag)
    }

    /// The callback id of prop `prop` on the first element with `tag` whose text is `text`.
    pub fn callback(&self, tag: &str, text: &str, prop: &str) -> String {
        let node = self
            .nodes()
            .into_iter()
            .find(|n| n["tag"] == tag && text_of(n) == text)
            .unwrap_or_else(|| panic!("no <{tag}> {text:?} in {:#?}", self.root));
        node["props"][prop]["$cb"].as_str().expect("a callback prop").to_owned()
    }

    /// The texts of the children of the first element with `tag`.
    pub fn texts(&self, tag: &str) -> Vec<String> {
        let node = self.find(tag).unwrap_or_else(|| panic!("no <{tag}>"));
        node.get("children").and_then(Value::as_array).map(|c| c.iter().map(text_of).collect()).unwrap_or_default()
    }
}

/// All the text inside a node.
pub fn text_of(node: &Value) -> String {
    match node {
        Value::String(s) => s.clone(),
        _ => {
            node.get("children").and_then(Value::as_array).map(|c| c.iter().map(text_of).collect()).unwrap_or_default()
        }
    }
}

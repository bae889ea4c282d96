//! Diffs two trees into the ops that turn the old into the new: only the difference
//! travels, and keys keep list items (and the DOM and client state under them) stable.

use std::collections::HashMap;

use super::vdom::{ChildRef, Op, VElement, VNode};

/// The ops turning root list `old` into `new`.
pub fn diff(old: &[VNode], new: &[VNode]) -> Vec<Op> {
    let mut ops = Vec::new();
    let mut path = Vec::new();
    diff_children(old, new, &mut path, &mut ops);
    ops
}

fn diff_children(old: &[VNode], new: &[VNode], path: &mut Vec<usize>, ops: &mut Vec<Op>) {
    let plan = match_children(old, new);
    let unchanged = old.len() == new.len() && plan.iter().enumerate().all(|(j, m)| *m == Some(j));
    if !unchanged {
        let children = plan
            .iter()
            .zip(new)
            .map(|(matched, node)| match matched {
                Some(i) => ChildRef::Keep(*i),
                None => ChildRef::Node(node.clone()),
            })
            .collect();
        ops.push(Op::Children { path: path.clone(), children });
    }
    for (j, matched) in plan.iter().enumerate() {
        if let (Some(i), Some(new_node)) = (matched, new.get(j)) {
            if let Some(old_node) = old.get(*i) {
                path.push(j);
                diff_node(old_node, new_node, path, ops);
                path.pop();
            }
        }
    }
}

/// For each new child, the old child it continues, if any: same key for keyed
/// children, else the next unkeyed old child in order.
fn match_children(old: &[VNode], new: &[VNode]) -> Vec<Option<usize>> {
    let mut by_key: HashMap<&str, usize> = HashMap::new();
    for (i, node) in old.iter().enumerate() {
        if let Some(key) = node.key() {
            by_key.entry(key).or_insert(i);
        }
    }
    let mut used = vec![false; old.len()];
    let mut next_unkeyed = 0;
    new.iter()
        .map(|node| match node.key() {
            Some(key) => {
                let i = *by_key.get(key)?;
                if used[i] {
                    return None;
                }
                used[i] = true;
                Some(i)
            }
            None => {
                while next_unkeyed < old.len() && (old[next_unkeyed].key().is_some() || used[next_unkeyed]) {
                    next_unkeyed += 1;
                }
                if next_unkeyed == old.len() {
                    return None;
                }
                used[next_unkeyed] = true;
                next_unkeyed += 1;
                Some(next_unkeyed - 1)
            }
        })
        .collect()
}

fn diff_node(old: &VNode, new: &VNode, path: &mut Vec<usize>, ops: &mut Vec<Op>) {
    if old == new {
        return;
    }
    match (old, new) {
        (VNode::Element(a), VNode::Element(b)) if a.tag == b.tag && a.key == b.key => diff_element(a, b, path, ops),
        _ => ops.push(Op::Replace { path: path.clone(), node: new.clone() }),
    }
}

fn diff_element(old: &VElement, new: &VElement, path: &mut Vec<usize>, ops: &mut Vec<Op>) {
    let set: std::collections::BTreeMap<_, _> =
        new.props.iter().filter(|(k, v)| old.props.get(*k) != Some(*v)).map(|(k, v)| (k.clone(), v.clone())).collect();
    let remove: Vec<String> = old.props.keys().filter(|k| !new.props.contains_key(*k)).cloned().collect();
    if !set.is_empty() || !remove.is_empty() {
        ops.push(Op::Props { path: path.clone(), set, remove });
    }
    diff_children(&old.children, &new.children, path, ops);
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn el(tag: &str, key: Option<&str>, props: &[(&str, &str)], children: Vec<VNode>) -> VNode {
        VNode::Element(VElement {
            tag: tag.into(),
            key: key.map(Into::into),
            props: props.iter().map(|(k, v)| ((*k).to_owned(), serde_json::json!(v))).collect::<BTreeMap<_, _>>(),
            children,
        })
    }

    fn text(t: &str) -> VNode {
        VNode::Text(t.into())
    }

    fn li(key: &str) -> VNode {
        el("li", Some(key), &[], vec![text(key)])
    }

    #[test]
    fn identical_trees_give_no_ops() {
        let tree = vec![el("div", None, &[("id", "a")], vec![text("x")])];
        assert!(diff(&tree, &tree).is_empty());
    }

    #[test]
    fn a_text_change_replaces_only_that_text() {
        let old = vec![el("div", None, &[], vec![el("h2", None, &[], vec![text("Chat")]), text("a")])];
        let new = vec![el("div", None, &[], vec![el("h2", None, &[], vec![text("Chat")]), text("b")])];
        assert_eq!(diff(&old, &new), vec![Op::Replace { path: vec![0, 1], node: text("b") }]);
    }

    #[test]
    fn prop_changes_are_sets_and_removals() {
        let old = vec![el("input", None, &[("value", "a"), ("id", "x")], vec![])];
        let new = vec![el("input", None, &[("value", "b"), ("placeholder", "p")], vec![])];
        assert_eq!(
            diff(&old, &new),
            vec![Op::Props {
                path: vec![0],
                set: [("placeholder".to_owned(), serde_json::json!("p")), ("value".to_owned(), serde_json::json!("b"))]
                    .into(),
                remove: vec!["id".into()],
            }]
        );
    }

    #[test]
    fn appending_to_a_keyed_list_sends_only_the_new_item() {
        let old = vec![el("ul", None, &[], vec![li("a"), li("b")])];
        let new = vec![el("ul", None, &[], vec![li("a"), li("b"), li("c")])];
        assert_eq!(
            diff(&old, &new),
            vec![Op::Children {
                path: vec![0],
                children: vec![ChildRef::Keep(0), ChildRef::Keep(1), ChildRef::Node(li("c"))]
            }]
        );
    }

    #[test]
    fn a_keyed_reorder_moves_without_resending() {
        let old = vec![li("a"), li("b"), li("c")];
        let new = vec![li("c"), li("a"), li("b")];
        assert_eq!(
            diff(&old, &new),
            vec![Op::Children {
                path: vec![],
                children: vec![ChildRef::Keep(2), ChildRef::Keep(0), ChildRef::Keep(1)]
            }]
        );
    }

    #[test]
    fn keyed_removal_and_change_inside_a_moved_item() {
        let old = vec![li("a"), li("b"), li("c")];
        let mut changed_c = li("c");
        if let VNode::Element(e) = &mut changed_c {
            e.children = vec![text("C!")];
        }
        let new = vec![changed_c, li("a")];
        assert_eq!(
            diff(&old, &new),
            vec![
                Op::Children { path: vec![], children: vec![ChildRef::Keep(2), ChildRef::Keep(0)] },
                Op::Replace { path: vec![0, 0], node: text("C!") },
            ]
        );
    }

    #[test]
    fn a_different_tag_replaces_the_element() {
        let old = vec![el("p", None, &[], vec![text("x")])];
        let new = vec![el("span", None, &[], vec![text("x")])];
        assert_eq!(diff(&old, &new), vec![Op::Replace { path: vec![0], node: new[0].clone() }]);
    }

    #[test]
    fn ops_serialize_as_documented() {
        let ops = vec![
            Op::Children { path: vec![0], children: vec![ChildRef::Keep(0), ChildRef::Node(li("c"))] },
            Op::Props { path: vec![1], set: BTreeMap::new(), remove: vec!["id".into()] },
        ];
        assert_eq!(
            serde_json::to_value(&ops).unwrap(),
            serde_json::json!([
                {"op": "children", "path": [0], "children": [{"keep": 0}, {"node": {"tag": "li", "key": "c", "children": ["c"]}}]},
                {"op": "props", "path": [1], "remove": ["id"]}
            ])
        );
    }
}

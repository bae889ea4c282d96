// The update operations, on plain trees.

import { describe, expect, it } from "vitest";
import { TreeStore, type VNode, applyOps } from "../src/index";

const li = (key: string, text = key): VNode => ({ tag: "li", key, children: [text] });
const list = (...items: VNode[]): VNode[] => [{ tag: "ul", children: items }];

describe("applyOps", () => {
  it("replaces a node deep in the tree and copies only its ancestors", () => {
    const tree: VNode[] = [{ tag: "div", children: [{ tag: "p", children: ["a"] }, { tag: "span" }] }];
    const next = applyOps(tree, [{ op: "replace", path: [0, 0, 0], node: "b" }]);
    expect(next).toEqual([{ tag: "div", children: [{ tag: "p", children: ["b"] }, { tag: "span" }] }]);
    expect(tree[0]).toEqual({ tag: "div", children: [{ tag: "p", children: ["a"] }, { tag: "span" }] });
    const [before, after] = [tree[0] as { children: VNode[] }, next[0] as { children: VNode[] }];
    expect(after.children[1]).toBe(before.children[1]);
  });

  it("sets and removes props", () => {
    const tree: VNode[] = [{ tag: "input", props: { value: "a", id: "x" } }];
    const next = applyOps(tree, [{ op: "props", path: [0], set: { value: "b" }, remove: ["id"] }]);
    expect(next).toEqual([{ tag: "input", props: { value: "b" } }]);
  });

  it("rebuilds children from kept old children and new nodes", () => {
    const tree = list(li("a"), li("b"), li("c"));
    const next = applyOps(tree, [
      { op: "children", path: [0], children: [{ keep: 2 }, { node: li("d") }, { keep: 0 }] },
      { op: "replace", path: [0, 0, 0], node: "C!" },
    ]);
    expect(next).toEqual(list(li("c", "C!"), li("d"), li("a")));
  });

  it("rebuilds the root list", () => {
    const next = applyOps([li("a"), li("b")], [{ op: "children", path: [], children: [{ keep: 1 }] }]);
    expect(next).toEqual([li("b")]);
  });

  it("refuses a path that leaves the tree", () => {
    expect(() => applyOps(list(li("a")), [{ op: "replace", path: [0, 5], node: "x" }])).toThrow(/leaves the tree/);
    expect(() => applyOps(list(li("a")), [{ op: "children", path: [0], children: [{ keep: 3 }] }])).toThrow(
      /keeps child 3/,
    );
  });
});

describe("TreeStore", () => {
  it("starts from a page's first paint and skips the frames it already holds", () => {
    // The page holds what the session's first two frames say (a render still loading,
    // then the patch that brought its data).
    const page = list(li("a"), li("b"));
    const store = new TreeStore(page, 2);
    let changes = 0;
    store.subscribe(() => changes++);
    store.replace(list());
    store.patch([{ op: "children", path: [0], children: [{ node: li("a") }, { node: li("b") }] }]);
    expect(store.snapshot).toBe(page);
    expect(changes).toBe(0);
    // What came after the page applies to it.
    store.patch([{ op: "children", path: [0], children: [{ keep: 0 }, { keep: 1 }, { node: li("c") }] }]);
    expect(store.snapshot).toEqual(list(li("a"), li("b"), li("c")));
    expect(changes).toBe(1);
  });

  it("applies everything from a new session, whatever the page held", () => {
    const store = new TreeStore(list(li("old")), 3);
    store.sessionChanged();
    store.replace(list(li("new")));
    expect(store.snapshot).toEqual(list(li("new")));
  });
});

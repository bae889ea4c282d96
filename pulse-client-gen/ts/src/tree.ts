// The server-rendered tree on the client, and the ops that update it. Applying ops
// copies only the nodes on the changed paths, so React sees new objects exactly where
// something changed.

import type { Op, VElement, VNode } from "./protocol.js";

/** Applies `ops` in order to `root`; returns the new root list (the old one is untouched). */
export function applyOps(root: readonly VNode[], ops: readonly Op[]): VNode[] {
  let next = [...root];
  for (const op of ops) next = applyOp(next, op);
  return next;
}

function applyOp(root: VNode[], op: Op): VNode[] {
  if (op.op === "children" && op.path.length === 0) {
    return rebuildChildren(root, op.children);
  }
  return updateAt(root, op.path, (node) => {
    switch (op.op) {
      case "replace":
        return op.node;
      case "props": {
        const element = asElement(node, op.path);
        const props = { ...(element.props ?? {}) };
        for (const [name, value] of Object.entries(op.set ?? {})) props[name] = value;
        for (const name of op.remove ?? []) delete props[name];
        return { ...element, props };
      }
      case "children": {
        const element = asElement(node, op.path);
        return { ...element, children: rebuildChildren(element.children ?? [], op.children) };
      }
    }
  });
}

function rebuildChildren(old: readonly VNode[], plan: readonly ({ keep: number } | { node: VNode })[]): VNode[] {
  return plan.map((entry) => {
    if ("keep" in entry) {
      const kept = old[entry.keep];
      if (kept === undefined) throw new Error(`patch keeps child ${entry.keep} of ${old.length}`);
      return kept;
    }
    return entry.node;
  });
}

/** Replaces the node at `path` with `update(node)`, copying its ancestors. */
function updateAt(list: VNode[], path: readonly number[], update: (node: VNode) => VNode): VNode[] {
  const [index, ...rest] = path;
  if (index === undefined) throw new Error("empty path");
  const node = list[index];
  if (node === undefined) throw new Error(`patch path ${path.join(".")} leaves the tree`);
  const copy = [...list];
  if (rest.length === 0) {
    copy[index] = update(node);
  } else {
    const element = asElement(node, path);
    copy[index] = { ...element, children: updateAt([...(element.children ?? [])], rest, update) };
  }
  return copy;
}

function asElement(node: VNode, path: readonly number[]): VElement {
  if (typeof node === "string") throw new Error(`patch path ${path.join(".")} points into text`);
  return node;
}

/** Holds one session's tree and tells subscribers when it changes (for useSyncExternalStore). */
export class TreeStore {
  private tree: VNode[] | null;
  private readonly listeners = new Set<() => void>();
  /** The session's next `tree`/`patch` frames that `tree` already holds (a page's first paint). */
  private held: number;

  /**
   * A store holding nothing, or a page's first paint: `tree`, which holds what the
   * session's first `held` tree and patch frames say (they are skipped when they come).
   */
  constructor(tree: VNode[] | null = null, held = 0) {
    this.tree = tree;
    this.held = tree === null ? 0 : held;
  }

  /** The session is a new one: every frame it sends applies. */
  sessionChanged(): void {
    this.held = 0;
  }

  get snapshot(): VNode[] | null {
    return this.tree;
  }

  replace(tree: VNode[]): void {
    if (this.skipHeld()) return;
    this.tree = tree;
    this.emit();
  }

  patch(ops: readonly Op[]): void {
    if (this.skipHeld() || !this.tree) return;
    this.tree = applyOps(this.tree, ops);
    this.emit();
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private skipHeld(): boolean {
    if (this.held === 0) return false;
    this.held -= 1;
    return true;
  }

  private emit(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

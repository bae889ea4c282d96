// <PulseRoot>: connects, renders the server's tree as React elements, applies updates,
// sends DOM events back, and mounts the registered client components.

import {
  type ComponentType,
  type ReactNode,
  createElement,
  useEffect,
  useMemo,
  useSyncExternalStore,
} from "react";

import { PulseConnection, type ConnectionOptions } from "./connection.js";
import { appTitle } from "./first-paint.js";
import { isSecondReact, reportSecondReact } from "./one-react.js";
import type { DomEventData, ServerFrame, VNode } from "./protocol.js";
import { PulseProvider } from "./react.js";
import { type LinkClick, followLink } from "./routes.js";
import { TreeStore } from "./tree.js";

// biome-ignore lint/suspicious/noExplicitAny: client components take any props.
type AnyComponent = ComponentType<any>;
/** Props as the server sent them, typed as each client component declares them. */
// biome-ignore lint/suspicious/noExplicitAny: checked on the server, by the Rust props type.
type ServerProps = Record<string, any>;

export interface PulseRootProps {
  /** The client components the server may render, by name (type it with the generated
   * `ClientComponents`: `const components: ClientComponents = { ChatClient }`). */
  components: Record<string, AnyComponent>;
  /** An existing connection; otherwise one is made from `options`. */
  connection?: PulseConnection;
  /** Options of the connection made when `connection` is not given. */
  options?: ConnectionOptions;
  /** Shown until the first tree arrives. */
  fallback?: ReactNode;
  /** Called for each component whose render failed on the server. */
  onRenderError?: (component: string, message: string) => void;
}

interface RenderContext {
  connection: PulseConnection;
  components: Record<string, AnyComponent>;
}

/** Renders the server components' tree of the connection's session. With two copies of
 * React in the page (see `one-react.ts`) it renders, and logs, what to do instead. */
export function PulseRoot(props: PulseRootProps): ReactNode {
  // Before any hook: a hook of the wrong React fails with an unreadable error. The text
  // is a string child, which any React version renders.
  if (isSecondReact()) return reportSecondReact();
  return createElement(Root, props);
}

function Root({ components, connection: given, options, fallback = null, onRenderError }: PulseRootProps) {
  // Made during render but opened only in the effect: StrictMode's double render and
  // double effect leave one connection, one session.
  const connection = useMemo(() => given ?? new PulseConnection(options), [given, options]);
  // A page the server rendered starts from its tree, so hydration finds the same DOM.
  const store = useMemo(() => {
    const page = connection.page;
    return new TreeStore(page?.tree ?? null, page?.frames ?? 0);
  }, [connection]);

  useEffect(() => {
    const off = connection.onFrame((frame) => {
      if (frame.t === "hello" && !frame.resumed) store.sessionChanged();
      else if (frame.t === "tree") store.replace(frame.tree);
      else if (frame.t === "patch") store.patch(frame.ops);
      else if (frame.t === "page") showPage(frame);
      else if (frame.t === "render_error") {
        console.error(`pulse: render of <${frame.component}> failed on the server: ${frame.message}`);
        onRenderError?.(frame.component, frame.message);
      }
    });
    connection.retain();
    // Back and forward between pages the server rendered: it renders the one reached.
    const onPopState = () => connection.followLocation();
    globalThis.addEventListener?.("popstate", onPopState);
    return () => {
      off();
      globalThis.removeEventListener?.("popstate", onPopState);
      connection.release();
    };
  }, [connection, store, onRenderError]);

  const snapshot = () => store.snapshot;
  // Hydrating a page the server rendered, the snapshot is its tree too.
  const tree = useSyncExternalStore(store.subscribe, snapshot, snapshot);
  const context: RenderContext = { connection, components };
  return (
    <PulseProvider connection={connection}>
      {tree === null ? fallback : tree.map((node, i) => renderNode(node, context, i))}
    </PulseProvider>
  );
}

/**
 * The page the server says the tab shows: its title (the app's own for a page without
 * one), and its own address for an old one.
 */
function showPage({ title, address }: Extract<ServerFrame, { t: "page" }>): void {
  if (globalThis.document) globalThis.document.title = title ?? appTitle();
  if (address !== undefined) globalThis.history?.replaceState(globalThis.history.state, "", address);
}

/** @internal The tree as `PulseRoot` renders it (the first paint's tests compare it with the server's HTML). */
export function renderTree(tree: readonly VNode[], connection: PulseConnection, components: Record<string, AnyComponent>) {
  return tree.map((node, i) => renderNode(node, { connection, components }, i));
}

function renderNode(node: VNode, context: RenderContext, index: number): ReactNode {
  if (typeof node === "string") return node;
  const { tag, key, props = {}, children = [] } = node;
  const reactKey = key ?? index;
  if (tag.startsWith("$$")) {
    const name = tag.slice(2);
    const component = context.components[name];
    if (!component) return createElement(UnknownComponent, { key: reactKey, name });
    // The trusted boundary of client component props: they arrive as JSON, so a channel
    // id in them is a plain string here, and becomes the `ChannelId<N>` the component's
    // generated props type declares (the server put it there, from `ChannelId<C>`).
    const fallback = children.map((child, i) => renderNode(child, context, i));
    return createElement(ClientSlot, { key: reactKey, component, props: props as ServerProps, fallback });
  }
  const reactProps: Record<string, unknown> = { key: reactKey };
  for (const [name, value] of Object.entries(props)) {
    reactProps[name] = isCallback(value) ? handler(context.connection, value.$cb) : value;
  }
  // A link to a page of the app (`page_link` on the server): followed over the socket.
  if (tag === "a" && props[PAGE_LINK] === true && typeof props.href === "string") {
    const href = props.href;
    reactProps.onClick = (event: LinkClick) => followLink(event, () => context.connection.navigate(href));
  }
  const rendered = children.map((child, i) => renderNode(child, context, i));
  return rendered.length > 0 ? createElement(tag, reactProps, ...rendered) : createElement(tag, reactProps);
}

interface ClientSlotProps {
  component: AnyComponent;
  props: ServerProps;
  /** What the server rendered in the component's place (`fallback` in Rust). */
  fallback: ReactNode[];
}

const noChange = () => () => {};

/**
 * A client component; while React hydrates a page the server rendered, what the server
 * rendered in its place (the component itself never ran there), then the component.
 */
function ClientSlot({ component, props, fallback }: ClientSlotProps): ReactNode {
  const hydrating = useSyncExternalStore(
    noChange,
    () => false,
    () => true,
  );
  return hydrating ? fallback : createElement(component, props);
}

/** The prop that marks a server-rendered link to a page of the app. */
const PAGE_LINK = "data-pulse-link";

function isCallback(value: unknown): value is { $cb: string } {
  return typeof value === "object" && value !== null && typeof (value as { $cb?: unknown }).$cb === "string";
}

function handler(connection: PulseConnection, id: string) {
  return (event: unknown) => connection.sendCallback(id, describeEvent(event));
}

/** What the server gets of a DOM event: its type, the target's value, checked state, key, form fields. */
export function describeEvent(event: unknown): DomEventData {
  const e = event as {
    type?: unknown;
    key?: unknown;
    target?: unknown;
    currentTarget?: unknown;
    preventDefault?: () => void;
  } | null;
  const data: DomEventData = { type: typeof e?.type === "string" ? e.type : "" };
  const target = e?.target as { value?: unknown; type?: unknown; checked?: unknown } | undefined;
  if (target && typeof target.value === "string") data.value = target.value;
  if (target && (target.type === "checkbox" || target.type === "radio")) data.checked = Boolean(target.checked);
  if (typeof e?.key === "string") data.key = e.key;
  if (data.type === "submit") {
    // The server handles the form; the browser must not navigate.
    e?.preventDefault?.();
    const form = e?.currentTarget ?? e?.target;
    if (typeof HTMLFormElement !== "undefined" && form instanceof HTMLFormElement) {
      data.form = Object.fromEntries(new FormData(form).entries());
    }
  }
  return data;
}

function UnknownComponent({ name }: { name: string }) {
  return (
    <div role="alert" data-pulse-error="unknown-component">
      {`Unknown client component "${name}": pass it to <PulseRoot components={{ ${name} }}>.`}
    </div>
  );
}

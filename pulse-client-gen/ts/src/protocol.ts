// Frames of protocol version 1 (docs/protocol.md).

import type { WireError } from "./errors";

export const PROTOCOL_VERSION = 1;

export interface HelloFrame {
  t: "hello";
  v: number;
  session: string;
  heartbeat_ms: number;
  idle_timeout_ms: number;
  limits: { max_frame_bytes: number; max_channels: number; max_pending_requests: number };
  /** This connection resumed the session the client had; the frames it missed follow. */
  resumed?: boolean;
}

export type ServerFrame =
  | HelloFrame
  | { t: "ping" }
  | { t: "open"; seq: number; channel: string; name: string }
  | { t: "close"; seq: number; channel: string; reason: string }
  | { t: "emit"; seq: number; channel: string; event: string; payload: unknown }
  | { t: "broadcast"; seq: number; name: string; event: string; payload: unknown }
  | { t: "request"; seq: number; channel: string; id: number; event: string; payload: unknown }
  | { t: "answer"; seq: number; channel: string; id: number; ok?: unknown; error?: WireError }
  | { t: "error"; seq: number; code: string; message: string; channel?: string; event?: string }
  | { t: "tree"; seq: number; tree: VNode[] }
  | { t: "patch"; seq: number; ops: Op[] }
  | { t: "render_error"; seq: number; component: string; message: string };

export type ClientFrame =
  | { t: "emit"; channel: string; event: string; payload: unknown }
  | { t: "request"; channel: string; id: number; event: string; payload: unknown }
  | { t: "answer"; channel: string; id: number; ok: unknown }
  | { t: "answer"; channel: string; id: number; error: WireError }
  | { t: "close"; channel: string }
  | { t: "callback"; callback: string; data: DomEventData }
  | { t: "pong" };

/** A node of the server-rendered tree: text, or an element (`$$Name` for a client component). */
export type VNode = string | VElement;

export interface VElement {
  tag: string;
  key?: string;
  /** Props; a server-side event handler is `{ "$cb": id }`. */
  props?: Record<string, unknown>;
  children?: VNode[];
}

/** One change to the tree; paths are child indices from the root list. */
export type Op =
  | { op: "replace"; path: number[]; node: VNode }
  | { op: "props"; path: number[]; set?: Record<string, unknown>; remove?: string[] }
  | { op: "children"; path: number[]; children: ({ keep: number } | { node: VNode })[] };

/** What the server learns of a DOM event. */
export interface DomEventData {
  type: string;
  value?: string;
  checked?: boolean;
  key?: string;
  form?: Record<string, unknown>;
}

/** Close codes 4000–4499 ask the client to reconnect; 4500 and up say it must not. */
export function shouldReconnect(code: number): boolean {
  return code < 4500;
}

/** The WebSocket URL of a server's `/ws` endpoint for a page served by it. */
export function defaultUrl(): string {
  const { protocol, host } = globalThis.location;
  return `${protocol === "https:" ? "wss" : "ws"}://${host}/ws?v=${PROTOCOL_VERSION}`;
}

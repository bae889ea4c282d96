// Frames of protocol version 1 (docs/protocol.md). The protocol's facts (version, error
// and close codes, frame types, the limits in `hello`) are generated from the Rust side
// into ./generated/protocol.ts; the frame shapes below are checked against its frame types.

import type { ErrorCode, KnownErrorCode, WireError } from "./errors.js";
import {
  type AnnouncedLimits,
  type ClientFrameType,
  PROTOCOL_VERSION,
  type ServerFrameType,
} from "./generated/protocol.js";

export {
  type AnnouncedLimits,
  CLOSE_CODES,
  type ClientFrameType,
  type CloseCodeName,
  MAX_JSON_DEPTH,
  PROTOCOL_VERSION,
  type ServerFrameType,
  mustNotReconnect,
  shouldReconnect,
} from "./generated/protocol.js";

/**
 * A channel id of the channel named `N`, as the server hands it to a client component.
 * The brand is required: a plain `string` is not a `ChannelId`, so only ids that came
 * from the server (in an `open` frame, or in a client component's props) type-check.
 */
export type ChannelId<N extends string = string> = string & { readonly __pulseChannel: N };

export interface HelloFrame {
  t: "hello";
  v: number;
  session: string;
  heartbeat_ms: number;
  idle_timeout_ms: number;
  limits: AnnouncedLimits;
  /** This connection resumed the session the client had; the frames it missed follow. */
  resumed?: boolean;
  /** The WebSocket URLs of the cluster's nodes (the server's `Config::nodes`): where to fail over. */
  nodes?: string[];
}

export type ServerFrame =
  | HelloFrame
  | { t: "ping" }
  | { t: "nodes"; nodes: string[] }
  | { t: "open"; seq: number; channel: ChannelId; name: string; room?: unknown }
  | { t: "close"; seq: number; channel: string; reason: string }
  | { t: "emit"; seq: number; channel: string; event: string; payload: unknown }
  | {
      t: "broadcast";
      seq: number;
      name: string;
      room?: unknown;
      /** For a channel that keeps history: the broadcast's place in its room's history. */
      epoch?: string;
      offset?: number;
      event: string;
      payload: unknown;
    }
  | HistoryFrame
  | PresenceFrame
  | { t: "request"; seq: number; channel: string; id: number; event: string; payload: unknown }
  | { t: "answer"; seq: number; channel: string; id: number; ok?: unknown; error?: WireError }
  | { t: "error"; seq: number; code: ErrorCode; message: string; channel?: string; event?: string }
  | { t: "tree"; seq: number; tree: VNode[] }
  | { t: "patch"; seq: number; ops: Op[] }
  | { t: "render_error"; seq: number; component: string; message: string };

/**
 * Comes before a joining channel's replay of its room's history: the client stands at
 * `epoch`/`offset` before the broadcasts that follow, which run to `top`; `recovered`
 * says they are exactly what came after the position the client sent in `since`.
 */
export interface HistoryFrame {
  t: "history";
  seq: number;
  name: string;
  room?: unknown;
  epoch: string;
  offset: number;
  top: number;
  recovered: boolean;
  /** The most broadcasts the room keeps (`History::last(n)`): the client holds at least as many events. */
  keep?: number;
}

/**
 * A room's presence list (`state: true`: the whole list, in `joins`) or a change to it
 * (who left, then who joined; an update is both), grouped by user key.
 */
export interface PresenceFrame {
  t: "presence";
  seq: number;
  name: string;
  room?: unknown;
  state: boolean;
  joins: Record<string, { id: string; meta: unknown }[]>;
  leaves: Record<string, { id: string; meta: unknown }[]>;
}

/** Where a client stands in one room's history, as it sends it in `since`. */
export interface HistoryPosition {
  name: string;
  room?: unknown;
  epoch: string;
  offset: number;
}

export type ClientFrame =
  | { t: "emit"; channel: string; event: string; payload: unknown }
  | { t: "request"; channel: string; id: number; event: string; payload: unknown }
  | { t: "answer"; channel: string; id: number; ok: unknown }
  | { t: "answer"; channel: string; id: number; error: { code: KnownErrorCode; message: string } }
  | { t: "close"; channel: string }
  | { t: "callback"; callback: string; data: DomEventData }
  | { t: "pong" };

// The hand-written frame shapes cover exactly the generated frame types, both ways.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
type _ServerFrameTypesMatch = Assert<Same<ServerFrame["t"], ServerFrameType>>;
type _ClientFrameTypesMatch = Assert<Same<ClientFrame["t"], ClientFrameType>>;

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

/** The WebSocket URL of a server's `/ws` endpoint for a page served by it. */
export function defaultUrl(): string {
  const { protocol, host } = globalThis.location;
  return `${protocol === "https:" ? "wss" : "ws"}://${host}/ws?v=${PROTOCOL_VERSION}`;
}

// Frames of protocol version 1 (docs/protocol.md). The protocol (version, error and close
// codes, every frame of both directions, the server-component tree and its patches, the
// limits in `hello`) is generated from the Rust side into ./generated/protocol.ts; this
// module names what the runtime reads from it.

import {
  type ClientFrame,
  type ClientFrameType,
  PROTOCOL_VERSION,
  type ServerFrame,
  type ServerFrameType,
  VERSION_PARAM,
} from "./generated/protocol.js";

export {
  type AnnouncedLimits,
  type ChannelId,
  type ChildRef,
  CLOSE_CODES,
  type ClientFrame,
  type ClientFrameType,
  type CloseCodeName,
  type DomEventData,
  type HistoryPosition,
  MAX_JSON_DEPTH,
  type Op,
  PROTOCOL_VERSION,
  type PresenceEntries,
  type ServerFrame,
  type ServerFrameType,
  type VElement,
  type VNode,
  mustNotReconnect,
  shouldReconnect,
} from "./generated/protocol.js";

/** The `hello` frame that starts every connection. */
export type HelloFrame = Extract<ServerFrame, { t: "hello" }>;

/** The `history` frame that comes before a joining channel's replay of its room's history. */
export type HistoryFrame = Extract<ServerFrame, { t: "history" }>;

/** A room's presence list (`state: true`) or a change to it. */
export type PresenceFrame = Extract<ServerFrame, { t: "presence" }>;

// The generated frames cover exactly the generated frame types, both ways.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
type _ServerFrameTypesMatch = Assert<Same<ServerFrame["t"], ServerFrameType>>;
type _ClientFrameTypesMatch = Assert<Same<ClientFrame["t"], ClientFrameType>>;

/** The WebSocket URL of a server's `/ws` endpoint for a page served by it. */
export function defaultUrl(): string {
  const { protocol, host } = globalThis.location;
  return `${protocol === "https:" ? "wss" : "ws"}://${host}/ws?${VERSION_PARAM}=${PROTOCOL_VERSION}`;
}

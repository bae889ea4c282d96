// @pulse-rs/client: the browser side of Pulse for Rust.

export { ClientChannel, type ChannelShape, type RequestOptions, type TypedChannel } from "./channel";
export {
  type CloseInfo,
  type ConnectionOptions,
  type ConnectionState,
  PulseConnection,
  type ServerError,
  type WebSocketConstructor,
  type WebSocketLike,
} from "./connection";
export {
  ChannelError,
  ClosedError,
  DisconnectedError,
  type ErrorCode,
  RejectedError,
  RemoteError,
  TimeoutError,
  type WireError,
} from "./errors";
export { type DomEventData, type Op, PROTOCOL_VERSION, shouldReconnect, type VElement, type VNode } from "./protocol";
export { PulseRoot, type PulseRootProps, describeEvent } from "./root";
export { TreeStore, applyOps } from "./tree";
export { PulseProvider, useConnectionState, usePulseChannel, usePulseConnection } from "./react";

/** A channel id of the channel named `N`, as the server hands it to a client component. */
export type ChannelId<N extends string = string> = string & { readonly __pulseChannel?: N };

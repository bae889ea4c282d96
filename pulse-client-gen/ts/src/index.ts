// @pulse-rs/client: the browser side of Pulse for Rust.

export {
  ClientChannel,
  type ChannelShape,
  type Delivered,
  type FallibleRequest,
  type HistoryStart,
  type Outcome,
  type PresenceEntry,
  type Present,
  type RequestOptions,
  type TypedChannel,
} from "./channel.js";
export {
  type CloseInfo,
  type ConnectionOptions,
  type ConnectionState,
  type ConnectionStatus,
  PulseConnection,
  type Refusal,
  type ServerError,
  type WebSocketConstructor,
  type WebSocketLike,
} from "./connection.js";
export {
  ChannelError,
  ClosedError,
  DisconnectedError,
  type ErrorCode,
  FailedError,
  type KnownErrorCode,
  RejectedError,
  RemoteError,
  TimeoutError,
  type WireError,
} from "./errors.js";
export {
  type AnnouncedLimits,
  CLOSE_CODES,
  type ChannelId,
  type ClientFrameType,
  type CloseCodeName,
  type DomEventData,
  type HistoryFrame,
  type HistoryPosition,
  type PresenceFrame,
  MAX_JSON_DEPTH,
  type Op,
  PROTOCOL_VERSION,
  type ServerFrameType,
  type VElement,
  type VNode,
  mustNotReconnect,
  shouldReconnect,
} from "./protocol.js";
export { type FirstPaint, firstPaint } from "./first-paint.js";
export { mountPage } from "./mount.js";
export { PulseRoot, type PulseRootProps, describeEvent } from "./root.js";
export { type Href, type LinkClick, followLink, href, pathRest, pathSegment } from "./routes.js";
export { TreeStore, applyOps } from "./tree.js";
export {
  Link,
  type LinkProps,
  PulseProvider,
  type Reducers,
  useChannelState,
  useConnectionState,
  useConnectionStatus,
  usePresence,
  usePulseChannel,
  usePulseConnection,
} from "./react.js";

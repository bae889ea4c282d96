// The connection's options: what a page may set, and the defaults of the rest.

import { defaultUrl } from "./protocol.js";
import type { WebSocketConstructor } from "./transport.js";
import { endpointUrl } from "./urls.js";

export interface ConnectionOptions {
  /**
   * The server's WebSocket URL; default `ws(s)://<page host>/ws`. The protocol version
   * (`?v=1`) is added unless the URL names one. Several URLs (the nodes of a cluster):
   * the connection uses one until connecting to it fails, then the next. On another
   * node the session cannot be resumed: the client gets a new one, and each room with
   * history replays what it missed.
   */
  url?: string | readonly string[];
  /**
   * Query parameters added to the URL, which the server reads with `session.param(name)`
   * (and the authentication hook with `request.query(name)`): `{ room: "lobby" }`.
   */
  params?: Record<string, string>;
  /**
   * Whether to send the page's address (`location.pathname` and `location.search`, as
   * they are at each connect) in the `page` parameter, so the server reads the page's
   * own query with `session.param(name)` and its path with `session.page_path()`.
   * Default: true where there is a page.
   */
  page?: boolean;
  /** The WebSocket implementation; default `globalThis.WebSocket`. */
  WebSocket?: WebSocketConstructor;
  /** Timeout of client requests unless one sets its own. Default 10 000 ms. */
  requestTimeoutMs?: number;
  /** Delays between reconnect attempts (the last repeats), each with ±50% jitter. */
  backoffMs?: readonly number[];
  /**
   * Events each channel keeps for listeners and `useChannelState` that come later (a
   * component that mounts late, or again). Default 1000; a channel with history keeps
   * at least as many as its room (the server says how many).
   */
  maxBufferedEvents?: number;
}

/** The options with the defaults filled in. */
export type ResolvedOptions = Required<Omit<ConnectionOptions, "url" | "WebSocket" | "params" | "page">> & {
  page: boolean;
  /** The URLs given, as the connection connects to them (the cluster's nodes come after them). */
  urls: string[];
  params: Record<string, string>;
  WebSocket: WebSocketConstructor;
};

const DEFAULT_BACKOFF = [100, 250, 500, 1000, 2000, 5000] as const;

/** `options` with the defaults filled in. */
export function resolveOptions(options: ConnectionOptions): ResolvedOptions {
  const WebSocketImpl = options.WebSocket ?? (globalThis.WebSocket as unknown as WebSocketConstructor);
  const params = options.params ?? {};
  return {
    urls: (typeof options.url === "string" ? [options.url] : [...(options.url ?? [defaultUrl()])]).map((url) =>
      endpointUrl(url, params),
    ),
    params,
    WebSocket: WebSocketImpl,
    page: options.page ?? true,
    requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
    backoffMs: options.backoffMs ?? DEFAULT_BACKOFF,
    maxBufferedEvents: options.maxBufferedEvents ?? 1000,
  };
}

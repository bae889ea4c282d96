// The connection: one WebSocket per session, reconnect with backoff, request
// correlation with timeouts, and routing of server frames to channels.

import { type Carried, ClientChannel } from "./channel.js";
import { type ChannelError, DisconnectedError, TimeoutError, type WireError, errorFromWire } from "./errors.js";
import {
  CLOSE_CODES,
  type ClientFrame,
  type DomEventData,
  type HelloFrame,
  type HistoryPosition,
  type ServerFrame,
  defaultUrl,
  mustNotReconnect,
} from "./protocol.js";
import { PAGE_PARAM, PROBE_ORIGIN_HEADER, PROBE_PARAM, PROTOCOL_VERSION } from "./generated/protocol.js";

/** What `new WebSocket(url)` needs to be: the browser's, or `ws` in Node. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

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

export type ConnectionState = "connecting" | "open" | "reconnecting" | "closed";

/** Why the connection last closed, as the server said it. */
export interface CloseInfo {
  code: number;
  reason: string;
}

/** Why the server refuses this client's connection: the HTTP status and the server's words. */
export interface Refusal {
  status: number;
  reason: string;
}

/** What a page shows of its connection (see `useConnectionStatus`). */
export interface ConnectionStatus {
  state: ConnectionState;
  /** While reconnecting: when the next attempt is made (milliseconds since the epoch). */
  retryAt: number | null;
  /**
   * Why the server refuses the connection, when it does: an upgrade the browser saw fail
   * is asked about (a probe of the same URL), since the browser cannot read the refusal.
   * `null` once a connection is taken.
   */
  refused: Refusal | null;
  /** How the last connection ended, if one did. */
  lastClose: CloseInfo | null;
}

/** A frame the server refused, reported on the connection. */
export interface ServerError extends WireError {
  channel?: string;
  event?: string;
}

interface Pending {
  channel: string;
  event: string;
  resolve: (value: unknown) => void;
  reject: (error: ChannelError) => void;
  timer: ReturnType<typeof setTimeout>;
}

const DEFAULT_BACKOFF = [100, 250, 500, 1000, 2000, 5000] as const;
/** Frames kept while the session waits to be resumed. */
const MAX_OUTBOX = 256;
/** Closed channels remembered (so a late hook sees "closed", not "pending"). */
const MAX_CLOSED_CHANNELS = 256;
/** How long a connection may take to say hello before the next URL is tried. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Rooms whose history position is remembered (the most recent); the server reads as many. */
const MAX_POSITIONS = 64;
/** A failed handshake's reason is asked for at most this often. */
const PROBE_EVERY_MS = 30_000;
/** The longest refusal reason kept. */
const MAX_REASON = 2000;

type FrameListener = (frame: ServerFrame) => void;

export class PulseConnection {
  private socket: WebSocketLike | null = null;
  private readonly channels = new Map<string, ClientChannel>();
  private readonly pending = new Map<number, Pending>();
  private nextRequestId = 1;
  private outbox: ClientFrame[] = [];
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private watchdog: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private readonly stateListeners = new Set<(state: ConnectionState) => void>();
  private readonly statusListeners = new Set<(status: ConnectionStatus) => void>();
  private currentStatus: ConnectionStatus = { state: "connecting", retryAt: null, refused: null, lastClose: null };
  private retryAt: number | null = null;
  private refused: Refusal | null = null;
  private lastProbe = Number.NEGATIVE_INFINITY;
  private probing = false;
  private readonly errorListeners = new Set<(error: ServerError) => void>();
  private readonly frameListeners = new Set<FrameListener>();
  /** Where this client stands in each room's history it has seen, by topic; kept across sessions. */
  private readonly positions = new Map<string, HistoryPosition>();
  /** What the lost session's channels in rooms with history delivered, by topic, for the next session's. */
  private carried = new Map<string, Carried>();
  private readonly options: Required<Omit<ConnectionOptions, "url" | "WebSocket" | "params" | "page">> & {
    page: boolean;
    urls: string[];
    params: Record<string, string>;
    WebSocket: WebSocketConstructor;
  };
  /** Which of the URLs the connection uses. */
  private urlIndex = 0;
  /** The URLs it was given (the server's nodes come after them). */
  private readonly configuredUrls: string[];

  state: ConnectionState = "connecting";
  /** The current session id (from `hello`). */
  sessionId: string | null = null;
  hello: HelloFrame | null = null;
  /** The last session frame's sequence number. */
  lastSeq = 0;
  /** How the last connection ended, if it did. */
  lastClose: CloseInfo | null = null;

  /** Handles holding the connection open (see `retain`). */
  private holders = 0;
  private releaseTimer: ReturnType<typeof setTimeout> | null = null;
  private started = false;

  /** A connection; nothing is opened until `start` (or `retain`). */
  constructor(options: ConnectionOptions = {}) {
    const WebSocketImpl = options.WebSocket ?? (globalThis.WebSocket as unknown as WebSocketConstructor);
    const params = options.params ?? {};
    this.options = {
      urls: (typeof options.url === "string" ? [options.url] : [...(options.url ?? [defaultUrl()])]).map((url) =>
        withParams(withVersion(url), params),
      ),
      params,
      WebSocket: WebSocketImpl,
      page: options.page ?? true,
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      backoffMs: options.backoffMs ?? DEFAULT_BACKOFF,
      maxBufferedEvents: options.maxBufferedEvents ?? 1000,
    };
    this.configuredUrls = [...this.options.urls];
  }

  /** Opens the connection (once; later calls do nothing). Returns `this`. */
  start(): this {
    if (!this.started && !this.stopped) {
      this.started = true;
      this.open();
    }
    return this;
  }

  /**
   * Holds the connection open for a component: starts it if needed. Each `retain` is
   * paired with a `release`; the connection closes a tick after the last release, so
   * React's StrictMode (mount, unmount, mount again) keeps one connection and one session.
   */
  retain(): void {
    this.holders += 1;
    if (this.releaseTimer) {
      clearTimeout(this.releaseTimer);
      this.releaseTimer = null;
    }
    this.start();
  }

  release(): void {
    this.holders = Math.max(0, this.holders - 1);
    if (this.holders > 0 || this.releaseTimer) return;
    this.releaseTimer = setTimeout(() => {
      this.releaseTimer = null;
      if (this.holders === 0) this.close();
    }, 0);
  }

  /** Runs the server-side DOM handler `id` with what the browser knows of the event. */
  sendCallback(id: string, data: DomEventData): void {
    this.send({ t: "callback", callback: id, data });
  }

  /** The channel with `id`; made on first use, so a hook may ask before `open` arrives. */
  channel(id: string): ClientChannel {
    let channel = this.channels.get(id);
    if (!channel) {
      channel = new ClientChannel(id, this, this.options.maxBufferedEvents);
      this.channels.set(id, channel);
    }
    return channel;
  }

  /** Ends the connection for good. */
  close(): void {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.watchdog) clearTimeout(this.watchdog);
    this.socket?.close(1000, "client closed");
    this.lastClose = { code: 1000, reason: "client closed" };
    this.sessionLost();
    this.carried.clear();
    this.setState("closed");
  }

  onStateChange(listener: (state: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** What a page shows of the connection: its state, the next try, a refusal's reason. */
  get status(): ConnectionStatus {
    return this.currentStatus;
  }

  /** Calls `listener` whenever `status` changes (a new object each time). */
  onStatusChange(listener: (status: ConnectionStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  /** Errors the server reported about frames that had no request to fail. */
  onServerError(listener: (error: ServerError) => void): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  /** Every server frame, after the connection handled it (for renderers and tools). */
  onFrame(listener: FrameListener): () => void {
    this.frameListeners.add(listener);
    return () => this.frameListeners.delete(listener);
  }

  /** @internal */
  send(frame: ClientFrame): boolean {
    const socket = this.socket;
    if (!socket || socket.readyState !== 1 || this.state !== "open") {
      if (frame.t === "pong") return false;
      // While the session waits to be resumed, frames wait with it (bounded).
      if (this.sessionId !== null && this.state === "reconnecting" && this.outbox.length < MAX_OUTBOX) {
        this.outbox.push(frame);
        return true;
      }
      console.warn(`pulse: not connected; \`${frame.t}\` frame dropped`);
      return false;
    }
    socket.send(JSON.stringify(frame));
    return true;
  }

  /** @internal */
  request(channel: string, event: string, payload: unknown, timeoutMs?: number): Promise<unknown> {
    const resumable = this.state === "reconnecting" && this.sessionId !== null;
    if (this.state !== "open" && !resumable) return Promise.reject(new DisconnectedError(event));
    const id = this.nextRequestId++;
    const timeout = timeoutMs ?? this.options.requestTimeoutMs;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TimeoutError(event, timeout));
      }, timeout);
      this.pending.set(id, { channel, event, resolve, reject, timer });
      this.send({ t: "request", channel, id, event, payload });
    });
  }

  /** @internal Fails the pending requests of one channel (or all, with `null`). */
  failPending(channel: string | null, error: (event: string) => ChannelError): void {
    for (const [id, p] of this.pending) {
      if (channel !== null && p.channel !== channel) continue;
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.reject(error(p.event));
    }
  }

  private open(): void {
    this.setState(this.attempt === 0 ? "connecting" : "reconnecting");
    // A session this client had is asked back, with the last frame it saw; and where
    // it stands in each room's history, for a new session if that one is gone.
    const base = this.options.urls[this.urlIndex % this.options.urls.length] ?? defaultUrl();
    let url = this.sessionId === null ? base : `${base}&resume=${this.sessionId}&last_seq=${this.lastSeq}`;
    const page = this.options.page ? pageAddress() : null;
    if (page !== null) url += `&${PAGE_PARAM}=${encodeURIComponent(page)}`;
    if (this.positions.size > 0) {
      url += `&since=${encodeURIComponent(JSON.stringify([...this.positions.values()]))}`;
    }
    let socket: WebSocketLike;
    try {
      socket = new this.options.WebSocket(url);
    } catch (error) {
      console.error("pulse: cannot open WebSocket", error);
      this.urlIndex += 1;
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    // A server that never said hello is tried no more: the next attempt goes to the next URL.
    // One that does not answer at all (a host that is down) is given up after a while.
    let greeted = false;
    const giveUp = setTimeout(() => {
      if (!greeted && this.socket === socket) socket.close();
    }, CONNECT_TIMEOUT_MS);
    socket.onmessage = (event) => {
      if (this.socket !== socket) return;
      this.armWatchdog();
      if (typeof event.data !== "string") return;
      let frame: ServerFrame;
      try {
        // The one place frames become typed: channel ids in `open` frames are `ChannelId`s.
        frame = JSON.parse(event.data) as ServerFrame;
      } catch {
        console.warn("pulse: undecodable frame dropped");
        return;
      }
      if (frame.t === "hello") {
        greeted = true;
        clearTimeout(giveUp);
      }
      this.handle(frame);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.watchdog) clearTimeout(this.watchdog);
      this.lastClose = { code: event.code, reason: event.reason };
      clearTimeout(giveUp);
      if (!greeted) this.urlIndex += 1;
      if (this.stopped) return;
      // A handshake the browser saw fail (1006, no hello): ask the server why.
      if (!greeted && event.code === 1006) this.probe(url);
      if (mustNotReconnect(event.code)) {
        this.sessionLost();
        console.error(`pulse: server closed the connection for good: ${event.code} ${event.reason}`);
        this.setState("closed");
        return;
      }
      // An overloaded server asks for patience: wait the longest step of the backoff.
      if (event.code === CLOSE_CODES.overloaded) this.attempt = Math.max(this.attempt, this.options.backoffMs.length - 1);
      this.scheduleReconnect();
    };
    socket.onerror = () => {
      // A close event always follows; reconnecting is decided there.
    };
  }

  private handle(frame: ServerFrame): void {
    if ("seq" in frame) {
      if (frame.seq !== this.lastSeq + 1) {
        console.warn(`pulse: frame ${frame.seq} after ${this.lastSeq}: frames were lost`);
      }
      this.lastSeq = frame.seq;
    }
    switch (frame.t) {
      case "hello": {
        this.hello = frame;
        this.learnNodes(frame.nodes ?? []);
        this.attempt = 0;
        this.retryAt = null;
        this.refused = null;
        if (frame.resumed) {
          // The same session: the frames missed follow, then what waited here goes out.
          this.setState("open");
          for (const waiting of this.outbox.splice(0)) this.send(waiting);
        } else {
          if (this.sessionId !== null) this.sessionLost();
          this.sessionId = frame.session;
          this.lastSeq = 0;
          this.setState("open");
        }
        break;
      }
      case "ping":
        this.send({ t: "pong" });
        break;
      case "nodes":
        this.learnNodes(frame.nodes);
        break;
      case "open": {
        const channel = this.channel(frame.channel);
        channel.markOpen(frame.name, frame.room);
        const key = roomOf(channel);
        const carried = this.carried.get(key);
        if (carried) {
          this.carried.delete(key);
          channel.carryOn(carried);
        }
        break;
      }
      case "close":
        this.channels.get(frame.channel)?.markClosed(frame.reason);
        this.pruneClosed();
        break;
      case "emit":
        this.channels.get(frame.channel)?.deliver(frame.event, frame.payload);
        break;
      case "history": {
        this.remember(frame.name, frame.room, frame.epoch, frame.offset);
        const roomKey = frame.room === undefined ? "" : JSON.stringify(frame.room);
        for (const channel of this.channels.values()) {
          if (channel.name === frame.name && channel.roomKey === roomKey && channel.state === "open") {
            channel.historyStarts(
              { recovered: frame.recovered, epoch: frame.epoch, offset: frame.offset, top: frame.top },
              frame.keep,
            );
          }
        }
        break;
      }
      case "presence": {
        const roomKey = frame.room === undefined ? "" : JSON.stringify(frame.room);
        for (const channel of this.channels.values()) {
          if (channel.name === frame.name && channel.roomKey === roomKey && channel.state === "open") {
            channel.presenceChanged(frame);
          }
        }
        break;
      }
      case "broadcast": {
        if (frame.epoch !== undefined && frame.offset !== undefined) {
          this.remember(frame.name, frame.room, frame.epoch, frame.offset);
        }
        const roomKey = frame.room === undefined ? "" : JSON.stringify(frame.room);
        for (const channel of this.channels.values()) {
          if (channel.name === frame.name && channel.roomKey === roomKey && channel.state === "open") {
            channel.deliver(frame.event, frame.payload);
          }
        }
        break;
      }
      case "request": {
        const channel = this.channels.get(frame.channel);
        if (channel && !channel.closed) {
          channel.serverRequest(frame.id, frame.event, frame.payload);
        } else {
          this.send({
            t: "answer",
            channel: frame.channel,
            id: frame.id,
            error: { code: "unknown_channel", message: "this client has no such channel open" },
          });
        }
        break;
      }
      case "answer": {
        const p = this.pending.get(frame.id);
        if (!p) break;
        this.pending.delete(frame.id);
        clearTimeout(p.timer);
        if (frame.error) p.reject(errorFromWire(p.event, frame.error));
        else p.resolve(frame.ok ?? null);
        break;
      }
      case "error": {
        const error: ServerError = { code: frame.code, message: frame.message };
        if (frame.channel !== undefined) error.channel = frame.channel;
        if (frame.event !== undefined) error.event = frame.event;
        if (this.errorListeners.size === 0) console.warn(`pulse: server refused a frame: ${frame.code}: ${frame.message}`);
        for (const listener of [...this.errorListeners]) listener(error);
        break;
      }
    }
    for (const listener of [...this.frameListeners]) listener(frame);
  }

  /**
   * The cluster's nodes the server named (in `hello`, and in `nodes` when they change):
   * tried after the URLs this connection was given, in the order named, when its node
   * stops answering.
   */
  private learnNodes(nodes: string[]): void {
    const current = this.options.urls[this.urlIndex % this.options.urls.length];
    const urls = [...this.configuredUrls];
    for (const node of nodes) {
      const url = withParams(withVersion(node), this.options.params);
      if (!urls.some((known) => sameEndpoint(known, url))) urls.push(url);
    }
    // The list is the server's current one: nodes gone from it are dropped.
    this.options.urls = urls;
    this.urlIndex = Math.max(0, current === undefined ? 0 : urls.findIndex((url) => url === current));
  }

  /** Where this client stands in the history of channel `name`'s room `room`, if it has seen it. */
  position(name: string, room?: unknown): HistoryPosition | null {
    return this.positions.get(topicKey(name, room)) ?? null;
  }

  private remember(name: string, room: unknown, epoch: string, offset: number): void {
    const key = topicKey(name, room);
    this.positions.delete(key);
    this.positions.set(key, room === undefined ? { name, epoch, offset } : { name, room, epoch, offset });
    if (this.positions.size > MAX_POSITIONS) {
      const oldest = this.positions.keys().next().value;
      if (oldest !== undefined) this.positions.delete(oldest);
    }
  }

  /** The session is gone (ended, or could not be resumed): its channels and requests with it. */
  private sessionLost(): void {
    this.sessionId = null;
    this.outbox = [];
    this.failPending(null, (event) => new DisconnectedError(event));
    // What each room's channel delivered goes to the next session's channel there (what
    // an earlier loss left and no channel took yet stays). A room with two channels is
    // ambiguous: neither is carried.
    const carried = new Map<string, Carried | null>();
    for (const channel of this.channels.values()) {
      if (channel.name === null || channel.closed) continue;
      const key = roomOf(channel);
      carried.set(key, carried.has(key) ? null : channel.carry());
    }
    for (const channel of this.channels.values()) channel.markClosed("disconnected", true);
    for (const [key, carry] of carried) {
      if (carry) this.carried.set(key, carry);
      else this.carried.delete(key); // ambiguous, or not a room with history
    }
    this.channels.clear();
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const delays = this.options.backoffMs;
    const base = delays[Math.min(this.attempt, delays.length - 1)] ?? 1000;
    const delay = base * (0.5 + Math.random());
    this.attempt += 1;
    this.retryAt = Date.now() + delay;
    this.setState("reconnecting");
    this.updateStatus();
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.open();
    }, delay);
  }

  /** A server that sends nothing (not even `ping`) for two heartbeats is presumed gone. */
  private armWatchdog(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    const heartbeat = this.hello?.heartbeat_ms;
    if (!heartbeat) return;
    this.watchdog = setTimeout(() => this.socket?.close(CLOSE_CODES.idle_timeout, "no heartbeat from server"), heartbeat * 2 + 5000);
  }

  private pruneClosed(): void {
    const closed = [...this.channels.values()].filter((c) => c.closed);
    for (const channel of closed.slice(0, Math.max(0, closed.length - MAX_CLOSED_CHANNELS))) {
      this.channels.delete(channel.id);
    }
  }

  private setState(state: ConnectionState): void {
    if (this.state !== state) {
      this.state = state;
      for (const listener of [...this.stateListeners]) listener(state);
    }
    this.updateStatus();
  }

  private updateStatus(): void {
    const { state, retryAt, refused, lastClose } = this;
    const now = this.currentStatus;
    if (now.state === state && now.retryAt === retryAt && now.refused === refused && now.lastClose === lastClose) return;
    this.currentStatus = { state, retryAt, refused, lastClose };
    for (const listener of [...this.statusListeners]) listener(this.currentStatus);
  }

  /**
   * Asks the server how it answers an upgrade of `wsUrl` (a plain `GET` with the probe
   * parameter), since the browser cannot read why one failed; at most once per
   * `PROBE_EVERY_MS`. A refusal is logged (once per reason) and kept in `status`, and
   * the connection waits the longest step of its backoff before each next try.
   */
  private probe(wsUrl: string): void {
    const fetchImpl = (globalThis as { fetch?: typeof fetch }).fetch;
    const now = Date.now();
    if (typeof fetchImpl !== "function" || this.probing || now - this.lastProbe < PROBE_EVERY_MS) return;
    let url: URL;
    try {
      url = new URL(wsUrl);
    } catch {
      return;
    }
    url.protocol = url.protocol === "wss:" ? "https:" : "http:";
    url.searchParams.set(PROBE_PARAM, "1");
    const headers: Record<string, string> = {};
    // A same-origin fetch sends no Origin: name it (a cross-origin one sends it itself).
    const page = (globalThis as { location?: { origin?: unknown; host?: unknown } }).location;
    if (typeof page?.origin === "string" && page.host === url.host) headers[PROBE_ORIGIN_HEADER] = page.origin;
    this.probing = true;
    this.lastProbe = now;
    fetchImpl(url.toString(), { headers, cache: "no-store" })
      .then(async (response) => {
        if (response.ok || this.stopped) return;
        const reason = (await response.text()).slice(0, MAX_REASON).trim();
        // Not a refusal: a proxy's error without words (the server is down, say a dev
        // server's proxy while it restarts), or an answer that came after the connection
        // got through.
        if (reason === "" || [502, 504].includes(response.status) || this.state === "open") return;
        if (this.refused?.reason !== reason) {
          console.error(`pulse: the server refuses this page's connection (HTTP ${response.status}): ${reason}`);
        }
        this.refused = { status: response.status, reason };
        this.attempt = Math.max(this.attempt, this.options.backoffMs.length - 1);
        this.updateStatus();
      })
      // The server cannot be reached at all: the connection's failure says as much.
      .catch(() => {})
      .finally(() => {
        this.probing = false;
      });
  }
}

/** The page's path and query, where there is a page. */
function pageAddress(): string | null {
  const location = (globalThis as { location?: { pathname?: unknown; search?: unknown } }).location;
  if (typeof location?.pathname !== "string") return null;
  return location.pathname + (typeof location.search === "string" ? location.search : "");
}

/** A room's topic as the server spells it: `name`, or `name:<room as JSON>`. */
function topicKey(name: string, room: unknown): string {
  return room === undefined ? name : `${name}:${JSON.stringify(room)}`;
}

/** The room an open channel is in (its name and room key), as what it delivered is carried by. */
function roomOf(channel: ClientChannel): string {
  return `${channel.name}:${channel.roomKey}`;
}

/** `url` with the protocol version in its query (`?v=1`) unless it says one. */
function withVersion(url: string): string {
  if (/[?&]v=/.test(url)) return url;
  return `${url}${url.includes("?") ? "&" : "?"}v=${PROTOCOL_VERSION}`;
}

/** Whether two URLs name the same endpoint (scheme, host, port and path; the query aside). */
function sameEndpoint(a: string, b: string): boolean {
  const endpoint = (url: string) => url.split("?")[0]?.replace(/\/+$/, "").toLowerCase();
  return endpoint(a) === endpoint(b);
}

/** `url` with `params` appended to its query string, each percent-encoded. */
function withParams(url: string, params: Record<string, string>): string {
  const query = Object.entries(params)
    .map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`)
    .join("&");
  if (!query) return url;
  return `${url}${url.includes("?") ? "&" : "?"}${query}`;
}

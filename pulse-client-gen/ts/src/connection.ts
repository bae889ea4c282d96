// The connection: one client's session with the server, coordinated. It opens the
// transport to the URL failover picks, asks for the session back (or carries its
// channels on to a new one), answers the session's own frames, hands the others to the
// pending requests and the channels, reconnects with backoff, and reports its status.

import type { ClientChannel } from "./channel.js";
import { type ChannelError, DisconnectedError } from "./errors.js";
import { NodeList } from "./failover.js";
import { type FirstPaint, firstPaintFor, takeFirstPaint } from "./first-paint.js";
import { Holders } from "./holders.js";
import { type ConnectionOptions, type ResolvedOptions, resolveOptions } from "./options.js";
import { HistoryPositions } from "./positions.js";
import { type ProbeHost, RefusalProbe } from "./probe.js";
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
import { PendingRequests } from "./requests.js";
import { Carryover, Outbox } from "./resume.js";
import { ChannelRouter } from "./routing.js";
import { type ServerError, ServerErrors } from "./server-errors.js";
import { type CloseInfo, type ConnectionState, type ConnectionStatus, type Refusal, StatusReporter } from "./status.js";
import { Backoff, Transport } from "./transport.js";
import { connectUrl, pageAddress } from "./urls.js";

export type { ConnectionOptions } from "./options.js";
export type { ServerError } from "./server-errors.js";
export type { CloseInfo, ConnectionState, ConnectionStatus, Refusal } from "./status.js";
export type { WebSocketConstructor, WebSocketLike } from "./transport.js";

type FrameListener = (frame: ServerFrame) => void;

export class PulseConnection {
  private readonly transport: Transport;
  private readonly router: ChannelRouter;
  private readonly requests = new PendingRequests();
  /** The URLs the connection may use: those it was given, then the server's nodes. */
  private readonly nodes: NodeList;
  private readonly backoff: Backoff;
  private readonly refusalProbe = new RefusalProbe();
  /** What the probe of a refused upgrade reads of the connection, and what it changes. */
  private readonly probeHost: ProbeHost = {
    stopped: () => this.stopped,
    open: () => this.state === "open",
    refused: () => this.refused,
    refuse: (refusal) => {
      this.refused = refusal;
      this.backoff.longest();
      this.updateStatus();
    },
  };
  /** Frames sent while the session waits to be resumed. */
  private readonly outbox = new Outbox();
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private readonly reporter = new StatusReporter();
  private retryAt: number | null = null;
  private refused: Refusal | null = null;
  private readonly serverErrors = new ServerErrors();
  private readonly frameListeners = new Set<FrameListener>();
  /** Where this client stands in each room's history it has seen, by topic; kept across sessions. */
  private readonly positions = new HistoryPositions();
  /** What the lost session's channels in rooms with history delivered, by topic, for the next session's. */
  private readonly carryover = new Carryover();
  private readonly options: ResolvedOptions;

  state: ConnectionState = "connecting";
  /** The current session id (from `hello`). */
  sessionId: string | null = null;
  hello: HelloFrame | null = null;
  /** The last session frame's sequence number. */
  lastSeq = 0;
  /** How the last connection ended, if it did. */
  lastClose: CloseInfo | null = null;

  /** The session is the one that rendered the page, not greeted yet. */
  private fromPage = false;
  /** Handles holding the connection open (see `retain`). */
  private readonly holders = new Holders();
  private started = false;

  /** A connection; nothing is opened until `start` (or `retain`). */
  constructor(options: ConnectionOptions = {}) {
    this.options = resolveOptions(options);
    this.nodes = new NodeList(this.options.urls, this.options.params);
    this.backoff = new Backoff(this.options.backoffMs);
    this.router = new ChannelRouter(this, this.options.maxBufferedEvents, this.carryover);
    this.transport = new Transport(this.options.WebSocket, {
      heartbeatMs: () => this.hello?.heartbeat_ms,
      frame: (frame) => this.handle(frame),
      closed: (event, greeted, url) => this.closed(event, greeted, url),
    });
  }

  /** Opens the connection (once; later calls do nothing). Returns `this`. */
  start(): this {
    if (!this.started && !this.stopped) {
      this.started = true;
      this.continuePage();
      this.open();
    }
    return this;
  }

  /**
   * The page the server rendered, if this connection is to continue it: asked before the
   * connection starts (by `PulseRoot`, whose first render must be the page's HTML). Once
   * started, its frames have moved past the page: `null`.
   */
  get page(): FirstPaint | null {
    return this.options.page && !this.started ? firstPaintFor(this) : null;
  }

  /** A page the server rendered: its session is this connection's, resumed from its start. */
  private continuePage(): void {
    const paint = this.options.page && this.sessionId === null ? takeFirstPaint(this) : null;
    if (paint?.session) {
      this.sessionId = paint.session;
      this.lastSeq = 0;
      this.fromPage = true;
    }
  }

  /**
   * Holds the connection open for a component: starts it if needed. Each `retain` is
   * paired with a `release`; the connection closes a tick after the last release, so
   * React's StrictMode (mount, unmount, mount again) keeps one connection and one session.
   */
  retain(): void {
    this.holders.retain();
    this.start();
  }

  release(): void {
    this.holders.release(() => this.close());
  }

  /** Runs the server-side DOM handler `id` with what the browser knows of the event. */
  sendCallback(id: string, data: DomEventData): void {
    this.send({ t: "callback", callback: id, data });
  }

  /**
   * Goes to page `href` of the app without a reload: the browser's address and history
   * follow (`pushState`, or `replaceState` with `replace`), and the server renders the
   * page over this connection.
   */
  navigate(href: string, options: { replace?: boolean } = {}): void {
    if (options.replace) globalThis.history.replaceState(null, "", href);
    else globalThis.history.pushState(null, "", href);
    this.followLocation();
  }

  /** Tells the server the page the browser is on now (after back or forward). */
  followLocation(): void {
    const { pathname, search } = globalThis.location;
    this.send({ t: "navigate", path: `${pathname}${search}` });
  }

  /** The channel with `id`; made on first use, so a hook may ask before `open` arrives. */
  channel(id: string): ClientChannel {
    return this.router.channel(id);
  }

  /** Ends the connection for good. */
  close(): void {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.transport.close(1000, "client closed");
    this.lastClose = { code: 1000, reason: "client closed" };
    this.sessionLost();
    this.carryover.clear();
    this.setState("closed");
  }

  onStateChange(listener: (state: ConnectionState) => void): () => void {
    return this.reporter.onState(listener);
  }

  /** What a page shows of the connection: its state, the next try, a refusal's reason. */
  get status(): ConnectionStatus {
    return this.reporter.current;
  }

  /** Calls `listener` whenever `status` changes (a new object each time). */
  onStatusChange(listener: (status: ConnectionStatus) => void): () => void {
    return this.reporter.onStatus(listener);
  }

  /** Errors the server reported about frames that had no request to fail. */
  onServerError(listener: (error: ServerError) => void): () => void {
    return this.serverErrors.on(listener);
  }

  /** Every server frame, after the connection handled it (for renderers and tools). */
  onFrame(listener: FrameListener): () => void {
    this.frameListeners.add(listener);
    return () => this.frameListeners.delete(listener);
  }

  /** @internal */
  send(frame: ClientFrame): boolean {
    if (!this.transport.ready || this.state !== "open") {
      if (frame.t === "pong") return false;
      // While the session waits to be resumed (or, for a page the server rendered, to
      // be attached), frames wait with it (bounded).
      if (this.resuming && this.outbox.push(frame)) return true;
      console.warn(`pulse: not connected; \`${frame.t}\` frame dropped`);
      return false;
    }
    this.transport.send(JSON.stringify(frame));
    return true;
  }

  /** @internal */
  request(channel: string, event: string, payload: unknown, timeoutMs?: number): Promise<unknown> {
    if (this.state !== "open" && !this.resuming) return Promise.reject(new DisconnectedError(event));
    const timeout = timeoutMs ?? this.options.requestTimeoutMs;
    return this.requests.start(channel, event, timeout, (id) => this.send({ t: "request", channel, id, event, payload }));
  }

  /** Not open, with a session to resume: frames and requests wait for it. */
  private get resuming(): boolean {
    return this.sessionId !== null && (this.state === "reconnecting" || this.state === "connecting");
  }

  /** @internal Fails the pending requests of one channel (or all, with `null`). */
  failPending(channel: string | null, error: (event: string) => ChannelError): void {
    this.requests.fail(channel, error);
  }

  /** Where this client stands in the history of channel `name`'s room `room`, if it has seen it. */
  position(name: string, room?: unknown): HistoryPosition | null {
    return this.positions.get(name, room);
  }

  private open(): void {
    this.setState(this.backoff.attempt === 0 ? "connecting" : "reconnecting");
    const url = connectUrl(this.nodes.current() ?? defaultUrl(), {
      resume: this.sessionId === null ? null : { session: this.sessionId, lastSeq: this.lastSeq },
      page: this.options.page ? pageAddress() : null,
      since: this.positions.all(),
    });
    if (!this.transport.connect(url)) {
      this.nodes.next();
      this.scheduleReconnect();
    }
  }

  /** The socket to `url` closed: the next URL if it never said hello, and a reconnect unless the server forbids one. */
  private closed(event: { code: number; reason: string }, greeted: boolean, url: string): void {
    this.lastClose = { code: event.code, reason: event.reason };
    if (!greeted) this.nodes.next();
    if (this.stopped) return;
    // A handshake the browser saw fail (1006, no hello): ask the server why.
    if (!greeted && event.code === 1006) this.refusalProbe.probe(url, this.probeHost);
    if (mustNotReconnect(event.code)) {
      this.sessionLost();
      console.error(`pulse: server closed the connection for good: ${event.code} ${event.reason}`);
      this.setState("closed");
      return;
    }
    // An overloaded server asks for patience: wait the longest step of the backoff.
    if (event.code === CLOSE_CODES.overloaded) this.backoff.longest();
    this.scheduleReconnect();
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
        this.nodes.learn(frame.nodes ?? []);
        this.backoff.reset();
        this.retryAt = null;
        this.refused = null;
        const fromPage = this.fromPage;
        this.fromPage = false;
        if (frame.resumed) {
          // The same session: the frames missed follow, then what waited here goes out.
          this.setState("open");
          for (const waiting of this.outbox.take()) this.send(waiting);
        } else {
          if (fromPage) {
            console.debug("pulse: the session that rendered this page has ended; a new one renders it afresh");
          }
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
        this.nodes.learn(frame.nodes);
        break;
      case "history":
        this.positions.remember(frame.name, frame.room, frame.epoch, frame.offset);
        this.router.route(frame);
        break;
      case "broadcast":
        if (frame.epoch !== undefined && frame.offset !== undefined) {
          this.positions.remember(frame.name, frame.room, frame.epoch, frame.offset);
        }
        this.router.route(frame);
        break;
      case "answer":
        this.requests.answer(frame);
        break;
      case "error":
        this.serverErrors.report(frame);
        break;
      case "tree":
      case "patch":
      case "page":
      case "render_error":
        // The server-rendered tree's: the frame listeners' alone (`PulseRoot`).
        break;
      default:
        // A channel's frame (`open`, `close`, `emit`, `presence`, `request`). A frame
        // type placed nowhere above and in no `ChannelFrame` fails to type-check here.
        this.router.route(frame);
    }
    for (const listener of [...this.frameListeners]) listener(frame);
  }

  /** The session is gone (ended, or could not be resumed): its channels and requests with it. */
  private sessionLost(): void {
    this.sessionId = null;
    this.outbox.clear();
    this.failPending(null, (event) => new DisconnectedError(event));
    this.router.sessionLost();
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const delay = this.backoff.next();
    this.retryAt = Date.now() + delay;
    this.setState("reconnecting");
    this.updateStatus();
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.open();
    }, delay);
  }

  private setState(state: ConnectionState): void {
    if (this.state !== state) {
      this.state = state;
      this.reporter.stateChanged(state);
    }
    this.updateStatus();
  }

  private updateStatus(): void {
    this.reporter.update(this.state, this.retryAt, this.refused, this.lastClose);
  }
}

// The transport: one WebSocket at a time, the frames it brings decoded, the time a
// server may take to say hello, the heartbeat watchdog, and the backoff between
// reconnect attempts.

import { CLOSE_CODES, type ServerFrame } from "./protocol.js";

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

/** How long a connection may take to say hello before the next URL is tried. */
const CONNECT_TIMEOUT_MS = 10_000;

/** What the transport tells the connection of its socket. */
export interface TransportEvents {
  /** The heartbeat the server announced (`hello.heartbeat_ms`), if it did. */
  heartbeatMs(): number | undefined;
  /** A frame came on the current socket. */
  frame(frame: ServerFrame): void;
  /** The current socket (to `url`) closed; `greeted` if its server said hello. */
  closed(event: { code: number; reason: string }, greeted: boolean, url: string): void;
}

/** The connection's socket: at most one current; what an earlier one does is ignored. */
export class Transport {
  private socket: WebSocketLike | null = null;
  private watchdog: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly WebSocket: WebSocketConstructor,
    private readonly events: TransportEvents,
  ) {}

  /** Opens a socket to `url`, the current one from now on; `false` if none could be made. */
  connect(url: string): boolean {
    let socket: WebSocketLike;
    try {
      socket = new this.WebSocket(url);
    } catch (error) {
      console.error("pulse: cannot open WebSocket", error);
      return false;
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
      this.events.frame(frame);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.watchdog) clearTimeout(this.watchdog);
      clearTimeout(giveUp);
      this.events.closed(event, greeted, url);
    };
    socket.onerror = () => {
      // A close event always follows; reconnecting is decided there.
    };
    return true;
  }

  /** Whether there is a socket and it is open. */
  get ready(): boolean {
    const socket = this.socket;
    return socket !== null && socket.readyState === 1;
  }

  /** Sends `data` on the current socket (see `ready`). */
  send(data: string): void {
    this.socket?.send(data);
  }

  /** Closes the current socket, if any (its close event still comes). */
  close(code: number, reason: string): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.socket?.close(code, reason);
  }

  /** A server that sends nothing (not even `ping`) for two heartbeats is presumed gone. */
  private armWatchdog(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    const heartbeat = this.events.heartbeatMs();
    if (!heartbeat) return;
    this.watchdog = setTimeout(() => this.socket?.close(CLOSE_CODES.idle_timeout, "no heartbeat from server"), heartbeat * 2 + 5000);
  }
}

/** The delays between reconnect attempts (the last repeats), each with ±50% jitter. */
export class Backoff {
  /** Attempts since the server last said hello. */
  attempt = 0;

  constructor(private readonly delays: readonly number[]) {}

  /** The delay before the next attempt, which it counts. */
  next(): number {
    const delays = this.delays;
    const base = delays[Math.min(this.attempt, delays.length - 1)] ?? 1000;
    const delay = base * (0.5 + Math.random());
    this.attempt += 1;
    return delay;
  }

  /** Waits the longest step from now on (until `reset`). */
  longest(): void {
    this.attempt = Math.max(this.attempt, this.delays.length - 1);
  }

  /** The server said hello: the next wait is the first step again. */
  reset(): void {
    this.attempt = 0;
  }
}

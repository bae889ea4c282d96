// One channel on the client: listeners, answerers, and the typed view over them.

import type { PulseConnection } from "./connection.js";
import { ClosedError, DisconnectedError, FailedError } from "./errors.js";

/** Options of one request. */
export interface RequestOptions {
  /** Fail with `TimeoutError` after this long (default: the connection's, 10 s). */
  timeoutMs?: number;
}

/** The event map of a channel, as `pulse-client-gen` writes it for each declaration. */
export type ChannelShape = {
  /** The room key type (`null` for a channel without rooms). */
  room: unknown;
  /** The presence metadata type (`null` for a channel that does not track presence). */
  presence: unknown;
  events: Record<string, unknown>;
  emits: Record<string, unknown>;
  /** `error` is the declared error type of a fallible request, `never` otherwise. */
  requests: Record<string, { payload: unknown; answer: unknown; error: unknown }>;
  answers: Record<string, { payload: unknown; answer: unknown }>;
};

/** One session in a room's presence list: its id and the metadata the server tracks it with. */
export interface PresenceEntry<M> {
  id: string;
  meta: M;
}

/** One user in a room's presence list, with each of their sessions (tabs). */
export interface Present<M> {
  user: string;
  sessions: PresenceEntry<M>[];
}

/** What a fallible request settles to: its answer, or the error its handler declared. */
export type Outcome<A, E> = { ok: true; value: A } | { ok: false; error: E };

/** The requests of `S` that declare an error type (`-> Result<T, E>` in Rust). */
export type FallibleRequest<S extends ChannelShape> = {
  [K in keyof S["requests"]]: [S["requests"][K]["error"]] extends [never] ? never : K;
}[keyof S["requests"]] &
  string;

/** An event without payload may be called without one. */
type PayloadArgs<P> = [P] extends [null] ? [payload?: null] : [payload: P];
type RequestArgs<P> = [P] extends [null]
  ? [payload?: null, options?: RequestOptions]
  : [payload: P, options?: RequestOptions];

/**
 * A channel typed by its declaration: `on`, `emit`, `request` and `answer` accept only
 * the declared event names, each with its own payload and answer type.
 */
export interface TypedChannel<S extends ChannelShape> {
  /** The channel id. */
  readonly id: string;
  /** Whether the channel has closed (the server closed it, or the connection ended). */
  readonly closed: boolean;
  /** The room this channel is in (`null` for a channel without rooms). */
  readonly room: S["room"];
  /**
   * Calls `listener` for each `event` the server sends from now on; returns the
   * unsubscribe function. Events that came while `event` had no listener at all are
   * given to the listeners registered by the end of the current task (so React's
   * StrictMode, which subscribes, unsubscribes and subscribes again, loses none). For
   * state built from events (a list, a count), use `useChannelState`: it sees every
   * event the channel has delivered, however often its component mounts.
   */
  on<E extends keyof S["events"] & string>(event: E, listener: (payload: S["events"][E]) => void): () => void;
  /** Sends `event` to the server, fire-and-forget. */
  emit<E extends keyof S["emits"] & string>(event: E, ...payload: PayloadArgs<S["emits"][E]>): void;
  /** Asks the server; resolves to its answer or rejects with a `ChannelError`. */
  request<E extends keyof S["requests"] & string>(
    event: E,
    ...args: RequestArgs<S["requests"][E]["payload"]>
  ): Promise<S["requests"][E]["answer"]>;
  /**
   * Asks the server a fallible request; resolves to `{ ok: true, value }` or to
   * `{ ok: false, error }` with the handler's declared error, so the caller can `switch`
   * on it. Rejects, like `request`, when the request itself fails (timeout, closed).
   */
  attempt<E extends FallibleRequest<S>>(
    event: E,
    ...args: RequestArgs<S["requests"][E]["payload"]>
  ): Promise<Outcome<S["requests"][E]["answer"], S["requests"][E]["error"]>>;
  /** Answers the server's `event` requests with `answerer`; returns the unsubscribe function. */
  answer<E extends keyof S["answers"] & string>(
    event: E,
    answerer: (
      payload: S["answers"][E]["payload"],
    ) => S["answers"][E]["answer"] | Promise<S["answers"][E]["answer"]>,
  ): () => void;
  /**
   * For a channel that keeps history: how the replay of its room's history started
   * (`null` before it has). See `onHistory`.
   */
  readonly history: HistoryStart | null;
  /**
   * Calls `listener` when the server starts replaying the room's history to this channel
   * (right after it opens, before the replayed events), and again if it ever has to start
   * over. `recovered: false` means the events that follow are all the room keeps, not
   * exactly what this client missed: drop what you showed of the room and rebuild it from
   * them. A listener registered after the replay started is called at once.
   */
  onHistory(listener: (start: HistoryStart) => void): () => void;
  /**
   * Who is in the channel's room, for a channel that tracks presence: one entry per
   * user, with each of their sessions. Empty until the server sent the list.
   */
  readonly presence: Present<S["presence"]>[];
  /**
   * Calls `listener` with the room's presence list whenever it changes (at once if it is
   * known); returns the unsubscribe function.
   */
  onPresence(listener: (present: Present<S["presence"]>[]) => void): () => void;
  /** Releases the channel: the server closes it, pending requests fail on both sides. */
  close(): void;
}

/** How a replay of a room's history starts (the `history` frame). */
export interface HistoryStart {
  /** The events that follow are exactly what came after the client's last position. */
  recovered: boolean;
  /** The history's epoch. */
  epoch: string;
  /** The offset the client stands at before the events that follow. */
  offset: number;
  /** The offset of the last event replayed (`offset` when none is). */
  top: number;
}

type Listener = (payload: unknown) => void;
type Answerer = (payload: unknown) => unknown;

/** An event a channel delivered: `n` numbers the channel's events from 1, in order. */
export interface Delivered {
  n: number;
  event: string;
  payload: unknown;
}

/**
 * What a lost session's channel in a room with history leaves the next session's channel
 * in the same room: what it delivered, numbered as it was, so that state folded from it
 * goes on where it stopped and a component mounted later still sees all of it.
 */
export interface Carried {
  log: Delivered[];
  delivered: number;
  base: number;
  resets: number;
  retain: number;
  lineage: object;
}

interface Waiting {
  id: number;
  event: string;
  payload: unknown;
}

/** Most server requests kept waiting for an answerer to be registered. */
const MAX_WAITING_REQUESTS = 32;

/** The untyped channel behind every `TypedChannel`. Made by `PulseConnection.channel`. */
export class ClientChannel {
  /** The channel name, once the server's `open` frame has been seen. */
  name: string | null = null;
  /** The room key, for a channel with rooms (`null` otherwise). */
  room: unknown = null;
  /** The room key as the server encodes it: broadcasts are matched on it. */
  roomKey = "";
  state: "pending" | "open" | "closed" = "pending";
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly answerers = new Map<string, Answerer>();
  /**
   * What the channel delivered, oldest first: since it opened, or since its room's
   * history last started over. At most `retain` events (the oldest go first).
   */
  private log: Delivered[] = [];
  /** The `n` of the last event delivered. */
  private delivered = 0;
  /** The `n` up to which nothing is owed to anyone (the channel started over, or closed there). */
  private base = 0;
  /** Most events kept in `log`: the connection's `maxBufferedEvents`, or the room's history size if larger. */
  private retain: number;
  /** Per event name, the `n` up to which listeners have had them: later ones without a listener are held. */
  private readonly claimed = new Map<string, number>();
  /** Event names whose held events go to their listeners at the end of this task. */
  private readonly flushing = new Set<string>();
  /** Whether the loss of held events was warned of (once per channel). */
  private warnedOfLoss = false;
  private readonly logListeners = new Set<() => void>();
  /** How many times what the channel delivered started over (a history replay that is not `recovered`). */
  resets = 0;
  /**
   * The same object for a channel and the channels that carry on from it in later
   * sessions (`carryOn`): their events are numbered as one sequence.
   */
  lineage: object = {};
  /** Events up to this `n` were delivered to an earlier session's channel: never held for `on`. */
  private heldAfter = 0;
  private waiting: Waiting[] = [];
  private readonly closeListeners = new Set<() => void>();
  private readonly historyListeners = new Set<(start: HistoryStart) => void>();
  private readonly presenceListeners = new Set<(present: Present<unknown>[]) => void>();
  /** The room's presence list by session id, once the server sent it. */
  private present: Map<string, { user: string; meta: unknown }> | null = null;
  /** How the replay of the room's history last started, if it has. */
  history: HistoryStart | null = null;

  constructor(
    readonly id: string,
    private readonly connection: PulseConnection,
    retain: number,
  ) {
    this.retain = Math.max(1, retain);
  }

  get closed(): boolean {
    return this.state === "closed";
  }

  on(event: string, listener: Listener): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener);
    if (this.log.some((d) => d.event === event && d.n > this.claimedUpTo(event))) this.flushSoon(event);
    return () => {
      set.delete(listener);
    };
  }

  /**
   * The events delivered after the `n`th (`after`), in order, and whether that is all of
   * them (`false`: some were no longer kept). For state folded from the channel's
   * events; see `onDelivered`.
   */
  since(after: number): { events: Delivered[]; complete: boolean } {
    const first = this.log[0]?.n ?? this.delivered + 1;
    // The log's numbers run without a gap from `first`: what follows `after` is a slice.
    const events = this.log.slice(Math.max(0, after + 1 - first));
    return { events, complete: Math.max(after, this.base) + 1 >= first };
  }

  /** Calls `listener` (no arguments) whenever the channel delivers an event or starts over. */
  onDelivered(listener: () => void): () => void {
    this.logListeners.add(listener);
    return () => this.logListeners.delete(listener);
  }

  /** The `n` up to which events named `event` are not held for a listener. */
  private claimedUpTo(event: string): number {
    return Math.max(this.claimed.get(event) ?? 0, this.heldAfter);
  }

  /** Gives the held events of `event` to its listeners at the end of this task. */
  private flushSoon(event: string): void {
    if (this.flushing.has(event)) return;
    this.flushing.add(event);
    queueMicrotask(() => {
      this.flushing.delete(event);
      const set = this.listeners.get(event);
      if (!set || set.size === 0) return;
      const from = this.claimedUpTo(event);
      const held = this.log.filter((d) => d.event === event && d.n > from);
      const last = held[held.length - 1];
      if (last) this.claimed.set(event, last.n);
      for (const { payload } of held) this.call(event, set, payload);
    });
  }

  private call(event: string, set: Set<Listener>, payload: unknown): void {
    for (const listener of [...set]) {
      try {
        listener(payload);
      } catch (error) {
        console.error(`pulse: listener for \`${event}\` threw`, error);
      }
    }
  }

  emit(event: string, payload: unknown = null): void {
    if (this.closed) {
      console.warn(`pulse: emit \`${event}\` on closed channel ${this.id} dropped`);
      return;
    }
    this.connection.send({ t: "emit", channel: this.id, event, payload });
  }

  request(event: string, payload: unknown = null, options: RequestOptions = {}): Promise<unknown> {
    if (this.closed) return Promise.reject(new ClosedError(event));
    return this.connection.request(this.id, event, payload, options.timeoutMs);
  }

  attempt(event: string, payload: unknown = null, options: RequestOptions = {}): Promise<Outcome<unknown, unknown>> {
    return this.request(event, payload, options).then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => {
        if (error instanceof FailedError) return { ok: false as const, error: error.data };
        throw error;
      },
    );
  }

  answer(event: string, answerer: Answerer): () => void {
    this.answerers.set(event, answerer);
    const ready = this.waiting.filter((w) => w.event === event);
    this.waiting = this.waiting.filter((w) => w.event !== event);
    for (const w of ready) this.runAnswerer(answerer, w);
    return () => {
      if (this.answerers.get(event) === answerer) this.answerers.delete(event);
    };
  }

  close(): void {
    if (this.closed) return;
    this.connection.send({ t: "close", channel: this.id });
    this.markClosed("client");
  }

  /** How many listeners `event` has (a leak shows up here). */
  listenerCount(event: string): number {
    return this.listeners.get(event)?.size ?? 0;
  }

  /** Calls `listener` once when the channel closes. */
  onClose(listener: () => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  get presence(): Present<unknown>[] {
    const byUser = new Map<string, Present<unknown>>();
    for (const [id, { user, meta }] of this.present ?? []) {
      let present = byUser.get(user);
      if (!present) {
        present = { user, sessions: [] };
        byUser.set(user, present);
      }
      present.sessions.push({ id, meta });
    }
    return [...byUser.values()];
  }

  onPresence(listener: (present: Present<unknown>[]) => void): () => void {
    this.presenceListeners.add(listener);
    if (this.present !== null) listener(this.presence);
    return () => this.presenceListeners.delete(listener);
  }

  /** @internal The server sent the room's list (`state`) or a change to it. */
  presenceChanged(frame: {
    state: boolean;
    joins: Record<string, { id: string; meta: unknown }[]>;
    leaves: Record<string, { id: string; meta: unknown }[]>;
  }): void {
    if (frame.state || this.present === null) this.present = new Map();
    for (const entries of Object.values(frame.leaves)) for (const { id } of entries) this.present.delete(id);
    for (const [user, entries] of Object.entries(frame.joins)) {
      for (const { id, meta } of entries) this.present.set(id, { user, meta });
    }
    const present = this.presence;
    for (const listener of [...this.presenceListeners]) {
      try {
        listener(present);
      } catch (error) {
        console.error("pulse: presence listener threw", error);
      }
    }
  }

  onHistory(listener: (start: HistoryStart) => void): () => void {
    this.historyListeners.add(listener);
    if (this.history !== null) listener(this.history);
    return () => this.historyListeners.delete(listener);
  }

  // ---- called by the connection ----

  /** @internal `keep`: the most broadcasts the room keeps, if the server said. */
  historyStarts(start: HistoryStart, keep?: number): void {
    this.history = start;
    if (keep !== undefined) this.retain = Math.max(this.retain, keep);
    if (!start.recovered) {
      // What follows is everything the room keeps: what came before is not owed to anyone.
      this.log = [];
      this.base = this.delivered;
      this.claimed.clear();
      this.resets += 1;
      this.notifyLog();
    }
    for (const listener of [...this.historyListeners]) {
      try {
        listener(start);
      } catch (error) {
        console.error("pulse: history listener threw", error);
      }
    }
  }

  /** @internal */
  markOpen(name: string, room: unknown): void {
    this.name = name;
    this.room = room ?? null;
    this.roomKey = room === undefined ? "" : JSON.stringify(room);
    if (this.state === "pending") this.state = "open";
  }

  /** @internal */
  deliver(event: string, payload: unknown): void {
    const n = ++this.delivered;
    this.log.push({ n, event, payload });
    if (this.log.length > this.retain) {
      const dropped = this.log.shift();
      if (dropped && dropped.n > this.claimedUpTo(dropped.event) && !this.warnedOfLoss) {
        this.warnedOfLoss = true;
        console.warn(
          `pulse: no listener for \`${dropped.event}\` on channel ${this.id} while more than ${this.retain} ` +
            "events came; the oldest are no longer held (this is said once per channel)",
        );
      }
    }
    const set = this.listeners.get(event);
    // Held events of this name go first, in order (their flush is still to come).
    if (set && set.size > 0 && !this.flushing.has(event)) {
      this.claimed.set(event, n);
      this.call(event, set, payload);
    }
    this.notifyLog();
  }

  private notifyLog(): void {
    for (const listener of [...this.logListeners]) {
      try {
        listener();
      } catch (error) {
        console.error("pulse: channel state listener threw", error);
      }
    }
  }

  /** @internal */
  serverRequest(id: number, event: string, payload: unknown): void {
    const answerer = this.answerers.get(event);
    if (answerer) {
      this.runAnswerer(answerer, { id, event, payload });
    } else if (this.waiting.length < MAX_WAITING_REQUESTS) {
      // The component that answers may not have mounted yet: hold the request.
      this.waiting.push({ id, event, payload });
    } else {
      this.connection.send({
        t: "answer",
        channel: this.id,
        id,
        error: { code: "unknown_event", message: `no answerer for \`${event}\`` },
      });
    }
  }

  /** @internal What this channel leaves the next session's channel in its room, if it keeps history. */
  carry(): Carried | null {
    // A channel of a room with history (or one that carried on from one, its replay
    // still to come).
    if ((this.history === null && this.heldAfter === 0) || this.closed) return null;
    const { log, delivered, base, resets, retain, lineage } = this;
    return { log, delivered, base, resets, retain, lineage };
  }

  /**
   * @internal This channel, just opened in a new session, carries on from `carried` (the
   * lost session's channel in the same room): what that one delivered comes first. If the
   * replay that follows is not `recovered`, it starts over as any channel does.
   */
  carryOn(carried: Carried): void {
    if (this.delivered !== 0) return;
    this.log = carried.log;
    this.delivered = carried.delivered;
    this.base = carried.base;
    this.resets = carried.resets;
    this.retain = Math.max(this.retain, carried.retain);
    this.lineage = carried.lineage;
    this.heldAfter = carried.delivered;
  }

  /** @internal */
  markClosed(_reason: string, disconnected = false): void {
    if (this.closed) return;
    this.state = "closed";
    this.waiting = [];
    // State already folded from the log stays where it is; nothing more is owed.
    this.log = [];
    this.base = this.delivered;
    this.connection.failPending(this.id, (event) =>
      disconnected ? new DisconnectedError(event) : new ClosedError(event),
    );
    for (const listener of [...this.closeListeners]) listener();
    this.closeListeners.clear();
  }

  private runAnswerer(answerer: Answerer, request: Waiting): void {
    const { id, event, payload } = request;
    Promise.resolve()
      .then(() => answerer(payload))
      .then(
        (answer) => {
          if (!this.closed) this.connection.send({ t: "answer", channel: this.id, id, ok: answer ?? null });
        },
        (error: unknown) => {
          const message = error instanceof Error ? error.message : String(error);
          if (!this.closed) {
            this.connection.send({ t: "answer", channel: this.id, id, error: { code: "handler_failed", message } });
          }
        },
      );
  }
}

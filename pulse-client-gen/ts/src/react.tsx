// React bindings: a provider for the connection and the channel hook.

import {
  type AnchorHTMLAttributes,
  type MouseEvent,
  type ReactNode,
  createContext,
  createElement,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore,
} from "react";

import type { ChannelShape, ClientChannel, Present, TypedChannel } from "./channel.js";
import type { ConnectionState, ConnectionStatus, PulseConnection } from "./connection.js";
import type { ChannelId } from "./protocol.js";
import { type Href, followLink } from "./routes.js";

const ConnectionContext = createContext<PulseConnection | null>(null);

/** Makes `connection` available to `usePulseChannel` below it. */
export function PulseProvider({ connection, children }: { connection: PulseConnection; children?: ReactNode }) {
  return <ConnectionContext.Provider value={connection}>{children}</ConnectionContext.Provider>;
}

/** The connection of the nearest `PulseProvider` (or `PulseRoot`). */
export function usePulseConnection(): PulseConnection {
  const connection = useContext(ConnectionContext);
  if (!connection) {
    throw new Error("usePulseChannel needs a connection: render inside <PulseProvider> or <PulseRoot>");
  }
  return connection;
}

/**
 * The channel with `channelId` (an id the server handed over: a plain string is refused),
 * typed by its schema. The same object on every render
 * for one id, so it can be an effect dependency. Opening and closing channels is the
 * server's job (the owning server component), so mounting this hook twice, as React's
 * StrictMode does, opens nothing and leaks nothing.
 */
export function usePulseChannel<S extends ChannelShape>(channelId: ChannelId): TypedChannel<S> {
  const connection = usePulseConnection();
  return useMemo(() => connection.channel(channelId) as unknown as TypedChannel<S>, [connection, channelId]);
}

/** Who is in `channel`'s room (a channel that tracks presence), re-rendering when it changes. */
export function usePresence<S extends ChannelShape>(channel: TypedChannel<S>): Present<S["presence"]>[] {
  const [present, setPresent] = useState(channel.presence);
  useEffect(() => {
    setPresent(channel.presence);
    return channel.onPresence(setPresent);
  }, [channel]);
  return present;
}

/** How each event of `S` changes a state `T`: `(state, payload) => next state`. Events left out leave it as it is. */
export type Reducers<S extends ChannelShape, T> = {
  [E in keyof S["events"] & string]?: (state: T, payload: S["events"][E]) => T;
};

/**
 * State built from everything `channel` delivers, in order: each event changes it as
 * its reducer says, starting from `initial`; the component re-renders when it changes.
 *
 * ```tsx
 * const todos = useChannelState(board, [] as Todo[], {
 *   todo_added: (list, todo) => [...list, todo],
 *   todo_removed: (list, id) => list.filter((t) => t.id !== id),
 * });
 * ```
 *
 * It is read from the channel's record of what it delivered, not from a listener's
 * lifetime, so it is the same however the component mounts: late, twice (React's
 * StrictMode), or again after a hot-module edit. When the room's history starts over
 * (`recovered: false`: everything the room keeps follows) it starts again from
 * `initial`; when the server gives the component a new channel (a new session), it keeps
 * its state and goes on with the new channel's events (a recovered history replays just
 * what was missed). A component mounted on that new channel later gets the same state:
 * the channel starts with what its room's channel of the lost session delivered.
 * Reducers must be pure: they may run again for the same events.
 */
export function useChannelState<S extends ChannelShape, T>(
  channel: TypedChannel<S>,
  initial: T,
  reducers: Reducers<S, T>,
): T {
  const raw = channel as unknown as ClientChannel;
  const latest = useRef(reducers);
  latest.current = reducers;
  const [fold] = useState(() => new Fold<T>(initial));
  const subscribe = useCallback((changed: () => void) => raw.onDelivered(changed), [raw]);
  const read = () => fold.read(raw, latest.current as Record<string, ((state: T, payload: unknown) => T) | undefined>);
  return useSyncExternalStore(subscribe, read, read);
}

/** A state folded from a channel's delivered events, up to the `n`th. */
class Fold<T> {
  private lineage: object | null = null;
  private resets = 0;
  private upTo = 0;
  private warned = false;

  constructor(
    private readonly initial: T,
    private state: T = initial,
  ) {}

  /** The state with every event `channel` delivered folded in (the same object if none is new). */
  read(channel: ClientChannel, reducers: Record<string, ((state: T, payload: unknown) => T) | undefined>): T {
    if (channel.lineage !== this.lineage) {
      // Another channel: the state goes on with its events. (A new session's channel
      // that carries on from the one folded so far shares its lineage and numbering.)
      this.lineage = channel.lineage;
      this.resets = 0;
      this.upTo = 0;
    }
    if (channel.resets !== this.resets) {
      this.resets = channel.resets;
      this.state = this.initial;
      this.upTo = 0;
    }
    const { events, complete } = channel.since(this.upTo);
    if (!complete && !this.warned) {
      this.warned = true;
      console.warn(
        `pulse: channel ${channel.id} no longer holds its oldest events; this state starts from the ones it holds ` +
          "(raise `maxBufferedEvents`, or give the channel a history)",
      );
    }
    for (const { n, event, payload } of events) {
      const reducer = reducers[event];
      if (reducer) this.state = reducer(this.state, payload);
      this.upTo = n;
    }
    return this.state;
  }
}

/**
 * What a page shows of its connection, re-rendering when it changes: the state
 * (`connecting`, `open`, `reconnecting`, `closed`), when the next try is (`retryAt`), and
 * why the server refuses the connection if it does (`refused`: its HTTP status and words,
 * asked of the server after a failed handshake).
 *
 * ```tsx
 * const { state, retryAt, refused } = useConnectionStatus();
 * if (refused) return <p role="alert">The server refuses this page: {refused.reason}</p>;
 * if (state === "reconnecting") return <p>Reconnecting{retryAt && ` in ${Math.ceil((retryAt - Date.now()) / 1000)} s`}…</p>;
 * ```
 */
export function useConnectionStatus(): ConnectionStatus {
  const connection = usePulseConnection();
  const subscribe = useCallback((changed: () => void) => connection.onStatusChange(changed), [connection]);
  return useSyncExternalStore(subscribe, () => connection.status, () => connection.status);
}

/** The connection's state, re-rendering when it changes. */
export function useConnectionState(): ConnectionState {
  const connection = usePulseConnection();
  const [state, setState] = useState(connection.state);
  useEffect(() => {
    setState(connection.state);
    return connection.onStateChange(setState);
  }, [connection]);
  return state;
}

/** The props of a {@link Link}: where it goes (made by the generated `routes`), and what an `<a>` takes. */
export type LinkProps = { to: Href } & Omit<AnchorHTMLAttributes<HTMLAnchorElement>, "href">;

/**
 * A link to a page of the app: an `<a href>` whose plain left click goes to the page over
 * the socket (no reload; the address and history follow). `to` comes from the generated
 * `routes` (`routes.room({ room })`), so tsc checks the page and its parameters.
 */
export function Link({ to, onClick, ...rest }: LinkProps): ReactNode {
  const connection = usePulseConnection();
  return createElement("a", {
    ...rest,
    href: to,
    onClick: (event: MouseEvent<HTMLAnchorElement>) => {
      onClick?.(event);
      followLink(event, () => connection.navigate(to));
    },
  });
}

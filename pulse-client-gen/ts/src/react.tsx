// React bindings: a provider for the connection and the channel hook.

import { type ReactNode, createContext, useContext, useEffect, useMemo, useState } from "react";

import type { ChannelShape, Present, TypedChannel } from "./channel.js";
import type { ConnectionState, PulseConnection } from "./connection.js";
import type { ChannelId } from "./protocol.js";

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

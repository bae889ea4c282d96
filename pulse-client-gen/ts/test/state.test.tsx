// @vitest-environment happy-dom
// State built from a channel's events, the way React mounts components in development:
// `useChannelState` under StrictMode, mounted late (after the history replay), mounted
// again (as after a hot-module edit), across a history that starts over and a new
// channel; `on` under StrictMode; and what a channel holds for them (sized by the room's
// history, a loss warned of once). Against the real server where a room is needed.

import { StrictMode, useEffect } from "react";
import { act } from "react";
import { type Root, createRoot } from "react-dom/client";
import { afterEach, beforeAll, expect, it, vi } from "vitest";
import {
  type ChannelId,
  type ClientChannel,
  PulseConnection,
  PulseProvider,
  type TypedChannel,
  type WebSocketConstructor,
  useChannelState,
  usePulseChannel,
} from "../src/index";
import type { DeskSchema, LobbySchema } from "./generated/lab";
import { ForgetfulWebSocket, connectClosingAfterEach, say, until, url } from "./helpers";

beforeAll(() => {
  (globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = false;
});

const connect = connectClosingAfterEach();
const roots: { root: Root; container: HTMLElement }[] = [];
afterEach(async () => {
  for (const { root, container } of roots.splice(0)) {
    await act(async () => root.unmount());
    container.remove();
  }
});

async function mount(element: React.ReactNode): Promise<{ root: Root; container: HTMLElement }> {
  const container = document.createElement("div");
  document.body.append(container);
  const root = createRoot(container);
  const mounted = { root, container };
  roots.push(mounted);
  await act(async () => root.render(element));
  return mounted;
}

async function unmount(mounted: { root: Root; container: HTMLElement }): Promise<void> {
  roots.splice(roots.indexOf(mounted), 1);
  await act(async () => mounted.root.unmount());
  mounted.container.remove();
}

/** Joins desk `room` through the lobby of `connection`; the desk's channel id. */
async function join(connection: PulseConnection, lobby: string, room: string): Promise<ChannelId<"desk">> {
  const typed = connection.channel(lobby) as unknown as TypedChannel<LobbySchema>;
  const joined = await typed.attempt("join", room);
  if (!joined.ok) throw new Error(`join refused: ${JSON.stringify(joined.error)}`);
  return joined.value;
}

/** The guide's simplest code: the desk's messages as state. */
function Said({ id }: { id: ChannelId<"desk"> }) {
  const desk = usePulseChannel<DeskSchema>(id);
  const said = useChannelState(desk, [] as string[], { said: (list, text) => [...list, text] });
  return <p className="said">{said.join(",")}</p>;
}

/** How many `said` events `channel` holds (the desk also says `welcome`). */
const said = (channel: ClientChannel) => channel.since(0).events.filter((e) => e.event === "said").length;
const text = (container: HTMLElement) => container.querySelector(".said")?.textContent ?? "";
const room = (name: string) => `${name}-${Math.random().toString(36).slice(2)}`;

it("a late component in StrictMode shows the whole replay, and again after mounting anew", async () => {
  const name = room("s");
  const ann = await connect();
  const annDesk = ann.connection.channel(await join(ann.connection, ann.lobby, name)) as unknown as TypedChannel<DeskSchema>;
  await say(annDesk, ["m1", "m2", "m3", "m4", "m5"]);

  const bob = await connect();
  const id = await join(bob.connection, bob.lobby, name);
  const bobDesk = bob.connection.channel(id);
  await until(() => said(bobDesk) === 5);
  // Mounted after the replay arrived, with StrictMode's double render and double effects.
  const app = (
    <StrictMode>
      <PulseProvider connection={bob.connection}>
        <Said id={id} />
      </PulseProvider>
    </StrictMode>
  );
  const first = await mount(app);
  expect(text(first.container)).toBe("m1,m2,m3,m4,m5");
  // Unmounted and mounted anew (a hot-module edit that remounts it, a route change back).
  await unmount(first);
  const second = await mount(app);
  expect(text(second.container)).toBe("m1,m2,m3,m4,m5");
  await say(annDesk, ["live"]);
  await until(() => text(second.container) === "m1,m2,m3,m4,m5,live");
});

it("`on` in StrictMode gets the events that came before it, once", async () => {
  const name = room("o");
  const ann = await connect();
  const annDesk = ann.connection.channel(await join(ann.connection, ann.lobby, name)) as unknown as TypedChannel<DeskSchema>;
  await say(annDesk, ["a", "b", "c"]);
  const bob = await connect();
  const id = await join(bob.connection, bob.lobby, name);
  await until(() => said(bob.connection.channel(id)) === 3);

  // Each run of the effect keeps its own list, as a closure over effect-local state does.
  const runs: string[][] = [];
  function Listens() {
    const desk = usePulseChannel<DeskSchema>(id);
    useEffect(() => {
      const mine: string[] = [];
      runs.push(mine);
      return desk.on("said", (said) => mine.push(said));
    }, [desk]);
    return null;
  }
  await mount(
    <StrictMode>
      <PulseProvider connection={bob.connection}>
        <Listens />
      </PulseProvider>
    </StrictMode>,
  );
  expect(runs.length).toBe(2);
  // The listener that stayed (the second run's) got the held events; the one StrictMode
  // took away got none.
  await until(() => (runs[1]?.length ?? 0) >= 3);
  await new Promise((r) => setTimeout(r, 50));
  expect(runs).toEqual([[], ["a", "b", "c"]]);
  await say(annDesk, ["d"]);
  await until(() => runs[1]?.length === 4);
  expect(runs).toEqual([[], ["a", "b", "c", "d"]]);
});

/**
 * Ann says m1 and m2 in room `name`; then a connection (through `ForgetfulWebSocket`,
 * whose server can be made to forget its session) and its current lobby's id.
 */
async function aRoomAndAForgetfulConnection(name: string) {
  const ann = await connect();
  const annDesk = ann.connection.channel(await join(ann.connection, ann.lobby, name)) as unknown as TypedChannel<DeskSchema>;
  await say(annDesk, ["m1", "m2"]);
  const connection = new PulseConnection({
    url: url(),
    WebSocket: ForgetfulWebSocket as unknown as WebSocketConstructor,
    backoffMs: [20, 50],
  }).start();
  const lobby = { id: "" };
  connection.onFrame((frame) => {
    if (frame.t === "open" && frame.name === "lobby") lobby.id = frame.channel;
  });
  await until(() => lobby.id !== "");
  return { annDesk, connection, lobby };
}

/**
 * The connection's next server knows nothing of its session while Ann says m3; the
 * desk's channel in room `name` on the new session.
 */
async function loseTheSessionWhileM3IsSaid(
  connection: PulseConnection,
  lobby: { id: string },
  annDesk: TypedChannel<DeskSchema>,
  name: string,
): Promise<ChannelId<"desk">> {
  const firstLobby = lobby.id;
  ForgetfulWebSocket.forget = true;
  ForgetfulWebSocket.latest?.terminate();
  await say(annDesk, ["m3"]);
  await until(() => lobby.id !== firstLobby);
  return join(connection, lobby.id, name);
}

it("after a new session's recovered replay, a component mounted then shows what came before too", async () => {
  const name = room("n");
  const { annDesk, connection, lobby } = await aRoomAndAForgetfulConnection(name);
  try {
    const first = await join(connection, lobby.id, name);
    const app = (id: ChannelId<"desk">) => (
      <StrictMode>
        <PulseProvider connection={connection}>
          <Said id={id} />
        </PulseProvider>
      </StrictMode>
    );
    const stays = await mount(app(first));
    await until(() => text(stays.container) === "m1,m2");

    // The next server knows nothing of the session: a new one, whose channel in the room
    // replays only what was missed.
    const again = await loseTheSessionWhileM3IsSaid(connection, lobby, annDesk, name);
    await until(() => connection.channel(again).history !== null && said(connection.channel(again)) === 3);
    expect(connection.channel(again).history).toMatchObject({ recovered: true });

    // The component that stayed goes on; one mounted now shows the same.
    await act(async () => stays.root.render(app(again)));
    expect(text(stays.container)).toBe("m1,m2,m3");
    const late = await mount(app(again));
    expect(text(late.container)).toBe("m1,m2,m3");
    // `on` hears only what the new channel delivered (held), not the earlier session's.
    const heard: string[] = [];
    (connection.channel(again) as unknown as TypedChannel<DeskSchema>).on("said", (text) => heard.push(text));
    await until(() => heard.length >= 1);
    await say(annDesk, ["m4"]);
    await until(() => text(late.container) === "m1,m2,m3,m4" && text(stays.container) === "m1,m2,m3,m4");
    expect(heard).toEqual(["m3", "m4"]);
  } finally {
    ForgetfulWebSocket.forget = false;
    connection.close();
  }
});

it("a room with two channels in the lost session carries neither: state is never folded twice", async () => {
  const name = room("d");
  const { annDesk, connection, lobby } = await aRoomAndAForgetfulConnection(name);
  try {
    // Two channels in the same room: which one a new channel would carry on from is unknown.
    const first = await join(connection, lobby.id, name);
    await join(connection, lobby.id, name);
    const app = (id: ChannelId<"desk">) => (
      <PulseProvider connection={connection}>
        <Said id={id} />
      </PulseProvider>
    );
    const stays = await mount(app(first));
    await until(() => text(stays.container) === "m1,m2");

    const again = await loseTheSessionWhileM3IsSaid(connection, lobby, annDesk, name);
    await until(() => said(connection.channel(again)) === 1);
    await act(async () => stays.root.render(app(again)));
    expect(text(stays.container)).toBe("m1,m2,m3");
  } finally {
    ForgetfulWebSocket.forget = false;
    connection.close();
  }
});

/** A channel of a connection that never connects, fed by hand. */
function offline(retain = 1000): { connection: PulseConnection; channel: (id: string) => ClientChannel } {
  const connection = new PulseConnection({ maxBufferedEvents: retain });
  return { connection, channel: (id) => connection.channel(id) };
}

function Counter({ id, connection }: { id: string; connection: PulseConnection }) {
  return (
    <PulseProvider connection={connection}>
      <Count id={id as ChannelId<"desk">} />
    </PulseProvider>
  );
}

function Count({ id }: { id: ChannelId<"desk"> }) {
  const desk = usePulseChannel<DeskSchema>(id);
  const said = useChannelState(desk, [] as string[], { said: (list, text) => [...list, text] });
  return <p className="said">{said.join(",")}</p>;
}

const start = (recovered: boolean) => ({ recovered, epoch: "e", offset: 0, top: 0 });

it("a history that starts over starts the state over; a new channel carries it on", async () => {
  const { connection, channel } = offline();
  const first = channel("c1");
  first.markOpen("desk", "r");
  first.deliver("said", "a");
  first.deliver("said", "b");
  const mounted = await mount(<Counter id="c1" connection={connection} />);
  expect(text(mounted.container)).toBe("a,b");
  // Everything the room keeps follows: the state is rebuilt from it.
  await act(async () => {
    first.historyStarts(start(false));
    first.deliver("said", "x");
  });
  expect(text(mounted.container)).toBe("x");
  /** A new session's channel `id` for the component, whose replay says `said`. */
  const renderNew = async (id: string, recovered: boolean, said: string) => {
    const next = channel(id);
    next.markOpen("desk", "r");
    next.historyStarts(start(recovered));
    next.deliver("said", said);
    await act(async () => mounted.root.render(<Counter id={id} connection={connection} />));
  };
  // A recovered replay goes on from the state…
  await renderNew("c2", true, "y");
  expect(text(mounted.container)).toBe("x,y");
  // …and one that is not recovered starts it over.
  await renderNew("c3", false, "z");
  expect(text(mounted.container)).toBe("z");
});

it("a channel holds as many events as its room's history keeps, and warns once when it drops some", async () => {
  const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
  try {
    const { channel } = offline(100);
    const kept = channel("k");
    kept.markOpen("desk", "r");
    kept.historyStarts(start(false), 150);
    for (let i = 1; i <= 150; i += 1) kept.deliver("said", `m${i}`);
    expect(kept.since(0)).toMatchObject({ complete: true });
    expect(kept.since(0).events.map((e) => e.payload)).toEqual(Array.from({ length: 150 }, (_, i) => `m${i + 1}`));
    expect(warn).not.toHaveBeenCalled();

    const small = channel("s");
    small.markOpen("desk", "r");
    for (let i = 1; i <= 250; i += 1) small.deliver("said", `m${i}`);
    expect(small.since(0).complete).toBe(false);
    expect(small.since(0).events.length).toBe(100);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toContain("no listener for `said`");
  } finally {
    warn.mockRestore();
  }
});

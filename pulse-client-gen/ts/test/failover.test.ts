// Failover from the browser runtime's side: two server processes behind one real
// redis-server, a connection given both URLs, a desk that keeps history. The node the
// client is on is killed (SIGKILL); the connection moves to the other URL, gets a new
// session, sends its positions, and the desk, joined again, replays exactly what was
// said meanwhile.

import { afterEach, expect, it } from "vitest";
import { type HistoryStart, PulseConnection, type TypedChannel } from "../src/index";
import type { DeskSchema, LobbySchema } from "./generated/lab";
import { NodeWebSocket, until } from "./helpers";
import { type RunningServer, freePort, startRedis, startServer } from "./server";

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** A connection to `urls`, and the id of its current session's lobby. */
function connectTo(urls: string[]) {
  const connection = new PulseConnection({ url: urls, WebSocket: NodeWebSocket, backoffMs: [20, 50] }).start();
  cleanup.push(() => connection.close());
  const lobby = { id: "" };
  connection.onFrame((frame) => {
    if (frame.t === "open" && frame.name === "lobby") lobby.id = frame.channel;
  });
  return { connection, lobby };
}

async function join(connection: PulseConnection, lobby: string, room: string) {
  const joined = await (connection.channel(lobby) as unknown as TypedChannel<LobbySchema>).attempt("join", room);
  if (!joined.ok) throw new Error("join refused");
  const desk = connection.channel(joined.value) as unknown as TypedChannel<DeskSchema>;
  const heard: string[] = [];
  desk.on("said", (text) => heard.push(text));
  const start = new Promise<HistoryStart>((resolve) => desk.onHistory(resolve));
  return { desk, heard, start };
}

it("a client whose node dies moves to the other and misses nothing", async () => {
  const redis = await startRedis();
  cleanup.push(() => redis.stop());
  const env = { PULSE_REDIS_URL: redis.url };
  const nodes: RunningServer[] = [await startServer(0, env), await startServer(0, env)];
  for (const node of nodes) cleanup.push(() => node.stop());
  const [one, two] = nodes.map((node) => `ws://127.0.0.1:${node.port}/ws?v=1`) as [string, string];
  const room = `failover-${Math.random().toString(36).slice(2)}`;

  const client = connectTo([one, two]);
  const speaker = connectTo([two]);
  await until(() => client.lobby.id !== "" && speaker.lobby.id !== "");
  const before = await join(client.connection, client.lobby.id, room);
  const mouth = await join(speaker.connection, speaker.lobby.id, room);
  mouth.desk.emit("say", "before");
  await until(() => before.heard.includes("before"));

  // Node one dies; while the client moves to node two, two more are said there.
  const firstSession = client.connection.sessionId;
  const firstLobby = client.lobby.id;
  await nodes[0]?.stop();
  mouth.desk.emit("say", "missed 1");
  mouth.desk.emit("say", "missed 2");
  await until(() => mouth.heard.includes("missed 2"));
  await until(() => client.connection.sessionId !== firstSession && client.lobby.id !== firstLobby, 10_000);

  const after = await join(client.connection, client.lobby.id, room);
  expect(await after.start).toMatchObject({ recovered: true });
  await until(() => after.heard.length === 2);
  mouth.desk.emit("say", "live");
  await until(() => after.heard.length === 3);
  expect([...before.heard, ...after.heard]).toEqual(["before", "missed 1", "missed 2", "live"]);
});

it("a connection given one URL learns the cluster's nodes from hello and fails over to them", async () => {
  const redis = await startRedis();
  cleanup.push(() => redis.stop());
  const ports = [await freePort(), await freePort()];
  // The nodes name each other, as a deployment does with PULSE_NODES.
  const env = { PULSE_REDIS_URL: redis.url, PULSE_NODES: ports.map((port) => `ws://127.0.0.1:${port}/ws`).join(",") };
  const nodes: RunningServer[] = [];
  for (const port of ports) nodes.push(await startServer(port, env));
  for (const node of nodes) cleanup.push(() => node.stop());
  const room = `learnt-${Math.random().toString(36).slice(2)}`;

  const client = connectTo([`ws://127.0.0.1:${ports[0]}/ws?v=1`]);
  const speaker = connectTo([`ws://127.0.0.1:${ports[1]}/ws?v=1`]);
  await until(() => client.lobby.id !== "" && speaker.lobby.id !== "");
  const before = await join(client.connection, client.lobby.id, room);
  const mouth = await join(speaker.connection, speaker.lobby.id, room);
  mouth.desk.emit("say", "before");
  await until(() => before.heard.includes("before"));

  const firstLobby = client.lobby.id;
  await nodes[0]?.stop();
  mouth.desk.emit("say", "missed");
  await until(() => client.lobby.id !== firstLobby, 10_000);
  const after = await join(client.connection, client.lobby.id, room);
  expect(await after.start).toMatchObject({ recovered: true });
  await until(() => after.heard.length === 1);
  expect([...before.heard, ...after.heard]).toEqual(["before", "missed"]);
});

// History from the client runtime against the real server (`ts-test-server`: each
// `desk` room keeps its last 5 broadcasts): a joining tab gets the room's history before
// live events, announced by `onHistory`; a client whose session is gone (a server that
// never knew it, as after the grace period or on another node) sends its positions and
// gets exactly what it missed on the new session.

import { expect, it } from "vitest";
import { type HistoryStart, PulseConnection, type TypedChannel, type WebSocketConstructor } from "../src/index";
import type { DeskSchema, LobbySchema } from "./generated/lab";
import { ForgetfulWebSocket, connectClosingAfterEach, say, until, url } from "./helpers";

const connect = connectClosingAfterEach();

/** Joins desk `room` through the lobby `lobby` of `connection`. */
async function join(connection: PulseConnection, lobby: string, room: string): Promise<TypedChannel<DeskSchema>> {
  const typed = connection.channel(lobby) as unknown as TypedChannel<LobbySchema>;
  const joined = await typed.attempt("join", room);
  if (!joined.ok) throw new Error(`join refused: ${JSON.stringify(joined.error)}`);
  return connection.channel(joined.value) as unknown as TypedChannel<DeskSchema>;
}

/** Everything `desk` hears as `said`, the held replay included. */
function heard(desk: TypedChannel<DeskSchema>): string[] {
  const seen: string[] = [];
  desk.on("said", (text) => seen.push(text));
  return seen;
}

/** How the desk's replay started (a listener registered after it is called at once). */
function started(desk: TypedChannel<DeskSchema>): Promise<HistoryStart> {
  return new Promise((resolve) => desk.onHistory(resolve));
}

const room = (name: string) => `${name}-${Math.random().toString(36).slice(2)}`;

it("a joining tab gets the room's last broadcasts, announced by onHistory, before live ones", async () => {
  const desk = room("h");
  const ann = await connect();
  const annDesk = await join(ann.connection, ann.lobby, desk);
  await say(annDesk, ["m1", "m2", "m3", "m4", "m5", "m6", "m7"]);

  const bob = await connect();
  const bobDesk = await join(bob.connection, bob.lobby, desk);
  const start = await started(bobDesk);
  expect(start).toMatchObject({ recovered: false, offset: 2, top: 7 });
  const bobHeard = heard(bobDesk);
  await until(() => bobHeard.length === 5);
  expect(bobHeard).toEqual(["m3", "m4", "m5", "m6", "m7"]);
  await say(annDesk, ["live"]);
  await until(() => bobHeard.length === 6);
  expect(bobHeard[5]).toBe("live");
  expect(bob.connection.position("desk", desk)).toMatchObject({ epoch: start.epoch, offset: 8 });
});

it("a client whose session is gone sends its position and gets exactly what it missed", async () => {
  const desk = room("r");
  const ann = await connect();
  const annDesk = await join(ann.connection, ann.lobby, desk);
  await say(annDesk, ["before"]);

  const connection = new PulseConnection({
    url: url(),
    WebSocket: ForgetfulWebSocket as unknown as WebSocketConstructor,
    backoffMs: [20, 50],
  }).start();
  let lobby = "";
  connection.onFrame((frame) => {
    if (frame.t === "open" && frame.name === "lobby") lobby = frame.channel;
  });
  try {
    await until(() => lobby !== "");
    const bobDesk = await join(connection, lobby, desk);
    const bobHeard = heard(bobDesk);
    await until(() => bobHeard.includes("before"));
    const before = connection.position("desk", desk);
    expect(before?.offset).toBe(1);

    // The connection breaks, and the next server knows nothing of the session.
    const firstSession = connection.sessionId;
    const firstLobby = lobby;
    ForgetfulWebSocket.forget = true;
    ForgetfulWebSocket.latest?.terminate();
    await say(annDesk, ["missed 1", "missed 2"]);
    await until(() => connection.sessionId !== firstSession && lobby !== firstLobby);
    expect(bobDesk.closed).toBe(true);
    const sent = ForgetfulWebSocket.urls[ForgetfulWebSocket.urls.length - 1] ?? "";
    const since: { name: string }[] = JSON.parse(new URL(sent).searchParams.get("since") ?? "[]");
    // (The server's chat room, which keeps history too, is there as well.)
    expect(since.filter((position) => position.name === "desk")).toEqual([{ name: "desk", room: desk, epoch: before?.epoch, offset: 1 }]);

    // Back at the desk on the new session: exactly what was missed, then live ones.
    const again = await join(connection, lobby, desk);
    const start = await started(again);
    expect(start).toEqual({ recovered: true, epoch: before?.epoch, offset: 1, top: 3 });
    const heardAgain = heard(again);
    await until(() => heardAgain.length === 2);
    expect(heardAgain).toEqual(["missed 1", "missed 2"]);
    await say(annDesk, ["live"]);
    await until(() => heardAgain.length === 3);
    expect(heardAgain).toEqual(["missed 1", "missed 2", "live"]);
  } finally {
    ForgetfulWebSocket.forget = false;
    connection.close();
  }
});

// Reconnect with backoff after the server goes away, against a server process of its own.

import { expect, it } from "vitest";
import WebSocket from "ws";
import { DisconnectedError, PulseConnection, type TypedChannel, type WebSocketConstructor } from "../src/index";
import type { LabSchema } from "./generated/lab";
import { NodeWebSocket, until, url } from "./helpers";
import { startServer } from "./server";

it("reconnects by itself after the server restarts, with a new session", async () => {
  const first = await startServer();
  const port = first.port;
  const connection = new PulseConnection({
    url: `ws://127.0.0.1:${port}/ws?v=1`,
    WebSocket: NodeWebSocket,
    backoffMs: [50, 100, 200],
  }).start();
  const states: string[] = [];
  connection.onStateChange((s) => states.push(s));
  let calc = "";
  connection.onFrame((f) => {
    if (f.t === "open" && f.name === "calc") calc = f.channel;
  });
  try {
    await until(() => connection.state === "open" && calc !== "");
    const firstSession = connection.sessionId;
    const oldCalc = calc;
    const pending = connection.channel(calc).request("slow", 10_000).catch((e: unknown) => e);

    await first.stop();
    await until(() => connection.state === "reconnecting");

    // A new process does not know the session: the client gets a fresh one, and what
    // belonged to the old session fails then.
    const second = await startServer(port);
    try {
      expect(await pending).toBeInstanceOf(DisconnectedError);
      await until(() => connection.state === "open" && connection.sessionId !== firstSession, 10_000);
      expect(states).toContain("reconnecting");
      await until(() => calc !== oldCalc);
      expect(await connection.channel(calc).request("add", [2, 3])).toBe(5);
    } finally {
      await second.stop();
    }
  } finally {
    connection.close();
  }
});

/** A WebSocket whose latest instance a test can cut off (no close frame, as a network failure). */
class BreakableWebSocket extends WebSocket {
  static latest: BreakableWebSocket | null = null;
  constructor(address: string) {
    super(address);
    BreakableWebSocket.latest = this;
  }
}

it("resumes its session after the connection breaks: nothing lost, nothing twice", async () => {
  const connection = new PulseConnection({
    url: url(),
    WebSocket: BreakableWebSocket as unknown as WebSocketConstructor,
    backoffMs: [20, 50],
  }).start();
  let lab = "";
  let calc = "";
  connection.onFrame((f) => {
    if (f.t === "open" && f.name === "lab") lab = f.channel;
    if (f.t === "open" && f.name === "calc") calc = f.channel;
  });
  try {
    await until(() => connection.state === "open" && lab !== "" && calc !== "");
    const session = connection.sessionId;
    const channel = connection.channel(lab) as unknown as TypedChannel<LabSchema>;
    const ticks: number[] = [];
    channel.on("tick", (n) => ticks.push(n));
    // A request in flight when the connection breaks is answered after the resume.
    const slow = connection.channel(calc).request("slow", 300);
    BreakableWebSocket.latest?.terminate();
    await until(() => connection.state === "reconnecting");
    // Sent while disconnected: held, then sent on resume.
    const note = { authorName: "a", body: "b", replyTo: null, tags: [], meta: { sent_at_ms: 1, pinned: false } };
    channel.emit("post", note);
    await until(() => connection.state === "open");
    expect(connection.sessionId).toBe(session);
    expect(connection.hello?.resumed).toBe(true);
    expect(await slow).toBe(300);
    await until(() => ticks.length === 1);
    expect(ticks).toEqual([1]);
    expect(connection.channel(lab).closed).toBe(false);
  } finally {
    connection.close();
  }
});

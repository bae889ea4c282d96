// Reconnect with backoff after the server goes away, against a server process of its own.

import { expect, it } from "vitest";
import { DisconnectedError, PulseConnection } from "../src/index";
import { NodeWebSocket, until } from "./helpers";
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
    expect(await pending).toBeInstanceOf(DisconnectedError);
    await until(() => connection.state === "reconnecting");

    const second = await startServer(port);
    try {
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

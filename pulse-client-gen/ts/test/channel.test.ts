// The client runtime against the real Rust server: typed emit, on, request, answer,
// the error classes, close, and the backlog for events that arrive before a listener.

import { describe, expect, it } from "vitest";
import {
  ClosedError,
  PulseConnection,
  RejectedError,
  RemoteError,
  TimeoutError,
  type TypedChannel,
} from "../src/index";
import type { LabSchema, Note } from "./generated/lab";
import { NodeWebSocket, connectClosingAfterEach, next, until, url } from "./helpers";

const note: Note = {
  authorName: "ann",
  body: "hello",
  replyTo: null,
  tags: ["a"],
  meta: { sent_at_ms: 1_700_000_000_000, pinned: false },
};

type Calc = {
  room: null;
  presence: null;
  events: Record<never, never>;
  emits: { note: unknown };
  requests: {
    add: { payload: [number, number]; answer: number; error: never };
    slow: { payload: number; answer: number; error: never };
    nope: { payload: null; answer: null; error: never };
  };
  answers: Record<never, never>;
};

const connect = connectClosingAfterEach();

async function session() {
  const s = await connect();
  const lab = s.connection.channel(s.lab) as unknown as TypedChannel<LabSchema>;
  const calc = s.connection.channel(s.calc) as unknown as TypedChannel<Calc>;
  return { ...s, labChannel: lab, calcChannel: calc };
}

describe("typed channel against the Rust server", () => {
  it("emits, receives broadcasts and server emits", async () => {
    const { labChannel } = await session();
    const posted = next<Note>((l) => labChannel.on("posted", l));
    const tick = next<number>((l) => labChannel.on("tick", l));
    labChannel.emit("post", note);
    expect(await posted).toEqual(note);
    expect(await tick).toBe(1);
  });

  it("a broadcast reaches every session on the channel name", async () => {
    const a = await session();
    const b = await session();
    const atB = next<Note>((l) => b.labChannel.on("posted", l));
    a.labChannel.emit("post", { ...note, body: "to all" });
    expect((await atB).body).toBe("to all");
  });

  it("requests resolve with the typed answer", async () => {
    const { labChannel, calcChannel } = await session();
    expect(await labChannel.request("area", { kind: "square", side: 3 })).toBe(9);
    expect(await labChannel.request("area", { kind: "circle", radius: 1 })).toBeCloseTo(Math.PI);
    expect(await calcChannel.request("add", [40, 2])).toBe(42);
  });

  it("each failure rejects with its own error class", async () => {
    const { labChannel, calcChannel, connection } = await session();
    const remote = await labChannel.request("fail", "on purpose").catch((e: unknown) => e);
    expect(remote).toBeInstanceOf(RemoteError);
    expect((remote as RemoteError).message).toBe("the handler for `fail` panicked");

    const rejected = await calcChannel.request("nope").catch((e: unknown) => e);
    expect(rejected).toBeInstanceOf(RejectedError);
    expect((rejected as RejectedError).code).toBe("unknown_event");

    const started = Date.now();
    const timeout = await calcChannel.request("slow", 5000, { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(timeout).toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeLessThan(2000);

    const unknown = connection.channel("0".repeat(32));
    const refused = await unknown.request("anything").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RejectedError);
    expect((refused as RejectedError).code).toBe("unknown_channel");
  });

  it("answers the server's requests, also when the answerer registers late", async () => {
    const { labChannel } = await session();
    const greeting = next<string>((l) => labChannel.on("greeting", l));
    labChannel.emit("ping");
    // The server's request is already on its way: it waits for the answerer.
    await new Promise((r) => setTimeout(r, 50));
    labChannel.answer("ask_name", (question) => `vitest (asked: ${question})`);
    expect(await greeting).toBe("hello, vitest (asked: who are you?)");
  });

  it("a throwing answerer fails the server's request with its message", async () => {
    const { labChannel } = await session();
    labChannel.answer("ask_name", () => {
      throw new Error("no names here");
    });
    const greeting = next<string>((l) => labChannel.on("greeting", l));
    labChannel.emit("ping");
    expect(await greeting).toBe("no name: remote handler failed: no names here");
  });

  it("events that arrive before a listener are held for it", async () => {
    const { labChannel } = await session();
    labChannel.emit("post", note);
    await new Promise((r) => setTimeout(r, 100));
    const ticks: number[] = [];
    labChannel.on("tick", (n) => ticks.push(n));
    // Given at the end of the task that subscribed (so StrictMode's second listener gets them).
    expect(ticks).toEqual([]);
    await Promise.resolve();
    expect(ticks).toEqual([1]);
  });

  it("closing a channel fails its pending requests at once", async () => {
    const { calcChannel, connection, calc } = await session();
    const pending = calcChannel.request("slow", 5000).catch((e: unknown) => e);
    const started = Date.now();
    calcChannel.close();
    expect(await pending).toBeInstanceOf(ClosedError);
    expect(Date.now() - started).toBeLessThan(500);
    expect(connection.channel(calc).closed).toBe(true);
    await expect(calcChannel.request("add", [1, 2])).rejects.toBeInstanceOf(ClosedError);
  });
});

describe("connection", () => {
  it("is refused for good on an unsupported protocol version", async () => {
    const connection = new PulseConnection({ url: url(undefined, 9), WebSocket: NodeWebSocket }).start();
    await until(() => connection.state === "closed");
    expect(connection.lastClose?.code).toBe(4500);
    expect(connection.lastClose?.reason).toContain("this server speaks v=1");
    connection.close();
  });
});

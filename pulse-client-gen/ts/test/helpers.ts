// Helpers shared by the client runtime's tests.

import WebSocket from "ws";
import { afterEach, inject } from "vitest";
import { type ConnectionOptions, PulseConnection, type TypedChannel, type WebSocketConstructor } from "../src/index";
import type { DeskSchema } from "./generated/lab";

export const NodeWebSocket = WebSocket as unknown as WebSocketConstructor;

export function url(port = inject("port"), version = 1): string {
  return `ws://127.0.0.1:${port}/ws?v=${version}`;
}

/** A connection to the test server, plus the ids of the channels it opened. */
export async function connect(options: ConnectionOptions = {}): Promise<{
  connection: PulseConnection;
  lab: string;
  calc: string;
  lobby: string;
  /** The `table` channel, with `params: { table }`. */
  table: string;
}> {
  const connection = new PulseConnection({ url: url(), WebSocket: NodeWebSocket, ...options }).start();
  const opened = new Map<string, string>();
  const wanted = options.params?.table === undefined ? ["lab", "calc", "lobby"] : ["lab", "calc", "lobby", "table"];
  await new Promise<void>((resolve) => {
    const off = connection.onFrame((frame) => {
      if (frame.t === "open") opened.set(frame.name, frame.channel);
      if (wanted.every((name) => opened.has(name))) {
        off();
        resolve();
      }
    });
  });
  return {
    connection,
    lab: opened.get("lab") ?? "",
    calc: opened.get("calc") ?? "",
    lobby: opened.get("lobby") ?? "",
    table: opened.get("table") ?? "",
  };
}

/** Resolves with the next value `subscribe` reports. */
export function next<T>(subscribe: (listener: (value: T) => void) => () => void): Promise<T> {
  return new Promise((resolve) => {
    const off = subscribe((value) => {
      off();
      resolve(value);
    });
  });
}

/** Waits until `predicate` holds (polling), failing after `ms`. */
export async function until(predicate: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** `connect`, with every connection it makes closed after each test of the calling file. */
export function connectClosingAfterEach(): typeof connect {
  const open: PulseConnection[] = [];
  afterEach(() => {
    for (const connection of open.splice(0)) connection.close();
  });
  return async (options) => {
    const s = await connect(options);
    open.push(s.connection);
    return s;
  };
}

/** Says each of `texts` at `desk`, and resolves once the last came back. */
export async function say(desk: TypedChannel<DeskSchema>, texts: string[]): Promise<void> {
  const last = texts[texts.length - 1];
  const heard = new Promise<void>((resolve) => {
    const off = desk.on("said", (text) => {
      if (text === last) {
        off();
        resolve();
      }
    });
  });
  for (const text of texts) desk.emit("say", text);
  await heard;
}

/** A WebSocket that, once `forget` is set, connects as to a server that never knew the session. */
export class ForgetfulWebSocket extends WebSocket {
  static latest: ForgetfulWebSocket | null = null;
  static forget = false;
  static urls: string[] = [];
  constructor(address: string) {
    const target = ForgetfulWebSocket.forget ? address.replace(/&resume=[^&]*&last_seq=[^&]*/, "") : address;
    super(target);
    ForgetfulWebSocket.urls.push(address);
    ForgetfulWebSocket.latest = this;
  }
}

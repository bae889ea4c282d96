// Type-level tests: every line marked @ts-expect-error must fail to type-check. tsc
// (strict) reports an unused @ts-expect-error, so if any of these mistakes ever
// compiles, the type check fails.

import type { ChannelId, Href } from "../src/index";
import { usePresence } from "../src/index";
import type { DeskChannel, LabChannel, LabChannelId, LobbyChannel, TableChannel } from "./generated/lab";
import { routes, useDeskChannel, useLabChannel } from "./generated/lab";

export function misuse(lab: LabChannel, otherId: ChannelId<"chat">, plain: string) {
  // @ts-expect-error: misspelt event
  lab.emit("pots", { authorName: "a", body: "b", replyTo: null, tags: [], meta: { sent_at_ms: 1, pinned: false } });
  // @ts-expect-error: wrong payload (a field misspelt, the rest missing)
  lab.emit("post", { txt: 1 });
  // @ts-expect-error: emitting a server-to-client event from the client
  lab.emit("posted", { authorName: "a", body: "b", replyTo: null, tags: [], meta: { sent_at_ms: 1, pinned: false } });
  // @ts-expect-error: listening to a client-to-server event
  lab.on("post", () => {});
  // @ts-expect-error: the listener's payload type is wrong
  lab.on("tick", (n: string) => n);
  // @ts-expect-error: an answerer returning the wrong type
  lab.answer("ask_name", () => 42);
  // @ts-expect-error: answering an event the server never asks
  lab.answer("area", () => 1);
  // @ts-expect-error: requesting a server-to-client request
  void lab.request("ask_name", "x");
  // @ts-expect-error: a request payload of the wrong shape
  void lab.request("area", { kind: "triangle", side: 1 });
  // @ts-expect-error: a plain event is not a request
  void lab.request("post", { authorName: "a" });
  // @ts-expect-error: a payload is required
  lab.emit("post");
  // @ts-expect-error: another channel's id
  useLabChannel(otherId);
  // @ts-expect-error: a plain string is not a channel id; only the server hands them over
  useLabChannel(plain);
  // @ts-expect-error: nor is a string literal that looks like one
  useLabChannel("0b5e2d7c41a94f0e9c3d8b6a7f1e2d3c");
}

export async function correctUse(lab: LabChannel, id: LabChannelId) {
  lab.emit("ping");
  lab.emit("post", { authorName: "a", body: "b", replyTo: 1, tags: [], meta: { sent_at_ms: 1, pinned: true } });
  const off = lab.on("tick", (n: number) => n + 1);
  off();
  lab.answer("ask_nothing", () => null);
  lab.answer("ask_name", async (q) => q.toUpperCase());
  const area: number = await lab.request("area", { kind: "circle", radius: 2 }, { timeoutMs: 100 });
  const nothing: null = await lab.request("fail", "why");
  useLabChannel(id);
  return [area, nothing];
}

export async function roomsMisuse(desk: DeskChannel, lobby: LobbyChannel, labId: LabChannelId) {
  // @ts-expect-error: the desk's room key is a string, not a number
  const room: number = desk.room;
  // @ts-expect-error: joining takes the room key's type
  void lobby.attempt("join", 7);
  // @ts-expect-error: a channel without rooms has no room key
  const none: string = lobby.room;
  const looked = await desk.attempt("lookup", 4);
  if (!looked.ok) {
    // @ts-expect-error: the error is a LookupError, not a string
    const message: string = looked.error;
    // @ts-expect-error: LookupError has no such kind
    if (looked.error.kind === "timeout") return message;
  }
  // @ts-expect-error: `attempt` is for requests with an error type; `wait` has none
  void desk.attempt("wait", 10);
  // @ts-expect-error: an event of another channel
  desk.emit("post", { authorName: "a" });
  // @ts-expect-error: a lab channel's id is not a desk's
  useDeskChannel(labId);
  return [room, none];
}

export async function roomsCorrectUse(desk: DeskChannel, lobby: LobbyChannel) {
  const room: string = desk.room;
  const joined = await lobby.attempt("join", "a");
  if (joined.ok) useDeskChannel(joined.value);
  else if (joined.error.kind === "forbidden") return joined.error.reason;
  const looked = await desk.attempt("lookup", 2);
  const text: string = looked.ok ? looked.value : looked.error.kind === "not_found" ? `no ${looked.error.number}` : "zero";
  const waited: number = await desk.request("wait", 1);
  desk.emit("typing", true);
  return [room, text, waited];
}

export function presenceMisuse(table: TableChannel) {
  const seated = table.presence[0]?.sessions[0]?.meta;
  // @ts-expect-error: a field the presence metadata does not have
  void seated?.nme;
  // @ts-expect-error: the metadata's fields keep their types
  const dealing: string | undefined = seated?.dealing;
  void dealing;
  table.onPresence((present) => {
    // @ts-expect-error: a user is listed by key, with sessions, not a name
    void present[0]?.name;
  });
}

export function presenceUse(table: TableChannel): string[] {
  const present = usePresence(table);
  return present.map(({ user, sessions }) => `${user}: ${sessions.map((s) => s.meta.name).join(", ")}`);
}

export function routeMisuse() {
  // @ts-expect-error: misspelt page
  routes.rooms({ room: "a" });
  // @ts-expect-error: a missing parameter
  routes.room({});
  // @ts-expect-error: a parameter of the wrong type
  routes.search({ page: "2" });
  // @ts-expect-error: a parameter the page does not have
  routes.lobby({ room: "a" });
  // @ts-expect-error: an address not made by `routes` is not an `Href`
  const plain: Href = "/rooms/a";
  return plain;
}

// Type-level tests: every line marked @ts-expect-error must fail to type-check. tsc
// (strict) reports an unused @ts-expect-error, so if any of these mistakes ever
// compiles, the type check fails.

import type { LabChannel, LabChannelId } from "./generated/lab";
import { useLabChannel } from "./generated/lab";

export function misuse(lab: LabChannel, otherId: string & { readonly __pulseChannel?: "chat" }) {
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

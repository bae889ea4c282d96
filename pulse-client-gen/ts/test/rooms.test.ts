// Rooms, targeted delivery, async and fallible requests, from the client runtime
// against the real Rust server (`ts-test-server`: a `lobby` whose `join` opens `desk`
// rooms; room `staff` is refused by the authorization hook).

import { beforeEach, describe, expect, it } from "vitest";
import { FailedError, type TypedChannel } from "../src/index";
import type { DeskSchema, LobbySchema } from "./generated/lab";
import { connectClosingAfterEach, next } from "./helpers";

const connect = connectClosingAfterEach();

// Desks keep history on the test server: each test uses rooms of its own ("a#3"), so
// that none hears what an earlier test said.
let test = 0;
beforeEach(() => {
  test += 1;
});
const own = (room: string) => (room === "staff" ? room : `${room}#${test}`);

async function session() {
  const s = await connect();
  const lobby = s.connection.channel(s.lobby) as unknown as TypedChannel<LobbySchema>;
  /** Joins desk `room`; resolves with the desk and its welcome. */
  const join = async (room: string) => {
    const joined = await lobby.attempt("join", own(room));
    if (!joined.ok) throw new Error(`join ${room} refused: ${JSON.stringify(joined.error)}`);
    const desk = s.connection.channel(joined.value) as unknown as TypedChannel<DeskSchema>;
    // The welcome came before anything else, likely before this listener: the channel
    // held it for its first listener.
    const welcome = await new Promise<string>((resolve) => desk.on("welcome", resolve));
    return { desk, welcome };
  };
  return { ...s, lobby, join };
}

/** Every `event` the channel hears, as it hears them. */
function record<T>(channel: TypedChannel<DeskSchema>, event: "said" | "someone_typing"): T[] {
  const seen: T[] = [];
  channel.on(event, (payload) => seen.push(payload as T));
  return seen;
}

describe("rooms", () => {
  it("a joined desk knows its room and hears its welcome first", async () => {
    const { join } = await session();
    const { desk, welcome } = await join("a");
    expect(desk.room).toBe(own("a"));
    expect(welcome).toBe(`welcome to desk ${own("a")}`);
  });

  it("a broadcast reaches its room only, in every session and every room of one session", async () => {
    const ann = await session();
    const bob = await session();
    const annA = (await ann.join("a")).desk;
    const annB = (await ann.join("b")).desk;
    const bobA = (await bob.join("a")).desk;
    const [heardAnnA, heardAnnB, heardBobA] = [record(annA, "said"), record(annB, "said"), record(bobA, "said")];
    const bobHears = next<string>((l) => bobA.on("said", l));
    annA.emit("say", "in a");
    expect(await bobHears).toBe("in a");
    const annHearsB = next<string>((l) => annB.on("said", l));
    annB.emit("say", "in b");
    expect(await annHearsB).toBe("in b");
    expect(heardAnnA).toEqual(["in a"]);
    expect(heardAnnB).toEqual(["in b"]);
    expect(heardBobA).toEqual(["in a"]);
  });

  it("typing reaches the others at the desk, never the typist", async () => {
    const ann = await session();
    const bob = await session();
    const annA = (await ann.join("a")).desk;
    const bobA = (await bob.join("a")).desk;
    const annSaw = record<boolean>(annA, "someone_typing");
    const bobSees = next<boolean>((l) => bobA.on("someone_typing", l));
    annA.emit("typing", true);
    expect(await bobSees).toBe(true);
    // The typist's own `say` comes back after its typing would have: nothing was there.
    const back = next<string>((l) => annA.on("said", l));
    annA.emit("say", "done");
    await back;
    expect(annSaw).toEqual([]);
  });

  it("a refused room is a typed error the caller can switch on", async () => {
    const { lobby } = await session();
    const joined = await lobby.attempt("join", "staff");
    expect(joined).toEqual({ ok: false, error: { kind: "forbidden", reason: "staff only" } });
    await expect(lobby.request("join", "staff")).rejects.toBeInstanceOf(FailedError);
  });

  it("leaving one desk closes only that one", async () => {
    const { join } = await session();
    const a = (await join("a")).desk;
    const b = (await join("b")).desk;
    a.close();
    expect(a.closed).toBe(true);
    const heard = next<string>((l) => b.on("said", l));
    b.emit("say", "still here");
    expect(await heard).toBe("still here");
  });
});

describe("async and fallible requests", () => {
  it("a fallible async request settles to its answer or its typed error", async () => {
    const desk = (await (await session()).join("a")).desk;
    expect(await desk.attempt("lookup", 2)).toEqual({ ok: true, value: "note 2" });
    expect(await desk.attempt("lookup", 0)).toEqual({ ok: false, error: { kind: "zero" } });
    expect(await desk.attempt("lookup", 9)).toEqual({ ok: false, error: { kind: "not_found", number: 9 } });
  });

  it("a desk's later events wait for its awaiting request", async () => {
    const desk = (await (await session()).join("a")).desk;
    const order: string[] = [];
    const waited = desk.request("wait", 50).then(() => order.push("waited"));
    const said = next<string>((l) => desk.on("said", l)).then(() => order.push("said"));
    desk.emit("say", "after the wait");
    await Promise.all([waited, said]);
    expect(order).toEqual(["waited", "said"]);
  });

  it("another desk of the same session is not held up by an awaiting request", async () => {
    const { join } = await session();
    const a = (await join("a")).desk;
    const b = (await join("b")).desk;
    const heardOnA = record<string>(a, "said");
    const waiting = a.request("wait", 60_000);
    a.emit("say", "queued behind the wait");
    const heardOnB = next<string>((l) => b.on("said", l));
    b.emit("say", "meanwhile");
    expect(await heardOnB).toBe("meanwhile");
    expect(heardOnA).toEqual([]);
    a.close();
    await expect(waiting).rejects.toMatchObject({ kind: "closed" });
  });

  it("closing a desk fails its awaiting request at once", async () => {
    const desk = (await (await session()).join("a")).desk;
    const waiting = desk.request("wait", 60_000);
    desk.close();
    await expect(waiting).rejects.toMatchObject({ kind: "closed" });
  });
});

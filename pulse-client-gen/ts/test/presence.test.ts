// Presence from the client runtime against the real server (`ts-test-server` opens a
// `table` in room `<t>` for `?table=<t>`; `sit` tracks the session there): a joining
// client gets the list, then each change, typed; a closed tab leaves.

import { expect, it } from "vitest";
import type { Present, TypedChannel } from "../src/index";
import type { Seat, TableSchema } from "./generated/lab";
import { connectClosingAfterEach, until } from "./helpers";

const connect = connectClosingAfterEach();

/** A tab at table `table`: its connection and its typed table channel, once opened. */
async function tab(table: string) {
  const s = await connect({ params: { table } });
  return { ...s, table: s.connection.channel(s.table) as unknown as TypedChannel<TableSchema> };
}

/** The list as "name(sessions)" strings, sorted: what a page would show. */
function shown(present: Present<Seat>[]): string[] {
  return present.map(({ sessions }) => `${sessions[0]?.meta.name}(${sessions.length})`).sort();
}

it("a joining tab gets the table's list, then every change, typed", async () => {
  const table = `t-${Math.random().toString(36).slice(2)}`;
  const ann = await tab(table);
  ann.table.emit("sit", "Ann");
  await until(() => shown(ann.table.presence).length === 1);

  const bob = await tab(table);
  const seen: string[][] = [];
  bob.table.onPresence((present) => seen.push(shown(present)));
  await until(() => seen.length > 0);
  expect(seen[0]).toEqual(["Ann(1)"]);
  bob.table.emit("sit", "Bob");
  await until(() => shown(ann.table.presence).length === 2);
  expect(shown(ann.table.presence)).toEqual(["Ann(1)", "Bob(1)"]);
  ann.table.emit("deal", true);
  await until(() => bob.table.presence.some((p) => p.sessions[0]?.meta.dealing === true));
  bob.table.emit("stand");
  await until(() => shown(ann.table.presence).length === 1);
  expect(shown(ann.table.presence)).toEqual(["Ann(1)"]);
});

it("a tab that closes leaves the list of every other tab", async () => {
  const table = `t-${Math.random().toString(36).slice(2)}`;
  const watcher = await tab(table);
  // (Without authentication each session is listed as its own user; a user's tabs
  // grouped under one key is tested in tests/tests/presence.rs, with authentication.)
  const one = await tab(table);
  const two = await tab(table);
  one.table.emit("sit", "One");
  two.table.emit("sit", "Two");
  await until(() => shown(watcher.table.presence).length === 2);
  one.connection.close();
  await until(() => shown(watcher.table.presence).length === 1);
  expect(shown(watcher.table.presence)).toEqual(["Two(1)"]);
});

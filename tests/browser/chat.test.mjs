// The chat in a real browser: Debian's headless Chromium driven by playwright-core,
// against the real chat server (target/debug/chat), which this test starts and stops.
//
//   node --test chat.test.mjs        (after ./scripts/test-all.sh has built everything)

import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { after, before, test } from "node:test";
import { freePort, launchChromium, root, seeItem, send, startRedis, startServer, stopServer } from "./lib.mjs";

let port;
let server;
let browser;
let base;

before(async () => {
  port = await freePort();
  base = `http://127.0.0.1:${port}/`;
  server = await startServer(port);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  if (server) await stopServer(server);
});

/** A new tab (in its own browser context, like another person), on the page only. */
async function openPage(name, room, init) {
  const context = await browser.newContext();
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  page.on("pageerror", (error) => console.error(`[${name}] page error:`, error));
  await page.goto(room ? `${base}?room=${room}` : base);
  return page;
}

/** A new tab with the chat loaded (in `room`, or the lobby). */
async function openChat(name, init, room) {
  const page = await openPage(name, room, init);
  await page.locator(".chat-client").waitFor();
  await page.locator(".name").fill(name);
  return page;
}

test("a message typed in one tab appears in both tabs, server list and client list, within 1 s", async () => {
  const a = await openChat("alice");
  const b = await openChat("bob");
  const started = Date.now();
  await send(a, "hello from alice");
  for (const page of [a, b]) {
    await seeItem(page, ".server-messages", "alice: hello from alice", 1000);
    await seeItem(page, ".client-messages", "alice: hello from alice", 1000);
  }
  assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);

  await send(b, "hi alice");
  await seeItem(a, ".server-messages", "bob: hi alice", 1000);
  await seeItem(a, ".client-messages", "bob: hi alice", 1000);

  // A tab opened later shows the room's history, in both lists.
  const c = await openChat("carol");
  await seeItem(c, ".server-messages", "alice: hello from alice");
  await seeItem(c, ".client-messages", "bob: hi alice");
  // ... and the others were notified that someone joined.
  await seeItem(a, ".notices", "someone joined the chat");

  mkdirSync(`${root}target/screenshots`, { recursive: true });
  await a.screenshot({ path: `${root}target/screenshots/chat.png` });
  for (const page of [a, b, c]) await page.context().close();
});

test("each tab shows who is online in its room, and a closed tab goes off the list", async () => {
  const room = `online-${Date.now()}`;
  const a = await openChat("ann", undefined, room);
  const b = await openChat("ben", undefined, room);
  const elsewhere = await openChat("eve", undefined, `${room}-other`);
  const online = (page) => page.locator(".online");
  for (const page of [a, b]) {
    await online(page).getByText("online: ann, ben", { exact: true }).waitFor({ timeout: 5000 });
  }
  await online(elsewhere).getByText("online: eve", { exact: true }).waitFor({ timeout: 5000 });
  // A new name shows at once in the other tab.
  await b.locator(".name").fill("benedict");
  await online(a).getByText("online: ann, benedict", { exact: true }).waitFor({ timeout: 5000 });
  await b.context().close();
  await online(a).getByText("online: ann", { exact: true }).waitFor({ timeout: 5000 });
  for (const page of [a, elsewhere]) await page.context().close();
});

test("on two nodes behind one Redis, both show the same room and the same people online", async () => {
  const redisPort = await freePort();
  const redis = await startRedis(redisPort);
  const env = { PULSE_REDIS_URL: `redis://127.0.0.1:${redisPort}` };
  const ports = [await freePort(), await freePort()];
  const nodes = [await startServer(ports[0], env), await startServer(ports[1], env)];
  try {
    const room = `cluster-${Date.now()}`;
    const open = async (name, node) => {
      const context = await browser.newContext();
      const page = await context.newPage();
      page.on("pageerror", (error) => console.error(`[${name}] page error:`, error));
      await page.goto(`http://127.0.0.1:${ports[node]}/?room=${room}`);
      await page.locator(".chat-client").waitFor();
      await page.locator(".name").fill(name);
      return page;
    };
    const a = await open("ann", 0);
    const b = await open("ben", 1);
    for (const page of [a, b]) {
      await page.locator(".online").getByText("online: ann, ben", { exact: true }).waitFor({ timeout: 5000 });
    }
    await send(a, "across the nodes");
    await seeItem(b, ".client-messages", "ann: across the nodes");
    await seeItem(b, ".server-messages", "ann: across the nodes");
    // A tab opened later on the other node gets the room's history from Redis.
    const c = await open("cat", 1);
    await seeItem(c, ".client-messages", "ann: across the nodes");
    for (const page of [a, b, c]) await page.context().close();
  } finally {
    for (const node of nodes) await stopServer(node);
    await stopServer(redis);
  }
});

test("the server asks each new tab for its location and shows the answer", async () => {
  const page = await openChat("dave");
  await page.locator(".location").getByText("your location: 40.7, -74.0").waitFor();
  await page.context().close();
});

test("a tab that withholds its location shows 'location unavailable' after the timeout", async () => {
  const page = await openChat("erin", () => {
    window.__withholdLocation = true;
  });
  assert.equal(await page.locator(".location").textContent(), "locating…");
  await page.locator(".location").getByText("location unavailable").waitFor({ timeout: 8000 });
  await page.context().close();
});

test("a reloaded tab reconnects and keeps working", async () => {
  const a = await openChat("frank");
  const b = await openChat("grace");
  await a.reload();
  await a.locator(".chat-client").waitFor();
  await a.locator(".name").fill("frank");
  await send(a, "back after reload");
  await seeItem(b, ".client-messages", "frank: back after reload", 2000);
  await seeItem(a, ".server-messages", "frank: back after reload", 2000);
  await a.context().close();
  await b.context().close();
});

test("after the server restarts, the page reconnects on its own and sending works again", async () => {
  const page = await openChat("heidi");
  await page.locator(".status").getByText("connection: open", { exact: true }).waitFor();
  await stopServer(server);
  await page.locator(".status").getByText("connection: reconnecting", { exact: true }).waitFor();
  server = await startServer(port);
  // The page reconnects with backoff and gets a fresh tree (and session) from the new process.
  await page.locator(".status").getByText("connection: open", { exact: true }).waitFor({ timeout: 15000 });
  await page.locator(".location").getByText("your location: 40.7, -74.0").waitFor();
  await page.locator(".name").fill("heidi");
  await send(page, "still here");
  await seeItem(page, ".server-messages", "heidi: still here", 2000);
  await seeItem(page, ".client-messages", "heidi: still here", 2000);
  await page.context().close();
});

test("rooms: the page's link picks the room, and a message never leaves its room", async () => {
  const lobby1 = await openChat("ivan");
  const lobby2 = await openChat("judy");
  const random1 = await openChat("ken");
  // The page links to the rooms; following one puts the room in the URL.
  await random1.getByRole("link", { name: "random" }).click();
  await random1.waitForURL(/\/rooms\/random$/);
  await random1.locator("h2").getByText("Chat: random", { exact: true }).waitFor();
  await random1.locator(".chat-client").waitFor();
  await random1.locator(".name").fill("ken");
  const random2 = await openChat("lena", undefined, "random");

  await send(lobby1, "only for the lobby");
  await seeItem(lobby2, ".client-messages", "ivan: only for the lobby");
  await seeItem(lobby2, ".server-messages", "ivan: only for the lobby");
  await send(random1, "only for random");
  await seeItem(random2, ".client-messages", "ken: only for random");
  await seeItem(random2, ".server-messages", "ken: only for random");
  // Each room's tabs have their room's messages and none of the other's.
  for (const page of [random1, random2]) {
    assert.equal(await page.getByText("ivan: only for the lobby").count(), 0);
  }
  for (const page of [lobby1, lobby2]) {
    await seeItem(page, ".client-messages", "ivan: only for the lobby");
    assert.equal(await page.getByText("ken: only for random").count(), 0);
  }
  for (const page of [lobby1, lobby2, random1, random2]) await page.context().close();
});

test("pages: a room's link, back and forward render over the socket, without a reload", async () => {
  const walker = await openChat("nina");
  const stayer = await openChat("omar");
  const online = (page) => page.locator(".online").innerText();
  const lists = async (page, name) => (await online(page)).includes(name);
  for (let i = 0; !(await lists(stayer, "nina")); i++) {
    assert.ok(i < 50, `the lobby never listed nina: ${await online(stayer)}`);
    await stayer.waitForTimeout(100);
  }
  await walker.evaluate(() => { window.__sameDocument = true; });

  await walker.getByRole("link", { name: "random" }).click();
  await walker.waitForURL(/\/rooms\/random$/);
  await walker.locator("h2").getByText("Chat: random", { exact: true }).waitFor();
  await walker.locator(".chat-client").waitFor();
  await waitForTitle(walker, "Chat: random");
  // The lobby's page was left: its channel closed, so the lobby no longer lists nina.
  for (let i = 0; await lists(stayer, "nina"); i++) {
    assert.ok(i < 50, `the lobby still lists nina: ${await online(stayer)}`);
    await stayer.waitForTimeout(100);
  }

  await walker.goBack();
  await walker.locator("h2").getByText("Chat: lobby", { exact: true }).waitFor();
  assert.equal(new URL(walker.url()).pathname, "/");
  await walker.goForward();
  await walker.locator("h2").getByText("Chat: random", { exact: true }).waitFor();
  assert.equal(new URL(walker.url()).pathname, "/rooms/random");
  // An old address reached in the page's history: the server renders its page, and the
  // tab's address becomes the page's own.
  await walker.evaluate(() => {
    history.pushState(null, "", "/?room=lobby");
    dispatchEvent(new PopStateEvent("popstate"));
  });
  await walker.locator("h2").getByText("Chat: lobby", { exact: true }).waitFor();
  await walker.waitForURL(/\/rooms\/lobby$/);
  await waitForTitle(walker, "Chat: lobby");
  // An address of no page: the not-found page, under the app's own title (index.html's).
  await walker.evaluate(() => {
    history.pushState(null, "", "/nowhere");
    dispatchEvent(new PopStateEvent("popstate"));
  });
  await walker.locator("h2").getByText("Not found", { exact: true }).waitFor();
  await waitForTitle(walker, "Pulse chat");
  // Every move was made in the same document: no reload.
  assert.equal(await walker.evaluate(() => window.__sameDocument), true);
  for (const page of [walker, stayer]) await page.context().close();
});

/** Waits until the tab's title is `title`. */
async function waitForTitle(page, title) {
  await page.waitForFunction((expected) => document.title === expected, title, { timeout: 5000 });
}

test("typing shows in the other tab of the room, never in the typist's", async () => {
  const room = "typing-room";
  const a = await openChat("mallory", undefined, room);
  const b = await openChat("nina", undefined, room);
  await a.locator(".text").fill("hel");
  await b.locator(".typing").getByText("mallory typing…", { exact: true }).waitFor();
  // The other way round: by the time the typist sees nina typing, her own would be there.
  await b.locator(".text").fill("wor");
  await a.locator(".typing").getByText("nina typing…", { exact: true }).waitFor();
  assert.equal(await a.locator(".typing").textContent(), "nina typing…");
  // Sending clears the line in the other tab.
  await send(a, "hello");
  await seeItem(b, ".client-messages", "mallory: hello");
  await b.locator(".typing").getByText("\u00a0", { exact: true }).waitFor();
  await a.context().close();
  await b.context().close();
});

test("a refused room says so and opens no chat", async () => {
  const page = await openPage("oscar", "staff");
  await page.locator(".refused").getByText("you may not enter staff: the staff room is for staff").waitFor();
  assert.equal(await page.locator(".chat-client").count(), 0);
  await page.context().close();
});

test("a page the server refuses says why, in the page and once in the console, and backs off", async () => {
  const refusingPort = await freePort();
  const refusing = await startServer(refusingPort, { PULSE_ORIGINS: "https://app.example" });
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = [];
    page.on("console", (message) => message.type() === "error" && errors.push(message.text()));
    const upgrades = [];
    page.on("websocket", (socket) => upgrades.push(socket.url()));
    await page.goto(`http://127.0.0.1:${refusingPort}/`);
    const refused = page.locator(".refused");
    await refused.waitFor({ timeout: 10_000 });
    assert.match(
      await refused.textContent(),
      /^the server refuses this page: origin not allowed: http:\/\/127\.0\.0\.1:\d+ is not in the server's Config::origins \(https:\/\/app\.example\)/,
    );
    // After the refusal is known, tries come at the longest backoff step (5 s ± 50%).
    const tries = upgrades.length;
    await page.waitForTimeout(2000);
    assert.ok(upgrades.length - tries <= 1, `${upgrades.length - tries} tries in 2 s`);
    const said = errors.filter((e) => e.includes("the server refuses this page's connection (HTTP 403)"));
    assert.equal(said.length, 1, errors.join("\n"));
    await context.close();
  } finally {
    await stopServer(refusing);
  }
});

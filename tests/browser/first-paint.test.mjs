// A page's first paint over HTTP, in Chromium against the real chat server: a deep link
// shows the room's messages before any script runs, and with JavaScript disabled; the
// client takes the page over keeping the very nodes the server wrote, on one WebSocket
// that resumes the session that rendered the page; an address of no page is a 404 with
// the not-found page.
//
//   node --test first-paint.test.mjs        (after ./scripts/test-all.sh has built everything)

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { freePort, launchChromium, seeItem, send, startRedis, startServer, stopServer } from "./lib.mjs";

let server;
let browser;
let base;

before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = await startServer(port);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  if (server) await stopServer(server);
});

/** A tab in a context of its own; page errors and console errors are collected. */
async function newTab(options = {}) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (error) => page.errors.push(String(error)));
  page.on("console", (message) => {
    if (message.type() === "error") page.errors.push(message.text());
  });
  return page;
}

/** Messages sent to `room` by a chat tab (on the server at `at`), which stays open. */
async function roomWith(room, ...texts) {
  return roomOn(base, room, ...texts);
}

async function roomOn(at, room, ...texts) {
  const author = await newTab();
  await author.goto(`${at}/rooms/${room}`);
  await author.locator(".chat-client").waitFor();
  await author.locator(".name").fill("alice");
  for (const text of texts) {
    await send(author, text);
    await seeItem(author, ".server-messages", `alice: ${text}`);
  }
  return author;
}

test("a deep link shows the room's messages with JavaScript disabled, and a bad address is a 404 page", async () => {
  const room = `nojs-${Date.now()}`;
  const author = await roomWith(room, "first", "second");
  const reader = await newTab({ javaScriptEnabled: false });
  const response = await reader.goto(`${base}/rooms/${room}`);
  assert.equal(response.status(), 200);
  assert.equal(response.headers()["cache-control"], "no-store");
  assert.deepEqual(await reader.locator(".server-messages li").allInnerTexts(), ["alice: first", "alice: second"]);
  assert.equal(await reader.locator("h2").innerText(), `Chat: ${room}`);
  assert.equal(await reader.title(), `Chat: ${room}`, "the route's title");
  // The client component's fallback holds its place; links are plain links.
  assert.equal(await reader.locator("p.status").first().innerText(), "loading the chat box…");
  await reader.getByRole("link", { name: "random" }).click();
  await reader.waitForURL(/\/rooms\/random$/);
  assert.equal(await reader.locator("h2").innerText(), "Chat: random");

  for (const address of ["/rooms/a%2Fb/c", "/nowhere"]) {
    const missing = await reader.goto(`${base}${address}`);
    assert.equal(missing.status(), 404, address);
    assert.equal(await reader.locator("h2").innerText(), "Not found", address);
  }
  // Redirected to the room's own address.
  await reader.goto(`${base}/?room=${room}`);
  assert.equal(new URL(reader.url()).pathname, `/rooms/${room}`);
  assert.equal(await reader.locator(".server-messages li").count(), 2);
  for (const page of [author, reader]) await page.context().close();
});

test("the page shows before any script runs; the client takes over the same nodes on one resumed session", async () => {
  const room = `takeover-${Date.now()}`;
  const author = await roomWith(room, "before the page");
  const page = await newTab();
  // Hold the app's script until the first paint has been looked at.
  let release;
  const held = new Promise((resolve) => {
    release = resolve;
  });
  await page.route("**/app.js", async (route) => {
    await held;
    await route.continue();
  });
  const sockets = [];
  page.on("websocket", (socket) => sockets.push(socket.url()));

  await page.goto(`${base}/rooms/${room}`, { waitUntil: "commit" });
  await seeItem(page, ".server-messages", "alice: before the page");
  assert.equal(await page.locator(".chat-client").count(), 0, "the client component has not run");
  assert.equal(sockets.length, 0, "nothing has connected yet");
  // Mark the nodes the server wrote, then let the script run.
  await page.evaluate(() => {
    for (const node of document.querySelectorAll("#app h2, #app nav a, #app .server-messages, #app li")) {
      node.__fromServer = true;
    }
  });
  const marked = await page.evaluate(() => document.querySelectorAll("#app h2, #app nav a, #app li").length);
  release();
  await page.locator(".chat-client").waitFor();
  await page.locator(".status").getByText("connection: open").waitFor();

  // React hydrated them: not one was replaced.
  const kept = await page.evaluate(() =>
    [...document.querySelectorAll("#app h2, #app nav a, #app li")].filter((node) => node.__fromServer).length,
  );
  assert.equal(kept, marked, "the nodes the server wrote are the nodes the client shows");
  // One WebSocket, resuming the session that rendered the page.
  const session = await page.evaluate(
    () => JSON.parse(document.getElementById("pulse-first-paint").textContent).session,
  );
  assert.equal(sockets.length, 1, sockets.join("\n"));
  assert.match(sockets[0], new RegExp(`[?&]resume=${session}&last_seq=0(&|$)`));

  // Live: a message sent now reaches both tabs, in both lists, the server's list keeping its node.
  await page.locator(".name").fill("bob");
  await send(page, "after the take-over");
  for (const tab of [page, author]) {
    await seeItem(tab, ".server-messages", "bob: after the take-over");
    await seeItem(tab, ".client-messages", "bob: after the take-over");
  }
  assert.equal(await page.evaluate(() => document.querySelector("#app .server-messages").__fromServer), true);
  // The history the client component shows came once (no second fetch, no duplicates).
  assert.deepEqual(await page.locator(".client-messages li").allInnerTexts(), [
    "alice: before the page",
    "bob: after the take-over",
  ]);
  assert.deepEqual(page.errors, [], "no hydration error, nothing in the console");
  for (const tab of [author, page]) await tab.context().close();
});

test("on a node of a cluster, whose room history is read from Redis: the page has the messages, and no flash", async () => {
  const redisPort = await freePort();
  const redis = await startRedis(redisPort);
  const env = { PULSE_REDIS_URL: `redis://127.0.0.1:${redisPort}` };
  const ports = [await freePort(), await freePort()];
  const nodes = [];
  try {
    for (const port of ports) nodes.push(await startServer(port, env));
    const [one, two] = ports.map((port) => `http://127.0.0.1:${port}`);
    const room = `cluster-${Date.now()}`;
    const author = await roomOn(one, room, "sent on node one");
    // Node two has never shown this room: its history is read from Redis while the page
    // renders (a first render without the message, then the one with it). From the
    // first paint to the end of the take-over, the list never loses its message.
    const page = await newTab();
    await page.addInitScript(() => {
      window.__fewest = Number.POSITIVE_INFINITY;
      new MutationObserver(() => {
        const list = document.querySelector("#app .server-messages");
        if (list) window.__fewest = Math.min(window.__fewest, list.querySelectorAll("li").length);
      }).observe(document, { childList: true, subtree: true });
    });
    await page.goto(`${two}/rooms/${room}`);
    await page.locator(".status").getByText("connection: open").waitFor();
    await page.locator(".chat-client").waitFor();
    await seeItem(page, ".client-messages", "alice: sent on node one");
    assert.equal(await page.evaluate(() => window.__fewest), 1, "the server's list showed its message throughout");
    assert.deepEqual(page.errors, []);
    // And with JavaScript disabled.
    const reader = await newTab({ javaScriptEnabled: false });
    await reader.goto(`${two}/rooms/${room}`);
    assert.deepEqual(await reader.locator(".server-messages li").allInnerTexts(), ["alice: sent on node one"]);
    for (const tab of [author, reader, page]) await tab.context().close();
  } finally {
    for (const node of nodes) await stopServer(node);
    await stopServer(redis);
  }
});

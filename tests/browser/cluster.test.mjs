// The chat on two nodes behind one Redis, in Chromium, with the settings
// scripts/chat-cluster.sh uses (PULSE_REDIS_URL; nothing else: the nodes learn each
// other's addresses through Redis): a tab whose node is killed moves to the other node
// and ends with every
// message, once, in order; a restarted node's tabs render the room's messages, not the
// node's memory; messages sent at the same instant on both nodes are in one order in
// every list of every tab; a typist whose tab closes stops "typing…" on every screen.
//
//   node --test cluster.test.mjs   (after `cargo build -p chat` and the chat's client build)

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { freePort, launchChromium, seeItem, send, startRedis, startServer, stopServer } from "./lib.mjs";

let browser;
let redis;
let env;
const ports = [];
const nodes = [];

before(async () => {
  const redisPort = await freePort();
  redis = await startRedis(redisPort);
  ports.push(await freePort(), await freePort());
  env = { PULSE_REDIS_URL: `redis://127.0.0.1:${redisPort}` };
  nodes.push(await startServer(ports[0], env), await startServer(ports[1], env));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  for (const node of nodes) if (node) await stopServer(node);
  if (redis) await stopServer(redis);
});

/** A tab on node `node` (0 or 1) in `room`, chatting as `name`; `page.knowsBoth` resolves
 * once the server has told it both nodes (in `hello` or a `nodes` frame). */
async function open(name, node, room) {
  const page = await (await browser.newContext()).newPage();
  page.on("pageerror", (error) => console.error(`[${name}] page error:`, error));
  page.sockets = 0;
  page.sent = [];
  page.on("websocket", (socket) => {
    page.sockets += 1;
    socket.on("framesent", ({ payload }) => {
      if (typeof payload === "string" && payload.includes('"send_message"')) page.sent.push(JSON.parse(payload).payload.text);
    });
  });
  page.knowsBoth = new Promise((resolve) => {
    page.on("websocket", (socket) =>
      socket.on("framereceived", ({ payload }) => {
        if (typeof payload !== "string" || !/^\{"t":"(hello|nodes)"/.test(payload)) return;
        const { nodes = [] } = JSON.parse(payload);
        if (ports.every((port) => nodes.includes(`ws://127.0.0.1:${port}/ws`))) resolve();
      }),
    );
  });
  await page.goto(`http://127.0.0.1:${ports[node]}/?room=${room}`);
  await page.locator(".chat-client").waitFor();
  await page.locator(".name").fill(name);
  return page;
}

/** The texts of list `selector` (`.server-messages` or `.client-messages`) in `page`. */
const texts = (page, selector) => page.locator(`${selector} > li`).allInnerTexts();

/** Waits until both lists of `page` show exactly `expected`, in order; returns when. */
async function listsShow(page, expected, what, timeout = 10_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const [server, client] = [await texts(page, ".server-messages"), await texts(page, ".client-messages")];
    if (JSON.stringify(server) === JSON.stringify(expected) && JSON.stringify(client) === JSON.stringify(expected)) {
      return Date.now();
    }
    if (Date.now() > deadline) {
      assert.fail(`${what}: expected ${JSON.stringify(expected)}\n server list: ${JSON.stringify(server)}\n client list: ${JSON.stringify(client)}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

test("a tab whose node is killed moves to the other node with every message, once, in order", async () => {
  const room = `failover-${Date.now()}`;
  const ann = await open("ann", 0, room);
  const ben = await open("ben", 1, room);
  await send(ann, "before");
  await listsShow(ben, ["ann: before"], "ben before the kill");
  // Nothing configured: ann's node learnt of ben's through Redis, and told ann.
  await ann.knowsBoth;

  const killed = Date.now();
  await stopServer(nodes[0]); // SIGKILL
  nodes[0] = null;
  const sent = [];
  for (let i = 1; i <= 10; i += 1) {
    await send(ben, `meanwhile ${i}`);
    sent.push(`ben: meanwhile ${i}`);
  }
  const expected = ["ann: before", ...sent];
  const back = await listsShow(ann, expected, "ann after its node died");
  await ann.locator(".status").getByText("connection: open", { exact: true }).waitFor();
  console.log(`failover: ann shows all ${expected.length} messages ${back - killed} ms after the kill`);
  // And it is on the live node: what it sends reaches ben.
  await send(ann, "from the other node");
  await listsShow(ben, [...expected, "ann: from the other node"], "ben after ann moved");

  // The node comes back: a tab opened on it renders the room from Redis, in the room's order.
  nodes[0] = await startServer(ports[0], env);
  const cat = await open("cat", 0, room);
  await listsShow(cat, [...expected, "ann: from the other node"], "a tab on the restarted node");
  for (const page of [ann, ben, cat]) await page.context().close();
});

test("messages sent at the same instant on both nodes are in one order in every list", async () => {
  const room = `order-${Date.now()}`;
  const tabs = [await open("ann", 0, room), await open("ben", 1, room), await open("cat", 0, room), await open("dan", 1, room)];
  for (let round = 1; round <= 6; round += 1) {
    // One message from each node, sent in the same turn of the test's event loop.
    await Promise.all([send(tabs[0], `a${round}`), send(tabs[1], `b${round}`)]);
  }
  const lists = async () => Promise.all(tabs.flatMap((tab) => [texts(tab, ".server-messages"), texts(tab, ".client-messages")]));
  let seen = await lists();
  const deadline = Date.now() + 10_000;
  while (seen.some((list) => list.length < 12) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
    seen = await lists();
  }
  const shown = seen.map((list, i) => `${["ann", "ben", "cat", "dan"][i >> 1]} ${i % 2 ? "client" : "server"}: ${JSON.stringify(list)}`);
  const sockets = tabs.map((tab) => tab.sockets).join(", ");
  const sent = `ann sent ${JSON.stringify(tabs[0].sent)}, ben sent ${JSON.stringify(tabs[1].sent)}`;
  assert.equal(seen[0].length, 12, `all 12 messages:\n${shown.join("\n")}\nWebSockets opened by ann, ben, cat, dan: ${sockets}\n${sent}`);
  for (const list of seen) assert.deepEqual(list, seen[0], "every list of every tab on both nodes in one order");
  for (const tab of tabs) await tab.context().close();
});

test("a typist whose tab closes stops typing on every screen, on both nodes", async () => {
  const room = `typing-${Date.now()}`;
  const dan = await open("dan", 0, room);
  const eve = await open("eve", 1, room);
  const fay = await open("fay", 0, room);
  for (const page of [dan, eve, fay]) {
    await page.locator(".online").getByText("online: dan, eve, fay", { exact: true }).waitFor({ timeout: 5000 });
  }
  await dan.locator(".text").fill("half a thought");
  for (const page of [eve, fay]) await page.locator(".typing").getByText("dan typing…").waitFor({ timeout: 5000 });
  assert.ok(!(await dan.locator(".typing").innerText()).includes("typing"), "never the typist's own");
  const closed = Date.now();
  await dan.context().close();
  for (const page of [eve, fay]) {
    await page.locator(".online").getByText("online: eve, fay", { exact: true }).waitFor({ timeout: 5000 });
    await page.locator(".typing").getByText("dan typing…").waitFor({ state: "detached", timeout: 5000 });
  }
  console.log(`typing: dan's notice gone on both nodes ${Date.now() - closed} ms after the tab closed`);
  for (const page of [eve, fay]) await page.context().close();
});

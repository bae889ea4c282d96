// The chat in a real browser: Debian's headless Chromium driven by playwright-core,
// against the real chat server (target/debug/chat), which this test starts and stops.
//
//   node --test chat.test.mjs        (after ./scripts/test-all.sh has built everything)

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = fileURLToPath(new URL("../..", import.meta.url));
const serverBinary = process.env.CHAT_SERVER ?? `${root}target/debug/chat`;
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** A free loopback port (so a restarted server can come back on the same one). */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** Starts the chat server on `port` and resolves once it listens. */
function startServer(port) {
  const child = spawn(serverBinary, ["--port", String(port)], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let output = "";
    child.once("exit", (code) => reject(new Error(`chat server exited with ${code}: ${output}`)));
    child.stdout.on("data", (chunk) => {
      output += chunk;
      if (output.includes("chat on http://")) {
        child.removeAllListeners("exit");
        resolve(child);
      }
    });
  });
}

function stopServer(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

let port;
let server;
let browser;
let base;

before(async () => {
  port = await freePort();
  base = `http://127.0.0.1:${port}/`;
  server = await startServer(port);
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

after(async () => {
  await browser?.close();
  if (server) await stopServer(server);
});

/** A new tab (in its own browser context, like another person) with the chat loaded. */
async function openChat(name, init) {
  const context = await browser.newContext();
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  page.on("pageerror", (error) => console.error(`[${name}] page error:`, error));
  await page.goto(base);
  await page.locator(".chat-client").waitFor();
  await page.locator(".name").fill(name);
  return page;
}

async function send(page, text) {
  await page.locator(".text").fill(text);
  await page.getByRole("button", { name: "Send" }).click();
}

/** Waits until `selector` holds an item with exactly `text`. */
async function seeItem(page, selector, text, timeout = 5000) {
  await page.locator(selector).getByText(text, { exact: true }).first().waitFor({ timeout });
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

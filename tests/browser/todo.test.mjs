// A newcomer's todo app (tests/browser/todo, server `pulse_tests::todo`) the way Vite's
// React template runs it: its config, through Vite's dev server, <StrictMode> on, no client options.
// A tab opened after 150 adds shows all 150 in order; a hot-module edit of the component
// that folds them keeps all 150 and its live updates; the production build shows the
// same; no console warning at all. The board comes from the page's `?board=` (the
// page's address reaches `session.param`).
//
//   node --test todo.test.mjs   (after `cargo build -p pulse-tests --bin todo-server`
//                                and `npm run build -w @pulse-rs/client`)

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { createServer } from "vite";

import { freePort, launchChromium, root, stopServer } from "./lib.mjs";

const app = join(root, "tests/browser/todo");
const component = join(app, "src/TodoList.tsx");
const original = readFileSync(component, "utf8");
const dist = mkdtempSync(join(tmpdir(), "pulse-todo-"));
const COUNT = 150;

let server;
let serverPort;
let vite;
let browser;
const consoleLines = [];

/** The todo server on a free port, serving the production build from `dist`. */
function startTodoServer() {
  const binary = process.env.TODO_SERVER ?? join(root, "target/debug/todo-server");
  const child = spawn(binary, ["0", dist], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let output = "";
    child.once("exit", (code) => reject(new Error(`todo-server exited with ${code}: ${output}`)));
    child.stdout.on("data", (chunk) => {
      output += chunk;
      const port = /listening on (\d+)/.exec(output)?.[1];
      if (port) {
        child.removeAllListeners("exit");
        resolve([child, Number(port)]);
      }
    });
  });
}

/** A tab in its own browser context, its console warnings and errors recorded. */
async function openTab(url, name) {
  const page = await (await browser.newContext()).newPage();
  page.on("console", (message) => {
    if (message.type() === "warning" || message.type() === "error") consoleLines.push(`[${name}] ${message.text()}`);
  });
  if (process.env.VITE_LOG) page.on("console", (m) => console.log(`[${name}:${m.type()}] ${m.text()}`));
  page.on("pageerror", (error) => consoleLines.push(`[${name}] ${error.message}`));
  await page.goto(url);
  await page.locator(".new").waitFor({ timeout: 15_000 });
  return page;
}

/** The texts of the list in `page`, once it shows `count` items. */
async function itemsOnceThere(page, count, what) {
  try {
    await page.locator(".items > li").nth(count - 1).waitFor({ timeout: 10_000 });
  } catch (error) {
    const shown = await page.locator(".items > li").count();
    throw new Error(`${what}: waited for ${count} items, the page shows ${shown}\n${error.message}`);
  }
  return page.locator(".items > li").allInnerTexts();
}

const expected = (n) => Array.from({ length: n }, (_, i) => `todo ${i + 1}`);

before(async () => {
  // The production build in its own process: `vite build` makes its process a
  // production one (NODE_ENV), where the dev server would not hot-update.
  execFileSync(join(root, "node_modules/.bin/vite"), ["build", "--outDir", dist, "--emptyOutDir", "--logLevel", "warn"], {
    cwd: app,
    stdio: ["ignore", "ignore", "inherit"],
  });
  [server, serverPort] = await startTodoServer();
  process.env.PULSE_PORT = String(serverPort);
  vite = await createServer({
    root: app,
    logLevel: process.env.VITE_LOG ?? "warn",
    clearScreen: false,
    server: { host: "127.0.0.1", port: await freePort(), strictPort: true },
  });
  await vite.listen();
  browser = await launchChromium();
});

after(async () => {
  writeFileSync(component, original);
  await browser?.close();
  await vite?.close();
  if (server) await stopServer(server, "SIGTERM");
  rmSync(dist, { recursive: true, force: true });
});

test("through Vite's dev server with StrictMode: a late tab, a hot-module edit, the production build", async () => {
  const dev = `${vite.resolvedUrls.local[0]}?board=late`;

  // The first tab adds 150 items, one by one, as a user would.
  const first = await openTab(dev, "first");
  assert.equal(await first.locator("h1").innerText(), "Board late", "the page's ?board= reaches the server");
  const input = first.locator(".new");
  for (const text of expected(COUNT)) {
    await input.fill(text);
    await input.press("Enter");
  }
  assert.deepEqual(await itemsOnceThere(first, COUNT, "the tab that added them"), expected(COUNT));

  // A tab opened afterwards: the whole history, in order, with the default buffer.
  const late = await openTab(dev, "late");
  assert.deepEqual(await itemsOnceThere(late, COUNT, "a tab opened after 150 adds"), expected(COUNT));
  assert.equal(await late.locator(".items > li").count(), COUNT, "each item once");

  // A hot-module edit of the component that folds the list: no reload, the list kept.
  await late.evaluate(() => {
    window.notReloaded = true;
  });
  writeFileSync(component, original.replace(">Todos</h2>", ">Todos, edited</h2>"));
  await late.locator("h2", { hasText: "Todos, edited" }).waitFor({ timeout: 10_000 });
  assert.equal(await late.evaluate(() => window.notReloaded), true, "a hot update, not a reload");
  assert.deepEqual(await itemsOnceThere(late, COUNT, "after the edit"), expected(COUNT));
  assert.equal(await late.locator(".items > li").count(), COUNT, "each item once after the edit");

  // The edited component still hears what comes next, once; so does the first tab.
  await late.locator(".new").fill(`todo ${COUNT + 1}`);
  await late.locator(".new").press("Enter");
  for (const [page, what] of [[late, "the edited tab"], [first, "the first tab"]]) {
    assert.deepEqual(await itemsOnceThere(page, COUNT + 1, what), expected(COUNT + 1));
    assert.equal(await page.locator(".items > li").count(), COUNT + 1, `${what}: each item once`);
  }

  // The production build, served by the Rust server itself: the same board, whole.
  const production = await openTab(`http://127.0.0.1:${serverPort}/?board=late`, "production");
  assert.deepEqual(await itemsOnceThere(production, COUNT + 1, "the production build"), expected(COUNT + 1));

  // Another board is another room: empty.
  const other = await openTab(`${vite.resolvedUrls.local[0]}?board=other`, "other board");
  assert.equal(await other.locator("h1").innerText(), "Board other");
  assert.equal(await other.locator(".items > li").count(), 0);

  assert.deepEqual(consoleLines, [], "no console warning or error");
});

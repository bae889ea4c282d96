// The chat's pages in Chromium (Debian's, headless), against the real chat server:
//
//  - time until a room's page shows the room's messages (not just any paint), with the
//    page rendered by the server (its first paint) and without it (today's way before:
//    the same server and bundle, an index.html with no data-pulse-root element, so the
//    messages come after the bundle and the socket's hello), each in a fresh browser
//    context (nothing cached);
//  - the HTML's size, both ways;
//  - the server's CPU per page request, both ways (its utime+stime over many requests);
//  - the time from a click on a room's link to the room shown, over the socket, against
//    a full load of the same page.
//
// Writes one JSON line (workload "pages") to RESULTS, and prints it.
//
//   node bench/pages.mjs CHAT_BINARY ASSETS_DIR RUNS RESULTS

import { spawn } from "node:child_process";
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [binary, assets, runsArg, results] = process.argv.slice(2);
if (!binary || !assets || !runsArg || !results) {
  console.error("usage: node bench/pages.mjs CHAT_BINARY ASSETS_DIR RUNS RESULTS");
  process.exit(2);
}
const runs = Number(runsArg);
const MESSAGES = 20;
const ROOM = "bench";
const REQUESTS = 200;

/** The same assets with an index.html that has no root element: no first paint. */
function withoutFirstPaint() {
  const dir = mkdtempSync(join(tmpdir(), "pulse-bench-pages-"));
  for (const file of readdirSync(assets)) copyFileSync(join(assets, file), join(dir, file));
  const index = readFileSync(join(assets, "index.html"), "utf8");
  const plain = index.replace(" data-pulse-root", "");
  if (plain === index) throw new Error("the chat's index.html has no data-pulse-root element");
  writeFileSync(join(dir, "index.html"), plain);
  return dir;
}

function freePort() {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function startChat(assetsDir) {
  const port = await freePort();
  const env = { ...process.env, CHAT_ASSETS: assetsDir, PULSE_LOG: "warn", PULSE_TRUSTED_PROXIES: "127.0.0.1" };
  const child = spawn(binary, ["--port", String(port)], { env, stdio: ["ignore", "pipe", "inherit"] });
  await new Promise((resolve, reject) => {
    child.stdout.on("data", (chunk) => chunk.toString().includes("chat on") && resolve());
    child.on("exit", (code) => reject(new Error(`the chat server exited with ${code}`)));
  });
  return { child, base: `http://127.0.0.1:${port}` };
}

/** The process's CPU time so far, in ms (utime + stime). */
function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** Runs in the page before anything else: records when the room's messages are shown. */
function watchForMessages(count) {
  const check = () => {
    if (window.__shown === undefined && document.querySelectorAll(".server-messages li").length >= count) {
      window.__shown = performance.now();
    }
  };
  new MutationObserver(check).observe(document, { childList: true, subtree: true });
}

async function seed(browser, base) {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${base}/rooms/${ROOM}`);
  await page.locator(".chat-client").waitFor();
  for (let i = 1; i <= MESSAGES; i++) {
    await page.locator(".text").fill(`message ${i} of the room's history`);
    await page.locator(".text").press("Enter");
    await page.locator(".server-messages li").nth(i - 1).waitFor();
  }
  await page.context().close();
}

/** Time until a fresh tab shows the room's messages, and the HTML's size. */
async function timeToMessages(browser, base) {
  const times = [];
  let htmlBytes = 0;
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext();
    await context.addInitScript(watchForMessages, MESSAGES);
    const page = await context.newPage();
    const response = await page.goto(`${base}/rooms/${ROOM}`);
    htmlBytes = (await response.body()).length;
    await page.waitForFunction(() => window.__shown !== undefined, null, { timeout: 15_000 });
    times.push(await page.evaluate(() => window.__shown));
    await context.close();
  }
  return { ms: median(times), htmlBytes };
}

/** The server's CPU per request of the room's page (each from an address of its own). */
async function cpuPerRequest(child, base) {
  const before = cpuMs(child.pid);
  for (let i = 0; i < REQUESTS; i++) {
    const forwarded = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const response = await fetch(`${base}/rooms/${ROOM}`, { headers: { "X-Forwarded-For": forwarded, Accept: "text/html" } });
    await response.text();
  }
  return (cpuMs(child.pid) - before) / REQUESTS;
}

/** A link followed over the socket, against a full load of the same page. */
async function navigation(browser, base) {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${base}/rooms/${ROOM}`);
  await page.locator(".status").getByText("connection: open").waitFor();
  const clicks = [];
  for (let i = 0; i < runs * 2; i++) {
    const room = i % 2 === 0 ? "random" : "lobby";
    const ms = await page.evaluate(
      (room) =>
        new Promise((resolve) => {
          const start = performance.now();
          const shown = () => document.querySelector("#app h2")?.textContent === `Chat: ${room}`;
          const observer = new MutationObserver(() => {
            if (shown()) {
              observer.disconnect();
              resolve(performance.now() - start);
            }
          });
          observer.observe(document, { childList: true, subtree: true, characterData: true });
          const link = document.querySelector(`#app nav a[href="/rooms/${room}"]`) ?? document.createElement("a");
          if (!link.isConnected) throw new Error(`no link to ${room}`);
          link.click();
        }),
      room,
    );
    clicks.push(ms);
  }
  await page.context().close();
  const loads = [];
  const context = await browser.newContext();
  await context.addInitScript(() => {
    new MutationObserver(() => {
      if (window.__shownAt === undefined && document.querySelector("#app h2")?.textContent === "Chat: random") {
        window.__shownAt = performance.timeOrigin + performance.now();
      }
    }).observe(document, { childList: true, subtree: true, characterData: true });
  });
  const loaded = await context.newPage();
  await loaded.goto(`${base}/rooms/${ROOM}`);
  for (let i = 0; i < runs; i++) {
    await loaded.goto(`${base}/rooms/${ROOM}`);
    await loaded.locator(".status").getByText("connection: open").waitFor();
    const start = await loaded.evaluate(() => performance.timeOrigin + performance.now());
    await loaded.evaluate(() => {
      location.href = "/rooms/random";
    });
    await loaded.waitForFunction(() => window.__shownAt !== undefined, null, { timeout: 15_000 });
    loads.push((await loaded.evaluate(() => window.__shownAt)) - start);
  }
  await context.close();
  return { clickMs: median(clicks), loadMs: median(loads) };
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
const row = { workload: "pages", kind: "pulse", runs, messages: MESSAGES, requests: REQUESTS };
try {
  for (const [mode, dir] of [
    ["without", withoutFirstPaint()],
    ["with", assets],
  ]) {
    const { child, base } = await startChat(dir);
    try {
      await seed(browser, base);
      const shown = await timeToMessages(browser, base);
      row[`${mode}_first_paint`] = {
        messages_shown_ms: shown.ms,
        html_bytes: shown.htmlBytes,
        cpu_ms_per_request: await cpuPerRequest(child, base),
      };
      if (mode === "with") Object.assign(row, await navigation(browser, base));
    } finally {
      child.kill("SIGTERM");
    }
  }
} finally {
  await browser.close();
}
appendFileSync(results, `${JSON.stringify(row)}\n`);
console.log(JSON.stringify(row));

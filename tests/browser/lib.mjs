// What the browser tests share: free ports, the chat server (and redis-server, nginx)
// as child processes, and Debian's Chromium.

import { spawn } from "node:child_process";
import { connect, createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const root = fileURLToPath(new URL("../..", import.meta.url));
const chatBinary = process.env.CHAT_SERVER ?? `${root}target/debug/chat`;
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** A free loopback port (so a restarted server can come back on the same one). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Starts the chat server on `port` (with `env` added; under an open-file limit of
 * `fileLimit` when given) and resolves once it listens.
 */
export function startServer(port, env = {}, fileLimit) {
  const args = ["--port", String(port)];
  const child = fileLimit
    ? spawn("sh", ["-c", `ulimit -n ${fileLimit} && exec "$0" "$@"`, chatBinary, ...args], {
        stdio: ["ignore", "pipe", "inherit"],
        env: { ...process.env, ...env },
      })
    : spawn(chatBinary, args, { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, ...env } });
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

/** Whether something accepts connections on `port` of 127.0.0.1. */
function accepts(port) {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.end();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Resolves once `child` accepts connections on `port`; rejects if it exits first. */
export async function listening(child, port, what) {
  for (let tries = 0; tries < 400; tries += 1) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    if (await accepts(port)) return child;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${what} did not listen on ${port}`);
}

/** A redis-server on `port`, resolved once it accepts connections. */
export function startRedis(port) {
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  return listening(child, port, "redis-server (apt-get install redis-server)");
}

/** Stops `child` with `signal` (killed by default) and resolves with its exit code. */
export function stopServer(child, signal = "SIGKILL") {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    child.once("exit", (code) => resolve(code));
    child.kill(signal);
  });
}

/** Debian's headless Chromium. */
export function launchChromium() {
  return chromium.launch({
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
}

/** Sends `text` from the chat in `page`. */
export async function send(page, text) {
  // Enter in the box, not a click on Send: the button moves down as messages arrive
  // above it, and a click aimed just before a message lands hits the list instead.
  await page.locator(".text").fill(text);
  await page.locator(".text").press("Enter");
}

/** Waits until `selector` holds an item with exactly `text`. */
export async function seeItem(page, selector, text, timeout = 5000) {
  await page.locator(selector).getByText(text, { exact: true }).first().waitFor({ timeout });
}

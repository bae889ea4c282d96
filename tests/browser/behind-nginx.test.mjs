// The chat behind Debian's nginx, with TLS: docs/deployment.md's configuration
// (examples/deploy/nginx.conf, changed only in its ports and certificate paths), a
// certificate made here, the chat server started with PULSE_TRUSTED_PROXIES, and
// headless Chromium on https:// and wss://.
//
//   node --test behind-nginx.test.mjs      (after ./scripts/test-all.sh has built everything)

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { connect } from "node:tls";
import { freePort, launchChromium, listening, root, seeItem, send, startServer, stopServer } from "./lib.mjs";

const config = readFileSync(join(root, "examples/deploy/nginx.conf"), "utf8");
/** The chat's open-file limit: its per-address cap is then small enough to reach. */
const FILE_LIMIT = 512;

let work;
let chatPort;
let chat;
let nginx;
let browser;
let base;

/** `text` with `from` replaced by `to`, which must be there. */
function replace(text, from, to) {
  assert.ok(text.includes(from), `the configuration has no ${from}`);
  return text.replace(from, to);
}

function startChat() {
  return startServer(chatPort, { PULSE_TRUSTED_PROXIES: "127.0.0.1" }, FILE_LIMIT);
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), "pulse-nginx-"));
  const [cert, key] = [join(work, "cert.pem"), join(work, "key.pem")];
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", key, "-out", cert,
    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
  ], { stdio: "ignore" });
  chatPort = await freePort();
  const nginxPort = await freePort();
  chat = await startChat();

  let site = replace(config, "listen 443 ssl;", `listen 127.0.0.1:${nginxPort} ssl;`);
  site = replace(site, "server 127.0.0.1:3000;", `server 127.0.0.1:${chatPort};`);
  site = replace(site, "/etc/ssl/pulse/fullchain.pem", cert);
  site = replace(site, "/etc/ssl/pulse/privkey.pem", key);
  writeFileSync(join(work, "pulse.conf"), site);
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `${t}_temp_path ${work}/${t};`).join(" ");
  writeFileSync(
    join(work, "nginx.conf"),
    `${process.getuid?.() === 0 ? "user root;\n" : ""}daemon off;
worker_processes 1;
pid ${work}/nginx.pid;
error_log ${work}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  ${temp}
  include ${work}/pulse.conf;
}
`,
  );
  nginx = spawn("nginx", ["-p", work, "-e", join(work, "error.log"), "-c", join(work, "nginx.conf")], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  await listening(nginx, nginxPort, "nginx (apt-get install nginx)");
  base = `https://127.0.0.1:${nginxPort}/`;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  // TERM, not KILL: nginx's master then ends its worker too (a killed master leaves it).
  if (nginx) await stopServer(nginx, "SIGTERM");
  if (chat) await stopServer(chat);
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A tab with the chat loaded over https, like another person; its WebSockets' URLs. */
async function openChat(name) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  const sockets = [];
  page.on("websocket", (socket) => sockets.push(socket.url()));
  page.on("pageerror", (error) => console.error(`[${name}] page error:`, error));
  await page.goto(base);
  await page.locator(".chat-client").waitFor();
  await page.locator(".name").fill(name);
  return { page, sockets };
}

test("docs/deployment.md shows the configuration this test runs", () => {
  const doc = readFileSync(join(root, "docs/deployment.md"), "utf8");
  assert.ok(doc.includes(config.trim()), "docs/deployment.md and examples/deploy/nginx.conf differ");
});

test("two tabs chat over https and wss through nginx", async () => {
  const a = await openChat("alice");
  const b = await openChat("bob");
  await send(a.page, "hello over TLS");
  for (const { page } of [a, b]) {
    await seeItem(page, ".server-messages", "alice: hello over TLS");
    await seeItem(page, ".client-messages", "alice: hello over TLS");
  }
  for (const { sockets } of [a, b]) {
    assert.equal(sockets.length, 1, `one WebSocket per tab: ${sockets}`);
    assert.ok(sockets[0].startsWith(`wss://${new URL(base).host}/ws?v=`), sockets[0]);
  }
  for (const { page } of [a, b]) await page.context().close();
});

/** An upgrade through nginx from the loopback address `from`, claiming to be 10.9.9.9;
 * resolves with the socket and the answer's head once it has come. */
function upgradeFrom(from) {
  const { hostname, port, host } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), localAddress: from, rejectUnauthorized: false }, () => {
      socket.write(
        `GET /ws?v=1 HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
          "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Forwarded-For: 10.9.9.9\r\n\r\n",
      );
    });
    let read = "";
    socket.on("data", (chunk) => {
      read += chunk.toString("latin1");
      const end = read.indexOf("\r\n\r\n");
      // A refusal's head, then its body: wait for the body too (it names the cap).
      if (end >= 0 && (read.startsWith("HTTP/1.1 101") || read.length > end + 4)) {
        socket.removeAllListeners("data");
        resolve({ socket, answer: read });
      }
    });
    socket.once("error", reject);
  });
}

test("the per-address cap counts the client nginx forwards, not nginx, and not a forged header", async () => {
  const held = [];
  try {
    let refused;
    for (let n = 0; n < 200 && !refused; n += 1) {
      const { socket, answer } = await upgradeFrom("127.0.0.2");
      held.push(socket);
      if (!answer.startsWith("HTTP/1.1 101")) refused = answer;
    }
    assert.ok(refused, "200 connections from one address were all let in");
    assert.match(refused, /^HTTP\/1\.1 503/);
    assert.match(refused, /retry-after: 5/i);
    assert.match(refused, /connections are open from 127\.0\.0\.2 \(Config::max_connections_per_address\)/);
    assert.ok(held.length > 16, `refused after ${held.length - 1}`);
    // Another client still gets in; so does a browser tab.
    const other = await upgradeFrom("127.0.0.3");
    held.push(other.socket);
    assert.match(other.answer, /^HTTP\/1\.1 101/);
    const tab = await openChat("carol");
    await tab.page.locator(".status").getByText("connection: open", { exact: true }).waitFor();
    await tab.page.context().close();
  } finally {
    for (const socket of held) socket.destroy();
  }
});

test("stopped with SIGTERM and started again, the chat is back in the page through nginx", async () => {
  const { page } = await openChat("dave");
  await page.locator(".status").getByText("connection: open", { exact: true }).waitFor();
  assert.equal(await stopServer(chat, "SIGTERM"), 0, "a graceful shutdown exits with 0");
  await page.locator(".status").getByText("connection: reconnecting", { exact: true }).waitFor();
  chat = await startChat();
  await page.locator(".status").getByText("connection: open", { exact: true }).waitFor({ timeout: 15000 });
  await page.locator(".name").fill("dave");
  await send(page, "back after the deploy");
  await seeItem(page, ".server-messages", "dave: back after the deploy", 2000);
  await seeItem(page, ".client-messages", "dave: back after the deploy", 2000);
  await page.context().close();
});

// The connection's status as a page shows it: a refused upgrade, which a browser cannot
// read, is asked about (a probe of the same URL) and its reason reaches `status` and the
// console once; the client then waits the longest step of its backoff between tries.
// Against the real server, whose default origin rule refuses a page of another site.

import { afterEach, expect, inject, it, vi } from "vitest";
import WebSocket from "ws";
import { type ConnectionStatus, PulseConnection, type WebSocketConstructor } from "../src/index";
import { until, url } from "./helpers";

/** A WebSocket from a page of another site. */
class CrossSite extends WebSocket {
  static opened = 0;
  constructor(address: string) {
    super(address, { origin: "https://elsewhere.example" });
    CrossSite.opened += 1;
  }
}

const page = globalThis as { location?: unknown };
afterEach(() => {
  delete page.location;
  vi.restoreAllMocks();
});

it("a refused upgrade's reason reaches the status and the console, and the client backs off", async () => {
  // The page's own origin, as a browser knows it (its host is the server's, as behind a
  // proxy that rewrote Host): the probe names it, since a same-origin fetch would not.
  page.location = { origin: "https://elsewhere.example", host: `127.0.0.1:${inject("port")}` };
  const errors: string[] = [];
  vi.spyOn(console, "error").mockImplementation((message: unknown) => {
    errors.push(String(message));
  });
  const connection = new PulseConnection({
    url: url(),
    WebSocket: CrossSite as unknown as WebSocketConstructor,
    backoffMs: [10, 20, 2_000],
    page: false,
  });
  const seen: ConnectionStatus[] = [];
  connection.onStatusChange((status) => seen.push(status));
  connection.start();
  try {
    await until(() => connection.status.refused !== null);
    const { refused, state, retryAt } = connection.status;
    expect(refused?.status).toBe(403);
    expect(refused?.reason).toContain("origin not allowed: the page's origin https://elsewhere.example");
    expect(state).toBe("reconnecting");
    expect(typeof retryAt).toBe("number");
    expect(errors.filter((e) => e.includes("the server refuses this page's connection (HTTP 403)"))).toHaveLength(1);
    // From now on it waits the longest step between tries instead of every few ms.
    const tries = CrossSite.opened;
    await new Promise((r) => setTimeout(r, 600));
    expect(CrossSite.opened - tries).toBeLessThanOrEqual(1);
    expect(seen.every((status) => status.state !== "open")).toBe(true);
  } finally {
    connection.close();
  }
});

it("a proxy's error without words (the server down behind a dev proxy) is not a refusal", async () => {
  // Stands in for Vite's proxy while the Rust server restarts: upgrades are dropped, and
  // every plain request (the probe) gets an empty 502.
  const { createServer } = await import("node:http");
  let probes = 0;
  let answered = 0;
  const proxy = createServer((request, response) => {
    if (request.url?.includes("probe=1")) probes += 1;
    response.on("finish", () => {
      answered += 1;
    });
    response.writeHead(502).end();
  });
  proxy.on("upgrade", (_request, socket) => socket.destroy());
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  const address = proxy.address();
  const port = typeof address === "object" && address ? address.port : 0;
  page.location = { origin: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}` };
  const connection = new PulseConnection({
    url: `ws://127.0.0.1:${port}/ws?v=1`,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    backoffMs: [10, 20],
    page: false,
  });
  connection.start();
  try {
    await until(() => probes >= 1 && answered >= 1);
    // The probe's answer is read in the next turns of the event loop.
    await new Promise((r) => setTimeout(r, 100));
    expect(connection.status.refused).toBeNull();
    expect(connection.status.state).toBe("reconnecting");
  } finally {
    connection.close();
    await new Promise((r) => proxy.close(r));
  }
});

it("a URL without the protocol version gets it added", async () => {
  const connection = new PulseConnection({
    url: `ws://127.0.0.1:${inject("port")}/ws`,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    page: false,
  }).start();
  try {
    await until(() => connection.status.state === "open");
    expect(connection.sessionId).not.toBeNull();
  } finally {
    connection.close();
  }
});

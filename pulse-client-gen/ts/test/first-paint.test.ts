// @vitest-environment happy-dom
// A page the server rendered: the connection that starts first continues the page's
// session (`resume=<session>&last_seq=0`), PulseRoot gets the page's tree only before
// that connection starts, and a second connection starts a session of its own.

import { afterEach, expect, it } from "vitest";
import { FIRST_PAINT_ID } from "../src/generated/protocol";
import { PulseConnection, type WebSocketConstructor, type WebSocketLike, firstPaint } from "../src/index";
import { appTitle, resetFirstPaint } from "../src/first-paint";

/** The title the document had when the tests started. */
const loadedTitle = document.title;

const SESSION = "6f1c0e4a9b2d4c8e8a7f3b1d2c4e5f60";

/** A socket that records its URL and never opens. */
const urls: string[] = [];
class Recording implements WebSocketLike {
  readyState = 0;
  onopen = null;
  onmessage = null;
  onclose = null;
  onerror = null;
  constructor(url: string) {
    urls.push(url);
  }
  send(): void {}
  close(): void {}
}
const WebSocket = Recording as unknown as WebSocketConstructor;

function embed(text: string): void {
  const script = document.createElement("script");
  script.type = "application/json";
  script.id = FIRST_PAINT_ID;
  script.textContent = text;
  document.head.append(script);
}

afterEach(() => {
  document.getElementById(FIRST_PAINT_ID)?.remove();
  resetFirstPaint();
  urls.length = 0;
});

it("the first connection to start resumes the page's session from its start", () => {
  embed(JSON.stringify({ session: SESSION, tree: [{ tag: "p", children: ["hi"] }], frames: 2 }));
  const first = new PulseConnection({ url: "ws://h/ws?v=1", WebSocket });
  const second = new PulseConnection({ url: "ws://h/ws?v=1", WebSocket });
  // Before either starts, both may render the page (StrictMode makes two).
  expect(first.page?.frames).toBe(2);
  expect(second.page?.tree).toEqual([{ tag: "p", children: ["hi"] }]);
  first.start();
  expect(urls[0]).toContain(`resume=${SESSION}&last_seq=0`);
  expect(first.page).toBeNull();
  expect(second.page).toBeNull();
  second.start();
  expect(urls[1]).not.toContain("resume=");
  first.close();
  second.close();
});

it("a page whose session cannot wait, or no page at all, starts a session of its own", () => {
  embed(JSON.stringify({ session: null, tree: [], frames: 1 }));
  const connection = new PulseConnection({ url: "ws://h/ws?v=1", WebSocket });
  expect(connection.page?.session).toBeNull();
  connection.start();
  expect(urls[0]).not.toContain("resume=");
  connection.close();

  resetFirstPaint();
  document.getElementById(FIRST_PAINT_ID)?.remove();
  embed("{not json");
  const warned: unknown[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => warned.push(args.join(" "));
  try {
    expect(firstPaint()).toBeNull();
  } finally {
    console.warn = warn;
  }
  expect(String(warned[0])).toContain("the page's first paint is unreadable");
});

it("the app's title is read from the page's first paint as the browser reads a title", () => {
  embed(JSON.stringify({ session: null, tree: [], frames: 0, app_title: "\n Rooms &amp; more &mdash; x " }));
  expect(appTitle()).toBe("Rooms & more — x");
  resetFirstPaint();
  document.getElementById(FIRST_PAINT_ID)?.remove();
  // Without a first paint, the title the document loaded with.
  expect(appTitle()).toBe(loadedTitle);
});

// A page the server rendered over HTTP (its first paint): the tree it wrote into the
// page and the session that rendered it, embedded as JSON. The page's connection resumes
// that session, so the client continues the render that made the HTML.

import { FIRST_PAINT_ID, type FirstPaint } from "./generated/protocol.js";

export type { FirstPaint } from "./generated/protocol.js";

/** The title the page had when this module loaded: `index.html`'s, unless the server rendered the page. */
const loadedTitle = globalThis.document?.title ?? "";

let embedded: FirstPaint | null | undefined;
/** The connection that took the page's session, once one has. */
let owner: object | null = null;

/** What the server embedded in this page, if it rendered it (read once). */
export function firstPaint(): FirstPaint | null {
  if (embedded === undefined) embedded = readEmbedded();
  return embedded;
}

function readEmbedded(): FirstPaint | null {
  const text = globalThis.document?.getElementById(FIRST_PAINT_ID)?.textContent;
  if (!text) return null;
  try {
    const paint = JSON.parse(text) as FirstPaint;
    return Array.isArray(paint?.tree) ? paint : null;
  } catch (error) {
    console.warn(`pulse: the page's first paint is unreadable (${String(error)}); the page renders afresh`);
    return null;
  }
}

/**
 * The app's own title (`index.html`'s `<title>`), which a page without a title of its
 * own shows: the server says it in a page it rendered, whose `<title>` is the page's.
 */
export function appTitle(): string {
  const written = firstPaint()?.app_title;
  return written === undefined ? loadedTitle : titleText(written);
}

/** A `<title>`'s content as written in HTML, read as `document.title` reads it. */
function titleText(html: string): string {
  const Parser = globalThis.DOMParser;
  return Parser ? new Parser().parseFromString(`<title>${html}</title>`, "text/html").title : html;
}

/** The page's first paint, unless a connection other than `who` took it. */
export function firstPaintFor(who: object): FirstPaint | null {
  const paint = firstPaint();
  return paint && (owner === null || owner === who) ? paint : null;
}

/** Takes the page's first paint for connection `who`: one connection continues its session. */
export function takeFirstPaint(who: object): FirstPaint | null {
  const paint = firstPaintFor(who);
  if (paint) owner = who;
  return paint;
}

/** Forgets what was read (tests that change the page). */
export function resetFirstPaint(): void {
  embedded = undefined;
  owner = null;
}

// How the connection spells its URLs: the protocol version and the page's params on
// each URL it is given, and on each connect the session to resume, the page's address
// and where the client stands in each room's history.

import {
  LAST_SEQ_PARAM,
  PAGE_PARAM,
  PROTOCOL_VERSION,
  RESUME_PARAM,
  SINCE_PARAM,
  VERSION_PARAM,
} from "./generated/protocol.js";
import type { HistoryPosition } from "./protocol.js";

/** What a connect asks of the server besides its endpoint. */
export interface ConnectQuery {
  /** The session this client had, and the last frame it saw of it. */
  resume: { session: string; lastSeq: number } | null;
  /** The page's address (`page` parameter), if it is sent. */
  page: string | null;
  /** Where the client stands in each room's history it has seen (`since` parameter). */
  since: HistoryPosition[];
}

/** The URL of one connect to `base` (a URL the connection was given, or a learnt node). */
export function connectUrl(base: string, query: ConnectQuery): string {
  // A session this client had is asked back, with the last frame it saw; and where
  // it stands in each room's history, for a new session if that one is gone.
  let url = base;
  if (query.resume !== null) {
    url += `&${RESUME_PARAM}=${query.resume.session}&${LAST_SEQ_PARAM}=${query.resume.lastSeq}`;
  }
  if (query.page !== null) url += `&${PAGE_PARAM}=${encodeURIComponent(query.page)}`;
  if (query.since.length > 0) {
    url += `&${SINCE_PARAM}=${encodeURIComponent(JSON.stringify(query.since))}`;
  }
  return url;
}

/** `url` as the connection connects to it: with the protocol version, then `params`. */
export function endpointUrl(url: string, params: Record<string, string>): string {
  return withParams(withVersion(url), params);
}

/** The page's path and query, where there is a page. */
export function pageAddress(): string | null {
  const location = (globalThis as { location?: { pathname?: unknown; search?: unknown } }).location;
  if (typeof location?.pathname !== "string") return null;
  return location.pathname + (typeof location.search === "string" ? location.search : "");
}

/** Whether two URLs name the same endpoint (scheme, host, port and path; the query aside). */
export function sameEndpoint(a: string, b: string): boolean {
  const endpoint = (url: string) => url.split("?")[0]?.replace(/\/+$/, "").toLowerCase();
  return endpoint(a) === endpoint(b);
}

/** `url` with the protocol version in its query (`?v=1`) unless it says one. */
function withVersion(url: string): string {
  if (new RegExp(`[?&]${VERSION_PARAM}=`).test(url)) return url;
  return `${url}${url.includes("?") ? "&" : "?"}${VERSION_PARAM}=${PROTOCOL_VERSION}`;
}

/** `url` with `params` appended to its query string, each percent-encoded. */
function withParams(url: string, params: Record<string, string>): string {
  const query = Object.entries(params)
    .map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`)
    .join("&");
  if (!query) return url;
  return `${url}${url.includes("?") ? "&" : "?"}${query}`;
}

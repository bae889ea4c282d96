// The probe of a refused upgrade: the browser cannot read why a WebSocket handshake
// failed, so the server is asked (a plain `GET` of the same URL) how it answers it.

import { PROBE_ORIGIN_HEADER, PROBE_PARAM } from "./generated/protocol.js";
import type { Refusal } from "./status.js";

/** A failed handshake's reason is asked for at most this often. */
const PROBE_EVERY_MS = 30_000;
/** The longest refusal reason kept. */
const MAX_REASON = 2000;

/** What a probe reads of the connection, and what it changes. */
export interface ProbeHost {
  /** Whether the connection ended for good (an answer is then ignored). */
  stopped(): boolean;
  /** Whether a connection got through (an answer that comes after is not a refusal). */
  open(): boolean;
  /** The refusal the connection shows in its status, if any. */
  refused(): Refusal | null;
  /** The server refuses the connection: show `refusal`, and wait the longest step of the backoff. */
  refuse(refusal: Refusal): void;
}

/** Asks why an upgrade failed; one question at a time, at most once per `PROBE_EVERY_MS`. */
export class RefusalProbe {
  private lastProbe = Number.NEGATIVE_INFINITY;
  private probing = false;

  /**
   * Asks the server how it answers an upgrade of `wsUrl` (a plain `GET` with the probe
   * parameter), since the browser cannot read why one failed; at most once per
   * `PROBE_EVERY_MS`. A refusal is logged (once per reason) and kept in `status`, and
   * the connection waits the longest step of its backoff before each next try.
   */
  probe(wsUrl: string, host: ProbeHost): void {
    const fetchImpl = (globalThis as { fetch?: typeof fetch }).fetch;
    const now = Date.now();
    if (typeof fetchImpl !== "function" || this.probing || now - this.lastProbe < PROBE_EVERY_MS) return;
    let url: URL;
    try {
      url = new URL(wsUrl);
    } catch {
      return;
    }
    url.protocol = url.protocol === "wss:" ? "https:" : "http:";
    url.searchParams.set(PROBE_PARAM, "1");
    const headers: Record<string, string> = {};
    // A same-origin fetch sends no Origin: name it (a cross-origin one sends it itself).
    const page = (globalThis as { location?: { origin?: unknown; host?: unknown } }).location;
    if (typeof page?.origin === "string" && page.host === url.host) headers[PROBE_ORIGIN_HEADER] = page.origin;
    this.probing = true;
    this.lastProbe = now;
    fetchImpl(url.toString(), { headers, cache: "no-store" })
      .then(async (response) => {
        if (response.ok || host.stopped()) return;
        const reason = (await response.text()).slice(0, MAX_REASON).trim();
        // Not a refusal: a proxy's error without words (the server is down, say a dev
        // server's proxy while it restarts), or an answer that came after the connection
        // got through.
        if (reason === "" || [502, 504].includes(response.status) || host.open()) return;
        if (host.refused()?.reason !== reason) {
          console.error(`pulse: the server refuses this page's connection (HTTP ${response.status}): ${reason}`);
        }
        host.refuse({ status: response.status, reason });
      })
      // The server cannot be reached at all: the connection's failure says as much.
      .catch(() => {})
      .finally(() => {
        this.probing = false;
      });
  }
}

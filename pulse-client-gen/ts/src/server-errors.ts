// The server's errors about frames that had no request to fail: reported to the
// connection's listeners (`onServerError`), or to the console when there is none.

import type { WireError } from "./errors.js";
import type { ServerFrame } from "./protocol.js";

/** A frame the server refused, reported on the connection. */
export interface ServerError extends WireError {
  channel?: string;
  event?: string;
}

type ErrorFrame = Extract<ServerFrame, { t: "error" }>;

/** The listeners of the server's errors. */
export class ServerErrors {
  private readonly errorListeners = new Set<(error: ServerError) => void>();

  on(listener: (error: ServerError) => void): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  /** The server refused a frame, as `frame` says. */
  report(frame: ErrorFrame): void {
    const error: ServerError = { code: frame.code, message: frame.message };
    if (frame.channel !== undefined) error.channel = frame.channel;
    if (frame.event !== undefined) error.event = frame.event;
    if (this.errorListeners.size === 0) console.warn(`pulse: server refused a frame: ${frame.code}: ${frame.message}`);
    for (const listener of [...this.errorListeners]) listener(error);
  }
}

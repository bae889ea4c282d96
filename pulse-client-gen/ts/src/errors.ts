// Typed request errors, one class per failure mode, matching the Rust `ChannelError`.

import type { ErrorCode as KnownErrorCode } from "./generated/protocol.js";

export type { KnownErrorCode };

/**
 * Machine-readable error codes of the protocol (docs/protocol.md): those of this version,
 * generated from the Rust `ErrorCode`, or any other string (a newer server's code, which
 * the Rust side reads as `ErrorCode::Unknown`).
 */
export type ErrorCode = KnownErrorCode | (string & {});

/** The error of a frame: what went wrong, for code and for people. */
export interface WireError {
  code: ErrorCode;
  message: string;
  /** For code `failed`: the error value the handler answered with. */
  data?: unknown;
}

/** Base class of every way a request can fail; switch on `kind`. */
export abstract class ChannelError extends Error {
  abstract readonly kind: "timeout" | "closed" | "disconnected" | "remote" | "rejected" | "failed";
}

/** No answer came within the request's timeout. */
export class TimeoutError extends ChannelError {
  readonly kind = "timeout" as const;
  constructor(readonly event: string, readonly timeoutMs: number) {
    super(`request \`${event}\` timed out after ${timeoutMs} ms`);
    this.name = "TimeoutError";
  }
}

/** The channel closed before the request completed. */
export class ClosedError extends ChannelError {
  readonly kind = "closed" as const;
  constructor(readonly event: string) {
    super(`channel closed before \`${event}\` was answered`);
    this.name = "ClosedError";
  }
}

/** The connection ended before the request completed. */
export class DisconnectedError extends ChannelError {
  readonly kind = "disconnected" as const;
  constructor(readonly event: string) {
    super(`disconnected before \`${event}\` was answered`);
    this.name = "DisconnectedError";
  }
}

/** The server's handler failed; `message` is what it said. */
export class RemoteError extends ChannelError {
  readonly kind = "remote" as const;
  constructor(readonly event: string, message: string) {
    super(message);
    this.name = "RemoteError";
  }
}

/** The server refused the request (unknown channel or event, bad payload, ...). */
export class RejectedError extends ChannelError {
  readonly kind = "rejected" as const;
  constructor(readonly event: string, readonly code: ErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = "RejectedError";
  }
}

/**
 * A fallible request's handler answered with its declared error; `data` is that error.
 * `attempt` resolves to `{ ok: false, error }` instead of throwing this.
 */
export class FailedError<E = unknown> extends ChannelError {
  readonly kind = "failed" as const;
  constructor(readonly event: string, readonly data: E) {
    super(`\`${event}\` failed: ${JSON.stringify(data)}`);
    this.name = "FailedError";
  }
}

/** The error an `answer` frame's `error` stands for. */
export function errorFromWire(event: string, error: WireError): ChannelError {
  if (error.code === "failed") return new FailedError(event, error.data ?? null);
  if (error.code === "handler_failed") return new RemoteError(event, error.message);
  if (error.code === "channel_closed") return new ClosedError(event);
  return new RejectedError(event, error.code, error.message);
}

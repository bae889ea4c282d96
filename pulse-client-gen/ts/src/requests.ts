// Request correlation: the client's requests waiting for their answers, by id, each
// with its timeout; settled by the server's `answer`, or failed with their channel.

import { type ChannelError, TimeoutError, errorFromWire } from "./errors.js";
import type { ServerFrame } from "./protocol.js";

interface Pending {
  channel: string;
  event: string;
  resolve: (value: unknown) => void;
  reject: (error: ChannelError) => void;
  timer: ReturnType<typeof setTimeout>;
}

type AnswerFrame = Extract<ServerFrame, { t: "answer" }>;

/** The requests sent and not yet answered. */
export class PendingRequests {
  private readonly pending = new Map<number, Pending>();
  private nextRequestId = 1;

  /**
   * A request of `event` on `channel`, sent by `send` (given its id): resolves to the
   * answer, or rejects with the error, or with `TimeoutError` after `timeout` ms.
   */
  start(channel: string, event: string, timeout: number, send: (id: number) => void): Promise<unknown> {
    const id = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TimeoutError(event, timeout));
      }, timeout);
      this.pending.set(id, { channel, event, resolve, reject, timer });
      send(id);
    });
  }

  /** The server answered a request (one that timed out, or failed, is no more). */
  answer(frame: AnswerFrame): void {
    const p = this.pending.get(frame.id);
    if (!p) return;
    this.pending.delete(frame.id);
    clearTimeout(p.timer);
    if (frame.error) p.reject(errorFromWire(p.event, frame.error));
    else p.resolve(frame.ok ?? null);
  }

  /** Fails the pending requests of one channel (or all, with `null`). */
  fail(channel: string | null, error: (event: string) => ChannelError): void {
    for (const [id, p] of this.pending) {
      if (channel !== null && p.channel !== channel) continue;
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.reject(error(p.event));
    }
  }
}

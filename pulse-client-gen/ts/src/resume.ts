// Session resume: the frames that wait while a lost session may be resumed, and, when
// it cannot be, what its channels in rooms with history delivered, carried on to the
// next session's channels in the same rooms (their replay goes on from there).

import type { Carried, ClientChannel } from "./channel.js";
import type { ClientFrame } from "./protocol.js";

/** Frames kept while the session waits to be resumed. */
const MAX_OUTBOX = 256;

/** The frames sent while the session waits to be resumed: they go out once it is. */
export class Outbox {
  private frames: ClientFrame[] = [];

  /** Keeps `frame`, unless the outbox is full (then `false`). */
  push(frame: ClientFrame): boolean {
    if (this.frames.length >= MAX_OUTBOX) return false;
    this.frames.push(frame);
    return true;
  }

  /** The frames kept, the oldest first; the outbox is empty after. */
  take(): ClientFrame[] {
    return this.frames.splice(0);
  }

  clear(): void {
    this.frames = [];
  }
}

/** What the lost session's channels in rooms with history delivered, by room, for the next session's. */
export class Carryover {
  private readonly carried = new Map<string, Carried>();

  /**
   * What each of the lost session's `channels` delivered, by room (`null` for a room with
   * two channels, or without history); read before they close, kept with `keep` after.
   */
  collect(channels: Iterable<ClientChannel>): Map<string, Carried | null> {
    const carried = new Map<string, Carried | null>();
    for (const channel of channels) {
      if (channel.name === null || channel.closed) continue;
      const key = roomOf(channel);
      carried.set(key, carried.has(key) ? null : channel.carry());
    }
    return carried;
  }

  /** Keeps what `collect` read for the next session's channels (what an earlier loss left and no channel took yet stays). */
  keep(carried: Map<string, Carried | null>): void {
    for (const [key, carry] of carried) {
      if (carry) this.carried.set(key, carry);
      else this.carried.delete(key); // ambiguous, or not a room with history
    }
  }

  /** `channel` just opened: it carries on from the lost session's channel in its room, if one left anything. */
  handOn(channel: ClientChannel): void {
    const key = roomOf(channel);
    const carried = this.carried.get(key);
    if (carried) {
      this.carried.delete(key);
      channel.carryOn(carried);
    }
  }

  clear(): void {
    this.carried.clear();
  }
}

/** The room an open channel is in (its name and room key), as what it delivered is carried by. */
function roomOf(channel: ClientChannel): string {
  return `${channel.name}:${channel.roomKey}`;
}

// History positions: where this client stands in each room's history it has seen, kept
// across sessions and sent on each connect (`since`), so a room replays what it missed.

import { type HistoryPosition, MAX_SINCE_POSITIONS } from "./generated/protocol.js";

/** Where this client stands in each room's history it has seen, by topic. */
export class HistoryPositions {
  private readonly positions = new Map<string, HistoryPosition>();

  /** Where this client stands in the history of channel `name`'s room `room`, if it has seen it. */
  get(name: string, room: unknown): HistoryPosition | null {
    return this.positions.get(topicKey(name, room)) ?? null;
  }

  /** Every position remembered, the least recent first (what `since` sends). */
  all(): HistoryPosition[] {
    return [...this.positions.values()];
  }

  remember(name: string, room: unknown, epoch: string, offset: number): void {
    const key = topicKey(name, room);
    this.positions.delete(key);
    this.positions.set(key, room === undefined ? { name, epoch, offset } : { name, room, epoch, offset });
    if (this.positions.size > MAX_SINCE_POSITIONS) {
      const oldest = this.positions.keys().next().value;
      if (oldest !== undefined) this.positions.delete(oldest);
    }
  }
}

/** A room's topic as the server spells it: `name`, or `name:<room as JSON>`. */
function topicKey(name: string, room: unknown): string {
  return room === undefined ? name : `${name}:${JSON.stringify(room)}`;
}

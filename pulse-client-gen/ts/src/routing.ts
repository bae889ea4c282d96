// Routing of server frames to channels: the session's channels by id (made on first
// use), the frames of one channel to it, a room's frames to its open channels, and the
// channels' end with the session.

import { ClientChannel } from "./channel.js";
import type { PulseConnection } from "./connection.js";
import type { ServerFrame } from "./protocol.js";
import type { Carryover } from "./resume.js";

/** The server frames of a channel, or of a room's channels: what the router hands on. */
export type ChannelFrame = Extract<
  ServerFrame,
  { t: "open" | "close" | "emit" | "history" | "presence" | "broadcast" | "request" }
>;

/** Closed channels remembered (so a late hook sees "closed", not "pending"). */
const MAX_CLOSED_CHANNELS = 256;

/** The channels of the connection's session, and the frames routed to them. */
export class ChannelRouter {
  private readonly channels = new Map<string, ClientChannel>();

  constructor(
    private readonly connection: PulseConnection,
    private readonly maxBufferedEvents: number,
    private readonly carryover: Carryover,
  ) {}

  /** The channel with `id`; made on first use, so a hook may ask before `open` arrives. */
  channel(id: string): ClientChannel {
    let channel = this.channels.get(id);
    if (!channel) {
      channel = new ClientChannel(id, this.connection, this.maxBufferedEvents);
      this.channels.set(id, channel);
    }
    return channel;
  }

  /** Hands a channel's frame to its channel, a room's to the room's open channels. */
  route(frame: ChannelFrame): void {
    switch (frame.t) {
      case "open": {
        const channel = this.channel(frame.channel);
        channel.markOpen(frame.name, frame.room);
        this.carryover.handOn(channel);
        break;
      }
      case "close":
        this.channels.get(frame.channel)?.markClosed(frame.reason);
        this.pruneClosed();
        break;
      case "emit":
        this.channels.get(frame.channel)?.deliver(frame.event, frame.payload);
        break;
      case "history":
        for (const channel of this.inRoom(frame.name, frame.room)) {
          channel.historyStarts(
            { recovered: frame.recovered, epoch: frame.epoch, offset: frame.offset, top: frame.top },
            frame.keep,
          );
        }
        break;
      case "presence":
        for (const channel of this.inRoom(frame.name, frame.room)) channel.presenceChanged(frame);
        break;
      case "broadcast":
        for (const channel of this.inRoom(frame.name, frame.room)) channel.deliver(frame.event, frame.payload);
        break;
      case "request": {
        const channel = this.channels.get(frame.channel);
        if (channel && !channel.closed) {
          channel.serverRequest(frame.id, frame.event, frame.payload);
        } else {
          this.connection.send({
            t: "answer",
            channel: frame.channel,
            id: frame.id,
            error: { code: "unknown_channel", message: "this client has no such channel open" },
          });
        }
        break;
      }
      default: {
        // Every channel frame has its case: a new one fails to type-check here.
        const unrouted: never = frame;
        return unrouted;
      }
    }
  }

  /**
   * The session is gone: every channel closes (`disconnected`), and what those in rooms
   * with history delivered is kept for the next session's channels there.
   */
  sessionLost(): void {
    // What each room's channel delivered goes to the next session's channel there (what
    // an earlier loss left and no channel took yet stays). A room with two channels is
    // ambiguous: neither is carried.
    const carried = this.carryover.collect(this.channels.values());
    for (const channel of this.channels.values()) channel.markClosed("disconnected", true);
    this.carryover.keep(carried);
    this.channels.clear();
  }

  /** The open channels of channel `name`'s room `room` (a broadcast's, say). */
  private *inRoom(name: string, room: unknown): Generator<ClientChannel> {
    const roomKey = room === undefined ? "" : JSON.stringify(room);
    for (const channel of this.channels.values()) {
      if (channel.name === name && channel.roomKey === roomKey && channel.state === "open") yield channel;
    }
  }

  private pruneClosed(): void {
    const closed = [...this.channels.values()].filter((c) => c.closed);
    for (const channel of closed.slice(0, Math.max(0, closed.length - MAX_CLOSED_CHANNELS))) {
      this.channels.delete(channel.id);
    }
  }
}

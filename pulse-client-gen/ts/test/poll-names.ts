// Type-level test of generated names: a channel declared `name = "poll"` (on a Rust
// struct `PollChannel`) beside a client component `Poll`. The names come from the
// declared name and never double "Channel"; tsc (strict) fails on an expect-error
// directive that is not needed, so each refused name below must stay refused.

import type { ClientComponents, PollChannel, PollProps, PollSchema, Tally } from "./generated/poll";
import { usePollChannel } from "./generated/poll";
// @ts-expect-error: no doubled suffix
import { usePollChannelChannel } from "./generated/poll";
// @ts-expect-error: no doubled suffix
import type { PollChannelChannelId } from "./generated/poll";

export function PollChart(props: PollProps) {
  const poll: PollChannel = usePollChannel(props.channelId);
  poll.on("tally", (tally: Tally) => tally.counts.map(([option, votes]) => `${option}: ${votes}`));
  poll.emit("vote", "yes");
  void poll.request("my_votes").then((mine: string[]) => mine.length);
  // @ts-expect-error: the tally goes to clients; a client cannot emit it
  poll.emit("tally", { counts: [] });
  return null;
}

export const components: ClientComponents = { Poll: PollChart };
export type Events = keyof PollSchema["events"];
void usePollChannelChannel;
export type Unused = PollChannelChannelId;

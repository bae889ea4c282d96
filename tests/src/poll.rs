//! The live poll a newcomer built from the guide: a `poll` channel declared on a struct
//! named `PollChannel` (the name `Poll` is the client component's). Its TypeScript
//! names come from the declared name, so they read `usePollChannel`, `PollChannelId`,
//! `PollSchema`, never `usePollChannelChannel`; `pulse-client-gen/ts/test/poll-names.ts`
//! type-checks them beside the `Poll` component's props.

use pulse_runtime::prelude::*;

/// The votes so far, per option.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct Tally {
    /// `(option, votes)`, in the poll's order.
    pub counts: Vec<(String, u32)>,
}

/// A poll everyone votes in.
#[channel(name = "poll", events(
    /// Votes for an option.
    vote(String)                => server,
    /// The options this session voted for.
    my_votes() -> Vec<String>   => server,
    /// The tally after each vote, to everyone.
    tally(Tally)                => client,
))]
pub struct PollChannel;

/// The poll's chart, implemented in TypeScript.
#[component(client)]
pub struct Poll {
    /// The channel the chart listens on.
    pub channel_id: ChannelId<PollChannel>,
    /// The poll's question.
    pub question: String,
}

/// The generated module, as the fixture `pulse-client-gen/ts/test/generated/poll.ts`.
pub fn typescript() -> pulse_client_gen::Module {
    pulse_client_gen::Module::new()
        .channel::<PollChannel>()
        .client_component::<Poll>()
        .runtime_import("../../src/index")
}

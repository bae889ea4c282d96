use pulse_runtime::prelude::*;

#[channel(events(notice(String) => client))]
pub struct Chat;

// `ChannelSpec` is `#[channel]`'s to implement: a declaration written by hand is refused.
pub struct Forged;

impl ChannelSpec for Forged {
    const NAME: &'static str = "chat";
    type Room = ();
    type Presence = ();
    type Outbound = ChatOutbound;
    type Broadcast = ChatBroadcast;
    type ToServer = ChatToServer;
    type ToClient = ChatToClient;
    fn schema() -> pulse_runtime::typed::schema::ChannelSchema {
        Chat::schema()
    }
}

fn main() {}

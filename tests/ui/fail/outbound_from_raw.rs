use pulse_runtime::prelude::*;
use pulse_runtime::RawChannel;

#[channel(events(notice(String) => client))]
pub struct Chat;

#[channel(events(notice(String) => client))]
pub struct Other;

// A raw channel, or a channel of another declaration, cannot be dressed up as a `Chat`.
fn dress_up(raw: RawChannel, other: Channel<Other>) {
    let _ = ChatOutbound::from(raw);
    let _ = ChatOutbound::from(other.raw().clone());
}

fn main() {}

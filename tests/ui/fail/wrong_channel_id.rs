use pulse_runtime::prelude::*;

#[channel(events(ping() => client))]
pub struct Chat;

#[channel(events(tick() => client))]
pub struct Clock;

fn chat_only(_id: ChannelId<Chat>) {}

fn pass_clock(clock: &Channel<Clock>) {
    chat_only(clock.id());
}

fn main() {}

use pulse_runtime::prelude::*;

#[channel(events(send_message(String) => server))]
pub struct Chat;

fn send(channel: &Channel<Chat>) {
    // `send_message` is handled by the server: the server cannot emit it.
    channel.send_message("hi".to_owned());
}

fn main() {}

use pulse_runtime::prelude::*;

#[channel(events(notification(String) => client))]
pub struct Chat;

fn notify(channel: &Channel<Chat>) {
    channel.notificaton("hi".to_owned());
}

fn main() {}

use pulse_runtime::prelude::*;

#[derive(Serialize, Deserialize, TS)]
pub struct Notice {
    text: String,
}

#[channel(events(notification(Notice) => client))]
pub struct Chat;

fn notify(channel: &Channel<Chat>) {
    channel.notification("text");
}

fn main() {}

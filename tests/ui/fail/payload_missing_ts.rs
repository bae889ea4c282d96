use pulse_runtime::prelude::*;

#[derive(Serialize, Deserialize)]
pub struct Notice {
    text: String,
}

#[channel(events(notification(Notice) => client))]
pub struct Chat;

fn main() {}

use pulse_runtime::prelude::*;

#[channel(events(
    send_message(String) server,
    new_message => client,
    typing() => sever,
    pair(String, u32) => client,
    fine(String) => client,
))]
pub struct Chat;

fn main() {}

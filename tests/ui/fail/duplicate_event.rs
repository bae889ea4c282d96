use pulse_runtime::prelude::*;

#[channel(events(
    send_message(String) => server,
    new_message(String) => client,
    send_message(u32) => server,
))]
pub struct Chat;

fn main() {}

use pulse_runtime::prelude::*;

#[channel(events(ping() => client))]
pub struct Chat {
    messages: Vec<String>,
}

fn main() {}

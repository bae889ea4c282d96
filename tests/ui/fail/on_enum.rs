use pulse_runtime::prelude::*;

#[channel(events(ping() => client))]
pub enum Chat {
    A,
}

fn main() {}

use pulse_runtime::prelude::*;

#[channel(events(ping() => client))]
pub fn chat() {}

fn main() {}

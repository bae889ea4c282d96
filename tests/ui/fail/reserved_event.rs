use pulse_runtime::prelude::*;

#[channel(name = "pulse_chat", events(__close__() => client, pulse_ping() => server))]
pub struct Chat;

fn main() {}

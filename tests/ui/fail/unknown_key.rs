use pulse_runtime::prelude::*;

#[channel(nme = "chat", events(ping() => client), timeout = 5)]
pub struct Chat;

fn main() {}

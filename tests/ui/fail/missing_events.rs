use pulse_runtime::prelude::*;

#[channel(name = "chat")]
pub struct Chat;

#[channel(name = "my-chat", events())]
pub struct Other;

fn main() {}

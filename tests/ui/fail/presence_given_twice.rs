use pulse_runtime::prelude::*;

#[derive(Clone, Serialize, Deserialize, TS)]
pub struct Online {
    pub name: String,
}

// Each key once; a presence type must travel on the channel like a payload.
#[channel(name = "chat", presence = Online, presence = Online, events(say(String) => server))]
pub struct Chat;

pub struct NotAPayload;

#[channel(name = "news", presence = NotAPayload, events(read() => server))]
pub struct News;

fn main() {}

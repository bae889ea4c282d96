use pulse_runtime::prelude::*;

#[derive(Serialize, Deserialize, TS)]
pub struct Location {
    lat: f64,
    lng: f64,
}

#[channel(events(get_location() -> Location => client))]
pub struct Chat;

async fn ask(channel: &Channel<Chat>) -> Result<String, ChannelError> {
    channel.get_location().await
}

fn main() {}

use pulse_runtime::prelude::*;

#[derive(Serialize, Deserialize, TS)]
pub struct Location {
    lat: f64,
    lng: f64,
}

#[channel(events(get_location() -> Location => client))]
pub struct Chat;

async fn ask(channel: &Channel<Chat>) {
    let _ = channel.get_locaton().await;
}

fn main() {}

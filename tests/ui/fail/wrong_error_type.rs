use pulse_runtime::prelude::*;

#[derive(Serialize, Deserialize, TS)]
pub enum JoinError {
    Full,
}

#[channel(events(join(String) -> Result<u32, JoinError> => server))]
pub struct Lobby;

struct Door;

impl LobbyHandler for Door {
    fn join(&mut self, _cx: &mut ChannelCx<Lobby>, _room: String) -> Result<u32, String> {
        Err("full".into())
    }
}

fn main() {}

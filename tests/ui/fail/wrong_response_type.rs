use pulse_runtime::prelude::*;

#[channel(events(history() -> Vec<String> => server))]
pub struct Chat;

struct Room;

impl ChatHandler for Room {
    fn history(&mut self, _cx: &mut ChannelCx<Chat>) -> Vec<u32> {
        Vec::new()
    }
}

fn main() {}

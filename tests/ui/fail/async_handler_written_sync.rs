use pulse_runtime::prelude::*;

#[channel(events(async history() -> Vec<String> => server))]
pub struct Chat;

struct Room;

impl ChatHandler for Room {
    // Declared `async`: the handler returns its work as `impl Future<Output = Vec<String>> + use<>`.
    fn history(&mut self, _cx: &mut ChannelCx<Chat>) -> Vec<String> {
        Vec::new()
    }
}

fn main() {}

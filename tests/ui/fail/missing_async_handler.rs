use pulse_runtime::prelude::*;

#[channel(events(
    send_message(String) => server,
    /// Answered later, by the future the handler returns (`impl Future<Output = Vec<String>> + use<>`).
    async history() -> Vec<String> => server,
))]
pub struct Chat;

struct Room;

impl ChatHandler for Room {
    fn send_message(&mut self, _cx: &mut ChannelCx<Chat>, _text: String) {}
}

fn main() {}

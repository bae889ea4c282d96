use pulse_runtime::prelude::*;

#[channel(events(send_message(String) => server, new_message(String) => client))]
pub struct Chat;

struct Room;

impl ChatHandler for Room {
    fn send_message(&mut self, cx: &mut ChannelCx<Chat>, text: String) {
        cx.broadcast().new_mesage(text);
    }
}

fn main() {}

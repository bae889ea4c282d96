use pulse_runtime::prelude::*;

#[channel(events(send_message(String) => server, new_message(String) => client))]
pub struct Chat;

struct Room;

impl ChatHandler for Room {
    fn send_message(&mut self, _cx: &mut ChannelCx<Chat>, _text: String) {}
    // `new_message` goes to the client: the server has no handler for it.
    fn new_message(&mut self, _cx: &mut ChannelCx<Chat>, _text: String) {}
}

fn main() {}

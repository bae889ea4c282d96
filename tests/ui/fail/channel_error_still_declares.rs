use pulse_runtime::prelude::*;

// One mistake in the declaration (a misspelt key) gives that one error: the channel's
// items are still declared, so the handler and its use below compile.
#[channel(nam = "chat", events(send(String) => server, said(String) => client))]
pub struct Chat;

struct Room;

impl ChatHandler for Room {
    fn send(&mut self, cx: &mut ChannelCx<Chat>, text: String) {
        cx.broadcast().said(text);
    }
}

fn open(session: &Session) {
    let _ = Chat::open(session, Room);
}

fn main() {}

use pulse_runtime::prelude::*;

#[channel(name = "desk", room = String, events(say(String) => server))]
pub struct Desk;

struct Seat;

impl DeskHandler for Seat {
    fn say(&mut self, _cx: &mut ChannelCx<Desk>, _text: String) {}
}

fn join(session: &Session, server: &Server) {
    // The room key is a `String`, not a number.
    let _ = Desk::open_in(session, &42, Seat);
    let _ = Desk::to_room(server, &7u32);
}

fn main() {}

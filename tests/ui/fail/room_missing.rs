use pulse_runtime::html::*;
use pulse_runtime::prelude::*;

#[channel(name = "desk", room = String, events(say(String) => server))]
pub struct Desk;

#[channel(name = "lobby", events(hello(String) => client))]
pub struct Lobby;

#[state]
struct Seat {
    desk: Channel<Desk>,
    lobby: Channel<Lobby>,
}

impl DeskHandler for Seat {
    fn say(&mut self, _cx: &mut ChannelCx<Desk>, _text: String) {}
}

impl LobbyHandler for Seat {}

#[component]
fn View(cx: &mut Scope) -> Node {
    // A channel with rooms opens in a room; one without rooms has none.
    cx.init(|cx| Seat { desk: cx.channel::<Desk>(), lobby: cx.channel_in::<Lobby>(&()) });
    p("seated")
}

fn main() {}

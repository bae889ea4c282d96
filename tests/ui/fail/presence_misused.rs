use pulse_runtime::prelude::*;

#[derive(Clone, Serialize, Deserialize, TS)]
pub struct Online {
    pub name: String,
}

// A channel that tracks presence takes only its declared metadata; one that does not
// track presence has no `track`.
#[channel(name = "chat", presence = Online, events(say(String) => server))]
pub struct Chat;

#[channel(name = "news", events(read() => server))]
pub struct News;

struct Room;

impl ChatHandler for Room {
    fn say(&mut self, cx: &mut ChannelCx<Chat>, text: String) {
        cx.track(&text);
    }
}

impl NewsHandler for Room {
    fn read(&mut self, cx: &mut ChannelCx<News>) {
        cx.track(&());
    }
}

fn main() {}

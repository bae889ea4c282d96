use pulse_runtime::prelude::*;

#[channel(events(async history() -> Vec<String> => server))]
pub struct Chat;

struct Room {
    lines: Vec<String>,
}

impl ChatHandler for Room {
    // Without `+ use<>` the future may borrow `self`, but it runs after the call returns.
    fn history(&mut self, _cx: &mut ChannelCx<Chat>) -> impl Future<Output = Vec<String>> {
        async move { self.lines.clone() }
    }
}

fn main() {}

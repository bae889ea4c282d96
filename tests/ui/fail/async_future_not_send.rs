use std::rc::Rc;

use pulse_runtime::prelude::*;

#[channel(events(async history() -> Vec<String> => server))]
pub struct Chat;

struct Room;

impl ChatHandler for Room {
    fn history(&mut self, _cx: &mut ChannelCx<Chat>) -> Later<Vec<String>> {
        // An `Rc` held across an await: the future cannot move to another thread.
        Later::new(async move {
            let lines = Rc::new(vec!["hello".to_owned()]);
            tokio::task::yield_now().await;
            (*lines).clone()
        })
    }
}

fn main() {}

use std::rc::Rc;

use pulse_runtime::prelude::*;

#[channel(events(async history() -> Vec<String> => server))]
pub struct Chat;

struct Room;

impl ChatHandler for Room {
    fn history(&mut self, _cx: &mut ChannelCx<Chat>) -> impl Future<Output = Vec<String>> + use<> {
        // An `Rc` held across an await: the future cannot move to another thread.
        async move {
            let lines = Rc::new(vec!["hello".to_owned()]);
            tokio::task::yield_now().await;
            (*lines).clone()
        }
    }
}

fn main() {}

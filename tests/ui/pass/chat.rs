//! The target usage: every feature of #[channel], payloads from another module,
//! Option, Vec, nested structs and serde's rename_all.
use pulse_runtime::prelude::*;

mod model {
    use pulse_runtime::prelude::*;

    #[derive(Clone, Debug, Serialize, Deserialize, TS)]
    #[serde(rename_all = "camelCase")]
    pub struct Message {
        pub user_name: String,
        pub text: String,
        pub reply_to: Option<u32>,
        pub author: Author,
    }

    #[derive(Clone, Debug, Serialize, Deserialize, TS)]
    pub struct Author {
        pub id: u32,
        pub tags: Vec<String>,
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, TS)]
pub struct Location {
    pub lat: f64,
    pub lng: f64,
}

/// The chat.
#[channel(name = "chat", events(
    /// A message typed by the user.
    send_message(model::Message)        => server,
    new_message(model::Message)         => client,
    notification(Option<String>)        => client,
    typing()                            => server,
    get_location() -> Location          => client,
    history(u32) -> Vec<model::Message> => server,
    ping() -> ()                        => server,
))]
pub struct Chat;

struct State {
    messages: Vec<model::Message>,
}

impl ChatHandler for State {
    fn send_message(&mut self, cx: &mut ChannelCx<Chat>, msg: model::Message) {
        self.messages.push(msg.clone());
        let _sent: pulse_runtime::Sent<pulse_runtime::Delivery> = cx.broadcast().new_message(msg);
        let _emitted: Result<(), ChannelError> = cx.notification(None).result();
        cx.notification(None);
    }
    fn typing(&mut self, _cx: &mut ChannelCx<Chat>) {}
    fn history(&mut self, _cx: &mut ChannelCx<Chat>, limit: u32) -> Vec<model::Message> {
        self.messages.iter().take(limit as usize).cloned().collect()
    }
    fn ping(&mut self, _cx: &mut ChannelCx<Chat>) {}
}

async fn ask(channel: Channel<Chat>) -> Option<Location> {
    match channel.get_location().timeout(Duration::from_secs(5)).await {
        Ok(location) => Some(location),
        Err(ChannelError::Timeout) => None,
        Err(_) => None,
    }
}

/// A push-only channel needs no handler.
#[channel(events(tick(u64) => client))]
struct Clock;

fn open(session: &Session) -> Result<(), pulse_runtime::OpenError> {
    let chat = Chat::open(session, State { messages: Vec::new() })?;
    let id: ChannelId<Chat> = chat.id();
    let _ = id.untyped();
    let clock = Clock::open(session, ())?;
    clock.tick(1);
    drop(ask(chat));
    Ok(())
}

fn main() {
    let _ = open;
    assert_eq!(<Chat as ChannelSpec>::NAME, "chat");
    assert_eq!(<Clock as ChannelSpec>::NAME, "clock");
}

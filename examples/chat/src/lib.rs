//! The chat of the seed ("Chat with Channels"), as a user of Pulse for Rust writes it:
//! the `chat` channel declared once, a server component `ChatRoom` with state, and the
//! client component `ChatClient` implemented in TypeScript (`client/src/ChatClient.tsx`).

use pulse_runtime::prelude::*;

/// A chat message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Message {
    /// Who sent it.
    pub user: String,
    /// What they said.
    pub text: String,
}

/// A notice from the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Notice {
    /// What the server says.
    pub text: String,
}

/// Where a client is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Location {
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lng: f64,
}

/// Every event of the chat channel, its direction and its payload, declared once.
#[channel(name = "chat", events(
    send_message(Message)       => server,  // client emits, server handles
    new_message(Message)        => client,  // server emits, client handles
    notification(Notice)        => client,
    get_location() -> Location  => client,  // server asks, client answers
    history() -> Vec<Message>   => server,  // client asks, server answers
))]
pub struct Chat;

/// The room every session shares: its messages render in every `ChatRoom`.
pub type Room = Shared<Vec<Message>>;

/// How long the server waits for a client's location.
pub const LOCATION_TIMEOUT: Duration = Duration::from_secs(5);

/// One session's chat state: its channel, and what its client said about where it is.
#[state]
pub struct ChatState {
    room: Room,
    channel: Channel<Chat>,
    location: Option<String>,
}

impl ChatState {
    fn new(cx: &mut StateCx<Self>, room: Room) -> Self {
        let channel = cx.channel::<Chat>();
        channel.broadcast().notification(Notice { text: "someone joined the chat".into() });
        // Ask the new client where it is; the answer (or its absence) shows up in the room.
        let state = cx.handle();
        let asking = channel.clone();
        tokio::spawn(async move {
            let location = match asking.get_location().timeout(LOCATION_TIMEOUT).await {
                Ok(Location { lat, lng }) => format!("your location: {lat:.1}, {lng:.1}"),
                Err(ChannelError::Timeout) => "location unavailable".to_owned(),
                Err(other) => {
                    tracing::debug!(%other, "location request failed");
                    "location unavailable".to_owned()
                }
            };
            state.update(|s| s.location = Some(location));
        });
        ChatState { room, channel, location: None }
    }

    /// Sends a notice to this session's client (fire-and-forget).
    pub fn send_notification(&self, text: &str) {
        self.channel.notification(Notice { text: text.into() });
    }
}

// rustc refuses to compile until every `=> server` event has a handler here.
impl ChatHandler for ChatState {
    fn send_message(&mut self, cx: &mut ChannelCx<Chat>, msg: Message) {
        self.room.update(|messages| messages.push(msg.clone())); // every ChatRoom re-renders
        cx.broadcast().new_message(msg); // every session joined to "chat"
    }

    fn history(&mut self, _cx: &mut ChannelCx<Chat>) -> Vec<Message> {
        self.room.read().clone()
    }
}

/// The chat room: the messages rendered on the server, and the client component that
/// sends them, given its channel by id.
#[component]
pub fn ChatRoom(cx: &mut Scope, room: Room) -> Node {
    let state = cx.init(|cx| ChatState::new(cx, room.clone()));
    let messages = cx.watch(&room);
    let s = state.read();
    div((
        h2("Chat"),
        ul(messages.iter().enumerate().map(|(i, m)| li(format!("{}: {}", m.user, m.text)).key(i)))
            .class("server-messages"),
        p(s.location.clone().unwrap_or_else(|| "locating…".into())).class("location"),
        ChatClient { channel_id: s.channel.id() }, // a client component, typed props
    ))
}

/// Implemented in TypeScript; Rust declares its props, client-gen writes the TS props type.
#[component(client)]
pub struct ChatClient {
    /// The chat channel this client talks on.
    pub channel_id: ChannelId<Chat>,
}

/// The chat server: `ChatRoom` for every session. With a backplane (`PULSE_REDIS_URL`),
/// messages sent on other nodes join this node's room too.
pub fn server(room: Room) -> pulse_runtime::ServerBuilder {
    let remote_room = room.clone();
    Server::builder().root(move || ChatRoom { room: room.clone() }).on_remote_broadcast::<Chat>(move |(), event| {
        if let ChatToClient::NewMessage(message) = event {
            remote_room.update(|messages| messages.push(message));
        }
    })
}

/// The generated TypeScript module of this crate.
pub fn typescript() -> pulse_client_gen::Module {
    pulse_client_gen::Module::new().channel::<Chat>().client_component::<ChatClient>()
}

/// The README's chat snippet, compiled as a doctest so it cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
mod readme {}

//! The chat of the seed ("Chat with Channels"), as a user of Pulse for Rust writes it:
//! the `chat` channel declared once, with rooms; a server component `ChatRoom` with
//! state; and the client component `ChatClient` implemented in TypeScript
//! (`client/src/ChatClient.tsx`), which also shows who else is typing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use pulse_runtime::OpenError;
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

/// Who is typing, and whether they still are.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Typing {
    /// Who.
    pub user: String,
    /// `false` once they stopped (sent, or cleared the box).
    pub typing: bool,
}

/// Who is online in a room: what the room's presence list shows of each tab.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Online {
    /// The name the tab chats under.
    pub name: String,
}

/// A chat room's name: the `room` of the page's URL (`/?room=random`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
pub struct RoomId(pub String);

impl RoomId {
    /// The room a page without `?room=` shows.
    pub fn lobby() -> RoomId {
        RoomId("lobby".into())
    }
}

/// The rooms the page links to. Any other name is a room too (`/?room=anything`), but
/// `staff`, which the authorization hook refuses.
pub const ROOMS: [&str; 2] = ["lobby", "random"];

/// Every event of the chat channel, its direction and its payload, declared once. A
/// chat channel opens in one room; its broadcasts reach that room only.
#[channel(name = "chat", room = RoomId, presence = Online, events(
    send_message(Message)        => server,  // client emits, server handles
    new_message(Message)         => client,  // server emits, client handles
    notification(Notice)         => client,
    get_location() -> Location   => client,  // server asks, client answers
    async history() -> Vec<Message> => server,  // client asks, an async handler answers
    /// The client's user started or stopped typing.
    typing(Typing)               => server,
    /// Someone else in the room started or stopped typing (never sent to the typist).
    someone_typing(Typing)       => client,
    /// The tab chats under this name from now on: it is listed as online with it.
    set_name(String)             => server,
))]
pub struct Chat;

/// One room's messages: every `ChatRoom` showing the room renders them.
pub type Room = Shared<Vec<Message>>;

/// Every room's messages, by name (a room exists once someone opens it).
#[derive(Clone, Default)]
pub struct Rooms(Arc<Mutex<HashMap<RoomId, Room>>>);

impl Rooms {
    /// The messages of room `id`.
    pub fn room(&self, id: &RoomId) -> Room {
        let mut rooms = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        rooms.entry(id.clone()).or_insert_with(|| Room::new(Vec::new())).clone()
    }
}

/// How long the server waits for a client's location.
pub const LOCATION_TIMEOUT: Duration = Duration::from_secs(5);

/// One session's chat state: its room, its channel there (or why it was refused), and
/// what its client said about where it is.
#[state]
pub struct ChatState {
    id: RoomId,
    room: Room,
    channel: Result<Channel<Chat>, String>,
    location: Option<String>,
}

impl ChatState {
    fn new(cx: &mut StateCx<Self>, rooms: &Rooms) -> Self {
        let id = cx.session().param("room").map_or_else(RoomId::lobby, RoomId);
        let room = rooms.room(&id);
        let channel = match cx.try_channel_in::<Chat>(&id) {
            Ok(channel) => channel,
            Err(OpenError::Forbidden(reason)) => {
                return ChatState { id, room, channel: Err(reason), location: None };
            }
            Err(other) => return ChatState { id, room, channel: Err(other.to_string()), location: None },
        };
        // To the others: a notice to the whole room would be kept in its history.
        let me = cx.session().id();
        channel.broadcast().except(me).notification(Notice { text: "someone joined the chat".into() });
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
        ChatState { id, room, channel: Ok(channel), location: None }
    }

    /// Sends a notice to this session's client (fire-and-forget).
    pub fn send_notification(&self, text: &str) {
        if let Ok(channel) = &self.channel {
            channel.notification(Notice { text: text.into() });
        }
    }
}

// rustc refuses to compile until every `=> server` event has a handler here.
impl ChatHandler for ChatState {
    fn send_message(&mut self, cx: &mut ChannelCx<Chat>, msg: Message) {
        self.room.update(|messages| messages.push(msg.clone())); // every ChatRoom of the room re-renders
        cx.broadcast().new_message(msg); // every session in this room
    }

    fn history(&mut self, _cx: &mut ChannelCx<Chat>) -> Later<Vec<Message>> {
        // The work runs after this returns, on its own task (a database query would
        // await here); it owns what it reads.
        let room = self.room.clone();
        Later::new(async move { room.read().clone() })
    }

    fn typing(&mut self, cx: &mut ChannelCx<Chat>, typing: Typing) {
        cx.broadcast_others().someone_typing(typing); // the others in the room, not the typist
    }

    fn set_name(&mut self, cx: &mut ChannelCx<Chat>, name: String) {
        cx.track(&Online { name }); // every tab in the room sees who is online
    }
}

/// The chat room: links to the rooms, the room's messages rendered on the server, and
/// the client component that sends them, given its channel by id.
#[component]
pub fn ChatRoom(cx: &mut Scope, rooms: Rooms) -> Node {
    let state = cx.init(|cx| ChatState::new(cx, &rooms));
    let room = state.read().room.clone();
    let messages = cx.watch(&room);
    let s = state.read();
    let links = nav(ROOMS.map(|name| {
        let link = a(name).href(format!("?room={name}")).key(name);
        if name == s.id.0 { link.class("current") } else { link }
    }))
    .class("rooms");
    let body = match &s.channel {
        Ok(channel) => fragment((
            ul(messages.iter().enumerate().map(|(i, m)| li(format!("{}: {}", m.user, m.text)).key(i)))
                .class("server-messages"),
            p(s.location.clone().unwrap_or_else(|| "locating…".into())).class("location"),
            ChatClient { channel_id: channel.id() }, // a client component, typed props
        )),
        Err(reason) => fragment((p(format!("you may not enter {}: {reason}", s.id.0)).class("refused"),)),
    };
    div((h2(format!("Chat: {}", s.id.0)), links, body))
}

/// Implemented in TypeScript; Rust declares its props, client-gen writes the TS props type.
#[component(client)]
pub struct ChatClient {
    /// The chat channel this client talks on.
    pub channel_id: ChannelId<Chat>,
}

/// How many messages each room keeps for the tabs that join it (its history).
pub const HISTORY: usize = 100;

/// The chat server: `ChatRoom` for every session, in the room its URL names; room
/// `staff` is refused; each room keeps its last [`HISTORY`] messages for the tabs that
/// join it. With a backplane (`PULSE_REDIS_URL`), messages sent on other nodes join this
/// node's rooms too, and the history lives in Redis.
pub fn server(rooms: Rooms) -> pulse_runtime::ServerBuilder {
    let remote_rooms = rooms.clone();
    Server::builder()
        .history::<Chat>(History::last(HISTORY))
        .root(move || ChatRoom { rooms: rooms.clone() })
        .authorize(|_session, access| match access.room::<RoomId>() {
            Some(RoomId(name)) if name == "staff" => Err("the staff room is for staff".into()),
            _ => Ok(()),
        })
        .on_remote_broadcast::<Chat>(move |room, event| {
            if let ChatToClient::NewMessage(message) = event {
                remote_rooms.room(&room).update(|messages| messages.push(message));
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

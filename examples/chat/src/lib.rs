//! The chat of the seed ("Chat with Channels"), as a user of Pulse for Rust writes it:
//! the `chat` channel declared once, with rooms; a server component `ChatRoom` with
//! state; and the client component `ChatClient` implemented in TypeScript
//! (`client/src/ChatClient.tsx`), which also shows who is online and who else is typing.

use pulse_runtime::html::*;
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

/// Who is in a room: what the room's presence list shows of each tab. Typing is part of
/// it, so a tab that leaves (closed, gone quiet past the heartbeat, its node dead) stops
/// typing on every screen with it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Online {
    /// The name the tab chats under.
    pub name: String,
    /// Whether its text box has something not yet sent.
    pub typing: bool,
}

impl Online {
    /// A tab before it says its name.
    fn anonymous() -> Online {
        Online { name: "anonymous".into(), typing: false }
    }
}

/// A chat room's name: the `room` of the page's address (`/rooms/random`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
pub struct RoomId(pub String);

impl RoomId {
    /// The room the lobby page (`/`) shows.
    pub fn lobby() -> RoomId {
        RoomId("lobby".into())
    }
}

/// Any text is a room's name, but none, or one longer than 64 bytes.
impl std::str::FromStr for RoomId {
    type Err = &'static str;
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        if name.is_empty() || name.len() > 64 {
            return Err("a room's name is 1 to 64 bytes");
        }
        Ok(RoomId(name.to_owned()))
    }
}

impl std::fmt::Display for RoomId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The chat's pages: the lobby, and each room at its own address; the old address of a
/// room (`/?room=random`) leads to its page.
#[derive(Routes, Debug, Clone, PartialEq)]
#[redirect("/?{room}", to = Room)]
pub enum ChatPage {
    /// The lobby's room.
    #[route("/", title = "Pulse chat", description = "A chat built with Pulse for Rust")]
    Lobby,
    /// A room.
    #[route("/rooms/{room}", title = "Chat: {room}", description = "The {room} room of the Pulse chat")]
    Room {
        /// Which room.
        room: RoomId,
    },
}

impl ChatPage {
    /// The room the page shows.
    pub fn room(&self) -> RoomId {
        match self {
            ChatPage::Lobby => RoomId::lobby(),
            ChatPage::Room { room } => room.clone(),
        }
    }
}

/// The rooms the page links to. Any other name is a room too (`/rooms/anything`), but
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
    /// The tab chats under this name from now on: it is listed as online with it.
    set_name(String)             => server,
    /// The tab's user started (`true`) or stopped typing: shown in its presence entry.
    typing(bool)                 => server,
))]
pub struct Chat;

/// How long the server waits for a client's location.
pub const LOCATION_TIMEOUT: Duration = Duration::from_secs(5);

/// One session's chat state: its room, the room's messages (the same on every node),
/// its channel there (or why it was refused), and what its client said about where it is.
#[state]
pub struct ChatState {
    id: RoomId,
    messages: RoomHistory<Chat>,
    channel: Result<Channel<Chat>, String>,
    location: Option<String>,
    /// How the room's presence list shows this tab.
    online: Online,
}

impl ChatState {
    fn new(cx: &mut StateCx<Self>, room: RoomId) -> Self {
        let id = room;
        // The room's kept broadcasts, in the order every node and every client has them.
        let messages = cx.room_history::<Chat>(&id);
        let channel = match cx.try_channel_in::<Chat>(&id) {
            Ok(channel) => channel,
            Err(OpenError::Forbidden(reason)) => {
                return ChatState { id, messages, channel: Err(reason), location: None, online: Online::anonymous() };
            }
            Err(other) => {
                let channel = Err(other.to_string());
                return ChatState { id, messages, channel, location: None, online: Online::anonymous() };
            }
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
        ChatState { id, messages, channel: Ok(channel), location: None, online: Online::anonymous() }
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
        // Every session in this room, on every node; kept in the room's history, so every
        // ChatRoom showing the room re-renders with it, in the same order everywhere.
        cx.broadcast().new_message(msg);
    }

    fn history(&mut self, _cx: &mut ChannelCx<Chat>) -> impl Future<Output = Vec<Message>> + use<> {
        // The work runs after this returns, on its own task (a database query would
        // await here); it owns what it reads.
        let messages = self.messages.clone();
        async move { messages.read().iter().filter_map(ChatToClient::as_new_message).cloned().collect() }
    }

    fn set_name(&mut self, cx: &mut ChannelCx<Chat>, name: String) {
        self.online.name = name;
        cx.track(&self.online); // every tab in the room sees who is online
    }

    fn typing(&mut self, cx: &mut ChannelCx<Chat>, typing: bool) {
        self.online.typing = typing;
        cx.track(&self.online); // ends with the tab's presence: never left behind
    }
}

/// Every tab's root: the room of the page the tab is on. Keyed by the room, so going to
/// another room (a link, back, forward) leaves this one: its state and channel end.
#[component]
pub fn ChatApp(cx: &mut Scope) -> Node {
    // A client that names no page (a test's) may name the room with `?room=` on the
    // WebSocket's address.
    let room = match cx.page::<ChatPage>() {
        Some(page) => page.page().room(),
        // An address that names no page (the server answered it with 404).
        None if cx.session().page_path().is_some() => return NotFound {}.into_node(),
        None => cx.session().param("room").map_or_else(RoomId::lobby, RoomId),
    };
    ChatRoom { room: room.clone() }.keyed(&room.0)
}

/// The page of an address that names no page: links to the rooms.
#[component]
pub fn NotFound(_cx: &mut Scope) -> Node {
    let links = nav(ROOMS.map(|name| page_link(&ChatPage::Room { room: RoomId(name.into()) }, name).key(name)));
    div((h2("Not found"), p("No page has this address. The rooms:"), links.class("rooms")))
}

/// The chat room: links to the rooms, the room's messages rendered on the server, and
/// the client component that sends them, given its channel by id.
#[component]
pub fn ChatRoom(cx: &mut Scope, room: RoomId) -> Node {
    let state = cx.init(|cx| ChatState::new(cx, room.clone()));
    let history = state.read().messages.clone();
    let log = cx.watch(&history);
    if !log.is_ready() {
        // The room's history is being read (from Redis): a page rendered over HTTP
        // waits for the render with its messages.
        cx.still_loading();
    }
    let s = state.read();
    let links = nav(ROOMS.map(|name| {
        let link = page_link(&ChatPage::Room { room: RoomId(name.into()) }, name).key(name);
        if name == s.id.0 { link.class("current") } else { link }
    }))
    .class("rooms");
    let body = match &s.channel {
        Ok(channel) => fragment((
            // Keyed by their place in the room's history, which never changes.
            ul(log.entries().filter_map(|(offset, event)| {
                event.as_new_message().map(|m| li(format!("{}: {}", m.user, m.text)).key(offset))
            }))
            .class("server-messages"),
            p(s.location.clone().unwrap_or_else(|| "locating…".into())).class("location"),
            // A client component, typed props; the page rendered over HTTP shows the
            // fallback until the browser runs it.
            ChatClient { channel_id: channel.id() }.into_node().fallback(p("loading the chat box…").class("status")),
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
/// join it, and its server-rendered list shows them. With a backplane
/// (`PULSE_REDIS_URL`) the history lives in Redis: every node shows the same messages,
/// in the same order.
pub fn server() -> pulse_runtime::ServerBuilder {
    Server::builder().history::<Chat>(History::last(HISTORY)).pages::<ChatPage>().root(|| ChatApp {}).authorize(
        |_session, access| match access.room::<RoomId>() {
            Some(RoomId(name)) if name == "staff" => Err("the staff room is for staff".into()),
            _ => Ok(()),
        },
    )
}

/// The generated TypeScript module of this crate.
pub fn typescript() -> pulse_client_gen::Module {
    pulse_client_gen::Module::new().channel::<Chat>().client_component::<ChatClient>().routes::<ChatPage>()
}

/// The README's chat snippet, compiled as a doctest so it cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
mod readme {}

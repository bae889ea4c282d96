//! The `lab` channel: one event of every kind and payloads of every shape. The
//! TypeScript fixture is generated from it, and `ts-test-server` serves it for the
//! client runtime's tests.

use std::time::Duration;

use pulse_runtime::html::*;
use pulse_runtime::prelude::*;

/// A note, with serde's `rename_all`, an `Option`, a `Vec` and a nested struct.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    /// Who wrote it.
    pub author_name: String,
    /// What it says.
    pub body: String,
    /// The note it answers, if any.
    pub reply_to: Option<u32>,
    /// Free tags.
    pub tags: Vec<String>,
    /// Bookkeeping.
    pub meta: Meta,
}

/// Bookkeeping of a note.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Meta {
    /// Milliseconds since the epoch: `u64`, written `number` in TypeScript.
    pub sent_at_ms: u64,
    /// Pinned to the top.
    pub pinned: bool,
}

/// A shape, as an internally tagged enum.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Shape {
    /// A circle.
    Circle {
        /// Its radius.
        radius: f64,
    },
    /// A square.
    Square {
        /// Its side.
        side: f64,
    },
}

/// A channel with one event of every kind, for the TypeScript tests.
#[channel(name = "lab", events(
    /// Post a note; everyone on the channel gets it as `posted`.
    post(Note)                        => server,
    /// Ask the server to ask back: it requests `ask_name`, then emits `greeting`.
    ping()                            => server,
    posted(Note)                      => client,
    greeting(String)                  => client,
    tick(u64)                         => client,
    area(Shape) -> f64                => server,
    fail(String) -> ()                => server,
    ask_name(String) -> String        => client,
    ask_nothing() -> Option<String>   => client,
))]
pub struct Lab;

/// The server side of `lab`.
#[derive(Default)]
pub struct LabServer {
    ticks: u64,
}

impl LabServer {
    fn area_of(shape: &Shape) -> f64 {
        match shape {
            Shape::Circle { radius } => std::f64::consts::PI * radius * radius,
            Shape::Square { side } => side * side,
        }
    }
}

impl LabHandler for LabServer {
    fn post(&mut self, cx: &mut ChannelCx<Lab>, note: Note) {
        cx.broadcast().posted(note);
        self.ticks += 1;
        cx.tick(self.ticks);
    }

    fn ping(&mut self, cx: &mut ChannelCx<Lab>) {
        let channel = cx.channel().clone();
        tokio::spawn(async move {
            let greeting = match channel.ask_name("who are you?".into()).timeout(Duration::from_secs(2)).await {
                Ok(name) => format!("hello, {name}"),
                Err(error) => format!("no name: {error}"),
            };
            channel.greeting(greeting);
        });
    }

    fn area(&mut self, _cx: &mut ChannelCx<Lab>, shape: Shape) -> f64 {
        Self::area_of(&shape)
    }

    fn fail(&mut self, _cx: &mut ChannelCx<Lab>, reason: String) {
        panic!("failing on purpose: {reason}");
    }
}

/// State of [`LabCounter`].
#[state]
pub struct CounterState {
    n: i64,
    text: String,
    items: Vec<&'static str>,
    agreed: bool,
    submitted: String,
}

/// A component with one DOM callback of every kind, for the TypeScript renderer tests.
#[component]
pub fn LabCounter(cx: &mut Scope) -> Node {
    let state = cx.init(|_| CounterState {
        n: 0,
        text: String::new(),
        items: vec!["a", "b", "c"],
        agreed: false,
        submitted: String::new(),
    });
    let s = state.read();
    section((
        p(format!("count: {}", s.n)).id("count"),
        button("+").id("plus").on_click(state.on(|s, _| s.n += 1)),
        input()
            .id("text")
            .value(s.text.clone())
            .on_change(state.on(|s, ev| s.text = ev.value.clone().unwrap_or_default())),
        p(format!("text: {}", s.text)).id("echo"),
        input()
            .id("agree")
            .kind("checkbox")
            .checked(s.agreed)
            .on_change(state.on(|s, ev| s.agreed = ev.checked == Some(true))),
        p(format!("agreed: {}", s.agreed)).id("agreed"),
        button("rotate").id("rotate").on_click(state.on(|s, _| s.items.rotate_left(1))),
        ul(s.items.iter().map(|item| li(*item).key(item))).id("items"),
        form((input().name("who").id("who"), button("send").kind("submit"))).id("form").on_submit(state.on(|s, ev| {
            let who = ev.form.as_ref().and_then(|f| f.get("who")).and_then(|v| v.as_str()).unwrap_or("");
            s.submitted = format!("submitted: {who}");
        })),
        p(s.submitted.clone()).id("submitted"),
    ))
}

/// Why a `lookup` failed: the typed error of a fallible request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LookupError {
    /// No note has that number.
    NotFound {
        /// The number asked for.
        number: u32,
    },
    /// Numbers start at 1.
    Zero,
}

/// Why a `join` was refused.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JoinError {
    /// The authorization hook refused the room.
    Forbidden {
        /// What it said.
        reason: String,
    },
    /// The session cannot open another channel.
    Full,
}

/// A channel with rooms (desks named by a string), async and fallible handlers, and
/// delivery to the others at a desk.
#[channel(name = "desk", room = String, events(
    /// Say something at this desk: everyone at it hears `said`, the sayer included.
    say(String)                                      => server,
    said(String)                                     => client,
    /// Typing at this desk: the others hear `someone_typing`, the typist does not.
    typing(bool)                                     => server,
    someone_typing(bool)                             => client,
    /// Looks note `n` up after a short wait (an async, fallible request).
    async lookup(u32) -> Result<String, LookupError> => server,
    /// Answers after `ms` milliseconds (an async request that holds up this desk only).
    async wait(u64) -> u64                           => server,
    /// Sent once when the desk opens, before anything else on it.
    welcome(String)                                  => client,
))]
pub struct Desk;

/// The server side of `desk`: counts what it handled, says hello on open.
#[derive(Default)]
pub struct DeskServer {
    /// `say` events handled so far.
    pub says: u32,
}

impl DeskHandler for DeskServer {
    fn say(&mut self, cx: &mut ChannelCx<Desk>, text: String) {
        self.says += 1;
        cx.broadcast().said(text);
    }

    fn typing(&mut self, cx: &mut ChannelCx<Desk>, typing: bool) {
        cx.broadcast_others().someone_typing(typing);
    }

    fn lookup(
        &mut self,
        _cx: &mut ChannelCx<Desk>,
        n: u32,
    ) -> impl Future<Output = Result<String, LookupError>> + use<> {
        async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            match n {
                0 => Err(LookupError::Zero),
                1..=3 => Ok(format!("note {n}")),
                number => Err(LookupError::NotFound { number }),
            }
        }
    }

    fn wait(&mut self, _cx: &mut ChannelCx<Desk>, ms: u64) -> impl Future<Output = u64> + use<> {
        async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            ms
        }
    }

    fn on_open(&mut self, cx: &mut ChannelCx<Desk>) {
        let room = cx.room().unwrap_or_default();
        cx.welcome(format!("welcome to desk {room}"));
    }
}

/// A channel without rooms whose fallible `join` opens a `desk` in a room: a refused
/// room reaches the client as a typed error.
#[channel(name = "lobby", events(
    /// Joins desk `room`: answers the new desk channel's id.
    join(String) -> Result<ChannelId<Desk>, JoinError> => server,
    /// A notice for one user (all of their tabs).
    notice(String)                                     => client,
))]
pub struct Lobby;

/// The server side of `lobby`.
pub struct LobbyServer;

impl LobbyHandler for LobbyServer {
    fn join(&mut self, cx: &mut ChannelCx<Lobby>, room: String) -> Result<ChannelId<Desk>, JoinError> {
        match Desk::open_in(&cx.session(), &room, DeskServer::default()) {
            Ok(desk) => Ok(desk.id()),
            Err(pulse_runtime::OpenError::Forbidden(reason)) => Err(JoinError::Forbidden { reason }),
            Err(_) => Err(JoinError::Full),
        }
    }
}

/// Where someone sits at a table: what the table's presence list shows of them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Seat {
    /// The name they sit down with.
    pub name: String,
    /// Whether they are dealing.
    pub dealing: bool,
}

/// A channel with rooms that tracks presence: who sits at each table.
#[channel(name = "table", room = String, presence = Seat, events(
    /// Sits down (or changes seat) with a name: this session is listed at the table.
    sit(String)   => server,
    /// Starts or stops dealing: the listed seat changes.
    deal(bool)    => server,
    /// Stands up: this session leaves the list (it stays at the table).
    stand()       => server,
))]
pub struct Table;

/// The server side of `table`.
#[derive(Default)]
pub struct TableServer {
    seat: Option<Seat>,
}

impl TableHandler for TableServer {
    fn sit(&mut self, cx: &mut ChannelCx<Table>, name: String) {
        let seat = Seat { name, dealing: false };
        cx.track(&seat);
        self.seat = Some(seat);
    }

    fn deal(&mut self, cx: &mut ChannelCx<Table>, dealing: bool) {
        if let Some(seat) = &mut self.seat {
            seat.dealing = dealing;
            cx.track(seat);
        }
    }

    fn stand(&mut self, cx: &mut ChannelCx<Table>) {
        cx.untrack();
        self.seat = None;
    }
}

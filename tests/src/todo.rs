//! The shared todo list a newcomer builds from the guide: a `todos` channel with rooms
//! (one board per `?board=`) and a long history, a server component giving each tab its
//! board's channel, and the client component `TodoList` (tests/browser/todo/src) that
//! folds the channel's events with `useChannelState`. `todo-server` serves it; the
//! browser test runs its client through Vite's dev server with `<StrictMode>`, a tab
//! opened late and a hot-module edit.

use std::sync::atomic::{AtomicU64, Ordering};

use pulse_runtime::html::*;
use pulse_runtime::prelude::*;

/// One item of a board.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Todo {
    /// Unique on this server: the item's React key.
    pub id: u64,
    /// What to do.
    pub text: String,
}

/// A board's name: the page's `?board=`, `main` without one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
pub struct BoardId(pub String);

/// A board's items: added by any tab, heard by every tab of the board.
#[channel(name = "todos", room = BoardId, events(
    /// Adds an item to the board.
    add(String)   => server,
    /// An item was added (kept in the board's history).
    added(Todo)   => client,
))]
pub struct Todos;

/// How many of a board's items its history keeps: what a late tab sees.
pub const KEEP: usize = 1000;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// One tab's board.
#[state]
pub struct BoardTab {
    board: BoardId,
    channel: Channel<Todos>,
}

impl TodosHandler for BoardTab {
    fn add(&mut self, cx: &mut ChannelCx<Todos>, text: String) {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        cx.broadcast().added(Todo { id, text });
    }
}

/// The page: the board's name, and its list as a client component.
#[component]
pub fn Board(cx: &mut Scope) -> Node {
    let tab = cx.init(|cx| {
        let board = BoardId(cx.session().param("board").unwrap_or_else(|| "main".into()));
        let channel = cx.channel_in::<Todos>(&board);
        BoardTab { board, channel }
    });
    let tab = tab.read();
    div((h1(format!("Board {}", tab.board.0)), TodoList { channel_id: tab.channel.id() }))
}

/// Implemented in TypeScript (tests/browser/todo/src/TodoList.tsx).
#[component(client)]
pub struct TodoList {
    /// The board's channel.
    pub channel_id: ChannelId<Todos>,
}

/// The server: `Board` for every tab, each board keeping its last [`KEEP`] items.
pub fn server() -> pulse_runtime::ServerBuilder {
    Server::builder().history::<Todos>(History::last(KEEP)).root(|| Board {})
}

/// The client's generated module (tests/browser/todo/src/generated/todo.ts).
pub fn typescript() -> pulse_client_gen::Module {
    pulse_client_gen::Module::new().channel::<Todos>().client_component::<TodoList>()
}

/// Where [`typescript`] is committed.
pub const TYPESCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/browser/todo/src/generated/todo.ts");

//! The starter: a counter every tab shares, and a second page. The `counter` channel is
//! declared once here; the server component `Home` renders the count on the server,
//! and the client component `Buttons` (client/src/Buttons.tsx) changes it through the
//! channel's typed hook. `Page` declares the app's pages and `App` shows the tab's.
//! Rename, delete, add: this is the app to grow into your own.

use pulse_runtime::html::*;
use pulse_runtime::prelude::*;

#[channel(name = "counter", events(
    /// Adds to the count (from the client's buttons).
    add(i64) => server,
    /// The count changed: sent to every tab.
    count(i64) => client,
    /// The count now, asked by a client when its channel opens (its first state).
    current() -> i64 => server,
))]
pub struct Counter;

/// One tab's state: the shared count and its `counter` channel.
#[state]
pub struct Tab {
    count: Shared<i64>,
    channel: Channel<Counter>,
}

// rustc refuses to compile until every `=> server` event has a handler here.
impl CounterHandler for Tab {
    fn add(&mut self, cx: &mut ChannelCx<Counter>, by: i64) {
        let now = self.count.update(|count| {
            *count = count.saturating_add(by.clamp(-100, 100));
            *count
        });
        cx.broadcast().count(now); // every tab's client component hears it
    }

    fn current(&mut self, _cx: &mut ChannelCx<Counter>) -> i64 {
        *self.count.read()
    }
}

/// The page's server-rendered part; it re-renders whenever the count changes.
#[component]
pub fn Home(cx: &mut Scope, count: Shared<i64>) -> Node {
    let tab = cx.init(|cx| Tab { count: count.clone(), channel: cx.channel() });
    let now = *cx.watch(&count);
    let reset = tab.on(|tab, _event| {
        tab.count.update(|count| *count = 0);
        tab.channel.broadcast().count(0);
    });
    div((
        h1("Pulse starter"),
        p(format!("The server renders this line: the count is {now}.")).class("server-count"),
        button("Reset (a server callback)").on_click(reset).class("reset"),
        Buttons { channel_id: tab.read().channel.id() }, // a client component, typed props
    ))
}

/// The app's pages: each an address, checked by rustc here and by tsc in the client
/// (`routes.about()` in the generated module).
#[derive(Routes, Debug, Clone, PartialEq)]
pub enum Page {
    /// The counter.
    #[route("/")]
    Home,
    /// What this app is.
    #[route("/about")]
    About,
}

/// Every tab's root: the links to the pages, then the page the tab is on.
#[component]
pub fn App(cx: &mut Scope, count: Shared<i64>) -> Node {
    let page = Page::current(cx.session()).map(|routed| routed.page().clone());
    let links = nav((a("Counter").href(Page::Home.href()), a("About").href(Page::About.href()))).class("pages");
    let page = match page {
        Some(Page::Home) => Home { count }.into_node(),
        Some(Page::About) => About {}.into_node(),
        None => p("No page here.").class("not-found").into_node(),
    };
    div((links, page))
}

/// The second page: rendered on the server, like `Home`.
#[component]
pub fn About(_cx: &mut Scope) -> Node {
    div((h1("About"), p("A Pulse app: server components in Rust, client components in React.").class("about")))
}

/// Implemented in TypeScript (client/src/Buttons.tsx); Rust declares its props.
#[component(client)]
pub struct Buttons {
    /// The channel its buttons talk on.
    pub channel_id: ChannelId<Counter>,
}

/// The server: `App` for every tab, all sharing one count.
pub fn server() -> pulse_runtime::ServerBuilder {
    let count = Shared::new(0);
    Server::builder().pages::<Page>().root(move || App { count: count.clone() })
}

/// The TypeScript module the client imports (client/src/generated/starter.ts).
pub fn typescript() -> pulse_client_gen::Module {
    pulse_client_gen::Module::new().channel::<Counter>().client_component::<Buttons>().routes::<Page>()
}

/// Where [`typescript`] is written, in this crate.
pub const TYPESCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/client/src/generated/starter.ts");

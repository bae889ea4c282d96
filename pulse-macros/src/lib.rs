//! Procedural macros of Pulse for Rust. Use them through `pulse_runtime` (which
//! re-exports them), not directly: the generated code names the runtime's items.
//!
//! Each macro follows the same stages, one file each: parse the input into a model,
//! check every rule (collecting all errors, each spanned at the user's tokens), then
//! render each output from the model.

mod channel;
mod component;
mod errors;
mod naming;
mod routes;
mod runtime_path;
mod state;

use proc_macro::TokenStream;

/// Declares a channel: its name and every event with direction and payload type.
///
/// ```
/// use pulse_runtime::prelude::*;
///
/// #[derive(Clone, Debug, Serialize, Deserialize, TS)]
/// pub struct Message { pub user: String, pub text: String }
///
/// #[derive(Clone, Debug, Serialize, Deserialize, TS)]
/// pub struct Location { pub lat: f64, pub lng: f64 }
///
/// #[channel(name = "chat", events(
///     send_message(Message)       => server,  // client emits, server handles
///     new_message(Message)        => client,  // server emits, client handles
///     get_location() -> Location  => client,  // server asks, client answers
///     history() -> Vec<Message>   => server,  // client asks, server answers
/// ))]
/// pub struct Chat;
///
/// struct Room(Vec<Message>);
///
/// impl ChatHandler for Room {  // leave one out and it does not compile
///     fn send_message(&mut self, cx: &mut ChannelCx<Chat>, msg: Message) {
///         self.0.push(msg.clone());
///         cx.broadcast().new_message(msg);
///     }
///     fn history(&mut self, _cx: &mut ChannelCx<Chat>) -> Vec<Message> {
///         self.0.clone()
///     }
/// }
/// assert_eq!(Chat::NAME, "chat");
/// ```
///
/// Options beside `events(..)`: `room = Type` (the channel is opened in a room:
/// `Chat::open_in(&session, &room, handler)`, broadcasts reach that room), `presence =
/// Type` (`cx.track(&meta)` lists the session in its room); per event, `async` before
/// it (its handler returns `impl Future<Output = T> + use<>`, run on a task of its own) and `-> Result<T, E>`
/// for a request that can fail with a typed error. See the repository's docs/guide.md.
///
/// Generates, next to `Chat`: `ChatHandler` (one method per `=> server` event, so a
/// missing handler does not compile), `ChatOutbound` (the `=> client` events as
/// methods of `Channel<Chat>`), `ChatBroadcast`, the wire enums `ChatToServer` and
/// `ChatToClient`, `Chat::open`, and `impl ChannelSpec for Chat` with the schema the
/// TypeScript generator reads.
#[proc_macro_attribute]
pub fn channel(attr: TokenStream, item: TokenStream) -> TokenStream {
    channel::expand(attr.into(), item.into()).into()
}

/// Marks a struct as component state, which `Scope::init` makes once per session and
/// keeps across renders; a state holding a channel is its handler.
///
/// ```
/// use pulse_runtime::html::*;
/// use pulse_runtime::prelude::*;
///
/// #[channel(name = "counter", events(add(i64) => server, count(i64) => client))]
/// pub struct Counter;
///
/// #[state]
/// pub struct Tab { count: i64, channel: Channel<Counter> }
///
/// impl CounterHandler for Tab {
///     fn add(&mut self, cx: &mut ChannelCx<Counter>, by: i64) {
///         self.count += by;
///         cx.channel().count(self.count);  // back to this tab's client
///     }
/// }
///
/// #[component]
/// pub fn Home(cx: &mut Scope) -> Node {
///     let tab = cx.init(|cx| Tab { count: 0, channel: cx.channel() });
///     let tab = tab.read();
///     p(format!("count: {}", tab.count))
/// }
/// ```
#[proc_macro_attribute]
pub fn state(attr: TokenStream, item: TokenStream) -> TokenStream {
    state::expand(attr.into(), item.into()).into()
}

/// `#[component]` turns `fn Name(cx: &mut Scope, prop: Type, ..) -> Node` into a server
/// component: a props struct `Name { prop }` (missing props do not compile) that can
/// be placed in a tree. `#[component(client)]` on a struct declares a component
/// implemented in TypeScript, with these props (camelCase on the wire).
///
/// ```
/// use pulse_runtime::html::*;
/// use pulse_runtime::prelude::*;
///
/// #[component]
/// pub fn Greeting(cx: &mut Scope, name: String, visits: Shared<u32>) -> Node {
///     let visits = *cx.watch(&visits);  // re-renders when it changes
///     div((
///         h1(format!("Hello, {name}")),
///         p(format!("{visits} visits")),
///         Avatar { user: name.clone(), size: 48 },  // rendered by the browser
///     ))
/// }
///
/// /// Implemented in TypeScript: `AvatarProps` is `{ user: string; size: number }`.
/// #[component(client)]
/// pub struct Avatar { pub user: String, pub size: u32 }
///
/// let server = Server::builder()
///     .root(|| Greeting { name: "Ann".into(), visits: Shared::new(0) })
///     .build();
/// ```
#[proc_macro_attribute]
pub fn component(attr: TokenStream, item: TokenStream) -> TokenStream {
    component::expand(attr.into(), item.into()).into()
}

/// Declares the app's pages on an enum: each variant a page with its address,
/// `#[route("/rooms/{room}")]`, its fields the address's typed parameters (`{name}` a
/// path segment, `{*name}` the rest of the path, `?{name}` a query parameter, optional
/// when its field is an `Option`); `#[redirect("/old/{room}", to = Room)]` on the enum
/// maps an old address to a page. Implements `Routes` (parse an address, write one)
/// and `Display` (the address).
#[proc_macro_derive(Routes, attributes(route, redirect))]
pub fn routes(item: TokenStream) -> TokenStream {
    routes::expand(item.into()).into()
}

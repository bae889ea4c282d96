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
mod runtime_path;
mod state;

use proc_macro::TokenStream;

/// Declares a channel: its name and every event with direction and payload type.
///
/// ```ignore
/// #[channel(name = "chat", events(
///     send_message(Message)       => server,  // client emits, server handles
///     new_message(Message)        => client,  // server emits, client handles
///     get_location() -> Location  => client,  // server asks, client answers
///     history() -> Vec<Message>   => server,  // client asks, server answers
/// ))]
/// pub struct Chat;
/// ```
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

/// Marks a struct as component state, which `Scope::init` makes once and keeps:
///
/// ```ignore
/// #[state]
/// pub struct ChatState { messages: Vec<Message>, channel: Channel<Chat> }
/// ```
#[proc_macro_attribute]
pub fn state(attr: TokenStream, item: TokenStream) -> TokenStream {
    state::expand(attr.into(), item.into()).into()
}

/// `#[component]` turns `fn Name(cx: &mut Scope, prop: Type, ..) -> Node` into a server
/// component: a props struct `Name { prop }` (missing props do not compile) that can
/// be placed in a tree. `#[component(client)]` on a struct declares a component
/// implemented in TypeScript, with these props (camelCase on the wire).
#[proc_macro_attribute]
pub fn component(attr: TokenStream, item: TokenStream) -> TokenStream {
    component::expand(attr.into(), item.into()).into()
}

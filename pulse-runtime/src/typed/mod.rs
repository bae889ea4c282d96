//! The typed layer that `#[channel]` generates code against.
//!
//! A `#[channel]` declaration implements [`ChannelSpec`] for its unit struct and
//! generates, next to it, a handler trait, an outbound type (emit and request methods
//! for its server-to-client events), a broadcast type, and the wire enums. The types
//! here are generic over the declaration, so `Channel<Chat>` only offers `Chat`'s events.

mod broadcast;
mod channel;
mod codec;
mod dispatch;
pub mod schema;

pub use broadcast::Broadcaster;
pub use channel::{Channel, ChannelCx};
pub use codec::{Codec, codec};
pub use dispatch::{HandlerCell, Owned};

#[doc(hidden)]
pub mod __private {
    //! Used by generated code only; not a stable API.
    pub use super::codec::{EventFields, emit_null, serialize_event};
    pub use super::dispatch::{handler_gone, wrong_kind};
}

use crate::session::channel::RawChannel;

/// A channel declaration: implemented by `#[channel]` on its unit struct.
pub trait ChannelSpec: Sized + Send + Sync + 'static {
    /// The channel name: its broadcast topic and what the client sees in `open`.
    const NAME: &'static str;
    /// Emit and request methods for the server-to-client events (generated).
    type Outbound: From<RawChannel> + Clone + Send + Sync + 'static;
    /// Broadcast methods for the server-to-client events (generated).
    type Broadcast: From<Broadcaster>;
    /// The client-to-server events as values (generated `XxxToServer`).
    type ToServer: WireEvent;
    /// The server-to-client events as values (generated `XxxToClient`).
    type ToClient: WireEvent;
    /// The declaration as data, for the TypeScript generator.
    fn schema() -> schema::ChannelSchema;
}

/// A wire enum of a channel (`ChatToServer`, `ChatToClient`): an event as a value.
pub trait WireEvent: Sized + Send + 'static {
    /// Decodes an event from its name and payload, refusing unknown names and payloads
    /// of the wrong type.
    fn decode(event: &str, payload: &serde_json::value::RawValue) -> Result<Self, crate::protocol::WireError>;
    /// The event's name on the wire.
    fn event(&self) -> &'static str;
}

/// A channel declaration whose client events `H` can handle: implemented by
/// `#[channel]` for every `H` that implements the declaration's handler trait, so state
/// (`StateCx::channel`) can open channels handled by itself.
pub trait HandledBy<H>: ChannelSpec {
    /// The raw handler that decodes this declaration's client events and calls the
    /// handler reached through `cell`.
    fn dispatcher<Cell: HandlerCell<Handler = H>>(cell: Cell) -> Box<dyn crate::RawHandler>;

    /// Opens a channel of this declaration in `session`, its events going to the handler
    /// reached through `cell`.
    fn open_with<Cell: HandlerCell<Handler = H>>(
        session: &crate::Session,
        cell: Cell,
    ) -> Result<Channel<Self>, crate::OpenError> {
        session.shared.open_channel(Self::NAME, Self::dispatcher(cell), true).map(Channel::from_raw)
    }
}

/// A payload or response type of a channel event: what `#[channel]` requires of each
/// type it names.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot travel on a channel",
    label = "this type is not a channel payload",
    note = "derive `Serialize`, `Deserialize` and `TS` for it: `#[derive(Serialize, Deserialize, TS)]`"
)]
pub trait Payload: serde::Serialize + serde::de::DeserializeOwned + ts_rs::TS + Send + 'static {}

impl<T: serde::Serialize + serde::de::DeserializeOwned + ts_rs::TS + Send + 'static> Payload for T {}

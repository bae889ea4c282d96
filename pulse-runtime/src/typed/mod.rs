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
mod room_history;
pub mod schema;
mod seal;
mod sent;

pub use broadcast::Broadcaster;
pub use channel::{Channel, ChannelCx};
pub(crate) use dispatch::HandlerCell;
pub use room_history::{RoomHistory, RoomLog};
pub use sent::Sent;

use crate::protocol::Topic;

/// What only the code `#[channel]` generates uses; re-exported as
/// `pulse_runtime::__private`, not a stable API.
#[doc(hidden)]
pub mod private {
    use super::Topic;

    pub use super::codec::{Codec, EventFields, Fallible, broadcast_null, codec, emit_null, serialize_event};
    pub use super::dispatch::{HandlerCell, Owned, emit_done, emit_later, handler_gone, wrong_kind};
    pub use super::seal::{Grant, Opened, Sealed, Targeted};

    /// The typed context of a handler call, on a channel the runtime opened as a `C`
    /// (which `grant` proves).
    pub fn channel_cx<C: super::ChannelSpec>(grant: &Grant<C>, raw: &crate::RawCx<'_>) -> super::ChannelCx<C> {
        let _ = grant;
        super::ChannelCx::new(raw)
    }

    /// Opens a channel of `C` in `session`, its events going to `handler` (`C::open`).
    pub fn open<C, H>(session: &crate::Session, handler: H) -> Result<super::Channel<C>, crate::OpenError>
    where
        C: super::HandledBy<H> + super::WithoutRooms,
        H: Send + 'static,
    {
        super::open_raw::<C>(session, Topic::from(C::NAME), C::dispatcher(Owned(handler), Grant::new()))
    }

    /// Opens a channel of `C` in room `room` of `session`, its events going to
    /// `handler` (`C::open_in`).
    pub fn open_in<C, H>(
        session: &crate::Session,
        room: &C::Room,
        handler: H,
    ) -> Result<super::Channel<C>, crate::OpenError>
    where
        C: super::HandledBy<H> + super::WithRooms,
        H: Send + 'static,
    {
        super::open_raw::<C>(session, super::room_topic::<C>(room)?, C::dispatcher(Owned(handler), Grant::new()))
    }
}

/// Opens a channel of `C` on `topic` in `session`, announced at once.
fn open_raw<C: ChannelSpec>(
    session: &crate::Session,
    topic: Topic,
    handler: Box<dyn crate::RawHandler>,
) -> Result<Channel<C>, crate::OpenError> {
    session.shared.declare(C::NAME, C::PRESENCE);
    session.shared.open_channel(topic, handler, true).map(Channel::from_raw)
}

/// A channel declaration: implemented by `#[channel]` on its unit struct (implementing it
/// by hand is not supported: its supertrait is in `__private`, which is not API).
pub trait ChannelSpec: private::Sealed + Sized + Send + Sync + 'static {
    /// The channel name: its broadcast topic and what the client sees in `open`.
    const NAME: &'static str;
    /// Whether it tracks presence (`presence = Meta` in the declaration).
    const PRESENCE: bool = false;
    /// The type of its room keys (`room = RoomId` in the declaration); `()` for a
    /// channel without rooms.
    type Room: serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static;
    /// The metadata of a session's presence in a room (`presence = Online` in the
    /// declaration); `()` for a channel that does not track presence.
    /// (`#[channel]` requires it to be a [`Payload`].)
    type Presence: Send + Sync + 'static;
    /// Emit and request methods for the server-to-client events (generated).
    type Outbound: From<private::Opened<Self>> + Clone + Send + Sync + 'static;
    /// Broadcast methods for the server-to-client events (generated).
    type Broadcast: From<private::Targeted<Self>>;
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
    /// handler reached through `cell`; `grant` is the runtime's (see `Grant`).
    #[doc(hidden)]
    fn dispatcher<Cell: private::HandlerCell<Handler = H>>(
        cell: Cell,
        grant: private::Grant<Self>,
    ) -> Box<dyn crate::RawHandler>;
}

/// The topic of room `room` of channel `C`; refuses a key that does not encode, or
/// encodes longer than [`MAX_ROOM_LEN`](crate::protocol::MAX_ROOM_LEN).
pub(crate) fn room_topic<C: ChannelSpec>(room: &C::Room) -> Result<Topic, crate::OpenError> {
    let json = serde_json::value::to_raw_value(room).map_err(|e| crate::OpenError::InvalidRoom(e.to_string()))?;
    if json.get().len() > crate::protocol::MAX_ROOM_LEN {
        return Err(crate::OpenError::InvalidRoom(format!(
            "{} bytes of JSON, more than {}",
            json.get().len(),
            crate::protocol::MAX_ROOM_LEN
        )));
    }
    Ok(Topic::new(C::NAME, Some(&json)))
}

/// A channel declared without rooms: opened with `cx.channel::<C>()` or `C::open`, and
/// broadcast to with `C::broadcast(&server)`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is a channel with rooms: it opens in a room",
    label = "this channel is declared with `room = ...`",
    note = "open it with `cx.channel_in::<{Self}>(&room)` or `{Self}::open_in(&session, &room, handler)`"
)]
pub trait WithoutRooms: ChannelSpec {}

/// A channel declared with `room = Key`: opened in a room with `cx.channel_in::<C>(&key)`
/// or `C::open_in`, and broadcast to with `C::to_room(&server, &key)`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is a channel without rooms",
    label = "this channel is declared without `room = ...`",
    note = "open it with `cx.channel::<{Self}>()`, or declare its room type: `#[channel(room = RoomId, ...)]`"
)]
pub trait WithRooms: ChannelSpec {}

/// A channel declared with `presence = Meta`: each session may be tracked in its room
/// with a `Meta` ([`Channel::track`]), and every client in the room sees who is there.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not track presence",
    label = "this channel is declared without `presence = ...`",
    note = "declare its presence metadata type: `#[channel(presence = Online, ...)]`"
)]
pub trait WithPresence: ChannelSpec {}

/// A payload or response type of a channel event: what `#[channel]` requires of each
/// type it names.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot travel on a channel",
    label = "this type is not a channel payload",
    note = "derive `Serialize`, `Deserialize` and `TS` for it: `#[derive(Serialize, Deserialize, TS)]`"
)]
pub trait Payload: serde::Serialize + serde::de::DeserializeOwned + ts_rs::TS + Send + 'static {}

impl<T: serde::Serialize + serde::de::DeserializeOwned + ts_rs::TS + Send + 'static> Payload for T {}

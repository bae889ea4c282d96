//! `Channel<C>` and `ChannelCx<C>`: typed handles over a raw channel.

use std::marker::PhantomData;
use std::ops::Deref;

use serde::Serialize;

use super::private::{Opened, Targeted};
use super::{Broadcaster, ChannelSpec, Sent};
use crate::id::ChannelId;
use crate::session::Session;
use crate::session::channel::RawChannel;

/// An open channel of declaration `C`. Derefs to `C`'s outbound type, so its
/// server-to-client events are methods: `channel.notification(notice)`,
/// `channel.get_location().timeout(..).await`.
pub struct Channel<C: ChannelSpec> {
    outbound: C::Outbound,
    raw: RawChannel,
    _spec: PhantomData<fn() -> C>,
}

impl<C: ChannelSpec> Channel<C> {
    /// Wraps a raw channel; the generated `open` functions guarantee it is a `C`.
    pub(crate) fn from_raw(raw: RawChannel) -> Self {
        Channel { outbound: C::Outbound::from(Opened::new(raw.clone())), raw, _spec: PhantomData }
    }

    /// The channel's id, typed: hand it to the client component that uses the channel.
    pub fn id(&self) -> ChannelId<C> {
        self.raw.id().typed()
    }

    /// The channel's name.
    pub fn name(&self) -> &'static str {
        C::NAME
    }

    /// The channel's room, for a channel with rooms.
    pub fn room(&self) -> Option<C::Room> {
        let room = self.raw.topic().room()?;
        serde_json::from_str(room.get()).ok()
    }

    /// Every session with a `C` channel open in this channel's room (or, for a channel
    /// without rooms, every session with a `C` channel open), this one included.
    pub fn broadcast(&self) -> C::Broadcast {
        C::Broadcast::from(Targeted::new(Broadcaster::new(self.raw.host(), self.raw.topic().clone())))
    }

    /// Like [`Channel::broadcast`], without this session: the others in the room.
    pub fn broadcast_others(&self) -> C::Broadcast {
        let session = self.raw.session().id();
        C::Broadcast::from(Targeted::new(Broadcaster::new(self.raw.host(), self.raw.topic().clone()).except(session)))
    }

    /// The session this channel belongs to.
    pub fn session(&self) -> Session {
        self.raw.session()
    }

    /// Lists this session in the channel's room with `meta` (again: updates it), for
    /// every client in the room to see; it stays listed until [`Channel::untrack`] or
    /// until it leaves the room (its last channel there closes, or the session ends).
    /// Listed under its user key (see [`Identity`](crate::Identity)), or its session id
    /// without authentication. A `meta` that does not encode is logged and ignored.
    pub fn track(&self, meta: &C::Presence)
    where
        C: super::WithPresence,
        C::Presence: Serialize,
    {
        match serde_json::value::to_raw_value(meta) {
            Ok(meta) => self.raw.session_shared().track(self.raw.topic(), meta),
            Err(error) => tracing::warn!(channel = C::NAME, %error, "presence metadata could not be encoded"),
        }
    }

    /// Takes this session off the channel's room list.
    pub fn untrack(&self)
    where
        C: super::WithPresence,
    {
        self.raw.session_shared().untrack(self.raw.topic());
    }

    /// Closes the channel; pending requests on it fail with `Closed` on both sides.
    pub fn close(&self) {
        self.raw.close();
    }

    /// Whether the channel has closed.
    pub fn is_closed(&self) -> bool {
        self.raw.is_closed()
    }

    /// The untyped channel underneath.
    pub fn raw(&self) -> &RawChannel {
        &self.raw
    }
}

impl<C: ChannelSpec> Clone for Channel<C> {
    fn clone(&self) -> Self {
        Channel { outbound: self.outbound.clone(), raw: self.raw.clone(), _spec: PhantomData }
    }
}

impl<C: ChannelSpec> Deref for Channel<C> {
    type Target = C::Outbound;
    fn deref(&self) -> &C::Outbound {
        &self.outbound
    }
}

impl<C: ChannelSpec> std::fmt::Debug for Channel<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel").field("name", &C::NAME).field("id", &self.raw.id()).finish()
    }
}

/// What a typed handler gets besides its payload: the channel the event arrived on,
/// which it dereferences to — emit and request to this client (`cx.new_message(..)`),
/// broadcast to the channel's room (`cx.broadcast()`), presence (`cx.track(..)`), the
/// session (`cx.session()`).
pub struct ChannelCx<C: ChannelSpec> {
    channel: Channel<C>,
}

impl<C: ChannelSpec> ChannelCx<C> {
    pub(crate) fn new(raw: &crate::RawCx<'_>) -> Self {
        ChannelCx { channel: Channel::from_raw(raw.channel().clone()) }
    }

    /// The channel the event arrived on (a handle to keep: it outlives the call).
    pub fn channel(&self) -> &Channel<C> {
        &self.channel
    }
}

impl<C: ChannelSpec> Deref for ChannelCx<C> {
    type Target = Channel<C>;
    fn deref(&self) -> &Channel<C> {
        &self.channel
    }
}

/// Emits a declared event. Emit is fire-and-forget: a closed channel or a gone session
/// is logged (at `debug`) and reported in the `Sent`, which may be ignored.
pub(crate) fn emit_event<P: Serialize + ?Sized>(raw: &RawChannel, event: &'static str, payload: &P) -> Sent {
    let outcome = raw.emit(event, payload);
    if let Err(error) = &outcome {
        tracing::debug!(channel = raw.name(), event, %error, "emit dropped");
    }
    Sent::new(outcome)
}

/// In TypeScript a typed channel id is a branded string, `ChannelId<"chat">`, so the
/// id of one channel does not type-check where another's is expected.
impl<C: ChannelSpec> ts_rs::TS for ChannelId<C> {
    type WithoutGenerics = Self;
    type OptionInnerType = Self;

    fn name(_: &ts_rs::Config) -> String {
        format!("ChannelId<\"{}\">", C::NAME)
    }

    fn inline(cfg: &ts_rs::Config) -> String {
        <Self as ts_rs::TS>::name(cfg)
    }
}

//! What keeps the typed layer typed: a declaration's outbound and broadcast types, and a
//! handler's `ChannelCx<C>`, can be made by the runtime only — from a channel opened as
//! that declaration, a broadcast to its topic, or an event on a channel it opened as
//! that declaration — so no code can pass a raw channel (or one of another declaration)
//! as a `C`. `ChannelSpec`'s supertrait keeps it to `#[channel]` by convention: it lives
//! in `__private`, which is not API.

use std::marker::PhantomData;

use super::Broadcaster;
use crate::session::channel::RawChannel;

/// The supertrait of [`ChannelSpec`](super::ChannelSpec): `#[channel]` implements it;
/// implementing it by hand is not supported.
pub trait Sealed {}

/// The runtime's leave to make `ChannelCx<C>` from the raw context of an event: given
/// to a declaration's dispatcher when the runtime opens a channel of `C`, and only then.
pub struct Grant<C> {
    spec: PhantomData<fn() -> C>,
}

impl<C> Grant<C> {
    pub(crate) fn new() -> Self {
        Grant { spec: PhantomData }
    }
}

/// A channel opened as declaration `C`: what `C`'s generated outbound type is made
/// from. Only the runtime makes one, so no code can wrap a raw channel (or one of
/// another declaration) as a `C`.
pub struct Opened<C> {
    raw: RawChannel,
    spec: PhantomData<fn() -> C>,
}

impl<C> Opened<C> {
    pub(crate) fn new(raw: RawChannel) -> Self {
        Opened { raw, spec: PhantomData }
    }

    /// The raw channel, for the generated methods.
    pub fn into_raw(self) -> RawChannel {
        self.raw
    }
}

/// A broadcast to a topic of declaration `C`: what `C`'s generated broadcast type is
/// made from, by the runtime only.
pub struct Targeted<C> {
    inner: Broadcaster,
    spec: PhantomData<fn() -> C>,
}

impl<C> Targeted<C> {
    pub(crate) fn new(inner: Broadcaster) -> Self {
        Targeted { inner, spec: PhantomData }
    }

    /// The untyped broadcaster, for the generated methods.
    pub fn into_inner(self) -> Broadcaster {
        self.inner
    }
}

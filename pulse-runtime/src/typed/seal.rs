//! What keeps the typed layer typed: `ChannelSpec` can be implemented by `#[channel]`
//! only, and a declaration's outbound and broadcast types can be made by the runtime
//! only, from a channel opened as that declaration or a broadcast to its topic.

use std::marker::PhantomData;

use super::Broadcaster;
use crate::session::channel::RawChannel;

/// The supertrait of [`ChannelSpec`](super::ChannelSpec): `#[channel]` implements it;
/// code written by hand is not meant to.
pub trait Sealed {}

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

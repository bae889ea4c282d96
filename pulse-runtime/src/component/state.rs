//! Component state: made once by `Scope::init`, kept across renders, and every change
//! to it (through the handle, a DOM callback or a channel handler) schedules a
//! re-render of the component that owns it.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use tokio::sync::Notify;

use super::callback::{Callback, DomEvent};
use crate::error::OpenError;
use crate::protocol::Topic;
use crate::session::Session;
use crate::session::channel::RawChannel;
use crate::sync::lock;
use crate::typed::{Channel, ChannelSpec, HandledBy, HandlerCell, WithRooms, WithoutRooms};

/// Component state: implemented by `#[state]`. `Scope::init` only takes state types,
/// so a struct meant as state says so where it is declared.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not component state",
    label = "`Scope::init` makes component state",
    note = "add `#[state]` to the struct declaration"
)]
pub trait State: Send + 'static {}

/// The "needs re-render" flag of one mounted component, and the session's renderer to
/// wake when it is set.
pub(crate) struct Dirty {
    flag: AtomicBool,
    wake: Arc<RenderWake>,
}

/// Wakes a session's renderer; counts changes so the renderer can tell a render that
/// changes state (a loop) from changes made by events.
#[derive(Default)]
pub(crate) struct RenderWake {
    pub(crate) notify: Notify,
    pub(crate) changes: AtomicU64,
}

impl Dirty {
    pub(crate) fn new(wake: Arc<RenderWake>) -> Arc<Dirty> {
        Arc::new(Dirty { flag: AtomicBool::new(false), wake })
    }

    pub(crate) fn mark(&self) {
        self.flag.store(true, Ordering::Release);
        self.wake.changes.fetch_add(1, Ordering::AcqRel);
        // `notify_one` keeps a permit when the renderer is busy, so no change is missed.
        self.wake.notify.notify_one();
    }

    /// Clears the flag; returns whether it was set.
    pub(crate) fn take(&self) -> bool {
        self.flag.swap(false, Ordering::AcqRel)
    }
}

pub(crate) struct StateCell<S> {
    value: Mutex<S>,
    owner: Arc<Dirty>,
}

/// A handle to component state. Cheap to clone; changes through it re-render the
/// component that made it.
pub struct StateRef<S> {
    cell: Arc<StateCell<S>>,
}

impl<S> Clone for StateRef<S> {
    fn clone(&self) -> Self {
        StateRef { cell: self.cell.clone() }
    }
}

impl<S: State> StateRef<S> {
    pub(crate) fn new(owner: Arc<Dirty>, make: impl FnOnce(&Weak<StateCell<S>>) -> S) -> Self {
        let cell = Arc::new_cyclic(|weak| StateCell { value: Mutex::new(make(weak)), owner });
        StateRef { cell }
    }
}

// Only `Scope::init` makes a `StateRef`, for state types; its methods need no bound, so
// a type missing `#[state]` gives that one error, not one per use.
impl<S> StateRef<S> {
    /// Reads the state.
    pub fn read(&self) -> StateRead<'_, S> {
        StateRead { guard: lock(&self.cell.value) }
    }

    /// Changes the state; the owning component re-renders after the guard is dropped.
    pub fn write(&self) -> StateWrite<'_, S> {
        StateWrite { guard: lock(&self.cell.value), owner: &self.cell.owner }
    }

    /// Changes the state with `f`; the owning component re-renders.
    pub fn update<R>(&self, f: impl FnOnce(&mut S) -> R) -> R {
        f(&mut self.write())
    }

    /// A DOM event handler that changes this state; the component re-renders after it.
    ///
    /// ```
    /// # use pulse_runtime::html::*;
    /// # use pulse_runtime::prelude::*;
    /// #[state]
    /// struct Draft {
    ///     text: String,
    /// }
    ///
    /// #[component]
    /// fn Editor(cx: &mut Scope) -> Node {
    ///     let draft = cx.init(|_| Draft { text: String::new() });
    ///     let text = draft.read().text.clone();
    ///     fragment((
    ///         input().value(text).on_input(draft.on(|d, event| d.text = event.value.clone().unwrap_or_default())),
    ///         button("clear").on_click(draft.on(|d, _| d.text.clear())),
    ///     ))
    /// }
    /// ```
    pub fn on(&self, f: impl Fn(&mut S, &DomEvent) + Send + Sync + 'static) -> Callback
    where
        S: Send + 'static,
    {
        let state = self.clone();
        Callback::new(move |event| f(&mut state.write(), event))
    }
}

/// Read access to state (holds its lock: do not keep it across an `.await`).
pub struct StateRead<'a, S> {
    guard: MutexGuard<'a, S>,
}

impl<S> Deref for StateRead<'_, S> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.guard
    }
}

/// Write access to state; schedules a re-render when dropped.
pub struct StateWrite<'a, S> {
    guard: MutexGuard<'a, S>,
    owner: &'a Dirty,
}

impl<S> Deref for StateWrite<'_, S> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.guard
    }
}

impl<S> DerefMut for StateWrite<'_, S> {
    fn deref_mut(&mut self) -> &mut S {
        &mut self.guard
    }
}

impl<S> Drop for StateWrite<'_, S> {
    fn drop(&mut self) {
        self.owner.mark();
    }
}

/// Lends state to a channel's handler: the channel's events run as methods of the
/// state (`impl ChatHandler for ChatState`) and re-render its component. Holds the
/// state weakly, so a channel never keeps an unmounted component's state alive.
pub struct StateHandler<S> {
    state: WeakState<S>,
}

impl<S: State> HandlerCell for StateHandler<S> {
    type Handler = S;
    fn with_mut<R>(&mut self, f: impl FnOnce(&mut S) -> R) -> Option<R> {
        self.state.update(f)
    }

    fn with_mut_at_open<R>(&mut self, f: impl FnOnce(&mut S) -> R) -> Option<R> {
        let cell = self.state.cell.upgrade()?;
        let result = f(&mut lock(&cell.value));
        Some(result)
    }

    fn at_close(&mut self, f: impl FnOnce(&mut S) + Send + 'static) {
        let Some(cell) = self.state.cell.upgrade() else { return };
        let busy = match cell.value.try_lock() {
            Ok(mut state) => {
                f(&mut state);
                None
            }
            Err(std::sync::TryLockError::Poisoned(poisoned)) => {
                f(&mut poisoned.into_inner());
                None
            }
            Err(std::sync::TryLockError::WouldBlock) => Some(f),
        };
        match busy {
            None => cell.owner.mark(),
            Some(f) => {
                let state = self.state.clone();
                match tokio::runtime::Handle::try_current() {
                    Ok(runtime) => drop(runtime.spawn(async move { state.update(f) })),
                    Err(_) => tracing::warn!("on_close skipped: its state was busy and no runtime is running"),
                }
            }
        }
    }
}

/// What state construction can reach: the session, and channels whose handler is the
/// state being made. Channels opened here close when the component unmounts.
pub struct StateCx<'a, S> {
    pub(crate) cell: &'a Weak<StateCell<S>>,
    pub(crate) session: &'a Session,
    pub(crate) owned: &'a mut Vec<RawChannel>,
}

impl<S: State> StateCx<'_, S> {
    /// The session of the component.
    pub fn session(&self) -> &Session {
        self.session
    }

    /// Opens a `C` channel whose client events are handled by this state. If it cannot
    /// be opened (too many channels, session ended) the failure is logged and the
    /// channel is closed from the start: emits are dropped, requests fail with `Closed`.
    pub fn channel<C: HandledBy<S> + WithoutRooms>(&mut self) -> Channel<C> {
        let opened = self.try_channel::<C>();
        self.or_closed(opened)
    }

    /// Opens a `C` channel in room `room`, its client events handled by this state. A
    /// failure (the authorization hook refused the room, too many channels) is logged
    /// and the channel is closed from the start; [`StateCx::try_channel_in`] returns it.
    pub fn channel_in<C: HandledBy<S> + WithRooms>(&mut self, room: &C::Room) -> Channel<C> {
        let opened = self.try_channel_in::<C>(room);
        self.or_closed(opened)
    }

    fn or_closed<C: ChannelSpec>(&self, opened: Result<Channel<C>, OpenError>) -> Channel<C> {
        match opened {
            Ok(channel) => channel,
            Err(error) => {
                tracing::warn!(channel = C::NAME, %error, "channel could not be opened");
                Channel::from_raw(RawChannel::closed(self.session, C::NAME))
            }
        }
    }

    /// Room `room`'s history of `C` as a value this node follows, the same on every node:
    /// see [`RoomHistory`](crate::RoomHistory). The channel must keep history
    /// (`ServerBuilder::history::<C>`); otherwise the error is logged and it stays empty.
    pub fn room_history<C: ChannelSpec + WithRooms>(&self, room: &C::Room) -> crate::RoomHistory<C>
    where
        C::ToClient: Sync,
    {
        crate::RoomHistory::of_room(self.session, room)
    }

    /// The history of `C`, a channel without rooms, as [`StateCx::room_history`] gives a room's.
    pub fn channel_history<C: ChannelSpec + WithoutRooms>(&self) -> crate::RoomHistory<C>
    where
        C::ToClient: Sync,
    {
        crate::RoomHistory::of_channel(self.session)
    }

    /// A handle to the state being made, for tasks that change it later (an answer that
    /// arrives after the render). It does not keep the state alive.
    pub fn handle(&self) -> WeakState<S> {
        WeakState { cell: self.cell.clone() }
    }

    /// Like [`StateCx::channel`], returning the failure.
    pub fn try_channel<C: HandledBy<S> + WithoutRooms>(&mut self) -> Result<Channel<C>, OpenError> {
        self.open_gated::<C>(Topic::from(C::NAME))
    }

    /// Like [`StateCx::channel_in`], returning the failure (a refused room is
    /// [`OpenError::Forbidden`]).
    pub fn try_channel_in<C: HandledBy<S> + WithRooms>(&mut self, room: &C::Room) -> Result<Channel<C>, OpenError> {
        self.open_gated::<C>(crate::typed::room_topic::<C>(room)?)
    }

    fn open_gated<C: HandledBy<S>>(&mut self, topic: Topic) -> Result<Channel<C>, OpenError> {
        // The state does not exist until `init`'s closure returns, so the channel is
        // opened gated: its `open` reaches the client only once `Scope::init` has the
        // state (a client cannot send on a channel whose handler is not there yet).
        let handler = C::dispatcher(StateHandler { state: self.handle() }, crate::typed::private::Grant::new());
        self.session.shared.declare(C::NAME, C::PRESENCE);
        let raw = self.session.shared.open_channel(topic, handler, false)?;
        self.owned.push(raw.clone());
        Ok(Channel::from_raw(raw))
    }
}

/// A handle to state that does not keep it alive: once its component unmounts,
/// `update` does nothing and returns `None`.
pub struct WeakState<S> {
    cell: Weak<StateCell<S>>,
}

impl<S> Clone for WeakState<S> {
    fn clone(&self) -> Self {
        WeakState { cell: self.cell.clone() }
    }
}

impl<S: State> WeakState<S> {
    /// Changes the state with `f` and re-renders its component, if it is still mounted.
    pub fn update<R>(&self, f: impl FnOnce(&mut S) -> R) -> Option<R> {
        let cell = self.cell.upgrade()?;
        let result = f(&mut lock(&cell.value));
        cell.owner.mark();
        Some(result)
    }
}

//! [`RoomHistory`]: a room's last broadcasts as a value server components watch, the
//! same on every node.

use std::collections::VecDeque;
use std::ops::Deref;
use std::sync::Arc;

use super::{ChannelSpec, WireEvent};
use crate::component::Shared;
use crate::history::follow::{Change, RoomFollow, Sink};
use crate::protocol::Topic;
use crate::protocol::frames::Body;
use crate::session::Session;
use crate::session::host::Host;

/// The broadcasts a room of channel `C` keeps in its history (`ServerBuilder::history`),
/// oldest first, as a [`Shared`] value that server components watch: `cx.watch(&history)`
/// re-renders them on each new one.
///
/// Every node holds the same broadcasts in the same order: the order the history gave
/// them, once for the whole cluster (with the Redis backplane, a room's offset in Redis),
/// which is also the order every client hears them on its channel. A node that starts,
/// restarts or misses broadcasts reads the history first ([`RoomLog::is_ready`] says when
/// it has), so what a server component renders from it is the room's, not the node's.
/// Without a backplane it follows the history in memory.
///
/// It costs one follower per room and node, shared by every value showing the room
/// there, and a read of the history when it starts; each broadcast is decoded once per
/// node. Drop every clone and the node stops following the room.
///
/// ```
/// # use pulse_runtime::html::*;
/// # use pulse_runtime::prelude::*;
/// # #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS)] pub struct RoomId(String);
/// # #[derive(Clone, Serialize, Deserialize, TS)] pub struct Message { text: String }
/// # #[channel(name = "chat", room = RoomId, events(new_message(Message) => client))]
/// # pub struct Chat;
/// # #[state] struct Tab { messages: pulse_runtime::RoomHistory<Chat> }
/// #[component]
/// fn Messages(cx: &mut Scope, room: RoomId) -> Node {
///     let tab = cx.init(|cx| Tab { messages: cx.room_history::<Chat>(&room) });
///     let messages = tab.read().messages.clone();
///     let log = cx.watch(&messages);
///     ul(log.iter().map(|event| match event {
///         ChatToClient::NewMessage(m) => li(m.text.clone()),
///     }))
///     .into_node()
/// }
/// ```
pub struct RoomHistory<C: ChannelSpec> {
    value: Shared<RoomLog<C::ToClient>>,
    /// Keeps the node following the room (`None`: the channel keeps no history).
    _follow: Option<Arc<RoomFollow>>,
}

impl<C: ChannelSpec> Clone for RoomHistory<C> {
    fn clone(&self) -> Self {
        RoomHistory { value: self.value.clone(), _follow: self._follow.clone() }
    }
}

impl<C: ChannelSpec> Deref for RoomHistory<C> {
    type Target = Shared<RoomLog<C::ToClient>>;

    fn deref(&self) -> &Self::Target {
        &self.value
    }
}

impl<C: ChannelSpec> RoomHistory<C>
where
    C::ToClient: Sync,
{
    /// The history of room `room` of `C`, as this node follows it (in a component's
    /// state, [`StateCx::room_history`](crate::component::StateCx::room_history)).
    pub fn of_room(session: &Session, room: &C::Room) -> Self
    where
        C: super::WithRooms,
    {
        Self::in_room(&*session.shared.host, room)
    }

    /// The history of `C` (a channel without rooms), as this node follows it.
    pub fn of_channel(session: &Session) -> Self
    where
        C: super::WithoutRooms,
    {
        Self::follow(&*session.shared.host, &Topic::from(C::NAME))
    }

    /// Room `room`'s, from server code (`Server::room_history`).
    pub(crate) fn in_room(host: &dyn Host, room: &C::Room) -> Self {
        match super::room_topic::<C>(room) {
            Ok(topic) => Self::follow(host, &topic),
            Err(error) => {
                tracing::error!(channel = C::NAME, %error, "no room history: the room does not encode");
                Self::none()
            }
        }
    }

    fn none() -> Self {
        RoomHistory { value: Shared::new(RoomLog::ready_empty()), _follow: None }
    }

    fn follow(host: &dyn Host, topic: &Topic) -> Self {
        let kind = std::any::TypeId::of::<RoomLog<C::ToClient>>();
        let mut make = || {
            let value = Shared::new(RoomLog::<C::ToClient>::new());
            let updated = value.clone();
            let name = topic.to_string();
            let sink: Sink = Box::new(move |change: &Change| updated.update(|log| log.apply(change, &name)));
            (Box::new(value) as Box<dyn std::any::Any + Send + Sync>, sink)
        };
        let Some(follow) = host.follow_room(topic, kind, &mut make) else {
            tracing::error!(
                channel = C::NAME,
                "no room history: the channel keeps none; add `.history::<{}>(History::last(n))` to the server",
                C::NAME
            );
            return Self::none();
        };
        let value = follow.value.downcast_ref::<Shared<RoomLog<C::ToClient>>>().cloned();
        match value {
            Some(value) => RoomHistory { value, _follow: Some(follow) },
            None => Self::none(), // unreachable: the follower was made for this type
        }
    }
}

/// A room's kept broadcasts as events of type `E`, oldest first: what a
/// [`RoomHistory`] holds.
pub struct RoomLog<E> {
    entries: VecDeque<(u64, Arc<E>)>,
    epoch: Option<Arc<str>>,
    size: usize,
    ready: bool,
}

impl<E> Clone for RoomLog<E> {
    fn clone(&self) -> Self {
        RoomLog { entries: self.entries.clone(), epoch: self.epoch.clone(), size: self.size, ready: self.ready }
    }
}

impl<E> RoomLog<E> {
    fn new() -> Self {
        RoomLog { entries: VecDeque::new(), epoch: None, size: usize::MAX, ready: false }
    }

    fn ready_empty() -> Self {
        RoomLog { entries: VecDeque::new(), epoch: None, size: 0, ready: true }
    }

    /// The events, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &E> + ExactSizeIterator {
        self.entries.iter().map(|(_, event)| &**event)
    }

    /// The events with their offsets in the room's history, oldest first.
    pub fn entries(&self) -> impl DoubleEndedIterator<Item = (u64, &E)> + ExactSizeIterator {
        self.entries.iter().map(|(offset, event)| (*offset, &**event))
    }

    /// How many events it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether this node has read the room's history yet: before, it holds nothing.
    pub fn is_ready(&self) -> bool {
        self.ready
    }
}

impl<E: WireEvent> RoomLog<E> {
    fn apply(&mut self, change: &Change, topic: &str) {
        let decode = |body: &Body| {
            let (event, payload) = body.event_payload()?;
            match E::decode(&event, &payload) {
                Ok(event) => Some(Arc::new(event)),
                Err(error) => {
                    tracing::warn!(%topic, %error.message, "a kept broadcast does not match the declaration: skipped");
                    None
                }
            }
        };
        match change {
            Change::Reset { epoch, entries, size } => {
                self.ready = true;
                self.size = *size;
                // Events decoded already (the same offsets of the same epoch) are reused.
                let same = self.epoch.as_deref() == Some(&**epoch);
                self.epoch = Some(epoch.clone());
                let mut held: std::collections::HashMap<u64, Arc<E>> = self.entries.drain(..).collect();
                if !same {
                    held.clear();
                }
                for (offset, body) in entries {
                    let event = held.get(offset).cloned().or_else(|| decode(body));
                    if let Some(event) = event {
                        self.entries.push_back((*offset, event));
                    }
                }
            }
            Change::Append(entries) => {
                for (offset, body) in entries {
                    if let Some(event) = decode(body) {
                        self.entries.push_back((*offset, event));
                    }
                }
            }
        }
        while self.entries.len() > self.size {
            self.entries.pop_front();
        }
    }
}

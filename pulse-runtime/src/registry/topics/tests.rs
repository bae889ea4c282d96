//! The topics' tests: members and their indexes against a model, kept delivery
//! against a model, rooms that never wait on each other.

use std::time::Instant;

use proptest::prelude::*;

use super::kept::*;
use super::*;
use crate::config::Config;
use crate::history::Kept;
use crate::protocol::frames;
use crate::session::host::Host;
use crate::session::{Access, Session};

struct NoServer(Config, Instant, Arc<crate::session_core::budget::Budget>);

impl Host for NoServer {
    fn config(&self) -> &Config {
        &self.0
    }
    fn started(&self) -> Instant {
        self.1
    }
    fn authorize(&self, _: &Session, _: &Access<'_>) -> Result<(), String> {
        Ok(())
    }
    fn join(&self, _: &Topic, _: &Arc<SessionShared>, _: ChannelId) {}
    fn declare_presence(&self, _: &'static str) {}
    fn track(&self, _: &Topic, _: &Arc<SessionShared>, _: Box<serde_json::value::RawValue>) {}
    fn untrack(&self, _: &Topic, _: &SessionShared) {}
    fn leave(&self, _: &Topic, _: u64, _: ChannelId) {}
    fn publish(&self, _: &Topic, _: &Target, _: &Body) -> crate::target::Delivery {
        crate::target::Delivery::Queued(0)
    }
    fn telemetry(&self) -> Option<&crate::telemetry::Telemetry> {
        None
    }
    fn detached_budget(&self) -> &Arc<crate::session_core::budget::Budget> {
        &self.2
    }
    fn follow_room(
        &self,
        _: &Topic,
        _: std::any::TypeId,
        _: crate::history::follow::MakeView<'_>,
    ) -> Option<Arc<crate::history::follow::RoomFollow>> {
        None
    }
}

fn session(key: u64) -> Arc<SessionShared> {
    session_of(key, None)
}

/// A session with key `key`, of the user `identity` names (`None`: anonymous).
fn session_of(key: u64, identity: Option<crate::session::host::Identity>) -> Arc<SessionShared> {
    SessionShared::new(
        Arc::new(NoServer(
            Config::default(),
            Instant::now(),
            Arc::new(crate::session_core::budget::Budget::new(usize::MAX)),
        )),
        key,
        identity,
        crate::protocol::Query::default(),
    )
}

/// What a room's history store holds after `published` broadcasts, keeping `size`.
fn stored(topic: &Topic, epoch: &Arc<str>, published: u64, size: u64) -> Kept {
    let first = published.saturating_sub(size) + 1;
    let entries = (first..=published).map(|o| (o, numbered(topic, epoch, o))).collect();
    Kept { epoch: epoch.clone(), top: published, entries, size: size as usize }
}

fn numbered(topic: &Topic, epoch: &str, offset: u64) -> Body {
    frames::broadcast(topic, "said", &offset).unwrap().with_position(epoch, offset)
}

/// One thing that happens in the test's room.
#[derive(Debug, Clone)]
enum Event {
    /// A broadcast is made; Redis delivers it to this node (`Some(twice)`), or the
    /// subscription loses it (`None`).
    Publish(Option<bool>),
    /// The oldest history read in flight completes, with what the store holds now.
    Read,
    /// The store loses the room's history (Redis restarted): a new epoch starts.
    Lost,
}

fn events() -> impl Strategy<Value = Vec<Event>> {
    let event = prop_oneof![
        4 => proptest::option::weighted(0.8, any::<bool>()).prop_map(Event::Publish),
        2 => Just(Event::Read),
        1 => Just(Event::Lost),
    ];
    proptest::collection::vec(event, 0..40)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    /// A member that joins while broadcasts are made, lost, repeated, and while
    /// history reads complete late, ends with every broadcast from where its replay
    /// started to the last one, each once, in order; only a `history` frame that says
    /// it could not recover may start it over.
    #[test]
    fn a_recovering_member_gets_every_broadcast_once_in_order(
        before in 0u64..6, size in 1u64..6, events in events()
    ) {
        let topics = Topics::default();
        let topic = Topic::from("room");
        let mut epoch: Arc<str> = Arc::from("e0");
        let member = session(1);
        let mut published = before;
        let mut reads: Vec<Refetch> = Vec::new();
        reads.extend(topics.join_recovering(&topic, &member, ChannelId::generate(), None));
        let publish = |topics: &Topics, epoch: &Arc<str>, published: &mut u64, delivered: Option<bool>, reads: &mut Vec<Refetch>| {
            *published += 1;
            if let Some(twice) = delivered {
                let body = numbered(&topic, epoch, *published);
                for _ in 0..if twice { 2 } else { 1 } {
                    reads.extend(topics.deliver_kept(&topic, epoch, *published, &body).refetch);
                }
            }
        };
        let mut epochs = 0;
        for event in events {
            match event {
                Event::Publish(delivered) => publish(&topics, &epoch, &mut published, delivered, &mut reads),
                Event::Lost => {
                    epochs += 1;
                    epoch = Arc::from(format!("e{epochs}"));
                    published = 0;
                }
                Event::Read if !reads.is_empty() => {
                    let read = reads.remove(0);
                    let kept = stored(&topic, &epoch, published, size);
                    reads.extend(topics.recovered(&topic, read.session_key, read.token, &kept));
                }
                Event::Read => {}
            }
        }
        // One last broadcast arrives, and every read completes.
        publish(&topics, &epoch, &mut published, Some(false), &mut reads);
        let mut rounds = 0;
        while !reads.is_empty() {
            rounds += 1;
            prop_assert!(rounds < 100, "history reads never settle");
            let read = reads.remove(0);
            let kept = stored(&topic, &epoch, published, size);
            reads.extend(topics.recovered(&topic, read.session_key, read.token, &kept));
        }
        let mut at: Option<(String, u64)> = None;
        for frame in member.take_queued() {
            let frame: serde_json::Value = serde_json::from_str(&frame).unwrap();
            let offset = frame["offset"].as_u64().unwrap();
            let frame_epoch = frame["epoch"].as_str().unwrap().to_owned();
            match frame["t"].as_str().unwrap() {
                "history" => prop_assert!(at.is_none() || frame["recovered"] == false, "{frame}"),
                _ => {
                    // The next of the same epoch, or the first of a new one.
                    let expected = match &at {
                        Some((e, a)) if *e == frame_epoch => a + 1,
                        _ => 1,
                    };
                    prop_assert!(at.is_some(), "a broadcast before the history frame: {frame}");
                    prop_assert_eq!(offset, expected, "{}", frame);
                }
            }
            at = Some((frame_epoch, offset));
        }
        prop_assert_eq!(at, Some((epoch.to_string(), published)));
    }
}

/// A session of user `user` (an authenticated one), with key `key`.
fn user_session(key: u64, user: &str) -> Arc<SessionShared> {
    session_of(key, Some(crate::session::host::Identity::new(user.to_owned())))
}

#[test]
fn a_join_in_one_room_never_waits_for_a_broadcast_in_another_nor_the_other_way() {
    let topics = Topics::default();
    let (a, b) = (Topic::from("a"), Topic::from("b"));
    let (one, two) = (session(1), session(2));
    topics.join(&a, &one, ChannelId::generate());
    topics.join(&b, &two, ChannelId::generate());
    let body = frames::broadcast(&b, "said", &1).unwrap();
    let (held, release) = (std::sync::Barrier::new(2), std::sync::Barrier::new(2));
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        // Another thread holds room `a` as a join or a leave in progress would.
        scope.spawn(|| {
            let room = topics.room("a").unwrap();
            let _busy = room.members.write();
            held.wait();
            release.wait();
        });
        held.wait();
        scope.spawn(|| {
            let delivered = topics.deliver("b", &Target::All, &body);
            let joined = topics.join(&b, &session(3), ChannelId::generate());
            let created = topics.join(&Topic::from("c"), &session(4), ChannelId::generate());
            done.send((delivered, joined, created)).unwrap();
        });
        let outcome = finished.recv_timeout(std::time::Duration::from_secs(10));
        release.wait();
        assert_eq!(outcome.expect("room `b` waited for room `a`'s lock"), (1, true, true));
    });
    assert_eq!(topics.deliver("a", &Target::All, &body), 1);
}

#[test]
fn a_broadcast_to_one_session_or_one_user_reaches_them_only() {
    let topics = Topics::default();
    let room = Topic::from("room");
    let ann = [user_session(1, "ann"), user_session(2, "ann")];
    let bob = user_session(3, "bob");
    let guest = session(4);
    for member in ann.iter().chain([&bob, &guest]) {
        topics.join(&room, member, ChannelId::generate());
    }
    let body = frames::broadcast(&room, "said", &1).unwrap();
    assert_eq!(topics.deliver("room", &Target::User(Arc::from("ann")), &body), 2);
    assert_eq!(topics.deliver("room", &Target::User(Arc::from("carol")), &body), 0);
    assert_eq!(topics.deliver("room", &Target::Session(bob.id), &body), 1);
    assert_eq!(topics.deliver("room", &Target::Session(SessionId::generate()), &body), 0);
    assert_eq!(topics.deliver("room", &Target::Except(guest.id), &body), 3);
    assert_eq!(topics.deliver("room", &Target::All, &body), 4);
    // Ann's first tab leaves: the index forgets it, and only it.
    let channel = ChannelId::generate();
    topics.join(&room, &ann[0], channel);
    assert!(!topics.leave(&room, ann[0].key, channel));
    let first = topics.room("room").unwrap();
    let tab_channels = first.members.read().by_key[&ann[0].key].channels.clone();
    for channel in tab_channels {
        topics.leave(&room, ann[0].key, channel);
    }
    assert_eq!(topics.deliver("room", &Target::User(Arc::from("ann")), &body), 1);
    assert_eq!(topics.deliver("room", &Target::Session(ann[0].id), &body), 0);
}

#[test]
fn joins_racing_the_leave_that_empties_a_room_are_never_lost() {
    // Each thread joins and leaves the same room over and over, and ends joined: a
    // join that found the room just as its last member left must not join a room
    // taken out of the table.
    let topics = Arc::new(Topics::default());
    let room = Topic::from("busy");
    let sessions: Vec<_> = (1..=4).map(session).collect();
    std::thread::scope(|scope| {
        for member in &sessions {
            let (topics, room) = (topics.clone(), room.clone());
            scope.spawn(move || {
                for _ in 0..5_000 {
                    let channel = ChannelId::generate();
                    topics.join(&room, member, channel);
                    assert!(topics.is_member(&room, member.key), "a join was lost");
                    topics.leave(&room, member.key, channel);
                }
                topics.join(&room, member, ChannelId::generate());
            });
        }
    });
    let body = frames::broadcast(&room, "said", &1).unwrap();
    assert_eq!(topics.deliver("busy", &Target::All, &body), sessions.len());
    assert!(sessions.iter().all(|member| topics.is_member(&room, member.key)));
    assert_eq!(topics.topic_count(), 1);
}

/// What can happen to the table of topics.
#[derive(Debug, Clone)]
enum Op {
    Join { topic: u8, session: u8, channel: u8 },
    Leave { topic: u8, session: u8, channel: u8 },
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        (0u8..3, 0u8..4, 0u8..2).prop_map(|(topic, session, channel)| Op::Join { topic, session, channel }),
        (0u8..3, 0u8..4, 0u8..2).prop_map(|(topic, session, channel)| Op::Leave { topic, session, channel }),
    ];
    proptest::collection::vec(op, 0..60)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    /// After any joins and leaves, each topic's members are the sessions with a
    /// channel of it open, whatever the target: the indexes agree with the members.
    #[test]
    fn members_and_their_indexes_follow_joins_and_leaves(ops in ops()) {
        let topics = Topics::default();
        let users = ["ann", "bob"];
        let sessions: Vec<_> = (0..4u64).map(|key| user_session(key, users[key as usize % 2])).collect();
        let channels: Vec<Vec<ChannelId>> = (0..4).map(|_| vec![ChannelId::generate(), ChannelId::generate()]).collect();
        let mut model: std::collections::BTreeMap<(u8, u8), std::collections::BTreeSet<u8>> = Default::default();
        for op in ops {
            match op {
                Op::Join { topic, session, channel } => {
                    let created = topics.join(&Topic::from(format!("t{topic}").as_str()), &sessions[session as usize], channels[session as usize][channel as usize]);
                    let open = model.entry((topic, session)).or_default();
                    prop_assert_eq!(created, open.is_empty());
                    open.insert(channel);
                }
                Op::Leave { topic, session, channel } => {
                    let left = topics.leave(&Topic::from(format!("t{topic}").as_str()), session.into(), channels[session as usize][channel as usize]);
                    let open = model.entry((topic, session)).or_default();
                    let was_member = !open.is_empty();
                    open.remove(&channel);
                    prop_assert_eq!(left, was_member && open.is_empty());
                }
            }
        }
        for topic in 0u8..3 {
            let name = format!("t{topic}");
            let members: Vec<u8> = (0u8..4).filter(|s| model.get(&(topic, *s)).is_some_and(|open| !open.is_empty())).collect();
            let body = frames::broadcast(&Topic::from(name.as_str()), "said", &1).unwrap();
            prop_assert_eq!(topics.deliver(&name, &Target::All, &body), members.len());
            prop_assert_eq!(topics.has_members(&Topic::from(name.as_str())), !members.is_empty());
            for (index, user) in users.iter().enumerate() {
                let of_user = members.iter().filter(|s| **s as usize % 2 == index).count();
                prop_assert_eq!(topics.deliver(&name, &Target::User(Arc::from(*user)), &body), of_user);
            }
            for (key, session) in sessions.iter().enumerate() {
                let member = members.contains(&(key as u8));
                prop_assert_eq!(topics.deliver(&name, &Target::Session(session.id), &body), usize::from(member));
                prop_assert_eq!(topics.is_member(&Topic::from(name.as_str()), key as u64), member);
            }
        }
        let live = (0u8..3).filter(|t| (0u8..4).any(|s| model.get(&(*t, s)).is_some_and(|open| !open.is_empty()))).count();
        prop_assert_eq!(topics.topic_count(), live);
    }
}

//! Property tests of the session core: random interleavings of everything that can
//! happen to a session, checked against a model of what its client must see.
//!
//! `PULSE_CORE_CASES` sets the number of cases (default 2,000; CI runs 10,000).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;
use crate::protocol::frames;

const QUEUE: usize = 12;
const REPLAY: usize = 8;
/// What detached sessions may hold (about eighteen broadcasts): within reach of a full
/// queue and replay buffer, so that the budget is reached.
const DETACHED: usize = 1000;

fn limits() -> Limits {
    Limits { queue_frames: QUEUE, replay_frames: REPLAY, replay_bytes: 1 << 20, channels: 4, inbound_requests: 3 }
}

#[derive(Debug, Clone)]
enum Op {
    /// The server broadcasts the next number.
    Broadcast,
    /// The next `n` numbers arrive together, as a history replay does (one place in the
    /// queue).
    Replay(usize),
    /// The server emits on a channel (perhaps one that has closed).
    Emit(usize),
    /// The writer takes up to `take` frames; the client gets the first `delivered`.
    /// Fewer delivered than taken means the connection broke in the middle.
    Write {
        take: usize,
        delivered: usize,
    },
    /// The connection breaks.
    Cut,
    /// The client resumes, telling its true `last_seq` plus `lie` (0 almost always).
    Resume {
        lie: i8,
    },
    /// The grace period passes while detached: the session ends.
    GraceExpires,
    Open {
        ready: bool,
    },
    Ready(usize),
    Close(usize),
    /// The server sends a request on a channel, with a timeout in ms.
    Request {
        channel: usize,
        timeout_ms: u64,
    },
    /// The client answers the `nth` request it saw, naming channel `channel`.
    Answer {
        nth: usize,
        channel: usize,
    },
    /// The server stops waiting for its `nth` request.
    Forget(usize),
    /// Time passes.
    Tick(u64),
    /// The client sends request `id` on a channel; the handler finishes it later.
    ClientRequest {
        id: u64,
        channel: usize,
    },
    ClientRequestDone {
        id: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => Just(Op::Broadcast),
        1 => (0..40usize).prop_map(Op::Replay),
        2 => (0..6usize).prop_map(Op::Emit),
        6 => (1..6usize, 0..6usize).prop_map(|(take, d)| Op::Write { take, delivered: d.min(take) }),
        2 => Just(Op::Cut),
        2 => prop_oneof![12 => Just(0i8), 1 => -3..4i8].prop_map(|lie| Op::Resume { lie }),
        1 => Just(Op::GraceExpires),
        2 => any::<bool>().prop_map(|ready| Op::Open { ready }),
        2 => (0..6usize).prop_map(Op::Ready),
        1 => (0..6usize).prop_map(Op::Close),
        2 => (0..6usize, 1..50u64).prop_map(|(channel, timeout_ms)| Op::Request { channel, timeout_ms }),
        2 => (0..8usize, 0..6usize).prop_map(|(nth, channel)| Op::Answer { nth, channel }),
        1 => (0..8usize).prop_map(Op::Forget),
        2 => (1..30u64).prop_map(Op::Tick),
        1 => (1..5u64, 0..6usize).prop_map(|(id, channel)| Op::ClientRequest { id, channel }),
        1 => (1..5u64).prop_map(|id| Op::ClientRequestDone { id }),
    ]
}

/// What the client has seen.
#[derive(Default)]
struct Client {
    last_seq: u64,
    broadcasts: Vec<u64>,
    /// Channels it heard `open` for and not `close`.
    open: BTreeSet<String>,
    /// Request ids it received, in order, with their channel.
    requests: Vec<(u64, String)>,
    /// It lied about `last_seq`: what it sees after that is not checked.
    lied: bool,
}

struct Harness {
    core: SessionCore<u8, u64>,
    client: Client,
    start: Instant,
    now: Instant,
    /// Numbers broadcast and accepted by the queue.
    accepted: u64,
    /// The session refused a resume (or ended): the client was told to start over.
    told: bool,
    /// Channel ids in the order they were opened, with whether ready/open (model).
    channels: Vec<(ChannelId, bool, bool)>,
    /// Model of the server's pending requests: id -> (channel, deadline).
    pending: BTreeMap<u64, (ChannelId, Instant)>,
    /// Model of the client's pending requests: id -> channel.
    inbound: BTreeMap<u64, ChannelId>,
    /// The budget of detached sessions, and what other sessions hold of it.
    detached: Arc<Budget>,
    others: usize,
}

impl Harness {
    fn new() -> Self {
        Harness::sharing(0)
    }

    /// A session whose detached budget other sessions already hold `others` bytes of.
    fn sharing(others: usize) -> Self {
        let now = Instant::now();
        let detached = Arc::new(Budget::new(DETACHED));
        assert!(detached.try_take(others));
        Harness {
            core: SessionCore::new(limits(), detached.clone()),
            detached,
            others,
            client: Client::default(),
            start: now,
            now,
            accepted: 0,
            told: false,
            channels: Vec::new(),
            pending: BTreeMap::new(),
            inbound: BTreeMap::new(),
        }
    }

    fn channel(&self, index: usize) -> Option<ChannelId> {
        self.channels.get(index).map(|(id, _, _)| *id)
    }

    fn receive(&mut self, text: &str) {
        let frame: serde_json::Value = serde_json::from_str(text).expect("frames are JSON");
        let seq = frame["seq"].as_u64().expect("numbered");
        if self.client.lied {
            self.client.last_seq = seq;
            return;
        }
        assert_eq!(seq, self.client.last_seq + 1, "seq is contiguous: {text}");
        self.client.last_seq = seq;
        let channel = frame["channel"].as_str().map(str::to_owned);
        match frame["t"].as_str() {
            Some("broadcast") => {
                let n = frame["payload"].as_u64().expect("number");
                assert_eq!(n, self.client.broadcasts.len() as u64, "broadcasts in order, once each");
                self.client.broadcasts.push(n);
            }
            Some("open") => {
                let id = channel.expect("open names its channel");
                let model = self.channels.iter().find(|(c, _, _)| c.to_string() == id).expect("a channel we opened");
                assert!(model.1, "`open` went out before the channel was ready");
                assert!(self.client.open.insert(id), "one `open` per channel");
            }
            Some("close") => {
                assert!(self.client.open.remove(&channel.expect("close names its channel")), "close after open");
            }
            Some("emit") => {
                let channel = channel.expect("emit names its channel");
                assert!(self.client.open.contains(&channel), "an emit between its channel's open and close: {text}");
            }
            Some("request") => {
                let channel = channel.expect("request names its channel");
                assert!(self.client.open.contains(&channel), "a request on a channel the client knows");
                self.client.requests.push((frame["id"].as_u64().expect("id"), channel));
            }
            Some("answer") => {
                let channel = channel.expect("answer names its channel");
                assert!(self.client.open.contains(&channel), "no answer on a channel after its close: {text}");
            }
            other => panic!("unexpected frame {other:?}"),
        }
    }

    fn tell(&mut self) {
        self.told = true;
        let ended = self.core.end();
        assert_eq!(ended.failed.len(), self.pending.len(), "every pending request fails at the end");
        self.pending.clear();
        self.inbound.clear();
        for channel in &mut self.channels {
            channel.2 = false;
        }
    }

    fn apply(&mut self, op: Op) {
        if self.told {
            return;
        }
        match op {
            Op::Broadcast => {
                let body = frames::broadcast(&Topic::from("room"), "n", &self.accepted).expect("encodes");
                let gapped = self.core.has_gap();
                match self.core.push(body) {
                    Ok(_) => {
                        assert!(!gapped, "nothing is queued after a gap");
                        self.accepted += 1;
                    }
                    Err(Refused::Overflow) => {
                        assert!(gapped || self.core.buffered().0 == QUEUE, "refused with room in the queue");
                    }
                    Err(Refused::OverBudget) => self.over_budget(),
                    Err(Refused::Ended | Refused::ChannelClosed) => unreachable!("ended sessions are not driven"),
                }
            }
            Op::Replay(n) => {
                let bodies: Vec<Body> = (0..n as u64)
                    .map(|i| frames::broadcast(&Topic::from("room"), "n", &(self.accepted + i)).expect("encodes"))
                    .collect();
                let gapped = self.core.has_gap();
                let queued = self.core.buffered().0;
                match self.core.push_run(bodies) {
                    Ok(_) => {
                        assert!(!gapped || n == 0, "nothing is queued after a gap");
                        self.accepted += n as u64;
                    }
                    Err(Refused::Overflow) => assert!(gapped || queued == QUEUE, "refused with room in the queue"),
                    Err(Refused::OverBudget) => self.over_budget(),
                    Err(Refused::Ended | Refused::ChannelClosed) => unreachable!("ended sessions are not driven"),
                }
            }
            Op::Emit(index) => {
                let Some(id) = self.channel(index) else { return };
                let body = frames::emit(id, "note", &()).expect("encodes");
                match self.core.push_on(id, body) {
                    Ok(_) => assert!(self.channels[index].2, "an emit on an open channel"),
                    Err(Refused::ChannelClosed) => assert!(!self.channels[index].2, "refused although open"),
                    Err(Refused::Overflow) => {}
                    Err(Refused::OverBudget) => self.over_budget(),
                    Err(Refused::Ended) => unreachable!(),
                }
            }
            Op::Write { take, delivered } => {
                let mut batch = Vec::new();
                self.core.take_batch(take, &mut batch);
                if self.core.link() != Link::Attached {
                    assert!(batch.is_empty(), "nothing is written while detached");
                }
                for (seq, body) in batch.iter().take(delivered) {
                    self.receive(&body.with_seq(*seq));
                }
                if delivered < batch.len() {
                    self.detach();
                }
            }
            Op::Cut => self.detach(),
            Op::Resume { lie } => {
                if self.core.link() == Link::Attached {
                    // A resume always follows the old connection's end.
                    self.detach();
                    if self.told {
                        return;
                    }
                }
                let last_seq = self.client.last_seq.saturating_add_signed(i64::from(lie));
                if last_seq != self.client.last_seq {
                    self.client.lied = true;
                }
                let seq = self.core.seq();
                match self.core.resume(last_seq) {
                    Ok(missed) => {
                        assert!(last_seq <= seq);
                        assert_eq!(missed.len() as u64, seq - last_seq, "exactly the missed frames");
                        for (seq, body) in &missed {
                            self.receive(&body.with_seq(*seq));
                        }
                    }
                    Err(CannotResume::Ended) => unreachable!("ended sessions are not driven"),
                    Err(CannotResume::FramesDropped) => self.tell(),
                    Err(CannotResume::OutOfRange) => {
                        if !self.client.lied {
                            assert!(seq - last_seq > REPLAY as u64, "refused although the replay reaches back");
                        }
                        self.tell();
                    }
                }
            }
            Op::GraceExpires => {
                if self.core.link() == Link::Detached {
                    self.tell();
                }
            }
            Op::Open { ready } => {
                let id = ChannelId::generate();
                let open = self.channels.iter().filter(|c| c.2).count();
                match self.core.open_channel(id, Topic::from("room"), 0, ready) {
                    Ok(()) => self.channels.push((id, ready, true)),
                    Err(OpenRefused::TooMany { limit }) => assert_eq!(open, limit),
                    Err(OpenRefused::Ended) => unreachable!(),
                }
            }
            Op::Ready(index) => {
                if let Some(entry) = self.channels.get_mut(index) {
                    if entry.2 {
                        entry.1 = true;
                    }
                    self.core.ready(entry.0);
                }
            }
            Op::Close(index) => {
                let Some(id) = self.channel(index) else { return };
                let was_open = self.channels[index].2;
                let closed = self.core.close_channel(id, "server");
                assert_eq!(closed.is_some(), was_open);
                if let Some(closed) = closed {
                    // Its `open` may still be queued: it goes out now, then `close`.
                    self.channels[index].1 = true;
                    self.channels[index].2 = false;
                    let expected: BTreeSet<u64> =
                        self.pending.iter().filter(|(_, (c, _))| *c == id).map(|(n, _)| *n).collect();
                    assert_eq!(closed.failed.into_iter().collect::<BTreeSet<_>>(), expected);
                    self.pending.retain(|_, (c, _)| *c != id);
                    self.inbound.retain(|_, c| *c != id);
                }
            }
            Op::Request { channel, timeout_ms } => {
                let Some(id) = self.channel(channel) else { return };
                let deadline = self.now + Duration::from_millis(timeout_ms);
                let tag = self.core.next_request_id;
                let result = self.core.start_request(id, deadline, tag, |n| {
                    frames::request(id, n, "ask", &()).map_err(|e| e.to_string())
                });
                match result {
                    Ok(n) => {
                        assert!(self.channels[channel].2, "a request on an open channel");
                        assert_eq!(n, tag);
                        self.pending.insert(n, (id, deadline));
                    }
                    Err(StartRefused::ChannelClosed) => assert!(!self.channels[channel].2),
                    Err(StartRefused::Overflow) => {
                        if self.core.gap() == Some(Refused::OverBudget) {
                            self.over_budget();
                        }
                    }
                    Err(other) => panic!("unexpected refusal {other:?}"),
                }
            }
            Op::Answer { nth, channel } => {
                let Some((id, _)) = self.client.requests.get(nth).cloned() else { return };
                let named = self.channel(channel);
                let expected = match (named, self.pending.get(&id)) {
                    (Some(c), _) if !self.core.is_open(c) => AnswerRoute::UnknownChannel,
                    (None, _) => AnswerRoute::UnknownChannel,
                    (Some(c), Some((on, _))) if *on == c => AnswerRoute::Delivered(id),
                    (Some(_), Some(_)) => AnswerRoute::Unknown,
                    (Some(_), None) => AnswerRoute::Late,
                };
                assert_eq!(self.core.answer(named, id), expected);
                if matches!(expected, AnswerRoute::Delivered(_)) {
                    self.pending.remove(&id);
                }
            }
            Op::Forget(nth) => {
                if let Some(id) = self.pending.keys().nth(nth).copied() {
                    self.core.forget_request(id);
                    self.pending.remove(&id);
                }
            }
            Op::Tick(ms) => {
                self.now += Duration::from_millis(ms);
                let expired: BTreeSet<u64> = self.core.expire(self.now).into_iter().collect();
                let expected: BTreeSet<u64> =
                    self.pending.iter().filter(|(_, (_, d))| *d <= self.now).map(|(n, _)| *n).collect();
                assert_eq!(expired, expected, "exactly the requests past their deadline expire");
                self.pending.retain(|_, (_, d)| *d > self.now);
            }
            Op::ClientRequest { id, channel } => {
                let Some(on) = self.channel(channel) else { return };
                if self.core.route(on).is_none() {
                    assert!(!(self.channels[channel].1 && self.channels[channel].2), "open and ready routes");
                    return;
                }
                let expected = if self.inbound.contains_key(&id) {
                    Err(ErrorCode::DuplicateRequestId)
                } else if self.inbound.len() >= limits().inbound_requests {
                    Err(ErrorCode::TooManyRequests)
                } else {
                    Ok(())
                };
                assert_eq!(self.core.begin_inbound(id, on), expected);
                if expected.is_ok() {
                    self.inbound.insert(id, on);
                }
            }
            Op::ClientRequestDone { id } => {
                let on = self.inbound.get(&id).copied().or_else(|| self.channel(0));
                let Some(on) = on else { return };
                let expected = self.inbound.get(&id) == Some(&on);
                let answer = frames::answer(&on.to_string(), id, Ok(serde_json::value::RawValue::NULL));
                match self.core.finish_inbound(id, on, answer) {
                    Ok(_) => assert!(expected, "only a live request is answered"),
                    Err(Refused::ChannelClosed) => assert!(!expected, "a live request is answered"),
                    Err(Refused::Overflow) => assert!(expected),
                    Err(Refused::OverBudget) => {
                        assert!(expected);
                        self.inbound.remove(&id);
                        return self.over_budget();
                    }
                    Err(Refused::Ended) => unreachable!(),
                }
                self.inbound.remove(&id);
            }
        }
        self.check_bounds();
    }

    /// The connection breaks; a session that cannot keep what it holds ends.
    fn detach(&mut self) {
        match self.core.detach() {
            Ok(()) => {}
            Err(Refused::OverBudget) => {
                assert!(self.others + self.core.held_bytes() > DETACHED, "ended with room in the budget");
                self.tell();
            }
            Err(other) => panic!("unexpected refusal {other:?}"),
        }
    }

    /// A frame did not fit in the detached sessions' budget: the session ends.
    fn over_budget(&mut self) {
        assert_eq!(self.core.link(), Link::Detached, "only a detached session is held to the budget");
        assert!(self.core.has_gap(), "a frame refused is a gap");
        self.tell();
    }

    fn check_bounds(&self) {
        let held = if self.core.link() == Link::Detached { self.core.held_bytes() } else { 0 };
        assert_eq!(self.detached.used(), self.others + held, "the budget holds what detached sessions hold");
        assert!(self.detached.used() <= DETACHED.max(held), "the budget is kept (or one session alone is over it)");
        let (queued, replay, _) = self.core.buffered();
        assert!(queued <= QUEUE && replay <= REPLAY, "buffers stay bounded: {queued} queued, {replay} kept");
        assert_eq!(self.core.pending_count(), self.pending.len() + self.inbound.len(), "no request is forgotten");
        for (index, (id, ready, open)) in self.channels.iter().enumerate() {
            assert_eq!(self.core.route(*id).is_some(), *ready && *open, "channel {index} routes iff open and ready");
        }
    }

    /// The end of the story: the client resumes one last time and drains everything.
    fn finish(&mut self) {
        if self.told || self.client.lied {
            return;
        }
        for index in 0..self.channels.len() {
            self.apply(Op::Ready(index));
        }
        self.apply(Op::Resume { lie: 0 });
        if self.told {
            return;
        }
        loop {
            let before = self.client.last_seq;
            self.apply(Op::Write { take: 64, delivered: 64 });
            if self.client.last_seq == before {
                break;
            }
        }
        assert_eq!(self.client.broadcasts.len() as u64, self.accepted, "every broadcast arrived");
        let _ = self.start;
    }
}

fn cases() -> u32 {
    std::env::var("PULSE_CORE_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(2_000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Every broadcast reaches the client exactly once and in order across any number of
    /// breaks and resumes, or the client is told it cannot resume; no channel is
    /// announced before it is ready; no request outlives its deadline or its channel;
    /// every buffer stays bounded.
    #[test]
    fn the_client_sees_every_frame_once_in_order_or_is_told(
        ops in proptest::collection::vec(op(), 1..120),
        others in prop_oneof![3 => Just(0usize), 1 => 0..DETACHED],
    ) {
        let mut harness = Harness::sharing(others);
        for op in ops {
            harness.apply(op);
        }
        harness.finish();
    }
}

// -- regressions: the defects this core was built to close, by name ---------------------

/// Issue 10, defect 2: the writer took a frame off the queue, then abandoned the write
/// when the connection ended, dropping a frame that was neither numbered nor kept. Here
/// a frame taken is always kept: the break loses nothing.
#[test]
fn a_frame_taken_by_a_writer_that_dies_is_replayed() {
    let mut h = Harness::new();
    for _ in 0..3 {
        h.apply(Op::Broadcast);
    }
    h.apply(Op::Write { take: 3, delivered: 1 });
    h.apply(Op::Broadcast);
    h.apply(Op::Resume { lie: 0 });
    h.apply(Op::Write { take: 64, delivered: 64 });
    assert_eq!(h.client.broadcasts, vec![0, 1, 2, 3]);
}

/// Issue 10, defect 1: a channel's `open` went out before the state handling it
/// existed. A gated channel holds its `open` (and what follows) until it is ready.
#[test]
fn a_gated_open_waits_for_its_handler() {
    let mut h = Harness::new();
    h.apply(Op::Open { ready: false });
    h.apply(Op::Broadcast);
    h.apply(Op::Write { take: 8, delivered: 8 });
    assert_eq!(h.client.last_seq, 0, "nothing passes the gate");
    assert!(!h.core.has_ready_frames());
    h.apply(Op::Ready(0));
    assert!(h.core.has_ready_frames());
    h.apply(Op::Write { take: 8, delivered: 8 });
    assert_eq!((h.client.last_seq, h.client.open.len()), (2, 1));
}

/// Frames made while detached queue up to the queue's bound; one more is a gap, and a
/// gap is never resumed across.
#[test]
fn overflow_while_detached_refuses_the_resume() {
    let mut h = Harness::new();
    h.apply(Op::Cut);
    for _ in 0..QUEUE {
        h.apply(Op::Broadcast);
    }
    assert_eq!(h.accepted, QUEUE as u64);
    h.apply(Op::Broadcast);
    assert_eq!(h.accepted, QUEUE as u64, "the frame past the bound is refused");
    assert_eq!(h.core.resume(0).err(), Some(CannotResume::FramesDropped));
}

/// A channel opened into a full queue loses its `open`: a gap. Nothing after a gap goes
/// out, so its client never hears `close` for a channel it was never told of, even once
/// the writer has made room (a 10,000-case CI run found this sequence).
#[test]
fn nothing_goes_out_after_a_gap() {
    let mut h = Harness::new();
    for _ in 0..QUEUE {
        h.apply(Op::Broadcast);
    }
    h.apply(Op::Open { ready: false });
    assert!(h.core.has_gap(), "the `open` found the queue full");
    h.apply(Op::Write { take: 4, delivered: 4 });
    h.apply(Op::Close(0));
    h.apply(Op::Broadcast);
    h.apply(Op::Write { take: 64, delivered: 64 });
    assert_eq!(h.client.broadcasts, (0..QUEUE as u64).collect::<Vec<_>>(), "what was queued before the gap");
    assert!(h.client.open.is_empty());
    assert_eq!(h.client.last_seq, QUEUE as u64, "and nothing after it");
}

/// A resume from further back than the replay buffer reaches is refused.
#[test]
fn a_resume_older_than_the_replay_is_refused() {
    let mut h = Harness::new();
    for _ in 0..REPLAY + 2 {
        h.apply(Op::Broadcast);
    }
    h.apply(Op::Write { take: 64, delivered: 0 });
    assert_eq!(h.core.resume(0).err(), Some(CannotResume::OutOfRange));
    assert!(h.core.resume(2).is_ok());
}

/// A detached session that would hold more than detached sessions may together drops
/// the frame (a gap) and ends; giving back its bytes as it does.
#[test]
fn a_detached_session_past_the_budget_ends_and_gives_its_bytes_back() {
    let mut h = Harness::sharing(DETACHED - 200);
    h.apply(Op::Cut);
    for _ in 0..QUEUE {
        h.apply(Op::Broadcast);
    }
    assert!(h.told, "the session ended at the budget");
    assert!(h.accepted < 5, "only what fits was queued: {}", h.accepted);
    assert_eq!(h.detached.used(), DETACHED - 200, "its bytes were given back");
}

/// A session whose replay buffer does not fit when its connection breaks ends at once.
#[test]
fn a_session_that_cannot_keep_its_replay_when_it_detaches_ends() {
    let mut h = Harness::sharing(DETACHED - 100);
    for _ in 0..REPLAY {
        h.apply(Op::Broadcast);
    }
    h.apply(Op::Write { take: 64, delivered: 64 });
    assert_eq!(h.detached.used(), DETACHED - 100, "an attached session takes nothing");
    h.apply(Op::Cut);
    assert!(h.told);
    assert_eq!(h.detached.used(), DETACHED - 100);
}

/// A resume gives back what the session held while detached.
#[test]
fn a_resume_gives_the_bytes_back() {
    let mut h = Harness::new();
    h.apply(Op::Broadcast);
    h.apply(Op::Write { take: 64, delivered: 64 });
    h.apply(Op::Cut);
    h.apply(Op::Broadcast);
    assert!(h.detached.used() > 0);
    h.apply(Op::Resume { lie: 0 });
    assert_eq!(h.detached.used(), 0);
    h.apply(Op::Write { take: 64, delivered: 64 });
    assert_eq!(h.client.broadcasts, vec![0, 1]);
}

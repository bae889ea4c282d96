//! The session core: everything a session decides, as a synchronous state machine.
//!
//! It holds the session's channels, its requests in both directions, the outbound
//! queue, the sequence numbers and the replay buffer, and whether a connection is
//! attached. It has no socket, task or clock: the connection driver
//! (`server::connection`) feeds it what happened (a frame to send, a connection lost, a
//! resume with the client's `last_seq`, the time) and writes the frames it hands out.
//! That is what lets `tests` check it exhaustively, and what closes the timing
//! windows by construction:
//!
//! - A frame leaves the queue only inside [`SessionCore::take_batch`], which numbers it
//!   and keeps it for replay in the same step, so a frame taken by a writer that then
//!   dies is replayed on resume, never lost.
//! - A channel may be opened *gated*: its `open` frame waits in the queue (and holds
//!   back everything queued after it) until [`SessionCore::ready`] says its handler
//!   exists. A client therefore never learns a channel id before the channel can
//!   handle its frames.
//! - A frame dropped for any reason (the queue overflowed) marks the session as unable
//!   to resume, so a client is never resumed across a gap, and ends its stream there:
//!   nothing queued after the gap goes out (the session is closed as a slow consumer),
//!   so a client never sees a frame that depends on one it missed, such as the `close`
//!   of a channel whose `open` was dropped.
//! - While detached, everything the session holds (queued and kept for replay) is
//!   taken from a budget all detached sessions share; a session that would go past it
//!   drops a frame (a gap, as above), so that it ends rather than grows.
//!
//! `H` is what the session keeps per channel (its handler); `A` is where the answer to
//! a server-to-client request goes. Tests use plain values for both.

pub(crate) mod budget;
pub(crate) mod inbox;
mod replay;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use crate::id::ChannelId;
use crate::protocol::frames::{self, Body};
use crate::protocol::{ErrorCode, Topic};
use budget::Budget;
use replay::Replay;

/// The bounds a session keeps to (from [`Config`](crate::Config)).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Frames that may wait in the outbound queue, not yet handed to a writer.
    pub queue_frames: usize,
    /// Frames kept for replay after they were handed to a writer.
    pub replay_frames: usize,
    /// Bytes kept for replay.
    pub replay_bytes: usize,
    /// Channels open at once.
    pub channels: usize,
    /// Client-to-server requests unanswered at once.
    pub inbound_requests: usize,
}

impl Limits {
    pub(crate) fn from_config(config: &crate::Config) -> Self {
        Limits {
            queue_frames: config.outbound_queue_frames.max(1),
            replay_frames: config.replay_buffer_frames,
            replay_bytes: config.replay_buffer_bytes,
            channels: config.max_channels_per_session,
            inbound_requests: config.max_pending_requests,
        }
    }
}

/// Whether a connection serves the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Link {
    /// A connection is attached: its writer takes frames.
    Attached,
    /// The connection broke; frames queue up until a resume or the end.
    Detached,
    /// The session is over; nothing is queued any more.
    Ended,
}

/// Why a frame was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The session has ended.
    Ended,
    /// The queue is full: the client does not keep up. The session can no longer be
    /// resumed (a frame is missing) and should be closed as a slow consumer.
    Overflow,
    /// The session is detached and the frame does not fit in what detached sessions
    /// may hold together. As with `Overflow`, the session can no longer be resumed,
    /// and should end.
    OverBudget,
    /// The frame names a channel that is not open (it closed): nothing may follow its
    /// `close`.
    ChannelClosed,
}

/// Why a resume is refused: the client must be given a fresh session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CannotResume {
    /// The session has ended.
    Ended,
    /// A frame was dropped (the queue overflowed), so what the client missed is gone.
    FramesDropped,
    /// The client's `last_seq` is older than the replay buffer reaches, or newer than
    /// anything sent.
    OutOfRange,
}

/// Why a channel was not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenRefused {
    Ended,
    TooMany { limit: usize },
}

/// Why a server-to-client request was not sent.
#[derive(Debug)]
pub(crate) enum StartRefused<E> {
    Ended,
    ChannelClosed,
    Overflow,
    Encode(E),
}

/// What became of an `answer` frame from the client.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AnswerRoute<A> {
    /// The request was pending: here is where its answer goes.
    Delivered(A),
    /// The channel is not an open channel of this session.
    UnknownChannel,
    /// The request was issued, and has since timed out or been cancelled.
    Late,
    /// No request with that id was issued on that channel.
    Unknown,
}

/// A channel that closed: its handler (to drop after telling it) and the requests that
/// were waiting on it (to fail with `Closed`).
pub(crate) struct Closed<H, A> {
    pub topic: Topic,
    pub handler: H,
    pub failed: Vec<A>,
}

/// Everything a session held when it ended.
pub(crate) struct Ended<H, A> {
    pub channels: Vec<(ChannelId, Topic, H)>,
    pub failed: Vec<A>,
}

enum Queued {
    Frame(Body),
    /// A channel's `open` frame: it holds the queue while its channel is not ready.
    Open(ChannelId, Body),
    /// Frames queued together (a room's history replayed to a joining channel): one
    /// place in the queue whatever their number, handed out one by one, so a long
    /// history never crowds out the live frames the queue's bound is for.
    Run(VecDeque<Body>),
}

impl Queued {
    fn bytes(&self) -> usize {
        match self {
            Queued::Frame(body) | Queued::Open(_, body) => body.bytes().len(),
            Queued::Run(run) => run.iter().map(|body| body.bytes().len()).sum(),
        }
    }
}

struct ChannelEntry<H> {
    topic: Topic,
    handler: H,
    /// What its `open` still waits for (its handler, its node's subscription to its
    /// room); ready at 0.
    gates: u8,
}

struct OutRequest<A> {
    channel: ChannelId,
    deadline: Instant,
    answer: A,
}

/// One session's state and rules; see the module docs.
pub(crate) struct SessionCore<H, A> {
    limits: Limits,
    link: Link,
    /// The number of the last frame handed to a writer.
    seq: u64,
    queue: VecDeque<Queued>,
    replay: Replay,
    /// Set once a frame was dropped: the stream has a gap, so no resume is possible.
    gap: Option<Refused>,
    channels: HashMap<ChannelId, ChannelEntry<H>>,
    /// Channels opened but not ready yet (their `open` frame holds the queue).
    unready: usize,
    outbound: HashMap<u64, OutRequest<A>>,
    next_request_id: u64,
    /// Client-to-server requests not answered yet, with their channel.
    inbound: HashMap<u64, ChannelId>,
    /// The bytes of the frames in `queue`.
    queue_bytes: usize,
    /// What every detached session holds, together.
    detached: Arc<Budget>,
    /// The bytes this session has taken from `detached` (while detached).
    charged: usize,
}

impl<H, A> SessionCore<H, A> {
    /// A session whose buffers, while it is detached, come out of `detached`.
    pub(crate) fn new(limits: Limits, detached: Arc<Budget>) -> Self {
        SessionCore {
            queue_bytes: 0,
            detached,
            charged: 0,
            replay: Replay::new(limits.replay_frames, limits.replay_bytes),
            limits,
            link: Link::Attached,
            seq: 0,
            queue: VecDeque::new(),
            gap: None,
            channels: HashMap::new(),
            unready: 0,
            outbound: HashMap::new(),
            next_request_id: 1,
            inbound: HashMap::new(),
        }
    }

    #[cfg(test)]
    pub(crate) fn link(&self) -> Link {
        self.link
    }

    #[cfg(test)]
    /// The number of the last frame handed to a writer.
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    // -- the outbound stream -----------------------------------------------------------

    /// Queues a frame for the client. While detached, frames wait here (up to
    /// `queue_frames`) for a resume. `Ok(true)` when the writer must be woken: the queue
    /// was empty (otherwise the writer was woken for the frames already there, and takes
    /// everything before it waits again).
    pub(crate) fn push(&mut self, body: Body) -> Result<bool, Refused> {
        self.push_queued(Queued::Frame(body))
    }

    /// Queues `bodies` together, in order: one place in the queue, however many they are
    /// (a history replay). Refused, or queued, as one frame would be.
    pub(crate) fn push_run(&mut self, bodies: Vec<Body>) -> Result<bool, Refused> {
        if bodies.is_empty() {
            return Ok(false);
        }
        self.push_queued(Queued::Run(bodies.into()))
    }

    /// Queues a frame that names channel `channel` (an emit, an answer): refused once
    /// the channel has closed, so that its `close` is the last frame naming it.
    pub(crate) fn push_on(&mut self, channel: ChannelId, body: Body) -> Result<bool, Refused> {
        if self.link != Link::Ended && !self.channels.contains_key(&channel) {
            return Err(Refused::ChannelClosed);
        }
        self.push(body)
    }

    /// Whether a frame was ever dropped (the session can no longer be resumed, and must
    /// be closed as a slow consumer if it is not already).
    #[cfg(test)]
    pub(crate) fn has_gap(&self) -> bool {
        self.gap.is_some()
    }

    /// Why a frame was first dropped, if one was: `Overflow` or `OverBudget`.
    pub(crate) fn gap(&self) -> Option<Refused> {
        self.gap
    }

    fn push_queued(&mut self, queued: Queued) -> Result<bool, Refused> {
        if self.link == Link::Ended {
            return Err(Refused::Ended);
        }
        // After a gap the stream is over: what follows may depend on what was dropped.
        if self.gap.is_some() || self.queue.len() >= self.limits.queue_frames {
            self.gap.get_or_insert(Refused::Overflow);
            return Err(Refused::Overflow);
        }
        let bytes = queued.bytes();
        if self.link == Link::Detached {
            if !self.detached.try_take(bytes) {
                self.gap = Some(Refused::OverBudget);
                return Err(Refused::OverBudget);
            }
            self.charged += bytes;
        }
        self.queue_bytes += bytes;
        self.queue.push_back(queued);
        Ok(self.queue.len() == 1)
    }

    /// Hands up to `max` frames to the attached connection's writer, with their numbers:
    /// each is numbered and kept for replay before it is returned. Stops at the `open`
    /// of a channel that is not ready. Nothing while detached or ended.
    pub(crate) fn take_batch(&mut self, max: usize, out: &mut Vec<(u64, Body)>) {
        if self.link != Link::Attached {
            return;
        }
        // Exactly what may go now, not the four slots a first push would make: an idle
        // session's writer keeps this vector for its whole life.
        out.reserve_exact(self.queue.len().min(max.saturating_sub(out.len())));
        while out.len() < max {
            if self.unready > 0 && !self.front_is_ready() {
                return;
            }
            let body = match self.queue.front_mut() {
                None => return,
                Some(Queued::Run(run)) => {
                    let body = run.pop_front();
                    if run.is_empty() {
                        self.queue.pop_front();
                    }
                    let Some(body) = body else { continue };
                    body
                }
                Some(_) => match self.queue.pop_front() {
                    Some(Queued::Frame(body) | Queued::Open(_, body)) => body,
                    _ => return,
                },
            };
            self.queue_bytes -= body.bytes().len();
            self.seq += 1;
            self.replay.push(self.seq, body.clone());
            out.push((self.seq, body));
        }
    }

    /// Whether the frame at the front of the queue may go out (it is not the `open` of
    /// a channel that is not ready).
    fn front_is_ready(&self) -> bool {
        match self.queue.front() {
            Some(Queued::Open(channel, _)) => self.channels.get(channel).is_none_or(|c| c.gates == 0),
            _ => true,
        }
    }

    #[cfg(test)]
    /// Whether a writer would get a frame now.
    pub(crate) fn has_ready_frames(&self) -> bool {
        self.link == Link::Attached && !self.queue.is_empty() && self.front_is_ready()
    }

    // -- connections -------------------------------------------------------------------

    /// The connection broke (or was replaced): frames wait for a resume. What the
    /// session holds is taken from the detached sessions' budget; `Err` when it does
    /// not fit: the session cannot be resumed (a gap), and should end.
    pub(crate) fn detach(&mut self) -> Result<(), Refused> {
        if self.link != Link::Attached {
            return Ok(());
        }
        self.link = Link::Detached;
        let held = self.held_bytes();
        if !self.detached.try_take(held) {
            self.gap.get_or_insert(Refused::OverBudget);
            return Err(Refused::OverBudget);
        }
        self.charged = held;
        Ok(())
    }

    /// The bytes of every frame the session holds: queued, and kept for replay.
    pub(crate) fn held_bytes(&self) -> usize {
        self.queue_bytes + self.replay.bytes()
    }

    /// Gives back what the session took from the detached sessions' budget.
    fn release(&mut self) {
        self.detached.give(std::mem::take(&mut self.charged));
    }

    /// A connection resumes the session; its client saw every frame up to `last_seq`.
    /// On success the connection is attached and gets the returned frames (what it
    /// missed, in order) before anything else.
    pub(crate) fn resume(&mut self, last_seq: u64) -> Result<Vec<(u64, Body)>, CannotResume> {
        if self.link == Link::Ended {
            return Err(CannotResume::Ended);
        }
        if self.gap.is_some() {
            return Err(CannotResume::FramesDropped);
        }
        if !self.replay.covers(last_seq, self.seq) {
            return Err(CannotResume::OutOfRange);
        }
        self.link = Link::Attached;
        self.release();
        Ok(self.replay.after(last_seq).collect())
    }

    /// Ends the session: returns every channel and every pending request, and forgets
    /// everything queued or kept.
    pub(crate) fn end(&mut self) -> Ended<H, A> {
        self.link = Link::Ended;
        self.queue.clear();
        self.queue_bytes = 0;
        self.replay.clear();
        self.release();
        self.inbound.clear();
        self.unready = 0;
        Ended {
            channels: self.channels.drain().map(|(id, c)| (id, c.topic, c.handler)).collect(),
            failed: self.outbound.drain().map(|(_, r)| r.answer).collect(),
        }
    }

    // -- channels ----------------------------------------------------------------------

    /// Opens channel `id` and queues its `open` frame. A channel opened not `ready`
    /// holds the queue at its `open` until [`SessionCore::ready`].
    pub(crate) fn open_channel(
        &mut self,
        id: ChannelId,
        topic: Topic,
        handler: H,
        ready: bool,
    ) -> Result<(), OpenRefused> {
        if self.link == Link::Ended {
            return Err(OpenRefused::Ended);
        }
        if self.channels.len() >= self.limits.channels {
            return Err(OpenRefused::TooMany { limit: self.limits.channels });
        }
        let open = frames::open(id, &topic);
        // An `open` lost to a full queue leaves a gap like any other frame.
        let _ = self.push_queued(Queued::Open(id, open));
        self.channels.insert(id, ChannelEntry { topic, handler, gates: u8::from(!ready) });
        if !ready {
            self.unready += 1;
        }
        Ok(())
    }

    /// One thing channel `id`'s `open` waited for is done (its handler exists, its
    /// room's subscription is in place): once nothing is left, it may go out.
    pub(crate) fn ready(&mut self, id: ChannelId) {
        if let Some(channel) = self.channels.get_mut(&id) {
            if channel.gates > 0 {
                channel.gates -= 1;
                if channel.gates == 0 {
                    self.unready -= 1;
                }
            }
        }
    }

    /// Channel `id`'s `open` waits for one more thing, released by [`SessionCore::ready`].
    /// Only for a channel that is not ready yet: one whose `open` may have gone out
    /// cannot be held back.
    pub(crate) fn hold(&mut self, id: ChannelId) {
        if let Some(channel) = self.channels.get_mut(&id).filter(|c| c.gates > 0) {
            channel.gates = channel.gates.saturating_add(1);
        }
    }

    /// The handler for a frame on channel `id`, if it is open and ready.
    pub(crate) fn route(&self, id: ChannelId) -> Option<&H> {
        self.channels.get(&id).filter(|c| c.gates == 0).map(|c| &c.handler)
    }

    /// Whether channel `id` is open (ready or not).
    pub(crate) fn is_open(&self, id: ChannelId) -> bool {
        self.channels.contains_key(&id)
    }

    /// Closes channel `id`: queues `close`, fails the server's requests on it, and
    /// drops the client's (their answers are not sent: the client failed them when it
    /// heard `close`). `None` if it was not open.
    pub(crate) fn close_channel(&mut self, id: ChannelId, reason: &str) -> Option<Closed<H, A>> {
        let channel = self.channels.remove(&id)?;
        if channel.gates > 0 {
            self.unready -= 1;
        }
        let _ = self.push(frames::close(id, reason));
        self.inbound.retain(|_, on| *on != id);
        let failed: Vec<u64> = self.outbound.iter().filter(|(_, r)| r.channel == id).map(|(n, _)| *n).collect();
        let failed = failed.iter().filter_map(|n| self.outbound.remove(n)).map(|r| r.answer).collect();
        Some(Closed { topic: channel.topic, handler: channel.handler, failed })
    }

    pub(crate) fn channel_count(&self) -> usize {
        self.channels.len()
    }

    // -- server-to-client requests -----------------------------------------------------

    /// Sends a request on channel `channel`, failing at `deadline`; `encode` makes its
    /// frame from the request id. The answer will be routed to `answer`.
    pub(crate) fn start_request<E>(
        &mut self,
        channel: ChannelId,
        deadline: Instant,
        answer: A,
        encode: impl FnOnce(u64) -> Result<Body, E>,
    ) -> Result<u64, StartRefused<E>> {
        if self.link == Link::Ended {
            return Err(StartRefused::Ended);
        }
        if !self.channels.contains_key(&channel) {
            return Err(StartRefused::ChannelClosed);
        }
        let id = self.next_request_id;
        let body = encode(id).map_err(StartRefused::Encode)?;
        self.push(body).map_err(|refused| match refused {
            Refused::Ended => StartRefused::Ended,
            Refused::Overflow | Refused::OverBudget => StartRefused::Overflow,
            Refused::ChannelClosed => StartRefused::ChannelClosed,
        })?;
        self.next_request_id += 1;
        self.outbound.insert(id, OutRequest { channel, deadline, answer });
        Ok(id)
    }

    /// The caller stopped waiting for request `id` (it timed out, or was dropped).
    pub(crate) fn forget_request(&mut self, id: u64) {
        self.outbound.remove(&id);
    }

    /// Routes the client's answer to request `id` on channel `channel`.
    pub(crate) fn answer(&mut self, channel: Option<ChannelId>, id: u64) -> AnswerRoute<A> {
        let Some(channel) = channel.filter(|c| self.channels.contains_key(c)) else {
            return AnswerRoute::UnknownChannel;
        };
        match self.outbound.get(&id) {
            Some(request) if request.channel == channel => {
                self.outbound.remove(&id).map_or(AnswerRoute::Unknown, |r| AnswerRoute::Delivered(r.answer))
            }
            Some(_) => AnswerRoute::Unknown,
            // Ids are issued in order: one below the next id was issued and has since
            // timed out or been cancelled, so a late answer is dropped quietly.
            None if id < self.next_request_id => AnswerRoute::Late,
            None => AnswerRoute::Unknown,
        }
    }

    /// Removes the requests whose deadline has passed at `now`, to fail with `Timeout`.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<A> {
        if !self.outbound.values().any(|r| r.deadline <= now) {
            return Vec::new();
        }
        let expired: Vec<u64> = self.outbound.iter().filter(|(_, r)| r.deadline <= now).map(|(n, _)| *n).collect();
        expired.iter().filter_map(|n| self.outbound.remove(n)).map(|r| r.answer).collect()
    }

    // -- client-to-server requests -----------------------------------------------------

    /// Records the client's request `id` on `channel`; refuses a duplicate id and one
    /// past the limit.
    pub(crate) fn begin_inbound(&mut self, id: u64, channel: ChannelId) -> Result<(), ErrorCode> {
        if !self.channels.contains_key(&channel) {
            // It closed since the frame was routed: the client failed the request
            // when it heard `close`, so nothing is answered.
            return Err(ErrorCode::UnknownChannel);
        }
        if self.inbound.contains_key(&id) {
            return Err(ErrorCode::DuplicateRequestId);
        }
        if self.inbound.len() >= self.limits.inbound_requests {
            return Err(ErrorCode::TooManyRequests);
        }
        self.inbound.insert(id, channel);
        Ok(())
    }

    /// The handler finished request `id` on `channel`: queues its `answer` unless the
    /// channel closed (or the session ended) meanwhile — then the client has already
    /// failed the request, and nothing follows the channel's `close`.
    pub(crate) fn finish_inbound(&mut self, id: u64, channel: ChannelId, answer: Body) -> Result<bool, Refused> {
        if self.inbound.get(&id) != Some(&channel) {
            return Err(Refused::ChannelClosed);
        }
        self.inbound.remove(&id);
        self.push(answer)
    }

    /// Requests waiting for an answer, both ways.
    pub(crate) fn pending_count(&self) -> usize {
        self.outbound.len() + self.inbound.len()
    }

    /// What the session holds in its buffers: (queued frames, replay frames, replay bytes).
    #[cfg(test)]
    pub(crate) fn buffered(&self) -> (usize, usize, usize) {
        (self.queue.len(), self.replay.len(), self.replay.bytes())
    }
}

impl<H, A> Drop for SessionCore<H, A> {
    /// A session dropped while detached gives back what it took.
    fn drop(&mut self) {
        self.release();
    }
}

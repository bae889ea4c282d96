//! W4 (jitter): subscribers whose connections break at random while a publisher sends at
//! a steady rate. Each subscriber drops its connection (no close frame) after a random
//! number of messages, stays away a random few milliseconds, and reconnects asking for
//! what it missed: Pulse by resuming its session (`resume` and `last_seq`), Socket.IO by
//! its connection state recovery (`pid` and `offset` in the CONNECT packet). The raw
//! server and socketioxide have no way to resume: their subscribers join again, and the
//! rows show what a break costs without one.
//!
//! Measured: how many of the published messages each subscriber got (once each), whether
//! they came in order, how many reconnections the server recovered, and the replay
//! latency: from the start of a reconnection to the first missed message's arrival.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use hdrhistogram::Histogram;
use pulse_bench::{Kind, Protocol, find_ts, now_micros};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::conn::{Conn, Socket, histogram};

/// One message published every `PERIOD`.
const PERIOD: Duration = Duration::from_millis(5);
/// A subscriber breaks its connection after `BREAK_AFTER` + up to `BREAK_SPREAD` messages…
const BREAK_AFTER: u64 = 30;
const BREAK_SPREAD: u64 = 200;
/// …and stays away up to this long before it reconnects.
const MAX_AWAY_MS: u64 = 20;

/// A small deterministic generator (xorshift), seeded per subscriber.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// A message of this workload: its send time and its index.
fn message(i: u64) -> String {
    format!("{{\"ts\":{},\"i\":{i},\"pad\":\"{}\"}}", now_micros(), "x".repeat(60))
}

/// The index in a frame that carries a [`message`].
fn index_of(frame: &str) -> Option<u64> {
    let start = frame.find("\"i\":")? + 4;
    let digits = &frame[start..];
    let end = digits.find(|c: char| !c.is_ascii_digit()).unwrap_or(digits.len());
    digits[..end].parse().ok()
}

/// The string value of `"field":"…"` in a frame.
fn field(frame: &str, name: &str) -> Option<String> {
    let key = format!("\"{name}\":\"");
    let start = frame.find(&key)? + key.len();
    let end = frame[start..].find('"')?;
    Some(frame[start..start + end].to_owned())
}

/// Pulse: a session frame's `seq`.
fn seq_of(frame: &str) -> Option<u64> {
    let start = frame.find("\"seq\":")? + 6;
    let digits = &frame[start..];
    let end = digits.find(|c: char| !c.is_ascii_digit()).unwrap_or(digits.len());
    digits[..end].parse().ok()
}

/// Socket.IO: the offset a recovering server appends to a broadcast, its last argument.
fn offset_of(frame: &str) -> Option<String> {
    let body = frame.strip_suffix("\"]")?;
    let (_, offset) = body.rsplit_once(",\"")?;
    (!offset.contains(['"', '}'])).then(|| offset.to_owned())
}

/// A subscriber's connection and what it needs to reconnect without loss.
struct Link {
    kind: Kind,
    port: u16,
    socket: Option<Socket>,
    /// Pulse: the session id. Socket.IO: the private session id (`pid`).
    session: String,
    /// Pulse: the last `seq` seen. Socket.IO: the last offset seen.
    position: String,
    /// Frames read while waiting for another (a recovering Socket.IO server sends the
    /// missed messages before its CONNECT answer), given out first.
    backlog: VecDeque<String>,
}

impl Link {
    async fn connect(&mut self, url: String) {
        let (socket, _) = tokio_tungstenite::connect_async_with_config(url, None, true).await.expect("connect");
        self.socket = Some(socket);
    }

    async fn send(&mut self, text: String) {
        let socket = self.socket.as_mut().expect("connected");
        socket.send(Message::text(text)).await.expect("send");
    }

    /// The next text frame that is not a heartbeat; `None` when the connection ends.
    async fn next(&mut self) -> Option<String> {
        match self.backlog.pop_front() {
            Some(text) => Some(text),
            None => self.read().await,
        }
    }

    /// The next text frame off the socket that is not a heartbeat.
    async fn read(&mut self) -> Option<String> {
        loop {
            let message = self.socket.as_mut()?.next().await?.ok()?;
            let Message::Text(text) = message else { continue };
            let text = text.as_str();
            match self.kind.protocol() {
                Protocol::Pulse if text == r#"{"t":"ping"}"# => self.send(r#"{"t":"pong"}"#.to_owned()).await,
                Protocol::Pulse => {
                    if let Some(seq) = seq_of(text) {
                        self.position = seq.to_string();
                    }
                    return Some(text.to_owned());
                }
                Protocol::Raw => return Some(text.to_owned()),
                _ if text == "2" => self.send("3".to_owned()).await,
                _ => {
                    if let Some(offset) = text.starts_with("42[\"item\"").then(|| offset_of(text)).flatten() {
                        self.position = offset;
                    }
                    return Some(text.to_owned());
                }
            }
        }
    }

    /// The next frame that starts with `prefix`; those before it wait in the backlog.
    async fn next_starting(&mut self, prefix: &str) -> String {
        self.wait_for(|text| text.starts_with(prefix)).await
    }

    /// The next frame that contains `part`; those before it wait in the backlog.
    async fn next_containing(&mut self, part: &str) -> String {
        self.wait_for(|text| text.contains(part)).await
    }

    async fn wait_for(&mut self, wanted: impl Fn(&str) -> bool) -> String {
        loop {
            let text = self.read().await.expect("connection open");
            if wanted(&text) {
                return text;
            }
            self.backlog.push_back(text);
        }
    }

    /// A new subscriber: connected, in the feed, its join handled.
    async fn start(kind: Kind, port: u16) -> Link {
        let mut link = Link {
            kind,
            port,
            socket: None,
            session: String::new(),
            position: String::new(),
            backlog: VecDeque::new(),
        };
        link.connect(kind.url(port)).await;
        match kind.protocol() {
            Protocol::Pulse => {
                let hello = link.next_containing("\"t\":\"hello\"").await;
                link.session = field(&hello, "session").expect("session id");
            }
            Protocol::Raw => {}
            _ => {
                link.next_starting("0").await;
                link.send("40".to_owned()).await;
                let connected = link.next_starting("40").await;
                link.session = field(&connected, "pid").unwrap_or_default();
            }
        }
        link.join().await;
        link
    }

    /// Joins the feed and waits until the join has been handled.
    async fn join(&mut self) {
        match self.kind.protocol() {
            Protocol::Pulse => {
                let open = self.next_containing("\"name\":\"control\"").await;
                let control = field(&open, "channel").expect("control channel id");
                self.send(format!(r#"{{"t":"emit","channel":"{control}","event":"join","payload":null}}"#)).await;
                self.send(format!(r#"{{"t":"request","channel":"{control}","id":1,"event":"echo","payload":null}}"#))
                    .await;
                self.next_containing("\"t\":\"answer\"").await;
            }
            Protocol::Raw => {
                self.send("join".to_owned()).await;
                self.send(r#"echo:{"joined":true}"#.to_owned()).await;
                self.next_containing("\"joined\"").await;
            }
            _ => {
                self.send(r#"42["join"]"#.to_owned()).await;
                self.send(r#"421["echo",null]"#.to_owned()).await;
                self.next_starting("431").await;
            }
        }
    }

    /// Drops the connection, as a network break does: no close frame.
    fn break_off(&mut self) {
        self.socket = None;
        self.backlog.clear();
    }

    /// Reconnects asking for what was missed; true when the server recovered it.
    async fn reconnect(&mut self) -> bool {
        match self.kind.protocol() {
            Protocol::Pulse => {
                let url = format!("{}&resume={}&last_seq={}", self.kind.url(self.port), self.session, self.position);
                self.connect(url).await;
                let hello = self.next_containing("\"t\":\"hello\"").await;
                if hello.contains("\"resumed\":true") {
                    return true;
                }
                // A fresh session: what was missed is lost; join again.
                self.session = field(&hello, "session").expect("session id");
                self.position.clear();
                self.join().await;
                false
            }
            Protocol::Raw => {
                self.connect(self.kind.url(self.port)).await;
                self.join().await;
                false
            }
            _ => {
                self.connect(self.kind.url(self.port)).await;
                self.next_starting("0").await;
                let auth = format!(r#"40{{"pid":"{}","offset":"{}"}}"#, self.session, self.position);
                self.send(auth).await;
                let connected = self.next_starting("40").await;
                let pid = field(&connected, "pid").unwrap_or_default();
                if !self.session.is_empty() && pid == self.session {
                    return true;
                }
                self.session = pid;
                self.join().await;
                false
            }
        }
    }
}

/// What one subscriber saw.
struct Tally {
    /// Distinct messages received.
    received: u64,
    /// Messages that came at or below the index of one received before them.
    out_of_order: u64,
    recovered: u64,
    not_recovered: u64,
    replay: Histogram<u64>,
}

async fn subscribe(
    mut link: Link,
    messages: u64,
    seed: u64,
    publishing: Arc<AtomicBool>,
    mut stop: watch::Receiver<bool>,
) -> Tally {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut tally = Tally { received: 0, out_of_order: 0, recovered: 0, not_recovered: 0, replay: histogram() };
    let mut seen = vec![false; messages as usize];
    let mut last: Option<u64> = None;
    let mut until_break = BREAK_AFTER + rng.below(BREAK_SPREAD);
    // The reconnection in progress: when it started (and the clock then, in µs).
    let mut reconnecting: Option<(Instant, u64)> = None;
    loop {
        let next = tokio::select! {
            next = link.next() => next,
            _ = stop.wait_for(|stop| *stop) => return tally,
        };
        let Some(text) = next else {
            // The server ended the connection: recover as from a break.
            link.break_off();
            reconnect(&mut link, &mut tally, &mut reconnecting).await;
            continue;
        };
        let is_item = match link.kind.protocol() {
            Protocol::Pulse => text.contains("\"t\":\"broadcast\""),
            Protocol::Raw => true,
            _ => text.starts_with("42[\"item\""),
        };
        let Some(i) = is_item.then(|| index_of(&text)).flatten() else { continue };
        if let Some((started, since)) = reconnecting.take() {
            // The first message after a reconnection: a replay if it was sent before.
            if find_ts(&text).is_some_and(|ts| ts < since) {
                let _ = tally.replay.record((started.elapsed().as_micros() as u64).max(1));
            }
        }
        if last.is_some_and(|last| i <= last) {
            tally.out_of_order += 1;
        } else {
            last = Some(i);
        }
        if let Some(slot) = seen.get_mut(i as usize).filter(|slot| !**slot) {
            *slot = true;
            tally.received += 1;
        }
        // The last message, or (when it was lost in a break) the end mark after it.
        if i + 1 >= messages {
            return tally;
        }
        until_break -= 1;
        if until_break == 0 && publishing.load(Ordering::Relaxed) {
            until_break = BREAK_AFTER + rng.below(BREAK_SPREAD);
            link.break_off();
            tokio::time::sleep(Duration::from_millis(rng.below(MAX_AWAY_MS + 1))).await;
            reconnect(&mut link, &mut tally, &mut reconnecting).await;
        }
    }
}

async fn reconnect(link: &mut Link, tally: &mut Tally, reconnecting: &mut Option<(Instant, u64)>) {
    let started = (Instant::now(), now_micros());
    if link.reconnect().await {
        tally.recovered += 1;
        *reconnecting = Some(started);
    } else {
        tally.not_recovered += 1;
    }
}

/// Runs W4 and gives its JSON line.
pub async fn jitter(kind: Kind, port: u16, sessions: usize, messages: u64) -> String {
    let publishing = Arc::new(AtomicBool::new(true));
    let (stop, stopped) = watch::channel(false);
    let mut links = Vec::with_capacity(sessions);
    for chunk in (0..sessions).collect::<Vec<_>>().chunks(100) {
        links.extend(futures_util::future::join_all(chunk.iter().map(|_| Link::start(kind, port))).await);
    }
    let tasks: Vec<_> = links
        .into_iter()
        .enumerate()
        .map(|(n, link)| tokio::spawn(subscribe(link, messages, n as u64 + 1, publishing.clone(), stopped.clone())))
        .collect();

    let mut publisher = Conn::open(kind, port).await;
    let mut ticks = tokio::time::interval(PERIOD);
    for i in 0..messages {
        ticks.tick().await;
        publisher.publish(&message(i)).await;
    }
    publishing.store(false, Ordering::Relaxed);
    // Every subscriber ends with the last message, or with an end mark (index `messages`,
    // counted as no message) where a break without resume lost it: the publisher repeats
    // the mark until all are done. One that gets neither is cut off at the deadline.
    let deadline = tokio::time::sleep(Duration::from_secs(15));
    tokio::pin!(deadline);
    let mut tallies = Vec::with_capacity(sessions);
    let mut pending = futures_util::future::join_all(tasks);
    loop {
        tokio::select! {
            done = &mut pending => {
                tallies.extend(done.into_iter().map(|t| t.expect("subscriber")));
                break;
            }
            _ = ticks.tick() => publisher.publish(&message(messages)).await,
            _ = &mut deadline => {
                let _ = stop.send(true);
                tallies.extend(pending.await.into_iter().map(|t| t.expect("subscriber")));
                break;
            }
        }
    }

    let mut replay = histogram();
    let (mut received, mut out_of_order, mut in_order, mut recovered, mut not_recovered) = (0, 0, 0, 0, 0);
    for tally in &tallies {
        received += tally.received;
        out_of_order += tally.out_of_order;
        in_order += u64::from(tally.out_of_order == 0);
        recovered += tally.recovered;
        not_recovered += tally.not_recovered;
        replay.add(&tally.replay).expect("same bounds");
    }
    let expected = messages * sessions as u64;
    format!(
        r#"{{"workload":"W4","kind":"{}","sessions":{sessions},"messages":{messages},"delivered":{received},"expected":{expected},"delivered_pct":{:.3},"sessions_in_order":{in_order},"out_of_order":{out_of_order},"reconnects":{},"recovered":{recovered},"replays":{},"replay_p50_us":{},"replay_p99_us":{}}}"#,
        kind.name(),
        received as f64 * 100.0 / expected.max(1) as f64,
        recovered + not_recovered,
        replay.len(),
        replay.value_at_quantile(0.5),
        replay.value_at_quantile(0.99),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_read() {
        let item = format!(r#"42["item",{},"1700000000-12"]"#, message(7));
        assert_eq!(index_of(&item), Some(7));
        assert_eq!(offset_of(&item).as_deref(), Some("1700000000-12"));
        assert_eq!(offset_of(&format!(r#"42["item",{}]"#, message(7))), None);
        let pulse = r#"{"seq":41,"t":"broadcast","channel":"ab","event":"item","payload":{"ts":1,"i":3}}"#;
        assert_eq!((seq_of(pulse), index_of(pulse)), (Some(41), Some(3)));
        assert_eq!(field(r#"40{"sid":"s1","pid":"p1"}"#, "pid").as_deref(), Some("p1"));
    }
}

//! Resume without loss: a client whose connection breaks reconnects with its session id
//! and last sequence number and gets exactly the frames it missed, in order, once —
//! or, past the grace period or the replay buffer, a fresh session.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use pulse_runtime::{Config, PushOnly, Server};
use pulse_tests::{Harness, PATIENCE};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A client that remembers its session and the last sequence number it saw, and can
/// drop its connection (no close frame: as a network failure would) and resume.
struct Resumer {
    url: String,
    session: String,
    last_seq: u64,
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Resumer {
    async fn connect(url: &str) -> Resumer {
        let (socket, _) = tokio_tungstenite::connect_async(url).await.expect("connect");
        let mut client = Resumer { url: url.to_owned(), session: String::new(), last_seq: 0, socket };
        let hello = client.hello().await;
        client.session = hello["session"].as_str().expect("session id").to_owned();
        client
    }

    async fn hello(&mut self) -> Value {
        let hello = self.raw_frame().await;
        assert_eq!(hello["t"], "hello", "{hello}");
        hello
    }

    async fn raw_frame(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("a frame in time")
                .expect("connection open")
                .expect("a frame");
            if let Message::Text(text) = message {
                return serde_json::from_str(text.as_str()).expect("JSON");
            }
        }
    }

    /// The next session frame; checks sequence numbers have no gap and no repeat.
    async fn frame(&mut self) -> Value {
        loop {
            let frame = self.raw_frame().await;
            if frame["t"] == "ping" {
                let _ = self.socket.send(Message::text(r#"{"t":"pong"}"#)).await;
                continue;
            }
            let seq = frame["seq"].as_u64().expect("a session frame has seq");
            assert_eq!(seq, self.last_seq + 1, "frame out of order or repeated: {frame}");
            self.last_seq = seq;
            return frame;
        }
    }

    /// Cuts the connection without a close frame, as a network failure would.
    async fn cut(&mut self) {
        use tokio::io::AsyncWriteExt as _;
        if let MaybeTlsStream::Plain(tcp) = self.socket.get_mut() {
            let _ = tcp.shutdown().await;
        }
    }

    /// Drops the connection and resumes; returns the new `hello`.
    async fn break_and_resume(&mut self) -> Value {
        let url = format!("{}&resume={}&last_seq={}", self.url, self.session, self.last_seq);
        let (socket, _) = tokio_tungstenite::connect_async(url).await.expect("reconnect");
        // Replacing the socket drops the old one without a close frame.
        self.socket = socket;
        let hello = self.hello().await;
        if hello["resumed"] != true {
            self.session = hello["session"].as_str().expect("session id").to_owned();
            self.last_seq = 0;
        }
        hello
    }
}

async fn feed_server(config: Config) -> Harness {
    Harness::with_builder(Server::builder().config(config).on_session(|session| async move {
        let _ = session.open_channel("feed", PushOnly);
    }))
    .await
}

#[tokio::test]
async fn a_resumed_session_gets_exactly_the_frames_it_missed() {
    let mut harness = feed_server(Config::default()).await;
    let url = harness.running.ws_url();
    let mut client = Resumer::connect(&url).await;
    let session = harness.next_session().await;
    let open = client.frame().await;
    assert_eq!(open["t"], "open");
    let channel = session.open_channel("extra", PushOnly).unwrap();
    client.frame().await;

    for i in 0..3 {
        channel.emit("n", &i).unwrap();
    }
    assert_eq!(client.frame().await["payload"], 0);
    // A request of the server's is pending across the break.
    let ask = tokio::spawn({
        let channel = channel.clone();
        async move { channel.request("where", &()).timeout(Duration::from_secs(10)).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;

    // The connection breaks; more is sent while the client is away.
    client.cut().await;
    pulse_tests::eventually("the server noticed", || !session.is_connected()).await;
    for i in 3..6 {
        channel.emit("n", &i).unwrap();
    }
    let hello = client.break_and_resume().await;
    assert_eq!(hello["resumed"], true);
    assert_eq!(hello["session"], session.id().to_string());

    // Exactly what was missed, in order, once: 1 and 2 (already written), the request,
    // then 3..6 (queued while away).
    let mut payloads = Vec::new();
    let mut request_id = None;
    while payloads.len() < 5 {
        let frame = client.frame().await;
        match frame["t"].as_str() {
            Some("emit") => payloads.push(frame["payload"].as_i64().unwrap()),
            Some("request") => request_id = frame["id"].as_u64(),
            other => panic!("unexpected {other:?}: {frame}"),
        }
    }
    assert_eq!(payloads, vec![1, 2, 3, 4, 5]);
    let id = request_id.expect("the pending request was replayed");
    let answer = format!(r#"{{"t":"answer","channel":"{}","id":{id},"ok":"here"}}"#, channel.id());
    client.socket.send(Message::text(answer)).await.unwrap();
    assert_eq!(ask.await.unwrap(), Ok(serde_json::json!("here")));
    assert!(session.is_connected());
    assert_eq!(session.channel_count(), 2);
}

#[tokio::test]
async fn past_the_grace_period_a_resume_gets_a_fresh_session() {
    let config = Config { resume_grace: Duration::from_millis(200), ..Config::default() };
    let mut harness = feed_server(config).await;
    let mut client = Resumer::connect(&harness.running.ws_url()).await;
    let session = harness.next_session().await;
    client.frame().await;
    let old = client.session.clone();
    client.socket.close(None).await.ok();
    // A close frame is a goodbye: the session ends at once, no grace.
    tokio::time::timeout(PATIENCE, session.closed()).await.expect("ended at once");

    let mut client = Resumer::connect(&harness.running.ws_url()).await;
    let session = harness.next_session().await;
    client.frame().await;
    let seen = client.session.clone();
    assert_ne!(seen, old);
    client.cut().await;
    tokio::time::timeout(PATIENCE, session.closed()).await.expect("ended after the grace period");
    let hello = client.break_and_resume().await;
    assert_eq!(hello["resumed"], false);
    assert_ne!(client.session, seen, "a fresh session");
    assert_eq!(client.frame().await["t"], "open", "the fresh session starts from the beginning");
}

#[tokio::test]
async fn a_client_too_far_behind_gets_a_fresh_session() {
    let config = Config { replay_buffer_frames: 4, ..Config::default() };
    let mut harness = feed_server(config).await;
    let mut client = Resumer::connect(&harness.running.ws_url()).await;
    let session = harness.next_session().await;
    client.frame().await;
    let channel = session.open_channel("extra", PushOnly).unwrap();
    client.frame().await;
    for i in 0..10 {
        channel.emit("n", &i).unwrap();
    }
    // The client saw none of the ten; only the last four are kept.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let hello = client.break_and_resume().await;
    assert_eq!(hello["resumed"], false);
    tokio::time::timeout(PATIENCE, session.closed()).await.expect("the old session ended");
}

/// xorshift, for the random breaks.
fn random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jitter_every_message_arrives_in_order_once_across_random_breaks() {
    const SESSIONS: usize = 500;
    const MESSAGES: u64 = 300;
    let config = Config { inbound_frames_per_second: 10_000, inbound_burst: 10_000, ..Config::default() };
    let mut harness = feed_server(config).await;
    let url = harness.running.ws_url();

    let mut clients = Vec::new();
    for _ in 0..SESSIONS {
        let mut client = Resumer::connect(&url).await;
        harness.next_session().await;
        assert_eq!(client.frame().await["t"], "open");
        clients.push(client);
    }
    let resumes = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, mut client)| {
            let resumes = resumes.clone();
            let latencies = latencies.clone();
            tokio::spawn(async move {
                let mut rng = 0x9e37_79b9_7f4a_7c15 ^ (i as u64 + 1);
                let mut next_break = Instant::now() + Duration::from_millis(500 + random(&mut rng) % 2000);
                let mut expected = 0;
                while expected < MESSAGES {
                    if Instant::now() >= next_break {
                        let started = Instant::now();
                        let hello = client.break_and_resume().await;
                        assert_eq!(hello["resumed"], true, "session {i} could not resume");
                        latencies.lock().unwrap().push(started.elapsed());
                        resumes.fetch_add(1, Ordering::Relaxed);
                        next_break = Instant::now() + Duration::from_millis(1000 + random(&mut rng) % 2000);
                        continue;
                    }
                    let frame = tokio::select! {
                        frame = client.frame() => frame,
                        _ = tokio::time::sleep_until(next_break.into()) => continue,
                    };
                    assert_eq!(frame["t"], "broadcast");
                    assert_eq!(frame["payload"], expected, "session {i}: out of order, lost or repeated");
                    expected += 1;
                }
            })
        })
        .collect();

    let server = harness.server().clone();
    for n in 0..MESSAGES {
        server.broadcast("feed", "n", &n).unwrap();
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(60), task).await.expect("every session got everything").unwrap();
    }
    let mut latencies = latencies.lock().unwrap().clone();
    latencies.sort();
    let p99 = latencies.get(latencies.len() * 99 / 100).copied().unwrap_or_default();
    let resumed = resumes.load(Ordering::Relaxed);
    eprintln!(
        "jitter: {SESSIONS} sessions, {MESSAGES} broadcasts each, {resumed} resumes, 100% delivered in order \
         without duplicates; resume (reconnect + hello + replay start) p50 {:?}, p99 {p99:?}",
        latencies.get(latencies.len() / 2).copied().unwrap_or_default()
    );
    assert!(resumed as usize >= SESSIONS, "too few breaks to mean anything: {resumed}");
}

/// What sessions waiting to be resumed hold is bounded in total (`max_detached_bytes`):
/// the session whose frame would pass it ends (its client is given a fresh session) and
/// gives its bytes back; a session within the budget resumes with nothing lost.
#[tokio::test]
async fn detached_sessions_hold_at_most_their_budget_together() {
    let config = Config { max_detached_bytes: 150_000, ..Config::default() };
    let mut harness = feed_server(config).await;
    let url = harness.running.ws_url();
    let mut small = Resumer::connect(&url).await;
    let small_session = harness.next_session().await;
    small.frame().await;
    let mut big = Resumer::connect(&url).await;
    let big_session = harness.next_session().await;
    big.frame().await;
    small.cut().await;
    big.cut().await;
    pulse_tests::eventually("both detached", || !small_session.is_connected() && !big_session.is_connected()).await;
    let small_channel = small_session.open_channel("extra", PushOnly).unwrap();
    small_channel.emit("n", &"s".repeat(1_000)).unwrap();

    let chunk = "b".repeat(60_000);
    let big_channel = big_session.open_channel("extra", PushOnly).unwrap();
    big_channel.emit("n", &chunk).unwrap();
    big_channel.emit("n", &chunk).unwrap();
    let held = harness.server().stats().detached_bytes;
    assert!((121_000..150_000).contains(&held), "both sessions' frames are counted: {held}");
    // The third would pass 150,000 bytes: the session ends rather than grow.
    assert_eq!(big_channel.emit("n", &chunk), Err(pulse_runtime::ChannelError::Disconnected));
    tokio::time::timeout(PATIENCE, big_session.closed()).await.expect("the session ended");
    let held = harness.server().stats().detached_bytes;
    assert!(held < 2_000, "its bytes were given back: {held} held");
    assert_eq!(big.break_and_resume().await["resumed"], false);

    assert_eq!(small.break_and_resume().await["resumed"], true);
    assert_eq!(small.frame().await["t"], "open");
    assert_eq!(small.frame().await["payload"], "s".repeat(1_000));
    assert_eq!(harness.server().stats().detached_bytes, 0);
}

//! History over real sockets: a session joining a room gets the room's last broadcasts,
//! numbered, in order, before the live ones and with no duplicate or gap at the seam,
//! even under a steady stream; a client that comes back as a new session (after the
//! grace period, or on another node) gets exactly what it missed, or is told it cannot;
//! with a real redis-server every node hands out the same positions.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pulse_runtime::backplane::RedisBackplane;
use pulse_runtime::client::{Client, ServerFrame};
use pulse_runtime::{ChannelId, History, ServerBuilder};
use pulse_tests::lab::{Desk, DeskServer};
use pulse_tests::metric;
use pulse_tests::redis::RedisServer;
use pulse_tests::{Harness, eventually, next_frame};
use serde_json::{Value, json};

/// Keeps 5 broadcasts per desk; each session sits at the desk its `room` parameter names.
fn builder() -> ServerBuilder {
    pulse_runtime::Server::builder().history::<Desk>(History::last(5)).on_session(|session| async move {
        let room = session.param("room").unwrap_or_default();
        let _ = Desk::open_in(&session, &room, DeskServer::default());
    })
}

/// What a client saw of a desk's history.
#[derive(Debug, Default)]
struct Seen {
    /// The `history` frames: (epoch, offset, recovered).
    starts: Vec<(String, u64, bool)>,
    /// Numbered broadcasts: (epoch, offset, payload).
    said: Vec<(String, u64, Value)>,
}

/// A tab at one desk.
struct Tab {
    client: Client,
    desk: ChannelId,
    seen: Seen,
}

impl Tab {
    /// Connects to `harness` at desk `room`, sending `since` if given, and reads up to
    /// the desk's welcome: its `open`, the `history` frame and the replay come first.
    async fn open(harness: &mut Harness, room: &str, since: Option<Value>) -> Tab {
        let mut url = format!("{}&room={room}", harness.running.ws_url());
        if let Some(since) = since {
            url.push_str(&format!("&since={}", percent(&since.to_string())));
        }
        let (mut client, _session) = harness.connect_with_url(&url).await;
        let desk = match next_frame(&mut client).await {
            ServerFrame::Open { channel, name, room: Some(opened), .. } if name == "desk" => {
                assert_eq!(opened, json!(room));
                channel
            }
            other => panic!("expected the desk's open, got {other:?}"),
        };
        let mut tab = Tab { client, desk, seen: Seen::default() };
        // The welcome (an emit of `on_open`) and the replay may come in either order when
        // the history is read from Redis; the room's broadcasts never come before the
        // `history` frame (`read_until` checks it).
        let mut welcomed = false;
        let mut replay_ends: Option<u64> = None;
        let mut at = 0;
        tab.read_until(|frame| {
            match frame {
                ServerFrame::Emit { event, .. } if event == "welcome" => welcomed = true,
                ServerFrame::History { offset, top, .. } => (at, replay_ends) = (*offset, Some(*top)),
                ServerFrame::Broadcast { position: Some((_, offset)), .. } => at = *offset,
                _ => {}
            }
            welcomed && replay_ends.is_some_and(|top| at >= top)
        })
        .await;
        assert_eq!(tab.seen.starts.len(), 1, "one history frame: {:?}", tab.seen);
        tab
    }

    /// Reads frames, recording history frames and numbered broadcasts, until `stop`.
    async fn read_until(&mut self, mut stop: impl FnMut(&ServerFrame) -> bool) {
        loop {
            let frame = next_frame(&mut self.client).await;
            match &frame {
                ServerFrame::History { name, epoch, offset, recovered, .. } => {
                    assert_eq!(name, "desk");
                    self.seen.starts.push((epoch.clone(), *offset, *recovered));
                }
                ServerFrame::Broadcast { event, payload, position: Some((epoch, offset)), .. } => {
                    assert_eq!(event, "said");
                    assert!(!self.seen.starts.is_empty(), "a broadcast before the history frame: {frame:?}");
                    self.seen.said.push((epoch.clone(), *offset, payload.clone()));
                }
                _ => {}
            }
            if stop(&frame) {
                return;
            }
        }
    }

    /// Reads up to the broadcast whose payload is `text`.
    async fn read_until_said(&mut self, text: &str) {
        self.read_until(|f| matches!(f, ServerFrame::Broadcast { payload, .. } if payload == text)).await;
    }

    /// The payloads of the numbered broadcasts seen, in order.
    fn said(&self) -> Vec<String> {
        self.seen.said.iter().map(|(_, _, p)| p.as_str().unwrap_or_default().to_owned()).collect()
    }

    /// Every numbered broadcast follows the previous one, starting right after the
    /// `history` frame's position, all of one epoch: nothing missed or repeated.
    fn assert_contiguous(&self) {
        let (epoch, mut at, _) = self.seen.starts[0].clone();
        for (e, offset, payload) in &self.seen.said {
            assert_eq!((e, *offset), (&epoch, at + 1), "after {at}: {payload} ({:?})", self.seen);
            at = *offset;
        }
    }

    /// Where this tab stands, as `since` names it.
    fn position(&self, room: &str) -> Value {
        let (epoch, offset) = match self.seen.said.last() {
            Some((epoch, offset, _)) => (epoch.clone(), *offset),
            None => (self.seen.starts[0].0.clone(), self.seen.starts[0].1),
        };
        json!([{ "name": "desk", "room": room, "epoch": epoch, "offset": offset }])
    }
}

fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

#[tokio::test]
async fn a_joining_session_gets_the_last_broadcasts_in_order_before_live_ones() {
    let mut harness = Harness::with_builder(builder()).await;
    let mut ann = Tab::open(&mut harness, "a", None).await;
    let (epoch, offset, recovered) = ann.seen.starts[0].clone();
    assert_eq!((offset, recovered), (0, false), "a new room's history is empty");
    for n in 1..=7 {
        ann.client.emit(ann.desk, "say", &format!("m{n}")).unwrap();
    }
    ann.read_until_said("m7").await;
    assert_eq!(ann.seen.said.iter().map(|(_, o, _)| *o).collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6, 7]);
    assert!(ann.seen.said.iter().all(|(e, _, _)| *e == epoch));

    let mut bob = Tab::open(&mut harness, "a", None).await;
    assert_eq!(bob.seen.starts, [(epoch.clone(), 2, false)]);
    assert_eq!(bob.said(), ["m3", "m4", "m5", "m6", "m7"]);
    // A broadcast to the others only (typing) is live only: never numbered or kept.
    ann.client.emit(ann.desk, "typing", &true).unwrap();
    ann.client.emit(ann.desk, "say", &"m8").unwrap();
    bob.read_until_said("m8").await;
    bob.assert_contiguous();
    assert_eq!(bob.seen.said.last().map(|(_, o, _)| *o), Some(8));

    // Another room has its own history and numbering.
    let carl = Tab::open(&mut harness, "b", None).await;
    assert!(carl.seen.said.is_empty());
    assert_ne!(carl.seen.starts[0].0, epoch);
}

/// A history longer than the outbound queue (3,000 against 1,024 frames) is replayed
/// whole: the replay takes one place in the queue and goes out as the writer drains it.
#[tokio::test]
async fn a_history_longer_than_the_outbound_queue_is_replayed_whole() {
    let builder =
        pulse_runtime::Server::builder().history::<Desk>(History::last(3_000)).on_session(|session| async move {
            let room = session.param("room").unwrap_or_default();
            let _ = Desk::open_in(&session, &room, DeskServer::default());
        });
    let mut harness = Harness::with_builder(builder).await;
    let mut ann = Tab::open(&mut harness, "long", None).await;
    // In steps a live client keeps up with (its queue holds 1,024 frames).
    for step in 0..31 {
        for n in step * 100 + 1..=step * 100 + 100 {
            Desk::to_room(harness.server(), &"long".to_owned()).said(format!("m{n}"));
        }
        ann.read_until_said(&format!("m{}", step * 100 + 100)).await;
    }

    let bob = Tab::open(&mut harness, "long", None).await;
    bob.assert_contiguous();
    let expected: Vec<String> = (101..=3_100).map(|n| format!("m{n}")).collect();
    assert_eq!(bob.said(), expected, "the room's last 3,000, in order");
}

/// The latest value for a late subscriber (a poll's tally, a price): a history of one.
/// A session that joins after the value was broadcast gets it at once, in the welcome,
/// and only the latest; then the live ones.
#[tokio::test]
async fn with_a_history_of_one_a_late_subscriber_gets_the_latest_value_at_once() {
    let builder = pulse_runtime::Server::builder().history::<Desk>(History::last(1)).on_session(|session| async move {
        let room = session.param("room").unwrap_or_default();
        let _ = Desk::open_in(&session, &room, DeskServer::default());
    });
    let mut harness = Harness::with_builder(builder).await;
    let mut ann = Tab::open(&mut harness, "poll", None).await;
    for tally in ["yes 1", "yes 2", "yes 2, no 1"] {
        ann.client.emit(ann.desk, "say", &tally).unwrap();
    }
    ann.read_until_said("yes 2, no 1").await;

    let mut late = Tab::open(&mut harness, "poll", None).await;
    assert_eq!(late.said(), ["yes 2, no 1"], "the latest value, and only it, at once");
    ann.client.emit(ann.desk, "say", &"yes 3, no 1").unwrap();
    late.read_until_said("yes 3, no 1").await;
    late.assert_contiguous();
    assert_eq!(late.said(), ["yes 2, no 1", "yes 3, no 1"]);
}

#[tokio::test]
async fn a_client_that_comes_back_as_a_new_session_gets_exactly_what_it_missed() {
    let mut harness = Harness::with_builder(builder()).await;
    let mut ann = Tab::open(&mut harness, "a", None).await;
    let mut bob = Tab::open(&mut harness, "a", None).await;
    ann.client.emit(ann.desk, "say", &"before").unwrap();
    bob.read_until_said("before").await;
    let position = bob.position("a");
    drop(bob); // gone for good: it comes back as a new session
    for text in ["missed 1", "missed 2"] {
        ann.client.emit(ann.desk, "say", &text).unwrap();
    }
    ann.read_until_said("missed 2").await;

    let mut back = Tab::open(&mut harness, "a", Some(position)).await;
    let (epoch, _, _) = ann.seen.starts[0].clone();
    assert_eq!(back.seen.starts, [(epoch, 1, true)]);
    assert_eq!(back.said(), ["missed 1", "missed 2"]);
    ann.client.emit(ann.desk, "say", &"live").unwrap();
    back.read_until_said("live").await;
    back.assert_contiguous();
}

#[tokio::test]
async fn a_position_the_history_no_longer_reaches_or_of_another_epoch_is_told_so() {
    let mut harness = Harness::with_builder(builder()).await;
    let mut ann = Tab::open(&mut harness, "a", None).await;
    for n in 1..=8 {
        ann.client.emit(ann.desk, "say", &format!("m{n}")).unwrap();
    }
    ann.read_until_said("m8").await;
    let epoch = ann.seen.starts[0].0.clone();
    let cases = [
        json!([{ "name": "desk", "room": "a", "epoch": epoch, "offset": 1 }]), // 2 and 3 are gone
        json!([{ "name": "desk", "room": "a", "epoch": "another", "offset": 7 }]),
        json!([{ "name": "desk", "room": "a", "epoch": epoch, "offset": 99 }]), // ahead of the top
        json!([{ "name": "desk", "room": "b", "epoch": epoch, "offset": 7 }]),  // another room's
        json!({ "not": "a list" }),
    ];
    for since in cases {
        let tab = Tab::open(&mut harness, "a", Some(since.clone())).await;
        assert_eq!(tab.seen.starts, [(epoch.clone(), 3, false)], "{since}");
        assert_eq!(tab.said(), ["m4", "m5", "m6", "m7", "m8"], "{since}");
    }
    // A position at the top recovers with nothing to replay.
    let since = json!([{ "name": "desk", "room": "a", "epoch": epoch, "offset": 8 }]);
    let tab = Tab::open(&mut harness, "a", Some(since)).await;
    assert_eq!(tab.seen.starts, [(epoch.clone(), 8, true)]);
    assert!(tab.said().is_empty());
}

/// Sessions join room `a` while a task broadcasts to it without pause; each must get a
/// replay that meets the live stream exactly.
async fn joins_meet_a_steady_stream(nodes: &mut [Harness]) {
    let stop = Arc::new(AtomicBool::new(false));
    let publisher = {
        let server = nodes[0].server().clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                Desk::to_room(&server, &"a".to_owned()).said(format!("s{n}"));
                if n.is_multiple_of(8) {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            n
        })
    };
    let mut tabs = Vec::new();
    for i in 0..12 {
        let node = &mut nodes[i % nodes.len()];
        tabs.push(Tab::open(node, "a", None).await);
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let last = publisher.await.unwrap();
    Desk::to_room(nodes[0].server(), &"a".to_owned()).said("end".into());
    for tab in &mut tabs {
        tab.read_until_said("end").await;
        tab.assert_contiguous();
        assert_eq!(tab.seen.said.last().map(|(_, o, _)| *o), Some(last + 1));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_during_a_steady_stream_have_no_gap_or_duplicate_at_the_seam() {
    let mut nodes = [Harness::with_builder(builder()).await];
    joins_meet_a_steady_stream(&mut nodes).await;
}

/// Two nodes behind one Redis, keeping the desks' history there.
async fn two_nodes(redis: &RedisServer, prefix: &str) -> [Harness; 2] {
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let backplane = RedisBackplane::new(&redis.url()).unwrap().channel(prefix);
        let stats = backplane.stats();
        let harness = Harness::with_builder(builder().backplane(backplane)).await;
        eventually("the node subscribed to Redis", move || stats.subscriptions.load(Ordering::Relaxed) >= 1).await;
        nodes.push(harness);
    }
    let two = nodes.pop().unwrap();
    [nodes.pop().unwrap(), two]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_every_node_hands_out_the_same_positions_and_recovers_the_others_clients() {
    let redis = RedisServer::start().await;
    let [mut one, mut two] = two_nodes(&redis, "history-positions").await;
    let mut ann = Tab::open(&mut one, "a", None).await;
    for n in 1..=3 {
        ann.client.emit(ann.desk, "say", &format!("m{n}")).unwrap();
    }
    ann.read_until_said("m3").await;
    let epoch = ann.seen.starts[0].0.clone();

    // Node two serves the same history, with the same epoch and offsets.
    let mut bob = Tab::open(&mut two, "a", None).await;
    assert_eq!(bob.seen.starts, [(epoch.clone(), 0, false)]);
    assert_eq!(bob.said(), ["m1", "m2", "m3"]);
    bob.client.emit(bob.desk, "say", &"from two").unwrap();
    ann.read_until_said("from two").await;
    bob.read_until_said("from two").await;
    assert_eq!(ann.seen.said.last(), Some(&(epoch.clone(), 4, json!("from two"))));
    assert_eq!(bob.seen.said.last(), Some(&(epoch.clone(), 4, json!("from two"))));

    // Ann leaves node one at 4; two more are said; she comes back on node two.
    let position = ann.position("a");
    drop(ann);
    for text in ["x", "y"] {
        bob.client.emit(bob.desk, "say", &text).unwrap();
    }
    bob.read_until_said("y").await;
    let mut back = Tab::open(&mut two, "a", Some(position)).await;
    assert_eq!(back.seen.starts, [(epoch.clone(), 4, true)]);
    assert_eq!(back.said(), ["x", "y"]);
    bob.client.emit(bob.desk, "say", &"live").unwrap();
    back.read_until_said("live").await;
    back.assert_contiguous();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_joins_on_both_nodes_meet_a_steady_stream_exactly() {
    let redis = RedisServer::start().await;
    let mut nodes = two_nodes(&redis, "history-stream").await;
    joins_meet_a_steady_stream(&mut nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_redis_lost_starts_a_new_epoch_and_clients_are_told() {
    let redis = RedisServer::start().await;
    let [mut one, _two] = two_nodes(&redis, "history-lost").await;
    let mut ann = Tab::open(&mut one, "a", None).await;
    ann.client.emit(ann.desk, "say", &"old").unwrap();
    ann.read_until_said("old").await;
    let old = ann.position("a");
    let old_epoch = ann.seen.starts[0].0.clone();

    // Redis loses everything (a restart without persistence).
    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let () = redis::cmd("FLUSHALL").query_async(&mut connection).await.unwrap();

    ann.client.emit(ann.desk, "say", &"new").unwrap();
    ann.read_until_said("new").await;
    let (new_epoch, offset, _) = ann.seen.said.last().cloned().unwrap();
    assert_ne!(new_epoch, old_epoch);
    assert_eq!(offset, 1, "a new epoch starts at 1");
    let back = Tab::open(&mut one, "a", Some(old)).await;
    assert_eq!(back.seen.starts, [(new_epoch, 0, false)]);
    assert_eq!(back.said(), ["new"]);
}

/// A client written from docs/protocol.md alone: it sends `since` as the doc shows, and
/// the `history` frame and the numbered broadcast it gets have exactly the fields of the
/// doc's examples, in the order it says (`epoch` and `offset` right after `t`).
#[tokio::test]
async fn the_documented_history_frames_are_what_the_server_sends() {
    use futures_util::StreamExt as _;
    use tokio_tungstenite::tungstenite::Message;

    let doc = include_str!("../../docs/protocol.md");
    let example = |start: &str| -> Value {
        let at = doc.find(start).unwrap_or_else(|| panic!("protocol.md shows {start}"));
        let end = at + doc[at..].find('\n').unwrap();
        serde_json::from_str(&doc[at..end]).expect("the example is JSON")
    };
    let documented_history = example(r#"{"seq":5,"t":"history""#);
    let documented_broadcast = example(r#"{"seq":9,"t":"broadcast","epoch""#);
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();

    let mut harness = Harness::with_builder(builder()).await;
    let mut ann = Tab::open(&mut harness, "lobby", None).await;
    ann.client.emit(ann.desk, "say", &"hi").unwrap();
    ann.read_until_said("hi").await;
    let epoch = ann.seen.starts[0].0.clone();
    let since = json!([{ "name": "desk", "room": "lobby", "epoch": epoch, "offset": 0 }]);
    let url = format!("{}&room=lobby&since={}", harness.running.ws_url(), percent(&since.to_string()));
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut texts = Vec::new();
    while texts.len() < 4 {
        match tokio::time::timeout(Duration::from_secs(5), socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => texts.push(text.to_string()),
            other => panic!("expected frames, got {other:?}"),
        }
    }
    // hello, open, history, the replayed broadcast (then the welcome).
    let history: Value = serde_json::from_str(&texts[2]).unwrap();
    assert!(texts[2].starts_with(r#"{"seq":2,"t":"history","name":"desk","room":"lobby","epoch":"#), "{}", texts[2]);
    let mut expected = keys(&documented_history);
    expected.sort();
    let mut sent = keys(&history);
    sent.sort();
    assert_eq!(sent, expected);
    assert_eq!((&history["offset"], &history["top"], &history["recovered"]), (&json!(0), &json!(1), &json!(true)));
    let broadcast: Value = serde_json::from_str(&texts[3]).unwrap();
    assert!(
        texts[3].starts_with(&format!(r#"{{"seq":3,"t":"broadcast","epoch":"{epoch}","offset":1,"#)),
        "{}",
        texts[3]
    );
    let mut expected = keys(&documented_broadcast);
    expected.sort();
    let mut sent = keys(&broadcast);
    sent.sort();
    assert_eq!(sent, expected);
}

/// Broadcasts published while a node's subscription is down never reach it through
/// pub/sub; when it subscribes again, its sessions read them from the history, though no
/// later broadcast comes to reveal the gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_lost_its_subscription_fills_the_gap_from_the_history() {
    let redis = RedisServer::start().await;
    let backplane = RedisBackplane::new(&redis.url()).unwrap().channel("history-gap");
    let stats = backplane.stats();
    let mut one = Harness::with_builder(builder().backplane(backplane)).await;
    let subscribed = stats.clone();
    eventually("node one subscribed", move || subscribed.subscriptions.load(Ordering::Relaxed) >= 1).await;
    let [_, two] = two_nodes(&redis, "history-gap").await;
    let mut ann = Tab::open(&mut one, "a", None).await;
    Desk::to_room(two.server(), &"a".to_owned()).said("first".into());
    ann.read_until_said("first").await;

    // Every subscription is cut; node two (whose publishing connection is untouched)
    // makes three broadcasts before anyone can subscribe again (after 50 ms at least).
    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let _: redis::Value =
        redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub").query_async(&mut connection).await.unwrap();
    for text in ["during 1", "during 2", "during 3"] {
        Desk::to_room(two.server(), &"a".to_owned()).said(text.into());
    }
    ann.read_until_said("during 3").await;
    ann.assert_contiguous();
    assert_eq!(ann.said(), ["first", "during 1", "during 2", "during 3"]);
    assert!(stats.subscriptions.load(Ordering::Relaxed) >= 2, "node one subscribed again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_broadcasts_count_their_deliveries_on_the_node_that_made_them() {
    let redis = RedisServer::start().await;
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let backplane = RedisBackplane::new(&redis.url()).unwrap().channel("history-metrics");
        let stats = backplane.stats();
        nodes.push(Harness::with_builder(builder().backplane(backplane).metrics_unserved()).await);
        eventually("the node subscribed to Redis", move || stats.subscriptions.load(Ordering::Relaxed) >= 1).await;
    }
    let mut ann = Tab::open(&mut nodes[0], "a", None).await;
    let mut bob = Tab::open(&mut nodes[1], "a", None).await;
    ann.client.emit(ann.desk, "say", &"m1").unwrap();
    ann.read_until_said("m1").await;
    bob.read_until_said("m1").await;
    let [one, two] = [0, 1].map(|i| nodes[i].server().metrics().expect("metrics recorded"));
    assert_eq!(metric(&one, "pulse_broadcasts_total"), 1.0);
    assert_eq!(metric(&one, "pulse_broadcast_deliveries_total"), 1.0, "ann, on node one");
    assert_eq!(metric(&two, "pulse_broadcast_deliveries_total"), 0.0, "node two made no broadcast");
    // Node two counts what it receives before delivering it, so bob having it is enough.
    assert!(metric(&two, "pulse_backplane_received_total") >= 1.0);
    // A publish is counted once Redis confirms it, and Redis may hand the message to the
    // subscribers (node one's own, which delivered to ann, among them) before its reply
    // reaches the publisher: nothing orders the count before either delivery.
    let server = nodes[0].server();
    eventually("node one counted the publish Redis confirmed", || {
        metric(&server.metrics().expect("metrics recorded"), "pulse_backplane_published_total") >= 1.0
    })
    .await;
}

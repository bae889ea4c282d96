//! Broadcast across server nodes through a real redis-server: exactly once per session,
//! no echo, local delivery without Redis, and resubscription after Redis comes back.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt as _;
use pulse_runtime::backplane::{RedisBackplane, RedisStats};
use pulse_runtime::client::{Client, ServerFrame};
use pulse_runtime::{Config, PushOnly, Server, Session};
use pulse_tests::redis::RedisServer;
use pulse_tests::{Harness, eventually, expect_open, expect_silence, next_frame, upgrade_status};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

struct Node {
    harness: Harness,
    stats: Arc<RedisStats>,
    clients: Vec<(Client, Session)>,
}

async fn node(redis: &RedisServer, sessions: usize) -> Node {
    let backplane = RedisBackplane::new(&redis.url()).unwrap();
    let stats = backplane.stats();
    let mut harness = Harness::with_builder(Server::builder().backplane(backplane)).await;
    let mut clients = Vec::new();
    for _ in 0..sessions {
        let (mut client, session) = harness.connect().await;
        session.open_channel("room", PushOnly).unwrap();
        expect_open(&mut client, "room").await;
        clients.push((client, session));
    }
    let watch = stats.clone();
    eventually("the node subscribed to Redis", move || watch.subscriptions.load(Ordering::Relaxed) >= 1).await;
    Node { harness, stats, clients }
}

async fn expect_broadcast(client: &mut Client, text: &str) {
    match next_frame(client).await {
        ServerFrame::Broadcast { name, event, payload, .. } => {
            assert_eq!((name.as_str(), event.as_str()), ("room", "said"));
            assert_eq!(payload, json!(text));
        }
        other => panic!("expected the broadcast {text:?}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_reaches_every_session_on_both_nodes_exactly_once() {
    let redis = RedisServer::start().await;
    let mut one = node(&redis, 3).await;
    let mut two = node(&redis, 2).await;

    let reached_locally = one.clients[0].1.broadcast("room", "said", &"hello cluster").unwrap();
    assert_eq!(reached_locally, pulse_runtime::Delivery::Queued(3));
    for (client, _) in one.clients.iter_mut().chain(two.clients.iter_mut()) {
        expect_broadcast(client, "hello cluster").await;
    }
    // Exactly once: no echo from Redis back into node one, no duplicate on node two.
    for (client, _) in one.clients.iter_mut().chain(two.clients.iter_mut()) {
        expect_silence(client, Duration::from_millis(200)).await;
    }
    assert_eq!(one.stats.published.load(Ordering::Relaxed), 1);
    assert_eq!(two.stats.published.load(Ordering::Relaxed), 0);

    // And the other way round, from the server API of node two.
    two.harness.server().broadcast("room", "said", &"from two").unwrap();
    for (client, _) in one.clients.iter_mut().chain(two.clients.iter_mut()) {
        expect_broadcast(client, "from two").await;
    }
}

/// A burst goes to Redis in few round trips (a pipeline of the queued broadcasts): the
/// other node still gets every message once, in the order they were sent, and each is
/// counted as published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_reaches_the_other_node_whole_and_in_order() {
    let redis = RedisServer::start().await;
    let one = node(&redis, 1).await;
    let mut two = node(&redis, 1).await;
    const BURST: usize = 2000;
    for n in 0..BURST {
        one.clients[0].1.broadcast("room", "said", &format!("m{n}")).unwrap();
    }
    for n in 0..BURST {
        expect_broadcast(&mut two.clients[0].0, &format!("m{n}")).await;
    }
    expect_silence(&mut two.clients[0].0, Duration::from_millis(200)).await;
    assert_eq!(one.stats.published.load(Ordering::Relaxed), BURST as u64);
    assert_eq!(one.stats.lost.load(Ordering::Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_survive_redis_going_away_and_resubscribe_when_it_returns() {
    let mut redis = RedisServer::start().await;
    let port = redis.port;
    let mut one = node(&redis, 1).await;
    let mut two = node(&redis, 1).await;

    redis.kill();
    // Local broadcast does not depend on Redis.
    assert_eq!(
        one.harness.server().broadcast("room", "said", &"while down").unwrap(),
        pulse_runtime::Delivery::Queued(1)
    );
    expect_broadcast(&mut one.clients[0].0, "while down").await;
    // What was lost in the gap: node two never gets it.
    expect_silence(&mut two.clients[0].0, Duration::from_millis(300)).await;
    let lost = one.stats.clone();
    eventually("the failed publish is counted", move || lost.lost.load(Ordering::Relaxed) >= 1).await;
    assert!(one.clients[0].1.is_connected() && two.clients[0].1.is_connected());

    let _redis = RedisServer::start_on(port).await;
    for stats in [one.stats.clone(), two.stats.clone()] {
        eventually("the node resubscribed", move || stats.subscriptions.load(Ordering::Relaxed) >= 2).await;
    }
    two.harness.server().broadcast("room", "said", &"back again").unwrap();
    expect_broadcast(&mut two.clients[0].0, "back again").await;
    expect_broadcast(&mut one.clients[0].0, "back again").await;
    one.harness.server().broadcast("room", "said", &"and back").unwrap();
    expect_broadcast(&mut one.clients[0].0, "and back").await;
    expect_broadcast(&mut two.clients[0].0, "and back").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_room_follows_messages_sent_on_another_node() {
    let redis = RedisServer::start().await;
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let backplane = RedisBackplane::new(&redis.url()).unwrap();
        let stats = backplane.stats();
        let harness = Harness::with_builder(chat::server().backplane(backplane)).await;
        let room = harness.server().room_history::<chat::Chat>(&chat::RoomId::lobby());
        eventually("subscribed", move || stats.subscriptions.load(Ordering::Relaxed) >= 1).await;
        nodes.push((harness, room));
    }
    let (mut client, _) = nodes[0].0.connect().await;
    let channel = loop {
        if let ServerFrame::Open { channel, .. } = next_frame(&mut client).await {
            break channel;
        }
    };
    client.emit(channel, "send_message", &json!({ "user": "ann", "text": "across" })).unwrap();
    let far_room = nodes[1].1.clone();
    eventually("the other node's room has the message", move || far_room.read().len() == 1).await;
    let text = |log: &pulse_runtime::RoomLog<chat::ChatToClient>| log.iter().find_map(|e| e.as_new_message().cloned());
    assert_eq!(text(&nodes[1].1.read()).map(|m| m.text).as_deref(), Some("across"));
    assert_eq!(nodes[0].1.read().len(), 1, "the sending node's room has it once");
}

/// Nothing configured but Redis: the nodes learn each other's addresses, a client that
/// reached a node directly is told both (to fail over to), and each node admits a page
/// the other served, but not a page of no node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_behind_one_redis_learn_each_other_and_admit_each_others_pages() {
    let redis = RedisServer::start().await;
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let backplane = RedisBackplane::new(&redis.url()).unwrap().channel("cluster-nodes");
        nodes.push(Harness::with_builder(Server::builder().backplane(backplane)).await);
    }
    let mut expected: Vec<String> = nodes.iter().map(|n| format!("ws://{}/ws", n.running.local_addr())).collect();
    expected.sort();
    let url = nodes[0].running.ws_url();
    pulse_tests::eventually_async("node one names both nodes in hello", || {
        let (url, expected) = (url.clone(), expected.clone());
        async move {
            let client = Client::connect(&url).await.expect("connects");
            client.hello().nodes == expected
        }
    })
    .await;
    let other_page = format!("http://{}", nodes[1].running.local_addr());
    assert_eq!(upgrade_status(&url, Some(&other_page)).await, Ok(()), "the other node's page");
    assert_eq!(upgrade_status(&url, Some("http://127.0.0.1:9")).await, Err(403), "a page of no node");
}

/// A client whose session never goes idle (its queue never empties while it reads)
/// still hears that the cluster's nodes changed, between two batches of its frames.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_session_hears_of_a_new_node_before_its_queue_empties() {
    let redis = RedisServer::start().await;
    let node = |redis: &RedisServer| {
        let backplane = RedisBackplane::new(&redis.url()).unwrap().channel("busy-nodes");
        let config = Config { outbound_queue_frames: 100_000, ..Config::default() };
        Server::builder().backplane(backplane).config(config)
    };
    let mut one = Harness::with_builder(node(&redis)).await;
    let (mut raw, _) = tokio_tungstenite::connect_async(one.running.ws_url()).await.unwrap();
    let _hello = raw.next().await.unwrap().unwrap();
    let session = one.next_session().await;
    session.open_channel("feed", PushOnly).unwrap();

    // More than the socket's buffers hold, queued while the client does not read.
    let (frames, payload) = (2_000, "x".repeat(16 * 1024));
    for _ in 0..frames {
        one.server().broadcast("feed", "item", &payload).unwrap();
    }
    let two = Harness::with_builder(node(&redis)).await;
    let url = one.running.ws_url();
    pulse_tests::eventually_async("node one knows node two", || {
        let url = url.clone();
        async move { Client::connect(&url).await.expect("connects").hello().nodes.len() == 2 }
    })
    .await;

    let mut broadcasts = 0;
    let told_at = loop {
        let Some(Ok(Message::Text(text))) = raw.next().await else { panic!("the stream ended") };
        let frame: serde_json::Value = serde_json::from_str(&text).unwrap();
        match frame["t"].as_str() {
            Some("broadcast") => broadcasts += 1,
            Some("nodes") => break broadcasts,
            _ => {}
        }
        assert!(broadcasts < frames, "every queued frame came before the nodes frame");
    };
    assert!(told_at < frames / 2, "the nodes frame came after {told_at} of {frames} frames");
    drop(two);
}

//! `RoomHistory`: a room's history as a value server code renders from, the same on every
//! node. In memory it is whole at once and follows every broadcast; with a real
//! redis-server, broadcasts made at the same time on two nodes are held in one order on
//! both (the order Redis numbered them), a node that starts later reads the history
//! first, and a node that missed broadcasts (its subscription cut) reads them again.

use std::sync::atomic::Ordering;

use pulse_runtime::backplane::RedisBackplane;
use pulse_runtime::{History, RoomHistory, Server, ServerBuilder};
use pulse_tests::lab::Desk;
use pulse_tests::redis::RedisServer;
use pulse_tests::{Harness, eventually};

fn builder(keep: usize) -> ServerBuilder {
    Server::builder().history::<Desk>(History::last(keep))
}

/// What `history` holds now: (offset, what was said).
fn said(history: &RoomHistory<Desk>) -> Vec<(u64, String)> {
    history.read().entries().filter_map(|(offset, event)| Some((offset, event.as_said()?.clone()))).collect()
}

fn room(name: &str) -> String {
    name.to_owned()
}

#[tokio::test]
async fn in_memory_it_is_whole_at_once_and_keeps_the_historys_last() {
    let harness = Harness::with_builder(builder(3)).await;
    let server = harness.server();
    let early = server.room_history::<Desk>(&room("a"));
    assert!(early.read().is_ready(), "in memory the history is read at once");
    assert!(early.read().is_empty());
    for n in 1..=4 {
        Desk::to_room(server, &room("a")).said(format!("m{n}"));
    }
    // Sent under the history's lock: there as soon as the call returns.
    assert_eq!(said(&early), [(2, "m2".into()), (3, "m3".into()), (4, "m4".into())]);
    let late = server.room_history::<Desk>(&room("a"));
    assert_eq!(said(&late), said(&early));
    // Other rooms are other histories; a broadcast to some of the room is not kept.
    Desk::to_room(server, &room("b")).said("elsewhere".into());
    Desk::to_room(server, &room("a")).except(pulse_runtime::SessionId::generate()).said("not kept".into());
    assert_eq!(said(&early).len(), 3);
    assert_eq!(said(&server.room_history::<Desk>(&room("b"))), [(1, "elsewhere".into())]);
    // Dropping every value showing a room stops following it; a new one reads again.
    drop((early, late));
    Desk::to_room(server, &room("a")).said("m5".into());
    assert_eq!(said(&server.room_history::<Desk>(&room("a"))).last(), Some(&(5, "m5".to_owned())));
}

/// A room silent for longer than its history is kept starts a new epoch at offset 1:
/// in memory the follower reads it again at once, under the room's lock.
#[tokio::test]
async fn in_memory_a_history_that_starts_over_is_followed_into_its_new_epoch() {
    let history = History::last(10).for_at_most(std::time::Duration::from_secs(1));
    let harness = Harness::with_builder(Server::builder().history::<Desk>(history)).await;
    let server = harness.server();
    let followed = server.room_history::<Desk>(&room("e"));
    Desk::to_room(server, &room("e")).said("before".into());
    assert_eq!(said(&followed), [(1, "before".to_owned())]);
    // Waiting out the time to live is what the test is about (not a race to close).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    Desk::to_room(server, &room("e")).said("after".into());
    assert_eq!(said(&followed), [(1, "after".to_owned())], "the new epoch, read again");
    Desk::to_room(server, &room("e")).said("and on".into());
    assert_eq!(said(&followed), [(1, "after".to_owned()), (2, "and on".to_owned())]);
}

#[tokio::test]
async fn a_channel_without_history_gives_an_empty_value_and_says_why() {
    let harness = Harness::with_builder(Server::builder()).await;
    let history = harness.server().room_history::<Desk>(&room("a"));
    assert!(history.read().is_ready() && history.read().is_empty());
}

/// A node behind `redis`, keeping 100 of each desk's broadcasts there.
async fn node(redis: &RedisServer, prefix: &str) -> Harness {
    let backplane = RedisBackplane::new(&redis.url()).unwrap().channel(prefix);
    let stats = backplane.stats();
    let harness = Harness::with_builder(builder(100).backplane(backplane)).await;
    eventually("the node is connected to Redis", move || stats.subscriptions.load(Ordering::Relaxed) >= 1).await;
    harness
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_every_node_holds_the_rooms_broadcasts_in_one_order() {
    let redis = RedisServer::start().await;
    let (one, two) = (node(&redis, "room-history").await, node(&redis, "room-history").await);
    let on_one = one.server().room_history::<Desk>(&room("r"));
    let on_two = two.server().room_history::<Desk>(&room("r"));
    let ready = (on_one.clone(), on_two.clone());
    eventually("both nodes read the history", move || ready.0.read().is_ready() && ready.1.read().is_ready()).await;

    // Twenty broadcasts from each node at once.
    let (a, b) = (one.server().clone(), two.server().clone());
    let from_one = tokio::spawn(async move {
        for n in 1..=20 {
            Desk::to_room(&a, &room("r")).said(format!("one {n}"));
            tokio::task::yield_now().await;
        }
    });
    let from_two = tokio::spawn(async move {
        for n in 1..=20 {
            Desk::to_room(&b, &room("r")).said(format!("two {n}"));
            tokio::task::yield_now().await;
        }
    });
    from_one.await.unwrap();
    from_two.await.unwrap();
    let both = (on_one.clone(), on_two.clone());
    eventually("every broadcast on both nodes", move || both.0.read().len() == 40 && both.1.read().len() == 40).await;
    let held = said(&on_one);
    assert_eq!(held, said(&on_two), "the same broadcasts in the same order on both nodes");
    assert_eq!(held.iter().map(|(offset, _)| *offset).collect::<Vec<_>>(), (1..=40).collect::<Vec<_>>());
    for node in ["one", "two"] {
        let sent: Vec<String> = (1..=20).map(|n| format!("{node} {n}")).collect();
        let mine: Vec<String> = held.iter().filter(|(_, t)| t.starts_with(node)).map(|(_, t)| t.clone()).collect();
        assert_eq!(mine, sent, "each node's own in the order it sent them");
    }

    // A node that starts now reads the history before it holds anything.
    let three = node(&redis, "room-history").await;
    let on_three = three.server().room_history::<Desk>(&room("r"));
    let read = on_three.clone();
    eventually("the new node read the history", move || read.read().is_ready()).await;
    assert_eq!(said(&on_three), held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_lost_its_subscription_reads_what_it_missed() {
    let redis = RedisServer::start().await;
    let (one, two) = (node(&redis, "room-history-gap").await, node(&redis, "room-history-gap").await);
    let on_one = one.server().room_history::<Desk>(&room("g"));
    let ready = on_one.clone();
    eventually("node one read the history", move || ready.read().is_ready()).await;
    Desk::to_room(two.server(), &room("g")).said("first".into());
    let first = on_one.clone();
    eventually("node one got the first", move || first.read().len() == 1).await;

    // Every subscription is cut; node two broadcasts before anyone subscribes again.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let _: redis::Value =
        redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub").query_async(&mut connection).await.unwrap();
    for text in ["during 1", "during 2", "during 3"] {
        Desk::to_room(two.server(), &room("g")).said(text.into());
    }
    let all = on_one.clone();
    eventually("node one has what it missed", move || all.read().len() == 4).await;
    let texts: Vec<String> = said(&on_one).into_iter().map(|(_, text)| text).collect();
    assert_eq!(texts, ["first", "during 1", "during 2", "during 3"]);
}

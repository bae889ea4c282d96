//! The app's code never takes down what the server shares. With two nodes behind a real
//! redis-server: after a panic in `authenticate`, `authorize`, `on_session` or
//! `on_remote_broadcast`, the node still delivers across nodes, the panic failed only
//! its own call, and it was counted; a slow `on_remote_broadcast` in one room holds up
//! neither any room's delivery to sessions nor another room's hook.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use pulse_runtime::backplane::RedisBackplane;
use pulse_runtime::client::{Client, ClientError, ServerFrame};
use pulse_runtime::protocol::{CloseCode, ErrorCode};
use pulse_runtime::{Access, ChannelError, ChannelId, Identity, Server, ServerBuilder, Session};
use pulse_tests::lab::{Desk, DeskServer, DeskToClient};
use pulse_tests::redis::RedisServer;
use pulse_tests::{Harness, PATIENCE, eventually, expect_open, metric, next_frame};

/// A user, from the `user` query parameter.
struct User(String);

impl Identity for User {
    fn user_key(&self) -> String {
        self.0.clone()
    }
}

/// A node behind `redis`, built by `builder` (with metrics), once it is subscribed.
async fn node(redis: &RedisServer, builder: ServerBuilder) -> Harness {
    let backplane = RedisBackplane::new(&redis.url()).unwrap();
    let stats = backplane.stats();
    let harness = Harness::with_builder(builder.metrics_unserved().backplane(backplane)).await;
    eventually("the node subscribed to Redis", move || stats.subscriptions.load(Ordering::Relaxed) >= 1).await;
    harness
}

/// A client of `harness` (its URL with `query` added) whose session the server put at
/// desk `room`; returns once the desk's `open` and welcome arrived.
async fn at_desk(harness: &mut Harness, query: &str, room: &str) -> (Client, Session, ChannelId) {
    let url = format!("{}{query}", harness.running.ws_url());
    let (mut client, session) = harness.connect_with_url(&url).await;
    Desk::open_in(&session, &room.to_owned(), DeskServer::default()).expect("the desk opens");
    let desk = expect_open(&mut client, "desk").await;
    match next_frame(&mut client).await {
        ServerFrame::Emit { event, .. } if event == "welcome" => {}
        other => panic!("expected the desk's welcome, got {other:?}"),
    }
    (client, session, desk)
}

/// The next broadcast `said` at a desk: (room, text).
async fn heard(client: &mut Client) -> (String, String) {
    match next_frame(client).await {
        ServerFrame::Broadcast { name, room: Some(room), event, payload, .. } if name == "desk" && event == "said" => {
            (room.as_str().unwrap_or_default().to_owned(), payload.as_str().unwrap_or_default().to_owned())
        }
        other => panic!("expected a desk's `said`, got {other:?}"),
    }
}

fn said(room: &str, text: &str) -> (String, String) {
    (room.to_owned(), text.to_owned())
}

/// Broadcasts `text` to desk `room` from `harness`'s server.
fn say(harness: &Harness, room: &str, text: &str) {
    Desk::to_room(harness.server(), &room.to_owned()).said(text.to_owned());
}

/// Panics caught in `callback` on `harness`'s server, from its metrics.
fn panics(harness: &Harness, callback: &str) -> f64 {
    let scrape = harness.server().metrics().expect("the server has metrics");
    metric(&scrape, &format!("pulse_callback_panics_total{{callback=\"{callback}\"}}"))
}

/// Before, the hook ran on the node's one Redis subscription task and its panic ended
/// it: nothing from other nodes arrived any more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_on_remote_broadcast_hook_leaves_the_node_delivering_across_nodes() {
    let redis = RedisServer::start().await;
    let calls = Arc::new(Mutex::new(Vec::new()));
    let hook = calls.clone();
    let following = Server::builder().on_remote_broadcast::<Desk>(move |room, event| {
        assert_ne!(room, "boom", "the hook exploded");
        if let DeskToClient::Said(text) = event {
            hook.lock().unwrap().push((room, text));
        }
    });
    let mut one = node(&redis, following).await;
    let mut two = node(&redis, Server::builder()).await;
    let (mut ann, _, _) = at_desk(&mut one, "", "a").await;
    let (mut bob, _, bob_desk) = at_desk(&mut two, "", "a").await;

    for n in 0..3 {
        say(&two, "boom", &format!("boom {n}"));
        say(&two, "a", &format!("after {n}"));
        assert_eq!(heard(&mut ann).await, said("a", &format!("after {n}")));
        assert_eq!(heard(&mut bob).await, said("a", &format!("after {n}")));
    }
    // The other way too, and the hook goes on hearing room a, in order.
    bob.emit(bob_desk, "say", &"from bob").unwrap();
    assert_eq!(heard(&mut ann).await, said("a", "from bob"));
    eventually("the hook heard room a's four", || calls.lock().unwrap().len() == 4).await;
    let expected: Vec<_> = (0..3).map(|n| said("a", &format!("after {n}"))).chain([said("a", "from bob")]).collect();
    assert_eq!(*calls.lock().unwrap(), expected);
    eventually("each panic counted", || panics(&one, "on_remote_broadcast") == 3.0).await;
}

/// Before, the panic unwound through the connection's task: the client lost its
/// connection instead of getting `forbidden`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_authorize_refuses_that_access_and_the_session_carries_on() {
    let redis = RedisServer::start().await;
    let guarded = Server::builder().authorize(|_session, access| match access {
        Access::Request { event: "lookup", .. } => panic!("authorize exploded"),
        _ => Ok(()),
    });
    let mut one = node(&redis, guarded).await;
    let mut two = node(&redis, Server::builder()).await;
    let (mut ann, ann_session, ann_desk) = at_desk(&mut one, "", "a").await;
    let (mut bob, _, bob_desk) = at_desk(&mut two, "", "a").await;

    match ann.request(ann_desk, "lookup", &1).await {
        Err(ChannelError::Rejected(error)) => {
            assert_eq!(error.code, ErrorCode::Forbidden);
            assert_eq!(error.message, "internal error: the server's authorization failed", "no panic text leaks");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // The same connection and session go on, both ways across nodes.
    ann.emit(ann_desk, "say", &"still here").unwrap();
    assert_eq!(heard(&mut ann).await, said("a", "still here"));
    assert_eq!(heard(&mut bob).await, said("a", "still here"));
    bob.emit(bob_desk, "say", &"welcome back").unwrap();
    assert_eq!(heard(&mut ann).await, said("a", "welcome back"));
    assert!(ann_session.is_connected());
    assert_eq!(panics(&one, "authorize"), 1.0);
}

/// Before, the panic unwound through the upgrade's task: the client saw the connection
/// drop, not a refusal it should not retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_authenticate_refuses_that_connection_only() {
    let redis = RedisServer::start().await;
    let guarded = Server::builder().authenticate(|request| {
        let user = request.query("user").as_deref().unwrap_or("anonymous").to_owned();
        assert_ne!(user, "at-once", "authenticate exploded before its future");
        async move {
            tokio::task::yield_now().await;
            assert_ne!(user, "later", "authenticate's future exploded");
            Ok(User(user))
        }
    });
    let mut one = node(&redis, guarded).await;
    let mut two = node(&redis, Server::builder()).await;
    for user in ["at-once", "later"] {
        let url = format!("{}&user={user}", one.running.ws_url());
        match tokio::time::timeout(PATIENCE, Client::connect(&url)).await.expect("an answer in time") {
            Err(ClientError::Refused { code, reason }) => {
                assert_eq!(code, Some(CloseCode::Forbidden.code()));
                assert_eq!(reason, "forbidden: internal error: the server's authentication failed");
            }
            Err(other) => panic!("expected a refusal, got {other}"),
            Ok(_) => panic!("a connection whose authentication panicked got a session"),
        }
    }
    let (mut ann, ann_session, _) = at_desk(&mut one, "&user=ann", "a").await;
    assert_eq!(ann_session.identity::<User>().map(|user| user.0.clone()), Some("ann".to_owned()));
    let (mut bob, _, _) = at_desk(&mut two, "", "a").await;
    say(&two, "a", "across");
    assert_eq!(heard(&mut ann).await, said("a", "across"));
    assert_eq!(heard(&mut bob).await, said("a", "across"));
    say(&one, "a", "and back");
    assert_eq!(heard(&mut bob).await, said("a", "and back"));
    assert_eq!(panics(&one, "authenticate"), 2.0);
}

/// Before, a hook that panicked when called (not in its future) unwound through the
/// session's own task: the session never started serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_on_session_hook_ends_its_own_task_only() {
    let redis = RedisServer::start().await;
    let started = Arc::new(AtomicUsize::new(0));
    let hooked = Server::builder().on_session(move |_session| {
        let n = started.fetch_add(1, Ordering::SeqCst);
        assert_ne!(n, 0, "on_session exploded when called");
        async move {
            tokio::task::yield_now().await;
            assert_ne!(n, 1, "on_session's future exploded");
        }
    });
    let mut one = node(&redis, hooked).await;
    let mut two = node(&redis, Server::builder()).await;
    // The first session's hook panics when called, the second's in its future.
    let (mut ann, _, _) = at_desk(&mut one, "", "a").await;
    let (mut cat, _, cat_desk) = at_desk(&mut one, "", "a").await;
    let (mut bob, _, _) = at_desk(&mut two, "", "a").await;
    say(&two, "a", "across");
    assert_eq!(heard(&mut ann).await, said("a", "across"));
    assert_eq!(heard(&mut cat).await, said("a", "across"));
    assert_eq!(heard(&mut bob).await, said("a", "across"));
    cat.emit(cat_desk, "say", &"and back").unwrap();
    assert_eq!(heard(&mut bob).await, said("a", "and back"));
    eventually("both panics counted", || panics(&one, "on_session") == 2.0).await;
}

/// The blocked hook of room `slow` waits this long at most for the test to release it:
/// longer than [`PATIENCE`], so a node that waits for the hook fails the test.
const HOOK_BLOCKS_AT_MOST: std::time::Duration = PATIENCE.saturating_mul(3);

/// Before, the hook ran on the subscription task: while it blocked, nothing from other
/// nodes reached any session of this node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_on_remote_broadcast_hook_holds_up_only_its_own_rooms_later_calls() {
    let redis = RedisServer::start().await;
    let (release, released) = std::sync::mpsc::channel::<()>();
    let released = Mutex::new(released);
    let calls = Arc::new(Mutex::new(Vec::new()));
    let hook = calls.clone();
    let following = Server::builder().on_remote_broadcast::<Desk>(move |room, event| {
        let DeskToClient::Said(text) = event else { return };
        if (room.as_str(), text.as_str()) == ("slow", "first") {
            let _ = released.lock().unwrap().recv_timeout(HOOK_BLOCKS_AT_MOST);
        }
        hook.lock().unwrap().push((room, text));
    });
    let mut one = node(&redis, following).await;
    let two = node(&redis, Server::builder()).await;
    let (mut ann, _, _) = at_desk(&mut one, "", "slow").await;
    let (mut bob, _, _) = at_desk(&mut one, "", "fast").await;

    say(&two, "slow", "first"); // its hook call blocks until released
    say(&two, "slow", "second");
    say(&two, "fast", "quick");
    // Every session gets its room's broadcasts, the blocked room's included.
    assert_eq!(heard(&mut ann).await, said("slow", "first"));
    assert_eq!(heard(&mut ann).await, said("slow", "second"));
    assert_eq!(heard(&mut bob).await, said("fast", "quick"));
    // Another room's hook runs; the blocked room's next call waits its turn.
    eventually("room fast's hook ran", || calls.lock().unwrap().contains(&said("fast", "quick"))).await;
    assert_eq!(*calls.lock().unwrap(), [said("fast", "quick")]);

    release.send(()).unwrap();
    eventually("room slow's hooks ran", || calls.lock().unwrap().len() == 3).await;
    assert_eq!(*calls.lock().unwrap(), [said("fast", "quick"), said("slow", "first"), said("slow", "second")]);
    assert_eq!(panics(&one, "on_remote_broadcast"), 0.0);
    let scrape = one.server().metrics().unwrap();
    assert_eq!(metric(&scrape, "pulse_remote_hook_drops_total"), 0.0);
}

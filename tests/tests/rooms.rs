//! Rooms and targeted delivery over real sockets: a broadcast reaches its room only (on
//! every node, with a real redis-server), a refused room is a typed error, leaving one
//! room closes only that one, and the targets — everyone but the sender, every tab of
//! one user, one session — reach exactly whom they name.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use pulse_runtime::backplane::{RedisBackplane, RedisStats};
use pulse_runtime::client::{Client, ServerFrame};
use pulse_runtime::protocol::ErrorCode;
use pulse_runtime::{Access, ChannelError, ChannelId, Identity, Server, ServerBuilder, Session};
use pulse_tests::lab::{Desk, DeskToClient, Lobby, LobbyServer};
use pulse_tests::redis::RedisServer;
use pulse_tests::{Harness, eventually, expect_open, next_frame};
use serde_json::{Value, json};

/// A user, from the `user` query parameter.
struct User(String);

impl Identity for User {
    fn user_key(&self) -> String {
        self.0.clone()
    }
}

/// Users from `?user=`; room `staff` refused to everyone but `boss`; a lobby per session.
fn builder() -> ServerBuilder {
    Server::builder()
        .authenticate(|request| {
            let user = request.query("user").as_deref().unwrap_or("anonymous").to_owned();
            async move { Ok(User(user)) }
        })
        .authorize(|session, access| {
            let boss = session.identity::<User>().is_some_and(|u| u.0 == "boss");
            match access {
                Access::Open { name: "desk", .. } if access.room::<String>().as_deref() == Some("staff") && !boss => {
                    Err("staff only".into())
                }
                _ => Ok(()),
            }
        })
        .on_session(|session| async move {
            let _ = Lobby::open(&session, LobbyServer);
        })
}

/// One browser tab: its connection, its session, and its lobby.
struct Tab {
    client: Client,
    session: Session,
    lobby: ChannelId,
}

impl Tab {
    async fn open(harness: &mut Harness, user: &str) -> Tab {
        let url = format!("{}&user={user}", harness.running.ws_url());
        let (mut client, session) = harness.connect_with_url(&url).await;
        let lobby = expect_open(&mut client, "lobby").await;
        Tab { client, session, lobby }
    }

    /// Joins desk `room`: its `open` (with the room) and its welcome come first.
    async fn join(&mut self, room: &str) -> ChannelId {
        let answer = self.client.request(self.lobby, "join", &room).await.expect("joined");
        let desk: ChannelId = answer.as_str().expect("a channel id").parse().expect("a valid id");
        match next_frame(&mut self.client).await {
            ServerFrame::Open { channel, name, room: Some(opened), .. } => {
                assert_eq!((channel, name.as_str(), opened), (desk, "desk", json!(room)));
            }
            other => panic!("expected the desk's open, got {other:?}"),
        }
        let welcome = self.next_emit(desk).await;
        assert_eq!(welcome, ("welcome".to_owned(), json!(format!("welcome to desk {room}"))));
        desk
    }

    async fn next_emit(&mut self, channel: ChannelId) -> (String, Value) {
        match next_frame(&mut self.client).await {
            ServerFrame::Emit { channel: on, event, payload, .. } if on == channel => (event, payload),
            other => panic!("expected an emit on {channel}, got {other:?}"),
        }
    }

    /// The next broadcast: (channel name, room, event, payload).
    async fn next_broadcast(&mut self) -> (String, Option<Value>, String, Value) {
        match next_frame(&mut self.client).await {
            ServerFrame::Broadcast { name, room, event, payload, .. } => (name, room, event, payload),
            other => panic!("expected a broadcast, got {other:?}"),
        }
    }

    /// Says `marker` at `desk` and reads up to its `said`: a broadcast this tab should
    /// not get would have been queued before it, so it would show up here first.
    async fn nothing_before_marker(&mut self, desk: ChannelId, room: &str, marker: &str) {
        self.client.emit(desk, "say", &marker).unwrap();
        let heard = self.next_broadcast().await;
        assert_eq!(heard, ("desk".into(), Some(json!(room)), "said".into(), json!(marker)));
    }
}

fn said(room: &str, text: &str) -> (String, Option<Value>, String, Value) {
    ("desk".into(), Some(json!(room)), "said".into(), json!(text))
}

#[tokio::test]
async fn a_broadcast_reaches_its_room_only_and_each_room_of_a_session_once() {
    let mut harness = Harness::with_builder(builder()).await;
    let mut ann = Tab::open(&mut harness, "ann").await;
    let mut bob = Tab::open(&mut harness, "bob").await;
    let ann_a = ann.join("a").await;
    let ann_b = ann.join("b").await;
    let bob_a = bob.join("a").await;

    ann.client.emit(ann_a, "say", &"in a").unwrap();
    assert_eq!(ann.next_broadcast().await, said("a", "in a"));
    assert_eq!(bob.next_broadcast().await, said("a", "in a"));

    ann.client.emit(ann_b, "say", &"in b").unwrap();
    assert_eq!(ann.next_broadcast().await, said("b", "in b"));
    // Ann heard "in b", so it was queued for every member already: not for bob.
    bob.nothing_before_marker(bob_a, "a", "bob's marker").await;
    // And ann got "in a" once, though she is in two desks.
    assert_eq!(ann.next_broadcast().await, said("a", "bob's marker"));
}

#[tokio::test]
async fn server_code_broadcasts_to_a_room_by_its_key() {
    let mut harness = Harness::with_builder(builder()).await;
    let mut ann = Tab::open(&mut harness, "ann").await;
    let mut bob = Tab::open(&mut harness, "bob").await;
    ann.join("a").await;
    let bob_b = bob.join("b").await;
    let reached = Desk::to_room(harness.server(), &"a".to_owned()).said("from the server".into());
    assert_eq!(reached.queued(), Some(1));
    assert_eq!(ann.next_broadcast().await, said("a", "from the server"));
    bob.nothing_before_marker(bob_b, "b", "marker").await;
    // A room nobody is in reaches nobody.
    assert_eq!(Desk::to_room(harness.server(), &"empty".to_owned()).said("anyone?".into()).queued(), Some(0));
}

#[tokio::test]
async fn typing_reaches_the_others_in_the_room_never_the_typist() {
    let mut harness = Harness::with_builder(builder()).await;
    let mut ann = Tab::open(&mut harness, "ann").await;
    let mut bob = Tab::open(&mut harness, "bob").await;
    let ann_a = ann.join("a").await;
    bob.join("a").await;
    ann.client.emit(ann_a, "typing", &true).unwrap();
    assert_eq!(bob.next_broadcast().await, ("desk".into(), Some(json!("a")), "someone_typing".into(), json!(true)));
    ann.nothing_before_marker(ann_a, "a", "typed").await;
}

#[tokio::test]
async fn a_refused_room_is_a_typed_error_and_disturbs_nothing() {
    let mut harness = Harness::with_builder(builder()).await;
    let mut ann = Tab::open(&mut harness, "ann").await;
    let refused = ann.client.request(ann.lobby, "join", &"staff").await;
    match refused {
        Err(ChannelError::Rejected(error)) => {
            assert_eq!(error.code, ErrorCode::Failed);
            assert_eq!(error.data, Some(json!({ "kind": "forbidden", "reason": "staff only" })));
        }
        other => panic!("expected the typed refusal, got {other:?}"),
    }
    assert_eq!(ann.session.channel_count(), 1, "no desk was opened");
    // The same session may still join other rooms, and the boss may join staff.
    ann.join("a").await;
    let mut boss = Tab::open(&mut harness, "boss").await;
    boss.join("staff").await;
}

#[tokio::test]
async fn leaving_one_room_closes_only_that_one() {
    let mut harness = Harness::with_builder(builder()).await;
    let mut ann = Tab::open(&mut harness, "ann").await;
    let a = ann.join("a").await;
    let b = ann.join("b").await;
    ann.client.close_channel(a).unwrap();
    match next_frame(&mut ann.client).await {
        ServerFrame::Close { channel, reason, .. } => assert_eq!((channel, reason.as_str()), (a, "client")),
        other => panic!("expected the close of desk a, got {other:?}"),
    }
    ann.nothing_before_marker(b, "b", "still in b").await;
    assert_eq!(Desk::to_room(harness.server(), &"a".to_owned()).said("gone".into()).queued(), Some(0));
    assert_eq!(ann.session.channel_count(), 2, "the lobby and desk b");
}

#[tokio::test]
async fn targets_reach_every_tab_of_a_user_one_session_or_all_but_one() {
    let mut harness = Harness::with_builder(builder()).await;
    let mut ann1 = Tab::open(&mut harness, "ann").await;
    let mut ann2 = Tab::open(&mut harness, "ann").await;
    let mut bob = Tab::open(&mut harness, "bob").await;
    assert_eq!(ann1.session.user_key(), Some("ann"));
    let lobby = || Lobby::broadcast(harness.server());

    assert_eq!(lobby().to_user("ann").notice("for ann".into()).queued(), Some(2));
    assert_eq!(lobby().to_session(bob.session.id()).notice("for bob".into()).queued(), Some(1));
    assert_eq!(lobby().except(ann1.session.id()).notice("not for ann1".into()).queued(), Some(2));
    assert_eq!(lobby().notice("for all".into()).queued(), Some(3));

    // Each tab reads up to "for all", the last one sent: what it should have got came
    // before it, in order; what it should not have got is not there.
    expect_notices(&mut ann1, &["for ann", "for all"]).await;
    expect_notices(&mut ann2, &["for ann", "not for ann1", "for all"]).await;
    expect_notices(&mut bob, &["for bob", "not for ann1", "for all"]).await;
}

async fn expect_notices(tab: &mut Tab, want: &[&str]) {
    let mut got = Vec::new();
    while got.last().map(String::as_str) != Some("for all") {
        let (name, _, event, payload) = tab.next_broadcast().await;
        assert_eq!((name.as_str(), event.as_str()), ("lobby", "notice"));
        got.push(payload.as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(got, want);
}

/// Two nodes behind one Redis.
async fn two_nodes(redis: &RedisServer) -> (Harness, Harness) {
    let ((one, _), (two, _)) = two_nodes_with_stats(redis).await;
    (one, two)
}

/// Two nodes behind one Redis, with their backplanes' counters.
async fn two_nodes_with_stats(redis: &RedisServer) -> ((Harness, Arc<RedisStats>), (Harness, Arc<RedisStats>)) {
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let backplane = RedisBackplane::new(&redis.url()).unwrap();
        let stats: Arc<_> = backplane.stats();
        let harness = Harness::with_builder(builder().backplane(backplane)).await;
        let subscribed = stats.clone();
        eventually("the node subscribed to Redis", move || subscribed.subscriptions.load(Ordering::Relaxed) >= 1).await;
        nodes.push((harness, stats));
    }
    let two = nodes.pop().unwrap();
    (nodes.pop().unwrap(), two)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_and_users_reach_across_nodes() {
    let redis = RedisServer::start().await;
    let (mut one, mut two) = two_nodes(&redis).await;
    let mut ann_here = Tab::open(&mut one, "ann").await;
    let mut ann_there = Tab::open(&mut two, "ann").await;
    let mut bob_there = Tab::open(&mut two, "bob").await;
    let ann_a = ann_here.join("a").await;
    ann_there.join("a").await;
    let bob_b = bob_there.join("b").await;

    // A handler's broadcast on node one reaches room a on node two, not room b.
    ann_here.client.emit(ann_a, "say", &"across").unwrap();
    assert_eq!(ann_here.next_broadcast().await, said("a", "across"));
    assert_eq!(ann_there.next_broadcast().await, said("a", "across"));

    // Server code on node two, by key, reaches node one.
    assert_eq!(Desk::to_room(two.server(), &"a".to_owned()).said("from two".into()).queued(), Some(1));
    assert_eq!(ann_here.next_broadcast().await, said("a", "from two"));
    assert_eq!(ann_there.next_broadcast().await, said("a", "from two"));

    // Every tab of one user, on both nodes; one session on the other node.
    assert_eq!(Lobby::broadcast(one.server()).to_user("ann").notice("hi ann".into()).queued(), Some(1));
    let notice = |text: &str| ("lobby".to_owned(), None, "notice".to_owned(), json!(text));
    assert_eq!(ann_here.next_broadcast().await, notice("hi ann"));
    assert_eq!(ann_there.next_broadcast().await, notice("hi ann"));
    assert_eq!(
        Lobby::broadcast(one.server()).to_session(bob_there.session.id()).notice("hi bob".into()).queued(),
        Some(0)
    );
    assert_eq!(bob_there.next_broadcast().await, notice("hi bob"));
    // Bob got neither "across" nor "from two" nor "hi ann": all were queued before this.
    bob_there.nothing_before_marker(bob_b, "b", "bob's marker").await;
}

/// A node receives from Redis only the broadcasts of rooms it has sessions in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_receives_nothing_of_a_room_it_has_no_session_in() {
    let redis = RedisServer::start().await;
    let ((mut one, _), (mut two, two_stats)) = two_nodes_with_stats(&redis).await;
    let mut ann = Tab::open(&mut one, "ann").await;
    let mut bob = Tab::open(&mut two, "bob").await;
    ann.join("a").await;
    bob.join("b").await;
    let before = two_stats.received.load(Ordering::Relaxed);
    for n in 0..50 {
        Desk::to_room(one.server(), &"a".to_owned()).said(format!("a{n}"));
    }
    // Then one to room b: node two gets it, after anything of room a it would have got.
    Desk::to_room(one.server(), &"b".to_owned()).said("b".into());
    assert_eq!(bob.next_broadcast().await, said("b", "b"));
    assert_eq!(two_stats.received.load(Ordering::Relaxed) - before, 1, "node two received room a's broadcasts");
    for n in 0..50 {
        assert_eq!(ann.next_broadcast().await, said("a", &format!("a{n}")));
    }
}

/// A room new to a node: its `open` waits until the node receives the room's broadcasts,
/// so one made on another node the moment the client hears `open` reaches it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_new_to_a_node_hears_the_other_nodes_from_its_open_on() {
    let redis = RedisServer::start().await;
    let (one, mut two) = two_nodes(&redis).await;
    let mut bob = Tab::open(&mut two, "bob").await;
    for room in ["c", "d", "e", "f", "g"] {
        bob.join(room).await; // returns once the desk's open and welcome arrived
        Desk::to_room(one.server(), &room.to_owned()).said("right away".into());
        assert_eq!(bob.next_broadcast().await, said(room, "right away"));
    }
}

/// A node whose hook follows a whole channel, with a session in one of its rooms, hears
/// each broadcast of that room once: the room is not subscribed a second time beside
/// the channel's pattern.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_followed_channel_delivers_each_broadcast_once() {
    let redis = RedisServer::start().await;
    let heard = Arc::new(std::sync::Mutex::new(Vec::new()));
    let hook = heard.clone();
    let backplane = RedisBackplane::new(&redis.url()).unwrap();
    let stats = backplane.stats();
    let following = builder().backplane(backplane).on_remote_broadcast::<Desk>(move |room, event| {
        if let DeskToClient::Said(text) = event {
            hook.lock().unwrap().push((room, text));
        }
    });
    let mut one = Harness::with_builder(following).await;
    eventually("node one subscribed", move || stats.subscriptions.load(Ordering::Relaxed) >= 1).await;
    let (_, (two, _)) = two_nodes_with_stats(&redis).await;
    let mut ann = Tab::open(&mut one, "ann").await;
    ann.join("a").await;
    for n in 0..3 {
        Desk::to_room(two.server(), &"a".to_owned()).said(format!("s{n}"));
    }
    // Last, a room node one has no session in.
    Desk::to_room(two.server(), &"elsewhere".to_owned()).said("last".into());
    for n in 0..3 {
        assert_eq!(ann.next_broadcast().await, said("a", &format!("s{n}")));
    }
    // Each room's hook calls run in arrival order (on a runner of that room's own), so
    // once a room's marker was heard, any second copy of its broadcasts was heard too.
    for room in ["a", "elsewhere"] {
        Desk::to_room(two.server(), &room.to_owned()).said("marker".into());
    }
    let marker_heard = |room: &str| heard.lock().unwrap().iter().any(|(r, text)| r == room && text == "marker");
    eventually("the hook heard both markers", || marker_heard("a") && marker_heard("elsewhere")).await;
    let heard = heard.lock().unwrap().clone();
    assert_eq!(heard.len(), 6, "each broadcast once: {heard:?}");
}

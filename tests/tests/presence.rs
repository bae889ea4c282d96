//! Presence over real sockets: a session joining a table gets the list, then only the
//! changes; a user with two tabs is listed once and leaves with the last; a connection
//! that breaks and resumes within the grace period causes no leave; with a real
//! redis-server every node shows the same list, and a node killed with SIGKILL takes its
//! sessions off the others' lists within the stated bound.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use pulse_runtime::backplane::RedisBackplane;
use pulse_runtime::client::{Client, ServerFrame};
use pulse_runtime::{ChannelId, Server, ServerBuilder};
use pulse_tests::lab::{Table, TableServer};
use pulse_tests::redis::RedisServer;
use pulse_tests::{Harness, eventually, next_frame};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// Users from `?user=` (`%22` and `%5C` decoded); each session sits at the table
/// `?table=` names.
fn builder() -> ServerBuilder {
    Server::builder()
        .authenticate(|request| {
            let user = request.query("user").as_deref().unwrap_or("anonymous").to_owned();
            async move { Ok::<_, String>(user) }
        })
        .on_session(|session| async move {
            if let Some(table) = session.param("table") {
                let _ = Table::open_in(&session, &table, TableServer::default());
            }
        })
}

/// What a client knows of the table's list: session id → (user, meta).
type List = BTreeMap<String, (String, Value)>;

/// One tab at a table, keeping the list as the frames change it.
struct Guest {
    client: Client,
    table: ChannelId,
    list: List,
}

impl Guest {
    /// Connects as `user` at table `table` of the server at `base` (a `ws://…?v=1` URL):
    /// the table's `open`, then its whole list.
    async fn open(base: &str, user: &str, table: &str) -> Guest {
        let client = Client::connect(&format!("{base}&user={user}&table={table}")).await.expect("connect");
        Guest::opened(client, table).await
    }

    async fn opened(mut client: Client, table: &str) -> Guest {
        let channel = match next_frame(&mut client).await {
            ServerFrame::Open { channel, name, room, .. } if name == "table" => {
                assert_eq!(room, Some(json!(table)));
                channel
            }
            other => panic!("expected the table's open, got {other:?}"),
        };
        let mut guest = Guest { client, table: channel, list: List::new() };
        let state = guest.next_presence().await;
        assert!(state, "the first presence frame is the whole list");
        guest
    }

    /// Reads up to the next presence frame and applies it; returns whether it was the
    /// whole list.
    async fn next_presence(&mut self) -> bool {
        loop {
            if let ServerFrame::Presence { state, joins, leaves, name, .. } = next_frame(&mut self.client).await {
                assert_eq!(name, "table");
                if state {
                    self.list.clear();
                }
                for (_, entries) in leaves.as_object().expect("leaves by user") {
                    for entry in entries.as_array().expect("a list") {
                        self.list.remove(entry["id"].as_str().expect("an id"));
                    }
                }
                for (user, entries) in joins.as_object().expect("joins by user") {
                    for entry in entries.as_array().expect("a list") {
                        let id = entry["id"].as_str().expect("an id").to_owned();
                        self.list.insert(id, (user.clone(), entry["meta"].clone()));
                    }
                }
                return state;
            }
        }
    }

    fn sit(&self, name: &str) {
        self.client.emit(self.table, "sit", &name).unwrap();
    }

    /// The list as users and the names they sit with, sorted.
    fn seated(&self) -> Vec<(String, String)> {
        let mut seated: Vec<(String, String)> = self
            .list
            .values()
            .map(|(user, meta)| (user.clone(), meta["name"].as_str().unwrap_or_default().to_owned()))
            .collect();
        seated.sort();
        seated
    }

    /// Reads presence frames until the list is `want`.
    async fn until_seated(&mut self, want: &[(&str, &str)]) {
        let want: Vec<(String, String)> = want.iter().map(|(u, n)| ((*u).to_owned(), (*n).to_owned())).collect();
        while self.seated() != want {
            self.next_presence().await;
        }
    }
}

fn seat(user: &str, name: &str) -> (String, String) {
    (user.to_owned(), name.to_owned())
}

#[tokio::test]
async fn a_joining_session_gets_the_list_then_only_the_changes() {
    let harness = Harness::with_builder(builder()).await;
    let base = harness.running.ws_url();
    let mut ann = Guest::open(&base, "ann", "t").await;
    assert!(ann.list.is_empty());
    ann.sit("Ann");
    ann.until_seated(&[("ann", "Ann")]).await;

    let mut bob = Guest::open(&base, "bob", "t").await;
    assert_eq!(bob.seated(), [seat("ann", "Ann")], "the list as it is when bob joins");
    let ann_id = ann.client.session_id().to_string();
    assert_eq!(bob.list[&ann_id].1, json!({ "name": "Ann", "dealing": false }));

    // An update is a leave of the old entry and a join of the new one, in one frame.
    ann.client.emit(ann.table, "deal", &true).unwrap();
    assert!(!bob.next_presence().await);
    assert_eq!(bob.list[&ann_id].1, json!({ "name": "Ann", "dealing": true }));
    bob.sit("Bob");
    ann.until_seated(&[("ann", "Ann"), ("bob", "Bob")]).await;
    bob.until_seated(&[("ann", "Ann"), ("bob", "Bob")]).await;
    // Standing up leaves the list but not the table; another table is another list.
    ann.client.emit(ann.table, "stand", &()).unwrap();
    bob.until_seated(&[("bob", "Bob")]).await;
    let carl = Guest::open(&base, "carl", "elsewhere").await;
    assert!(carl.list.is_empty());
}

#[tokio::test]
async fn a_user_with_two_tabs_is_listed_once_and_leaves_with_the_last() {
    let harness = Harness::with_builder(builder()).await;
    let base = harness.running.ws_url();
    let mut watcher = Guest::open(&base, "watcher", "t").await;
    let tab1 = Guest::open(&base, "ann", "t").await;
    let tab2 = Guest::open(&base, "ann", "t").await;
    tab1.sit("Ann");
    tab2.sit("Ann");
    watcher.until_seated(&[("ann", "Ann"), ("ann", "Ann")]).await;
    let users: std::collections::BTreeSet<&String> = watcher.list.values().map(|(user, _)| user).collect();
    assert_eq!(users.len(), 1, "one user, with two sessions: {:?}", watcher.list);

    tab1.client.close().await;
    watcher.until_seated(&[("ann", "Ann")]).await;
    assert!(watcher.list.contains_key(&tab2.client.session_id().to_string()));
    tab2.client.close().await;
    watcher.until_seated(&[]).await;
}

/// A raw connection, to break it without a close frame and resume it.
struct Raw {
    socket: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
}

impl Raw {
    async fn connect(url: &str) -> Raw {
        let (socket, _) = tokio_tungstenite::connect_async(url).await.expect("connect");
        Raw { socket }
    }

    async fn frame(&mut self) -> Value {
        loop {
            let message =
                tokio::time::timeout(Duration::from_secs(5), self.socket.next()).await.expect("a frame in time");
            if let Some(Ok(Message::Text(text))) = message {
                let frame: Value = serde_json::from_str(&text).unwrap();
                if frame["t"] != "ping" {
                    return frame;
                }
            }
        }
    }
}

#[tokio::test]
async fn a_connection_that_resumes_within_the_grace_period_never_leaves_the_list() {
    let harness = Harness::with_builder(builder()).await;
    let base = harness.running.ws_url();
    let mut watcher = Guest::open(&base, "watcher", "t").await;

    let mut ann = Raw::connect(&format!("{base}&user=ann&table=t")).await;
    let hello = ann.frame().await;
    let open = ann.frame().await;
    assert_eq!((open["t"].as_str(), open["name"].as_str()), (Some("open"), Some("table")));
    let table = open["channel"].as_str().unwrap().to_owned();
    let emit = json!({"t": "emit", "channel": table, "event": "sit", "payload": "Ann"});
    ann.socket.send(Message::text(emit.to_string())).await.unwrap();
    watcher.until_seated(&[("ann", "Ann")]).await;

    // The connection breaks (no close frame) and comes back with the session.
    let mut last_seq = 0;
    while last_seq < 3 {
        last_seq = ann.frame().await["seq"].as_u64().unwrap_or(last_seq);
    }
    drop(ann);
    let session = hello["session"].as_str().unwrap();
    let mut back = Raw::connect(&format!("{base}&user=ann&table=t&resume={session}&last_seq={last_seq}")).await;
    assert_eq!(back.frame().await["resumed"], true);
    let deal = json!({"t": "emit", "channel": table, "event": "deal", "payload": true});
    back.socket.send(Message::text(deal.to_string())).await.unwrap();
    // The next change the watcher hears is the deal: no leave and join came before it.
    assert!(!watcher.next_presence().await);
    let ann_entry = watcher.list.get(session).expect("ann is still listed");
    assert_eq!(ann_entry.1, json!({ "name": "Ann", "dealing": true }));
}

/// Two nodes behind one Redis, with a short presence timeout.
async fn node(redis: &RedisServer, timeout: Duration) -> Harness {
    let backplane = RedisBackplane::new(&redis.url()).unwrap().presence_timeout(timeout);
    let stats = backplane.stats();
    let harness = Harness::with_builder(builder().backplane(backplane)).await;
    eventually("the node subscribed to Redis", move || stats.subscriptions.load(Ordering::Relaxed) >= 1).await;
    harness
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_shows_the_same_list() {
    let redis = RedisServer::start().await;
    let one = node(&redis, Duration::from_secs(10)).await;
    let two = node(&redis, Duration::from_secs(10)).await;
    let mut ann = Guest::open(&one.running.ws_url(), "ann", "t").await;
    ann.sit("Ann");
    ann.until_seated(&[("ann", "Ann")]).await;
    let mut bob = Guest::open(&two.running.ws_url(), "bob", "t").await;
    assert_eq!(bob.seated(), [seat("ann", "Ann")], "node two read the list from Redis");
    bob.sit("Bob");
    let ann_there = Guest::open(&two.running.ws_url(), "ann", "t").await;
    ann_there.sit("Ann");
    let both = [("ann", "Ann"), ("ann", "Ann"), ("bob", "Bob")];
    ann.until_seated(&both).await;
    bob.until_seated(&both).await;
    assert_eq!(ann.list, bob.list, "the same list, entry for entry");
    // Leaving on node one shows on node two.
    ann.client.close().await;
    bob.until_seated(&[("ann", "Ann"), ("bob", "Bob")]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_nodes_sessions_leave_every_list_within_the_bound() {
    let timeout = Duration::from_secs(2);
    let redis = RedisServer::start().await;
    let survivor = node(&redis, timeout).await;
    let mut doomed = Command::new(env!("CARGO_BIN_EXE_failover-node"))
        .env("PULSE_REDIS_URL", redis.url())
        .env("PULSE_PRESENCE_TIMEOUT_MS", timeout.as_millis().to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start failover-node");
    let mut line = String::new();
    BufReader::new(doomed.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port: u16 = line.trim().strip_prefix("listening on ").and_then(|p| p.parse().ok()).expect("its port");

    let mut watcher = Guest::open(&survivor.running.ws_url(), "watcher", "t").await;
    let mut guests = Vec::new();
    for user in ["ann", "bob", "carl"] {
        let guest = Guest::open(&format!("ws://127.0.0.1:{port}/ws?v=1"), user, "t").await;
        guest.sit(user);
        guests.push(guest);
    }
    watcher.until_seated(&[("ann", "ann"), ("bob", "bob"), ("carl", "carl")]).await;

    let killed = Instant::now();
    let _ = doomed.kill();
    let _ = doomed.wait();
    while !watcher.list.is_empty() {
        let frame = tokio::time::timeout(Duration::from_secs(30), watcher.next_presence()).await;
        assert!(frame.is_ok(), "the dead node's sessions are still listed after 30 s: {:?}", watcher.list);
    }
    let took = killed.elapsed();
    // A dead node stays listed for its timeout, then for at most half a timeout until a
    // sweep; a second of slack for a busy machine.
    let bound = timeout + timeout / 2 + Duration::from_secs(1);
    println!("presence: a killed node's 3 sessions left the list {took:?} after SIGKILL (timeout {timeout:?})");
    assert!(took <= bound, "took {took:?}, more than {bound:?}");
}

/// A client written from docs/protocol.md alone: the `presence` frames it gets have
/// exactly the fields of the doc's examples, in the doc's order.
#[tokio::test]
async fn the_documented_presence_frames_are_what_the_server_sends() {
    let doc = include_str!("../../docs/protocol.md");
    let example = |start: &str| -> Value {
        let at = doc.find(start).unwrap_or_else(|| panic!("protocol.md shows {start}"));
        let end = at + doc[at..].find('\n').unwrap();
        serde_json::from_str(&doc[at..end]).expect("the example is JSON")
    };
    let documented_state = example(r#"{"seq":6,"t":"presence""#);
    let documented_change = example(r#"{"seq":8,"t":"presence""#);
    let shape = |v: &Value| {
        let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };

    let harness = Harness::with_builder(builder()).await;
    let base = harness.running.ws_url();
    let mut ann = Raw::connect(&format!("{base}&user=ann&table=lobby")).await;
    let hello = ann.frame().await;
    let open = ann.frame().await;
    let state = ann.frame().await;
    assert_eq!(shape(&state), shape(&documented_state));
    assert_eq!(
        (&state["t"], &state["name"], &state["room"], &state["state"]),
        (&json!("presence"), &json!("table"), &json!("lobby"), &json!(true))
    );
    let emit = json!({"t": "emit", "channel": open["channel"], "event": "sit", "payload": "Ann"});
    ann.socket.send(Message::text(emit.to_string())).await.unwrap();
    let change = ann.frame().await;
    assert_eq!(shape(&change), shape(&documented_change));
    let session = hello["session"].as_str().unwrap();
    assert_eq!(change["joins"], json!({ "ann": [{ "id": session, "meta": { "name": "Ann", "dealing": false } }] }));
    assert_eq!(change["leaves"], json!({}));
}

/// A user key that JSON escapes (a quote, a backslash) is listed like any other, also
/// when the list goes through Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_key_that_needs_escaping_is_listed_through_redis() {
    let redis = RedisServer::start().await;
    let one = node(&redis, Duration::from_secs(10)).await;
    let two = node(&redis, Duration::from_secs(10)).await;
    let quoted = Guest::open(&one.running.ws_url(), "a%22b%5Cc", "t").await;
    quoted.sit("Quoted");
    let mut watcher = Guest::open(&two.running.ws_url(), "watcher", "t").await;
    watcher.until_seated(&[("a\"b\\c", "Quoted")]).await;
}

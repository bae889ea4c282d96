//! Failover without loss: two node processes behind one real redis-server, clients spread
//! over both at one desk, a steady stream of broadcasts; node one is killed with SIGKILL.
//! Its clients reconnect to node two with their positions (`since`), and every client
//! ends with every broadcast, in order, without duplicates. Prints the time from the kill
//! to each client's full recovery (p50, p99), as docs/reliability.md reports it.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pulse_runtime::ChannelId;
use pulse_runtime::client::{Client, ServerFrame};
use pulse_tests::redis::RedisServer;
use serde_json::json;

/// A node process; killed (SIGKILL) when dropped.
struct Node {
    child: Child,
    port: u16,
}

impl Node {
    fn start(redis: &RedisServer) -> Node {
        let mut child = Command::new(env!("CARGO_BIN_EXE_failover-node"))
            .env("PULSE_REDIS_URL", redis.url())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start failover-node");
        let stdout = child.stdout.take().expect("its stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("it prints its port");
        let port = line.trim().strip_prefix("listening on ").and_then(|p| p.parse().ok()).expect("listening on <port>");
        Node { child, port }
    }

    /// Kills the process as a crash would: no close frame, no goodbye to Redis.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A client at the desk, keeping what it saw of the room across its sessions.
struct Reader {
    client: Client,
    /// Where it stands: (epoch, offset).
    at: Option<(String, u64)>,
    /// Every `said` payload, in the order seen.
    said: Vec<String>,
    /// The offset its replay runs to, while one is being read.
    replay_to: Option<u64>,
}

const ROOM: &str = "failover";

fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

impl Reader {
    /// Connects to the node on `port`, sending where it stands if it knows.
    async fn connect(port: u16, at: Option<&(String, u64)>) -> (Client, ChannelId) {
        let mut url = format!("ws://127.0.0.1:{port}/ws?v=1&room={ROOM}");
        if let Some((epoch, offset)) = at {
            let since = json!([{ "name": "desk", "room": ROOM, "epoch": epoch, "offset": offset }]);
            url.push_str(&format!("&since={}", percent(&since.to_string())));
        }
        let mut client = Client::connect(&url).await.expect("connect");
        match next(&mut client).await {
            ServerFrame::Open { channel, name, .. } if name == "desk" => (client, channel),
            other => panic!("expected the desk's open, got {other:?}"),
        }
    }

    async fn join(node: &Node) -> Reader {
        let (client, _) = Reader::connect(node.port, None).await;
        Reader { client, at: None, said: Vec::new(), replay_to: None }
    }

    /// Reads one frame; `false` when the connection ended.
    async fn step(&mut self) -> bool {
        match next(&mut self.client).await {
            ServerFrame::History { epoch, offset, top, recovered, .. } => {
                if let Some(at) = &self.at {
                    assert!(recovered && (&epoch, offset) == (&at.0, at.1), "recovery from {at:?}: {epoch} {offset}");
                }
                self.at = Some((epoch, offset));
                self.replay_to = Some(top);
            }
            ServerFrame::Broadcast { payload, position: Some((epoch, offset)), .. } => {
                let (at_epoch, at) = self.at.clone().expect("a broadcast after the history frame");
                assert_eq!((&epoch, offset), (&at_epoch, at + 1), "after {at}: {payload}");
                self.at = Some((epoch, offset));
                self.said.push(payload.as_str().unwrap_or_default().to_owned());
            }
            ServerFrame::Disconnected { .. } => return false,
            _ => {}
        }
        true
    }

    /// Whether it has read its whole replay.
    fn caught_up(&self) -> bool {
        let at = self.at.as_ref().map_or(0, |(_, at)| *at);
        self.replay_to.is_none_or(|top| at >= top)
    }
}

async fn next(client: &mut Client) -> ServerFrame {
    match tokio::time::timeout(Duration::from_secs(20), client.next_frame()).await {
        Ok(Some(frame)) => frame,
        Ok(None) => ServerFrame::Disconnected { code: None, reason: String::new() },
        Err(_) => panic!("no frame within 20 s"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_of_a_killed_node_recover_every_broadcast_on_the_other() {
    const CLIENTS: usize = 40;
    const MESSAGES: usize = 600;
    let redis = RedisServer::start().await;
    let mut one = Node::start(&redis);
    let two = Node::start(&redis);

    let mut readers = Vec::new();
    for i in 0..CLIENTS {
        readers.push(Reader::join(if i % 2 == 0 { &one } else { &two }).await);
    }
    let (publisher, desk) = Reader::connect(two.port, None).await;
    // Both nodes hear the room before the stream starts.
    publisher.emit(desk, "say", &"ready").unwrap();
    for reader in &mut readers {
        while reader.said.last().map(String::as_str) != Some("ready") {
            assert!(reader.step().await, "disconnected before the stream");
        }
    }

    // The stream: one broadcast every 2 ms from node two; node one dies a third of the way.
    let stream = tokio::spawn(async move {
        for n in 1..=MESSAGES {
            publisher.emit(desk, "say", &format!("s{n}")).unwrap();
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        publisher.emit(desk, "say", &"end").unwrap();
        publisher
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    let killed = Instant::now();
    one.kill();

    let mut recovery = Vec::new();
    let mut tasks = Vec::new();
    for (i, mut reader) in readers.into_iter().enumerate() {
        let two = two.port;
        tasks.push(tokio::spawn(async move {
            let mut reconnected = false;
            let mut recovered_after = None;
            loop {
                if !reader.step().await {
                    // Node one is gone: straight to node two, with where it stood.
                    assert_eq!(i % 2, 0, "a client of node two was disconnected");
                    (reader.client, _) = Reader::connect(two, reader.at.as_ref()).await;
                    reader.replay_to = Some(u64::MAX); // until its history frame says
                    reconnected = true;
                    continue;
                }
                if reconnected && recovered_after.is_none() && reader.caught_up() {
                    recovered_after = Some(killed.elapsed());
                }
                if reader.said.last().map(String::as_str) == Some("end") {
                    return (reader.said, recovered_after);
                }
            }
        }));
    }
    let _publisher = stream.await.unwrap();
    let expected: Vec<String> = std::iter::once("ready".to_owned())
        .chain((1..=MESSAGES).map(|n| format!("s{n}")))
        .chain(["end".into()])
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        let (said, recovered_after) = task.await.unwrap();
        assert_eq!(said.len(), expected.len(), "client {i} saw {} broadcasts", said.len());
        assert_eq!(said, expected, "client {i}");
        if i % 2 == 0 {
            recovery.push(recovered_after.expect("recovered"));
        }
    }
    recovery.sort();
    let percentile = |p: f64| recovery[((recovery.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "failover: {} clients of the killed node recovered every broadcast; kill to full recovery p50 {:?}, p99 {:?}",
        recovery.len(),
        percentile(0.5),
        percentile(0.99)
    );
}

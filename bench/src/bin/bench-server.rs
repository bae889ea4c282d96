//! The servers under test, each broadcasting what a publisher sends to every joined
//! connection (but the publisher) and echoing requests:
//!
//!   bench-server pulse|raw|raw-per-frame|socketioxide <port> [redis://host:port]
//!
//! With a Redis URL, Pulse and socketioxide run as one node of a cluster (Pulse's Redis
//! backplane, socketioxide's Redis adapter): a broadcast reaches the joined connections
//! of every node. Prints `listening on <port>` when ready.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt as _, StreamExt as _};
use pulse_bench::Kind;
use pulse_runtime::backplane::RedisBackplane;
use pulse_runtime::serde_json::value::RawValue;
use pulse_runtime::{Config, Handlers, PushOnly, Server};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let kind = args
        .next()
        .and_then(|k| Kind::parse(&k))
        .expect("usage: bench-server pulse|raw|raw-per-frame|socketioxide <port>");
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let redis = args.next();
    if kind == Kind::Pulse {
        return pulse(port, redis.as_deref()).await;
    }
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    match (kind, redis) {
        (Kind::Raw, None) => raw(listener, Writes::Batched).await,
        (Kind::RawPerFrame, None) => raw(listener, Writes::PerFrame).await,
        (Kind::Socketioxide, None) => socketioxide(listener).await,
        (Kind::Socketioxide, Some(url)) => socketioxide_redis(listener, &url).await,
        (Kind::Raw | Kind::RawPerFrame, Some(_)) => panic!("the raw server runs on one node only"),
        (Kind::Pulse, _) => unreachable!("served above"),
        (Kind::SocketIoNode, _) => panic!("the Node server is bench/socketio/server.mjs"),
    }
}

/// Pulse: every session opens `control`; `join` opens a `feed` channel (the broadcast
/// topic), `publish` broadcasts to `feed`, the request `echo` answers its payload.
async fn pulse(port: u16, redis: Option<&str>) -> std::io::Result<()> {
    // A load client is one session sending as fast as it can: no inbound rate limit.
    // Its up to 19,900 sessions all come from 127.0.0.1, in a process whose file limit
    // is 20,000: no caps on connections or sessions (the counting still runs, so its
    // cost is in every figure).
    let config = Config {
        inbound_frames_per_second: u32::MAX,
        inbound_burst: u32::MAX,
        max_connections: usize::MAX,
        max_connections_per_address: usize::MAX,
        max_sessions: usize::MAX,
        ..Config::default()
    };
    let mut builder = Server::builder();
    if let Some(url) = redis {
        builder = builder.backplane(RedisBackplane::new(url).map_err(std::io::Error::other)?);
    }
    let server = builder
        .config(config)
        .on_session(|session| async move {
            let control = Handlers::new()
                .on("join", |cx, (): ()| {
                    let _ = cx.session().open_channel("feed", PushOnly);
                })
                .on("publish", |cx, payload: Box<RawValue>| {
                    let _ = cx.session().broadcast("feed", "item", &payload);
                })
                .on_request("echo", |_cx, payload: Box<RawValue>| Ok(payload));
            let _ = session.open_channel("control", control);
        })
        .build();
    // Counters for the churn soak: nothing may be left once every client has gone.
    let stats_server = server.clone();
    let stats = axum::Router::new().route(
        "/stats",
        axum::routing::get(move || {
            let s = stats_server.stats();
            let tasks = tokio::runtime::Handle::current().metrics().num_alive_tasks();
            std::future::ready(format!(
                r#"{{"sessions":{},"channels":{},"topics":{},"pending_requests":{},"tasks":{tasks}}}"#,
                s.sessions, s.channels, s.topics, s.pending_requests
            ))
        }),
    );
    let running = server.bind_with(("127.0.0.1", port), stats).await?;
    println!("listening on {}", running.local_addr().port());
    std::future::pending().await
}

/// How the raw server's writer sends what is queued for a connection.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Writes {
    /// Every frame queued, then one flush: the physical limit here.
    Batched,
    /// Each frame written and flushed on its own (`SinkExt::send`), as the naive server
    /// does: a write system call per frame.
    PerFrame,
}

/// The physical limit: tokio-tungstenite with the same buffers as Pulse (4 KiB read,
/// writes batched up to 8 KiB), a bounded queue per connection, and one text frame
/// shared by all receivers (no per-connection copy, no sequence numbers). With
/// [`Writes::PerFrame`], the same server without the batching.
async fn raw(listener: TcpListener, writes: Writes) -> std::io::Result<()> {
    println!("listening on {}", listener.local_addr()?.port());
    let joined: Arc<Mutex<HashMap<u64, mpsc::Sender<Message>>>> = Arc::default();
    let next = Arc::new(AtomicU64::new(0));
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let joined = joined.clone();
        let id = next.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(8192);
            let Ok(socket) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else { return };
            let (mut sink, mut stream) = socket.split();
            let (tx, mut rx) = mpsc::channel::<Message>(1024);
            let writer = tokio::spawn(async move {
                while let Some(message) = rx.recv().await {
                    if writes == Writes::PerFrame {
                        if sink.send(message).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    if sink.feed(message).await.is_err() {
                        return;
                    }
                    while let Ok(more) = rx.try_recv() {
                        if sink.feed(more).await.is_err() {
                            return;
                        }
                    }
                    if sink.flush().await.is_err() {
                        return;
                    }
                }
            });
            while let Some(Ok(message)) = stream.next().await {
                let Message::Text(text) = message else { continue };
                let text = text.as_str();
                if text == "join" {
                    joined.lock().unwrap_or_else(|p| p.into_inner()).insert(id, tx.clone());
                } else if let Some(payload) = text.strip_prefix("pub:") {
                    let frame = Message::text(payload);
                    for receiver in joined.lock().unwrap_or_else(|p| p.into_inner()).values() {
                        let _ = receiver.try_send(frame.clone());
                    }
                } else if let Some(payload) = text.strip_prefix("echo:") {
                    let _ = tx.try_send(Message::text(payload));
                }
            }
            joined.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
            writer.abort();
        });
    }
}

/// socketioxide: `join` joins room `feed`, `publish` emits `item` to the room (but the
/// sender), `echo` acknowledges with its data. (A macro, as the adapter trait the
/// namespace set-up needs is not public.) Gives what the adapter's set-up returns.
macro_rules! socketioxide_handlers {
    ($io:expr, $adapter:ty) => {{
        use socketioxide::extract::{AckSender, Data, SocketRef};
        $io.ns("/", async |socket: SocketRef<$adapter>| {
            socket.on("join", async |socket: SocketRef<$adapter>| {
                socket.join("feed");
            });
            socket.on("publish", async |socket: SocketRef<$adapter>, Data(data): Data<serde_json::Value>| {
                let _ = socket.to("feed").emit("item", &data).await;
            });
            socket.on("echo", async |Data(data): Data<serde_json::Value>, ack: AckSender<$adapter>| {
                let _ = ack.send(&data);
            });
        })
    }};
}

async fn socketioxide(listener: TcpListener) -> std::io::Result<()> {
    let (layer, io) = socketioxide::SocketIo::new_layer();
    socketioxide_handlers!(io, socketioxide::adapter::LocalAdapter);
    serve_socketio(listener, axum::Router::new().layer(layer)).await
}

/// socketioxide as one node of a cluster, through its Redis adapter.
async fn socketioxide_redis(listener: TcpListener, url: &str) -> std::io::Result<()> {
    use socketioxide_redis::drivers::redis::redis_client as redis;
    use socketioxide_redis::{RedisAdapter, RedisAdapterCtr};

    // The adapter's driver speaks RESP3.
    let client = redis::Client::open(format!("{url}?protocol=resp3")).map_err(std::io::Error::other)?;
    let adapter = RedisAdapterCtr::new_with_redis(&client).await.map_err(std::io::Error::other)?;
    let (layer, io) = socketioxide::SocketIo::builder().with_adapter::<RedisAdapter<_>>(adapter).build_layer();
    socketioxide_handlers!(io, RedisAdapter<socketioxide::adapter::Emitter>).await.map_err(std::io::Error::other)?;
    serve_socketio(listener, axum::Router::new().layer(layer)).await
}

async fn serve_socketio(listener: TcpListener, app: axum::Router) -> std::io::Result<()> {
    println!("listening on {}", listener.local_addr()?.port());
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await
}

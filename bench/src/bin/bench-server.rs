//! The servers under test, each broadcasting what a publisher sends to every joined
//! connection (but the publisher) and echoing requests:
//!
//!   bench-server pulse|raw|socketioxide <port>
//!
//! Prints `listening on <port>` when ready.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt as _, StreamExt as _};
use pulse_bench::Kind;
use pulse_runtime::serde_json::value::RawValue;
use pulse_runtime::{Config, Handlers, PushOnly, Server};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let kind = args.next().and_then(|k| Kind::parse(&k)).expect("usage: bench-server pulse|raw|socketioxide <port>");
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    if kind == Kind::Pulse {
        return pulse(port).await;
    }
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?.port());
    match kind {
        Kind::Pulse => unreachable!("served above"),
        Kind::Raw => raw(listener).await,
        Kind::Socketioxide => socketioxide(listener).await,
        Kind::SocketIoNode => panic!("the Node server is bench/socketio/server.mjs"),
    }
}

/// Pulse: every session opens `control`; `join` opens a `feed` channel (the broadcast
/// topic), `publish` broadcasts to `feed`, the request `echo` answers its payload.
async fn pulse(port: u16) -> std::io::Result<()> {
    // A load client is one session sending as fast as it can: no inbound rate limit.
    let config = Config { inbound_frames_per_second: u32::MAX, inbound_burst: u32::MAX, ..Config::default() };
    let server = Server::builder()
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

/// The physical limit: tokio-tungstenite with the same buffers as Pulse (4 KiB read,
/// writes batched up to 8 KiB), a bounded queue per connection, and one text frame
/// shared by all receivers (no per-connection copy, no sequence numbers).
async fn raw(listener: TcpListener) -> std::io::Result<()> {
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
/// sender), `echo` acknowledges with its data.
async fn socketioxide(listener: TcpListener) -> std::io::Result<()> {
    use socketioxide::SocketIo;
    use socketioxide::extract::{AckSender, Data, SocketRef};

    let (layer, io) = SocketIo::new_layer();
    io.ns("/", async |socket: SocketRef| {
        socket.on("join", async |socket: SocketRef| {
            socket.join("feed");
        });
        socket.on("publish", async |socket: SocketRef, Data(data): Data<serde_json::Value>| {
            let _ = socket.to("feed").emit("item", &data).await;
        });
        socket.on("echo", async |Data(data): Data<serde_json::Value>, ack: AckSender| {
            let _ = ack.send(&data);
        });
    });
    let app = axum::Router::new().layer(layer);
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await
}

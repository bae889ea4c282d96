//! A chat room on the untyped channel layer (`Handlers`, string event names): what the
//! `#[channel]` macro builds on. Run it and open http://127.0.0.1:3000 in two tabs.
//!
//! `cargo run -p room -- [port]`

use axum::response::Html;
use axum::routing::get;
use pulse_runtime::{Handlers, Server, axum};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Message {
    user: String,
    text: String,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(3000);
    let server = Server::builder()
        .on_session(|session| async move {
            let handlers = Handlers::new().on("send_message", |cx, message: Message| {
                // Every session with a "room" channel open gets it, this one included.
                let _ = cx.channel().broadcast("new_message", &message);
            });
            if let Ok(channel) = session.open_channel("room", handlers) {
                let _ = channel.emit("notification", &format!("welcome, session {}", session.id()));
            }
        })
        .build();
    let page = axum::Router::new().route("/", get(|| async { Html(include_str!("page.html")) }));
    println!("room demo on http://127.0.0.1:{port}");
    pulse_runtime::serve_with(("127.0.0.1", port), server, page).await
}

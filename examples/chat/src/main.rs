//! The chat server: renders `ChatRoom` for every tab (in the room its URL names,
//! `/?room=random`) and serves the page and the client bundle (`client/dist/app.js`,
//! built by `scripts/chat.sh`).
//!
//! `cargo run -p chat -- [--port 3000]`; `PULSE_LOG=debug` for more logs.

use std::path::PathBuf;

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use chat::Rooms;
use pulse_runtime::axum;

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Pulse chat</title>
  <style>
    body { font-family: system-ui, sans-serif; max-width: 42rem; margin: 2rem auto; padding: 0 1rem; }
    .server-messages, .client-messages { border: 1px solid #ccc; min-height: 3rem; padding: .5rem 1.5rem; }
    .location, .status, .typing { color: #555; }
    .rooms a { margin-right: .75rem; }
    .rooms a.current { font-weight: bold; text-decoration: none; color: inherit; }
    .refused { color: #b00; }
    h3 { font-size: 1rem; margin-bottom: 0; }
    .notices { color: #06c; font-size: .9rem; }
    input, button { font: inherit; padding: .25rem .5rem; }
  </style>
</head>
<body>
  <div id="app"></div>
  <script type="module" src="/app.js"></script>
</body>
</html>
"#;

fn assets_dir() -> PathBuf {
    std::env::var_os("CHAT_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("client/dist"))
}

async fn asset(name: &'static str, content_type: &'static str) -> Response {
    let path = assets_dir().join(name);
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], bytes).into_response()
        }
        Err(error) => {
            let message = format!("{}: {error}; build the client with ./scripts/chat.sh", path.display());
            (StatusCode::NOT_FOUND, message).into_response()
        }
    }
}

fn port() -> u16 {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--port"
            && let Some(port) = args.next().and_then(|p| p.parse().ok())
        {
            return port;
        }
    }
    std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let filter = std::env::var("PULSE_LOG").unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::new(filter)).init();

    // Set PULSE_REDIS_URL to run several nodes behind one Redis (scripts/chat-cluster.sh).
    let server = chat::server(Rooms::default()).build();
    let pages = axum::Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/app.js", get(|| asset("app.js", "text/javascript; charset=utf-8")))
        .route("/app.js.map", get(|| asset("app.js.map", "application/json")));
    let running = server.bind_with(("127.0.0.1", port()), pages).await?;
    println!("chat on http://{}", running.local_addr());
    let _ = tokio::signal::ctrl_c().await;
    running.shutdown().await;
    Ok(())
}

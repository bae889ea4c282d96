//! The chat server: renders `ChatRoom` for every tab (in the room its URL names,
//! `/rooms/random`), serves the built client (`client/dist`, built by
//! `scripts/chat.sh`; `CHAT_ASSETS` names another folder) and its metrics at `/metrics`.
//!
//! `cargo run -p chat -- [--port 3000]`; `PULSE_LOG=debug` for more logs.

use std::path::PathBuf;

fn assets_dir() -> PathBuf {
    std::env::var_os("CHAT_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("client/dist"))
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

    // A folder without the built client is warned of when the server is built.
    let assets = assets_dir();
    // Set PULSE_REDIS_URL to run several nodes behind one Redis (scripts/chat-cluster.sh).
    let server = chat::server().assets(assets).metrics("/metrics").build();
    let running = server.bind(("127.0.0.1", port())).await?;
    println!("chat on http://{}", running.local_addr());
    pulse_runtime::stop_signal().await;
    running.shutdown().await;
    Ok(())
}

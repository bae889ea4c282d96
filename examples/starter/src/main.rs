//! `cargo run`: serves the app on http://127.0.0.1:3000 (`HOST`, `PORT` to change it) — the
//! client built by `npm run build` in `client/` (or the folder `ASSETS` names), the
//! WebSocket, and `/metrics`.
//! A debug build first rewrites the TypeScript module if the declarations changed, so
//! the dev loop (`npm run dev` in `client/`) never needs a separate command.

use pulse_runtime::tracing;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::new(filter)).init();

    if cfg!(debug_assertions) {
        match starter::typescript().write(starter::TYPESCRIPT) {
            Ok(true) => tracing::info!(path = starter::TYPESCRIPT, "TypeScript module rewritten"),
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "could not write the TypeScript module"),
        }
    }

    // The built client: `ASSETS` where it is deployed, else this crate's client/dist.
    let client = std::env::var("ASSETS").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/client/dist").into());
    let server = starter::server().assets(client).metrics("/metrics").build();
    // `HOST=0.0.0.0` to be reached from outside this machine (a container, a proxy elsewhere).
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    let running = server.bind((host.as_str(), port)).await?;
    println!("starter on http://{}", running.local_addr());
    pulse_runtime::stop_signal().await;
    running.shutdown().await;
    Ok(())
}

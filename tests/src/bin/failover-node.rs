//! One server node of the failover and presence tests (`tests/tests/failover.rs`,
//! `tests/tests/presence.rs`), run as its own process so a test can kill it: a `desk`
//! channel in the room the `room` parameter names (keeping the last 10,000 broadcasts of
//! each room), a `table` in the room `table` names (tracking presence), users from the
//! `user` parameter, and the Redis backplane at `PULSE_REDIS_URL` with a presence timeout
//! of `PULSE_PRESENCE_TIMEOUT_MS` (default 10 s). Prints `listening on <port>` once bound.
//! `failover-node [port]`.

use std::time::Duration;

use pulse_runtime::backplane::RedisBackplane;
use pulse_runtime::{History, Server};
use pulse_tests::lab::{Desk, DeskServer, Table, TableServer};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    pulse_tests::init_tracing();
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    let url = std::env::var("PULSE_REDIS_URL").map_err(|_| std::io::Error::other("PULSE_REDIS_URL is not set"))?;
    let timeout = std::env::var("PULSE_PRESENCE_TIMEOUT_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(Duration::from_secs(10), Duration::from_millis);
    let backplane = RedisBackplane::new(&url).map_err(std::io::Error::other)?.presence_timeout(timeout);
    let server = Server::builder()
        .backplane(backplane)
        .history::<Desk>(History::last(10_000))
        .authenticate(|request| {
            let user = request.query("user").as_deref().unwrap_or("anonymous").to_owned();
            async move { Ok::<_, String>(user) }
        })
        .on_session(|session| async move {
            if let Some(room) = session.param("room") {
                let _ = Desk::open_in(&session, &room, DeskServer::default());
            }
            if let Some(table) = session.param("table") {
                let _ = Table::open_in(&session, &table, TableServer::default());
            }
        })
        .build();
    let running = server.bind(("127.0.0.1", port)).await?;
    println!("listening on {}", running.local_addr().port());
    let _ = tokio::signal::ctrl_c().await;
    running.shutdown().await;
    Ok(())
}

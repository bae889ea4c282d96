//! One server node of the failover test (`tests/tests/failover.rs`): a `desk` channel in
//! the room the connection's `room` parameter names, keeping the last 10,000 broadcasts
//! of each room, with the Redis backplane from `PULSE_REDIS_URL` (so the history lives in
//! Redis). Prints `listening on <port>` once bound. `failover-node [port]`.

use pulse_runtime::{History, Server};
use pulse_tests::lab::{Desk, DeskServer};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    pulse_tests::init_tracing();
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    let server = Server::builder()
        .history::<Desk>(History::last(10_000))
        .on_session(|session| async move {
            let room = session.param("room").unwrap_or_default();
            let _ = Desk::open_in(&session, &room, DeskServer::default());
        })
        .build();
    let running = server.bind(("127.0.0.1", port)).await?;
    println!("listening on {}", running.local_addr().port());
    let _ = tokio::signal::ctrl_c().await;
    running.shutdown().await;
    Ok(())
}

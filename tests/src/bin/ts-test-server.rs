//! The real server the TypeScript client runtime is tested against: every session gets
//! a typed `lab` channel, an untyped `calc` channel (see `pulse_tests::test_handlers`) and
//! a `lobby` whose `join` opens `desk` rooms (room `staff` is refused; each desk keeps its
//! last 5 broadcasts), a `table` in room `<t>` for `?table=<t>` (it tracks presence),
//! and renders the chat's `ChatApp` next to `LabCounter`. Prints `listening on <port>` once bound.
//! `ts-test-server [port]`.

use std::time::Duration;

use chat::{Chat, ChatApp};
use pulse_runtime::html::div;
use pulse_runtime::prelude::IntoNode;
use pulse_runtime::{Access, Config, History, Server};
use pulse_tests::lab::{Desk, Lab, LabCounter, LabServer, Lobby, LobbyServer, Table, TableServer};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    pulse_tests::init_tracing();
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    let config = Config { heartbeat_interval: Duration::from_millis(500), ..Config::default() };
    let server = Server::builder()
        .config(config)
        .history::<Desk>(History::last(5))
        .history::<Chat>(History::last(chat::HISTORY))
        .root(|| div((ChatApp {}, LabCounter {})).into_node())
        .on_session(|session| async move {
            if Lab::open(&session, LabServer::default()).is_err() {
                return;
            }
            let _ = session.open_channel("calc", pulse_tests::test_handlers().0);
            let _ = Lobby::open(&session, LobbyServer);
            if let Some(table) = session.param("table") {
                let _ = Table::open_in(&session, &table, TableServer::default());
            }
        })
        .authorize(|_session, access| match access {
            Access::Open { name: "desk", .. } if access.room::<String>().as_deref() == Some("staff") => {
                Err("staff only".into())
            }
            _ => Ok(()),
        })
        .build();
    let running = server.bind(("127.0.0.1", port)).await?;
    println!("listening on {}", running.local_addr().port());
    let _ = tokio::signal::ctrl_c().await;
    running.shutdown().await;
    Ok(())
}

//! A client that stops reading is disconnected as slow; broadcast never waits on it.

use std::time::Duration;

use futures_util::StreamExt as _;
use pulse_runtime::client::ServerFrame;
use pulse_runtime::{Config, PushOnly};
use pulse_tests::{Harness, expect_open, next_frame};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_disconnected_and_the_others_get_everything() {
    let config = Config { outbound_queue_frames: 16, ..Config::default() };
    let mut harness = Harness::with_config(config).await;
    let (mut fast, fast_session) = harness.connect().await;
    fast_session.open_channel("feed", PushOnly).unwrap();
    expect_open(&mut fast, "feed").await;

    // The slow client does the handshake, then never reads again.
    let (mut slow, _) = tokio_tungstenite::connect_async(harness.running.ws_url()).await.unwrap();
    let _hello = slow.next().await.unwrap().unwrap();
    let slow_session = harness.next_session().await;
    slow_session.open_channel("feed", PushOnly).unwrap();

    // 64 KiB frames fill the socket buffers quickly; the fast client reads each one
    // before the next is sent, so only the slow one falls behind.
    let payload = "x".repeat(64 * 1024);
    let mut sent = 0;
    while slow_session.is_connected() {
        assert!(sent < 5_000, "the slow client was never disconnected");
        harness.server().broadcast("feed", "item", &payload).unwrap();
        sent += 1;
        match next_frame(&mut fast).await {
            ServerFrame::Broadcast { payload: got, .. } => assert_eq!(got.as_str().map(str::len), Some(payload.len())),
            other => panic!("expected broadcast, got {other:?}"),
        }
    }
    assert!(sent > 16, "disconnected after only {sent} frames");
    assert_eq!(slow_session.close_code(), Some(pulse_runtime::protocol::CloseCode::SlowConsumer));

    // The fast client keeps receiving after the slow one is gone.
    for _ in 0..10 {
        assert_eq!(harness.server().broadcast("feed", "item", &"after").unwrap(), pulse_runtime::Delivery::Queued(1));
        assert!(matches!(next_frame(&mut fast).await, ServerFrame::Broadcast { .. }));
    }

    // When the slow client finally reads, its stream ends (with the slow close code if
    // the close frame made it into the socket before the server gave up on it).
    let drained = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(message) = slow.next().await {
            if let Ok(Message::Close(Some(frame))) = message {
                return Some(u16::from(frame.code));
            }
            if message.is_err() {
                return None;
            }
        }
        None
    })
    .await
    .expect("the slow client's stream ends");
    if let Some(code) = drained {
        assert_eq!(code, 4002);
    }
}

//! Channel close, disconnect and shutdown fail pending requests at once, on both sides.

use std::time::{Duration, Instant};

use pulse_runtime::client::ServerFrame;
use pulse_runtime::protocol::{CloseCode, ErrorCode};
use pulse_runtime::{ChannelError, PushOnly};
use pulse_tests::{Harness, eventually, expect_disconnect, expect_open, next_frame, test_handlers};

/// Fast, but far below any timeout: "at once" in these tests.
const AT_ONCE: Duration = Duration::from_millis(500);

#[tokio::test]
async fn server_close_fails_pending_requests_on_both_sides() {
    let mut harness = Harness::start().await;
    let (mut client, session) = harness.connect().await;
    let channel = session.open_channel("chat", test_handlers().0).unwrap();
    let id = expect_open(&mut client, "chat").await;

    // Server → client request, pending.
    let server_ask = tokio::spawn({
        let channel = channel.clone();
        async move { channel.request("get_location", &()).timeout(Duration::from_secs(30)).await }
    });
    assert!(matches!(next_frame(&mut client).await, ServerFrame::Request { .. }));
    // Client → server request, pending (the handler sleeps 30 s).
    let client_ask = client.request(id, "slow", &30_000).timeout(Duration::from_secs(60));
    let client_ask = tokio::spawn(client_ask.into_future());
    tokio::time::sleep(Duration::from_millis(50)).await;

    let started = Instant::now();
    channel.close();
    assert_eq!(server_ask.await.unwrap(), Err(ChannelError::Closed));
    match next_frame(&mut client).await {
        ServerFrame::Close { channel, reason, .. } => {
            assert_eq!(channel, id);
            assert_eq!(reason, "server");
        }
        other => panic!("expected close, got {other:?}"),
    }
    assert_eq!(client_ask.await.unwrap(), Err(ChannelError::Closed));
    assert!(started.elapsed() < AT_ONCE, "took {:?}", started.elapsed());

    // The closed channel is gone: a request on it is answered at once.
    let err = client.request(id, "echo", &1).await.unwrap_err();
    assert_eq!(err.rejection_code(), Some(ErrorCode::UnknownChannel));
    assert!(session.is_connected());
}

use std::future::IntoFuture as _;

#[tokio::test]
async fn client_release_fails_the_servers_pending_requests() {
    let mut harness = Harness::start().await;
    let (mut client, session) = harness.connect().await;
    let channel = session.open_channel("chat", PushOnly).unwrap();
    let id = expect_open(&mut client, "chat").await;
    let server_ask = tokio::spawn({
        let channel = channel.clone();
        async move { channel.request("get_location", &()).timeout(Duration::from_secs(30)).await }
    });
    assert!(matches!(next_frame(&mut client).await, ServerFrame::Request { .. }));

    let started = Instant::now();
    client.close_channel(id).unwrap();
    assert_eq!(server_ask.await.unwrap(), Err(ChannelError::Closed));
    assert!(started.elapsed() < AT_ONCE);
    match next_frame(&mut client).await {
        ServerFrame::Close { reason, .. } => assert_eq!(reason, "client"),
        other => panic!("expected close confirmation, got {other:?}"),
    }
    assert!(channel.is_closed());
    assert_eq!(session.channel_count(), 0);
}

#[tokio::test]
async fn disconnect_fails_the_sessions_pending_requests_with_disconnected() {
    let mut harness = Harness::start().await;
    let (mut client, session) = harness.connect().await;
    let channel = session.open_channel("chat", PushOnly).unwrap();
    expect_open(&mut client, "chat").await;
    let asks: Vec<_> = (0..3)
        .map(|_| {
            let channel = channel.clone();
            tokio::spawn(async move { channel.request("get_location", &()).timeout(Duration::from_secs(30)).await })
        })
        .collect();
    for _ in 0..3 {
        assert!(matches!(next_frame(&mut client).await, ServerFrame::Request { .. }));
    }

    let started = Instant::now();
    drop(client);
    for ask in asks {
        assert_eq!(ask.await.unwrap(), Err(ChannelError::Disconnected));
    }
    assert!(started.elapsed() < AT_ONCE, "took {:?}", started.elapsed());
    session.closed().await;
    assert!(!session.is_connected());
    eventually("the session is removed", || harness.server().stats().sessions == 0).await;
    let stats = harness.server().stats();
    assert_eq!((stats.channels, stats.topics), (0, 0));
    // Requests made after the end fail the same way, at once.
    assert_eq!(channel.request("get_location", &()).await.unwrap_err(), ChannelError::Disconnected);
}

#[tokio::test]
async fn graceful_shutdown_closes_sessions_with_going_away() {
    let mut harness = Harness::start().await;
    let (mut a, _) = harness.connect().await;
    let (mut b, _) = harness.connect().await;
    let url = harness.running.ws_url();
    let server = harness.server().clone();
    // A connection that never sends its request.
    let mut silent = tokio::net::TcpStream::connect(harness.running.local_addr()).await.unwrap();
    let shutdown = tokio::spawn(harness.running.shutdown());

    for client in [&mut a, &mut b] {
        let (code, reason) = expect_disconnect(client).await;
        assert_eq!(code, Some(CloseCode::GoingAway.code()));
        assert!(reason.starts_with("going_away"), "{reason}");
        assert!(CloseCode::GoingAway.should_reconnect());
    }
    shutdown.await.unwrap();
    assert_eq!(server.stats().sessions, 0);
    // It is closed too (reset, if the listener went before it was accepted).
    let mut byte = [0; 1];
    let read = tokio::time::timeout(pulse_tests::PATIENCE, tokio::io::AsyncReadExt::read(&mut silent, &mut byte));
    assert_eq!(read.await.expect("closed in time").unwrap_or(0), 0);
    // The listener is gone: new connections are refused.
    assert!(pulse_runtime::client::Client::connect(&url).await.is_err());
}

/// Something a hook holds: counted while it lives.
struct Held(std::sync::Arc<std::sync::atomic::AtomicIsize>);

impl Held {
    fn new(live: &std::sync::Arc<std::sync::atomic::AtomicIsize>) -> Held {
        live.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Held(live.clone())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_hook_still_running_when_the_session_ends_is_dropped() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

    let (quick_ran, quick_live, waiting_live) =
        (Arc::new(AtomicBool::new(false)), Arc::new(AtomicIsize::new(0)), Arc::new(AtomicIsize::new(0)));
    let builder = pulse_runtime::Server::builder()
        .config(pulse_runtime::Config { resume_grace: Duration::ZERO, ..Default::default() })
        .on_session({
            let (ran, live) = (quick_ran.clone(), quick_live.clone());
            move |_session| {
                let (ran, held) = (ran.clone(), Held::new(&live));
                async move {
                    ran.store(true, Ordering::SeqCst);
                    drop(held);
                }
            }
        })
        .on_session({
            let live = waiting_live.clone();
            move |_session| {
                let held = Held::new(&live);
                async move {
                    let _held = held;
                    std::future::pending::<()>().await
                }
            }
        });
    let mut harness = pulse_tests::Harness::with_builder(builder).await;
    let (client, session) = harness.connect().await;
    eventually("the quick hook ran", || quick_ran.load(Ordering::SeqCst)).await;
    assert_eq!(quick_live.load(Ordering::SeqCst), 0, "a hook that returned holds nothing");
    assert_eq!(waiting_live.load(Ordering::SeqCst), 1, "the waiting hook runs on");

    client.close().await;
    session.closed().await;
    eventually("the waiting hook was dropped", || waiting_live.load(Ordering::SeqCst) == 0).await;
}

//! What an operator sees: the Prometheus endpoint scraped while the chat runs, the
//! built client served by `ServerBuilder::assets`, and log lines that name their session
//! and channel.

use std::sync::{Arc, Mutex};

use pulse_runtime::client::{Client, ServerFrame};
use pulse_runtime::prelude::*;
use pulse_tests::{PATIENCE, http_get, metric, next_frame};
use serde_json::json;

async fn open_chat(client: &mut Client) -> ChannelId {
    loop {
        match next_frame(client).await {
            ServerFrame::Open { channel, name, .. } if name == "chat" => return channel,
            _ => continue,
        }
    }
}

#[tokio::test]
async fn the_metrics_endpoint_counts_what_the_chat_does() {
    pulse_tests::init_tracing();
    let server = chat::server().metrics("/metrics").build();
    let running = server.bind("127.0.0.1:0").await.unwrap();
    let addr = running.local_addr();

    let (status, head, scrape) = http_get(addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(head.contains("content-type: text/plain; version=0.0.4"), "{head}");
    assert_eq!(metric(&scrape, "pulse_sessions"), 0.0);
    assert!(scrape.contains("# HELP pulse_frames_received_total"), "{scrape}");

    let mut ann = Client::connect(&running.ws_url()).await.unwrap();
    let mut bob = Client::connect(&running.ws_url()).await.unwrap();
    let channel = open_chat(&mut ann).await;
    open_chat(&mut bob).await;
    ann.emit(channel, "send_message", &json!({ "user": "ann", "text": "hi" })).unwrap();
    assert!(ann.request(channel, "history", &()).await.is_ok());
    ann.send_raw_text("not json").unwrap();
    // Bob hears the message: it has been broadcast and written by then.
    loop {
        if let ServerFrame::Broadcast { event, .. } = next_frame(&mut bob).await
            && event == "new_message"
        {
            break;
        }
    }
    bob.close().await;

    let server = running.server().clone();
    pulse_tests::eventually("bob's close is counted and his session gone", || {
        server
            .metrics()
            .is_some_and(|s| s.contains("pulse_closes_total{code=\"client\"} 1") && s.contains("pulse_sessions 1"))
    })
    .await;
    let (_, _, scrape) = http_get(addr, "/metrics").await;
    assert_eq!(metric(&scrape, "pulse_sessions"), 1.0);
    assert_eq!(metric(&scrape, "pulse_channels"), 1.0);
    assert_eq!(metric(&scrape, "pulse_rooms"), 1.0);
    assert_eq!(metric(&scrape, "pulse_sessions_started_total"), 2.0);
    assert_eq!(metric(&scrape, "pulse_frames_received_total{type=\"emit\"}"), 1.0);
    assert_eq!(metric(&scrape, "pulse_frames_received_total{type=\"request\"}"), 1.0);
    assert_eq!(metric(&scrape, "pulse_frames_received_total{type=\"invalid\"}"), 1.0);
    assert!(metric(&scrape, "pulse_frames_sent_total{type=\"hello\"}") >= 2.0);
    assert!(metric(&scrape, "pulse_frames_sent_total{type=\"open\"}") >= 2.0);
    assert!(metric(&scrape, "pulse_frames_sent_total{type=\"broadcast\"}") >= 2.0);
    assert!(metric(&scrape, "pulse_frames_sent_total{type=\"error\"}") >= 1.0);
    assert!(metric(&scrape, "pulse_broadcasts_total") >= 1.0);
    assert_eq!(metric(&scrape, "pulse_request_duration_seconds_count"), 1.0);
    assert_eq!(metric(&scrape, "pulse_request_duration_seconds_bucket{le=\"+Inf\"}"), 1.0);
    assert_eq!(metric(&scrape, "pulse_resumes_total"), 0.0);

    // A resume with a session id the server does not know is a failed resume.
    let url = format!("{}&resume=6f1c0e4a9b2d4c8e8a7f3b1d2c4e5f60&last_seq=3", running.ws_url());
    let fresh = Client::connect(&url).await.unwrap();
    let scrape = running.server().metrics().unwrap();
    assert_eq!(metric(&scrape, "pulse_resumes_failed_total"), 1.0);
    fresh.close().await;
    ann.close().await;
    running.shutdown().await;
}

#[tokio::test]
async fn without_the_builder_call_there_is_no_endpoint() {
    let running = Server::builder().build().bind("127.0.0.1:0").await.unwrap();
    assert!(running.server().metrics().is_none());
    assert_eq!(http_get(running.local_addr(), "/metrics").await.0, 404);
    running.shutdown().await;
    // Recorded but not served: the app serves `Server::metrics` where it wants.
    let running = Server::builder().metrics_unserved().build().bind("127.0.0.1:0").await.unwrap();
    assert!(running.server().metrics().unwrap().contains("pulse_sessions 0"));
    assert_eq!(http_get(running.local_addr(), "/metrics").await.0, 404);
    running.shutdown().await;
}

#[tokio::test]
async fn assets_serve_the_built_client_with_index_html_for_other_paths() {
    let dir = std::env::temp_dir().join(format!("pulse-assets-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(dir.join("index.html"), "<!doctype html><div id=root></div>").unwrap();
    std::fs::write(dir.join("assets/app-1a2b.js"), "console.log(1)").unwrap();
    let running = Server::builder().assets(&dir).build().bind("127.0.0.1:0").await.unwrap();
    let addr = running.local_addr();

    let (status, head, body) = http_get(addr, "/").await;
    assert_eq!((status, body.as_str()), (200, "<!doctype html><div id=root></div>"));
    assert!(head.contains("content-type: text/html"), "{head}");
    // Revalidated after a deploy, never an old index.html naming bundles that are gone.
    assert!(head.contains("cache-control: no-cache"), "{head}");
    let (status, head, body) = http_get(addr, "/assets/app-1a2b.js").await;
    assert_eq!((status, body.as_str()), (200, "console.log(1)"));
    assert!(head.contains("content-type: text/javascript"), "{head}");
    // A client-side route loads the app; the WebSocket endpoint is still the server's.
    let (status, _, body) = http_get(addr, "/rooms/lobby").await;
    assert_eq!((status, body.as_str()), (200, "<!doctype html><div id=root></div>"));
    let client = Client::connect(&running.ws_url()).await.unwrap();
    client.close().await;
    // Nothing outside the folder is served.
    let (status, _, body) = http_get(addr, "/../Cargo.toml").await;
    assert!(status == 400 || body.starts_with("<!doctype html>"), "{status} {body}");
    running.shutdown().await;

    // Beside the app's own routes, and in place of its fallback (axum would refuse to
    // merge two fallbacks).
    let app = pulse_runtime::axum::Router::new()
        .route("/api/hello", pulse_runtime::axum::routing::get(|| async { "hello" }))
        .fallback(|| async { "the app's fallback" });
    let running =
        Server::builder().assets(&dir).metrics("metrics").build().bind_with("127.0.0.1:0", app).await.unwrap();
    let addr = running.local_addr();
    assert_eq!(http_get(addr, "/api/hello").await.2, "hello");
    assert_eq!(http_get(addr, "/rooms/lobby").await.2, "<!doctype html><div id=root></div>");
    assert!(http_get(addr, "/metrics").await.2.contains("pulse_sessions 0"), "a path without its slash is given one");
    running.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Collects what the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[channel(name = "noisy", events(shout(String) => server))]
struct Noisy;

struct Logs;

impl NoisyHandler for Logs {
    fn on_open(&mut self, _cx: &mut ChannelCx<Noisy>) {
        tracing::info!("opened, says the handler");
    }

    fn shout(&mut self, _cx: &mut ChannelCx<Noisy>, text: String) {
        tracing::info!(%text, "a handler's own line");
    }
}

#[test]
fn log_lines_name_their_session_and_channel() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber =
        tracing_subscriber::fmt().with_env_filter("info").with_ansi(false).with_writer(move || writer.clone()).finish();
    // This test's runtime and every task it starts log to `captured`.
    let _default = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (session_id, channel_id) = runtime.block_on(async {
        let server = Server::builder()
            .on_session(|session| async move {
                let _ = Noisy::open(&session, Logs);
            })
            .build();
        let running = server.bind("127.0.0.1:0").await.unwrap();
        let mut client = Client::connect(&running.ws_url()).await.unwrap();
        let channel = match tokio::time::timeout(PATIENCE, client.next_frame()).await.unwrap() {
            Some(ServerFrame::Open { channel, .. }) => channel,
            other => panic!("expected open, got {other:?}"),
        };
        client.emit(channel, "shout", "hello").unwrap();
        let id = client.session_id();
        pulse_tests::eventually("the handler logged", || {
            String::from_utf8_lossy(&captured.0.lock().unwrap()).contains("a handler's own line")
        })
        .await;
        client.close().await;
        running.shutdown().await;
        (id, channel)
    });
    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    let line = logs.lines().find(|l| l.contains("a handler's own line")).unwrap();
    let expected = format!("session{{id={session_id}}}:channel{{topic=noisy id={channel_id}}}: ");
    assert!(line.contains(&expected), "expected `{expected}` in `{line}`");
    assert!(line.contains("text=hello"), "{line}");
    // `on_open` runs in the channel's span too.
    let opened = logs.lines().find(|l| l.contains("opened, says the handler")).unwrap();
    assert!(opened.contains(&expected), "expected `{expected}` in `{opened}`");
}

/// The filter docs/guide.md ("Operations") gives to follow one user: only that user's
/// session logs at the raised level.
#[test]
fn the_documented_filter_follows_one_user() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("warn,[session{user=ann}]=info")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let server = Server::builder()
            .authenticate(|request| {
                let user = request.query("user").as_deref().unwrap_or("nobody").to_owned();
                async move { Ok::<String, String>(user) }
            })
            .on_session(|session| async move {
                let _ = Noisy::open(&session, Logs);
            })
            .build();
        let running = server.bind("127.0.0.1:0").await.unwrap();
        for user in ["bob", "ann"] {
            let mut client = Client::connect(&format!("{}&user={user}", running.ws_url())).await.unwrap();
            let Some(ServerFrame::Open { channel, .. }) = client.next_frame().await else { panic!("expected open") };
            client.emit(channel, "shout", &format!("from {user}")).unwrap();
            assert_eq!(
                client.request(channel, "nothing", &()).await.map_err(|e| e.rejection_code()).err().flatten(),
                Some(pulse_runtime::protocol::ErrorCode::UnknownEvent)
            );
            client.close().await;
        }
        running.shutdown().await;
    });
    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(logs.contains("text=from ann"), "ann's line is missing:\n{logs}");
    assert!(!logs.contains("text=from bob"), "bob's line should be filtered out:\n{logs}");
}

/// A port already taken (most often an earlier run, still going) is named with the fix.
#[tokio::test]
async fn a_taken_port_is_refused_with_what_to_do() {
    let first = pulse_runtime::Server::builder().build().bind("127.0.0.1:0").await.unwrap();
    let error = match pulse_runtime::Server::builder().build().bind(first.local_addr()).await {
        Ok(_) => panic!("bound a port already taken"),
        Err(error) => error,
    };
    assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
    let message = error.to_string();
    assert!(message.contains("another server listens there"), "{message}");
    assert!(message.contains("choose another port"), "{message}");
    first.shutdown().await;
}

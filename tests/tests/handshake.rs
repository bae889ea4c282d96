//! Session start: `hello`, unguessable session ids, protocol version negotiation.

use pulse_runtime::client::{Client, ClientError};
use pulse_runtime::protocol::{CloseCode, PROTOCOL_VERSION};
use pulse_tests::Harness;

#[tokio::test]
async fn hello_announces_version_session_and_limits() {
    let mut harness = Harness::start().await;
    let (client, session) = harness.connect().await;
    let hello = client.hello();
    assert_eq!(hello.v, PROTOCOL_VERSION);
    assert_eq!(hello.session, session.id());
    assert_eq!(hello.limits.max_frame_bytes, 64 * 1024);
    assert_eq!(hello.limits.max_channels, 100);
    assert_eq!(hello.heartbeat_ms, 25_000);
    assert_eq!(hello.session.to_string().len(), 32);
}

/// docs/protocol.md's `hello` example is, but for the random session id, exactly what
/// the server sends with the default configuration: the same fields, names and values.
#[tokio::test]
async fn the_documented_hello_is_what_the_server_sends() {
    use futures_util::StreamExt as _;
    use tokio_tungstenite::tungstenite::Message;

    let doc = include_str!("../../docs/protocol.md");
    let start = doc.find(r#"{"t":"hello""#).expect("protocol.md shows a hello");
    let end = start + doc[start..].find("\n```").expect("the example's code block ends");
    let documented: serde_json::Value = serde_json::from_str(&doc[start..end]).expect("the example is JSON");

    let harness = Harness::start().await;
    let (mut socket, _) = tokio_tungstenite::connect_async(harness.running.ws_url()).await.unwrap();
    let Some(Ok(Message::Text(text))) = socket.next().await else { panic!("no hello") };
    let mut sent: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(sent["session"].as_str().map(str::len), Some(32), "{text}");
    sent["session"] = documented["session"].clone();
    assert_eq!(sent, documented, "the server sent {text}");
}

#[tokio::test]
async fn every_connection_gets_its_own_session() {
    let mut harness = Harness::start().await;
    let (a, _) = harness.connect().await;
    let (b, _) = harness.connect().await;
    assert_ne!(a.session_id(), b.session_id());
    assert_eq!(harness.server().stats().sessions, 2);
}

async fn refused(url: String) -> (Option<u16>, String) {
    match Client::connect(&url).await {
        Err(ClientError::Refused { code, reason }) => (code, reason),
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(_) => panic!("expected a refusal, got a session"),
    }
}

#[tokio::test]
async fn unsupported_or_missing_version_is_refused_with_a_clear_reason() {
    let mut harness = Harness::start().await;
    let addr = harness.running.local_addr();

    let (code, reason) = refused(format!("ws://{addr}/ws?v=2")).await;
    assert_eq!(code, Some(CloseCode::UnsupportedVersion.code()));
    assert_eq!(reason, "unsupported_version: asked for v=2, this server speaks v=1");

    let (code, reason) = refused(format!("ws://{addr}/ws")).await;
    assert_eq!(code, Some(4500));
    assert!(reason.contains("asked for v=none"), "{reason}");
    assert!(!CloseCode::UnsupportedVersion.should_reconnect());

    // Nothing was left behind, and the right version still works.
    assert_eq!(harness.server().stats().sessions, 0);
    harness.connect().await;
}

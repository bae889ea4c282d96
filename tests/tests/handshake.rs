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

/// A client's masked text frame (the mask is zeros, so the payload reads as sent).
fn client_text_frame(text: &str) -> Vec<u8> {
    assert!(text.len() < 126, "a short frame");
    let mut frame = vec![0x81, 0x80 | text.len() as u8, 0, 0, 0, 0];
    frame.extend_from_slice(text.as_bytes());
    frame
}

/// The next text frame a server sends on `stream`.
async fn server_text_frame(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt as _;
    let mut start = [0; 2];
    stream.read_exact(&mut start).await.unwrap();
    assert_eq!(start[0], 0x81, "an unfragmented text frame");
    let len = match start[1] {
        126 => usize::from(stream.read_u16().await.unwrap()),
        127 => usize::try_from(stream.read_u64().await.unwrap()).unwrap(),
        len => usize::from(len),
    };
    let mut payload = vec![0; len];
    stream.read_exact(&mut payload).await.unwrap();
    String::from_utf8(payload).unwrap()
}

/// An upgrade request is answered however it arrives: whole, or cut in two writes
/// (which `Server::bind`'s listener leaves to axum), and a frame sent right behind the
/// head, before the answer, reaches the session either way.
#[tokio::test]
async fn an_upgrade_in_pieces_or_with_a_frame_right_behind_it_is_served() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let harness = Harness::start().await;
    let addr = harness.running.local_addr();
    let request = format!(
        "GET /ws?v=1 HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    let frame = client_text_frame(r#"{"t":"emit","channel":"00000000000000000000000000000001","event":"x"}"#);
    for cut in [None, Some(20), Some(request.len() - 1)] {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut sent = request.clone().into_bytes();
        sent.extend_from_slice(&frame);
        if let Some(cut) = cut {
            stream.write_all(&sent[..cut]).await.unwrap();
            // Either way the upgrade must be served; the pause only makes it likely that
            // the listener sees the head unfinished and passes the connection on.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            stream.write_all(&sent[cut..]).await.unwrap();
        } else {
            stream.write_all(&sent).await.unwrap();
        }
        let answered = async {
            let mut head = Vec::new();
            while !head.ends_with(b"\r\n\r\n") {
                head.push(stream.read_u8().await.unwrap());
            }
            let hello = server_text_frame(&mut stream).await;
            (String::from_utf8(head).unwrap().to_lowercase(), hello, server_text_frame(&mut stream).await)
        };
        let (head, hello, error) =
            tokio::time::timeout(pulse_tests::PATIENCE, answered).await.expect("answered in time");
        assert!(head.starts_with("http/1.1 101 switching protocols\r\n"), "{cut:?}: {head}");
        assert!(head.contains("\r\nsec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=\r\n"), "{cut:?}: {head}");
        assert!(hello.starts_with(r#"{"t":"hello""#), "{cut:?}: {hello}");
        assert!(error.contains(r#""t":"error","code":"unknown_channel""#), "{cut:?}: {error}");
    }
}

/// `Server::router` mounted in an app of one's own (served by hyper, not by
/// `Server::bind`'s listener) serves the same sessions.
#[tokio::test]
async fn the_router_mounted_in_an_app_of_ones_own_serves_sessions() {
    use pulse_runtime::axum::{Router, routing::get};

    let server = pulse_runtime::Server::builder()
        .on_session(|session| async move {
            session.open_channel("calc", pulse_tests::test_handlers().0).unwrap();
        })
        .build();
    let app = Router::new().route("/health", get(|| async { "ok" })).merge(server.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { pulse_runtime::axum::serve(listener, app).await });

    let mut client = Client::connect(&format!("ws://{addr}/ws?v={PROTOCOL_VERSION}")).await.unwrap();
    assert_eq!(client.hello().v, PROTOCOL_VERSION);
    let calc = pulse_tests::expect_open(&mut client, "calc").await;
    assert_eq!(client.request(calc, "add", &[2, 3]).await, Ok(serde_json::json!(5)));
    assert_eq!(server.stats().sessions, 1);
    let (status, _, body) = pulse_tests::http_get(addr, "/health").await;
    assert_eq!((status, body.as_str()), (200, "ok"));
}

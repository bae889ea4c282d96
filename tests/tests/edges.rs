//! The concurrency edges and close codes of issue 10, each as an outside client sees
//! them: a channel is usable the moment its `open` arrives; a resume that takes over a
//! live connection closes the old one with 4005; invalid UTF-8 closes with 1007; the
//! rate-limit close completes its handshake; frames made while a session is detached
//! are kept up to the queue's bound, and past it the resume is refused, never gapped.

use std::time::Duration;

use chat::{Chat, RoomId};
use futures_util::{SinkExt as _, StreamExt as _};
use pulse_runtime::History;
use pulse_runtime::html::p;
use pulse_runtime::prelude::*;
use pulse_runtime::protocol::CloseCode;
use pulse_runtime::{Config, PushOnly};
use pulse_tests::{Harness, PATIENCE};
use serde_json::Value;
use serde_json::json;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn url(harness: &Harness) -> String {
    harness.running.ws_url()
}

async fn connect(url: &str) -> (Socket, Value) {
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.expect("connect");
    let hello = frame(&mut socket).await.expect("hello");
    assert_eq!(hello["t"], "hello", "{hello}");
    (socket, hello)
}

/// The next text frame (pings answered), or the close code if the connection closed.
async fn frame(socket: &mut Socket) -> Result<Value, Option<u16>> {
    loop {
        let message = tokio::time::timeout(PATIENCE, socket.next()).await.expect("a frame in time");
        match message {
            Some(Ok(Message::Text(text))) => {
                let frame: Value = serde_json::from_str(text.as_str()).expect("JSON");
                if frame["t"] == "ping" {
                    let _ = socket.send(Message::text(r#"{"t":"pong"}"#)).await;
                    continue;
                }
                return Ok(frame);
            }
            Some(Ok(Message::Close(close))) => return Err(close.map(|c| u16::from(c.code))),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Err(None),
        }
    }
}

async fn close_code(socket: &mut Socket) -> Option<u16> {
    loop {
        if let Err(code) = frame(socket).await {
            return code;
        }
    }
}

/// Issue 10, defect 1: the chat opens its channel inside `cx.init`, so `open` could
/// reach the client before the state handling it existed; a `history` request sent at
/// once was answered "the channel's handler is gone" and an emit vanished. Every one of
/// these sessions sends both the moment `open` arrives, before `tree`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_channel_is_usable_the_moment_its_open_arrives() {
    // A history that holds every message sent here: the room's list counts them.
    let harness = Harness::with_builder(chat::server().history::<Chat>(History::last(1000))).await;
    let room = harness.running.server().room_history::<Chat>(&RoomId::lobby());
    let url = url(&harness);
    let sessions = 120;
    let mut tasks = Vec::new();
    for wave in 0..sessions / 12 {
        for n in 0..12 {
            let url = url.clone();
            tasks.push(tokio::spawn(async move {
                let text = format!("hi from {wave}.{n}");
                let (mut socket, _) = connect(&url).await;
                let channel = loop {
                    let frame = frame(&mut socket).await.expect("open");
                    if frame["t"] == "open" && frame["name"] == "chat" {
                        break frame["channel"].as_str().expect("id").to_owned();
                    }
                    assert_ne!(frame["t"], "tree", "the tree came before the channel's open");
                };
                let request = json!({"t": "request", "channel": channel, "id": 1, "event": "history"});
                let emit = json!({"t": "emit", "channel": channel, "event": "send_message",
                                  "payload": {"user": "u", "text": text}});
                socket.send(Message::text(request.to_string())).await.expect("send");
                socket.send(Message::text(emit.to_string())).await.expect("send");
                let (mut answered, mut echoed) = (false, false);
                while !(answered && echoed) {
                    let frame = frame(&mut socket).await.expect("the session lives");
                    match frame["t"].as_str() {
                        Some("answer") => {
                            assert_eq!(frame["id"], 1);
                            assert!(frame["ok"].is_array(), "history answered: {frame}");
                            answered = true;
                        }
                        Some("broadcast") if frame["payload"]["text"] == text.as_str() => echoed = true,
                        Some("error") => panic!("refused: {frame}"),
                        _ => {}
                    }
                }
            }));
        }
        for task in tasks.drain(..) {
            task.await.expect("session");
        }
    }
    pulse_tests::eventually("every message in the room", || room.read().len() == sessions).await;
}

/// Found while fixing defect 1: a session's handler held its state and then wanted the
/// room (`send_message` updates it) while the same session's renderer held the room
/// (`cx.watch`) and then wanted the state: a lock-order deadlock whenever a message and
/// a re-render of the same session met. Reading a `Shared` now takes a snapshot and
/// holds no lock, so renders and handlers cannot wait on each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn renders_and_handlers_of_one_session_never_deadlock() {
    // A history that holds every message sent here: the room's list counts them.
    let harness = Harness::with_builder(chat::server().history::<Chat>(History::last(1000))).await;
    let room = harness.running.server().room_history::<Chat>(&RoomId::lobby());
    let (sessions, messages) = (8, 40);
    let mut tasks = Vec::new();
    for s in 0..sessions {
        let url = url(&harness);
        tasks.push(tokio::spawn(async move {
            let (mut socket, _) = connect(&url).await;
            let channel = loop {
                let frame = frame(&mut socket).await.expect("open");
                if frame["t"] == "open" && frame["name"] == "chat" {
                    break frame["channel"].as_str().expect("id").to_owned();
                }
            };
            for m in 0..messages {
                let emit = json!({"t": "emit", "channel": channel, "event": "send_message",
                                  "payload": {"user": format!("s{s}"), "text": format!("m{m}")}});
                socket.send(Message::text(emit.to_string())).await.expect("send");
            }
            // Keep reading (patches, broadcasts) so the session's queue drains.
            while frame(&mut socket).await.is_ok() {}
        }));
    }
    pulse_tests::eventually("every message reached the room", || room.read().len() == sessions * messages).await;
    for task in tasks {
        task.abort();
    }
}

/// Issue 10, defect 3: a resume that takes over a connection the server still thinks
/// alive closed the old one without a code (1005). It closes with 4005 `replaced`.
#[tokio::test]
async fn a_resume_over_a_live_connection_closes_the_old_one_with_4005() {
    let harness = Harness::with_builder(Server::builder().on_session(|session| async move {
        let _ = session.open_channel("feed", PushOnly);
    }))
    .await;
    let (mut old, hello) = connect(&url(&harness)).await;
    let session = hello["session"].as_str().expect("id");
    let open = frame(&mut old).await.expect("open");
    let seq = open["seq"].as_u64().expect("seq");
    let (mut new, hello) = connect(&format!("{}&resume={session}&last_seq={seq}", url(&harness))).await;
    assert_eq!(hello["resumed"], true);
    assert_eq!(close_code(&mut old).await, Some(CloseCode::Replaced.code()));
    // The new connection carries the session on.
    harness.server().broadcast("feed", "tick", &1).expect("broadcast");
    let tick = frame(&mut new).await.expect("tick");
    assert_eq!((tick["event"].as_str(), tick["seq"].as_u64()), (Some("tick"), Some(seq + 1)));
}

/// Issue 10, defect 3: invalid UTF-8 in a text message closed with 1005; RFC 6455 says
/// 1007. Another session is undisturbed.
#[tokio::test]
async fn invalid_utf8_closes_with_1007_and_nothing_else() {
    let harness = Harness::start().await;
    let (mut bad, _) = connect(&url(&harness)).await;
    let (mut good, _) = connect(&url(&harness)).await;
    let frame_bytes = Frame::message(vec![b'{', 0xff, 0xfe, b'}'], OpCode::Data(Data::Text), true);
    bad.send(Message::Frame(frame_bytes)).await.expect("send");
    assert_eq!(close_code(&mut bad).await, Some(1007));
    assert_eq!(CloseCode::from_code(1007), Some(CloseCode::InvalidData));
    assert!(!CloseCode::InvalidData.should_reconnect());
    good.send(Message::text(r#"{"t":"close","channel":"nope"}"#)).await.expect("send");
    let error = frame(&mut good).await.expect("the other session lives");
    assert_eq!(error["code"], "unknown_channel");
}

/// Issue 10, defect 3: the 4004 close was followed by a TCP reset before the close
/// handshake ended, so a client still writing saw 1006. It must see 4004, every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_still_writing_when_rate_limited_sees_4004() {
    let config = Config { inbound_frames_per_second: 20, inbound_burst: 10, ..Config::default() };
    let harness = Harness::with_config(config).await;
    for _ in 0..5 {
        let (socket, _) = connect(&url(&harness)).await;
        let (mut sink, mut stream) = socket.split();
        // The client goes on writing for a while after the server closed, before it reads
        // anything: every write must still be accepted (no reset), and the close frame
        // must then be there to read.
        for n in 0..80 {
            if let Err(error) = sink.send(Message::text(r#"{"t":"pong"}"#)).await {
                panic!("write {n} failed, the connection was reset before the close handshake: {error}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let code = loop {
            match tokio::time::timeout(PATIENCE, stream.next()).await.expect("in time") {
                Some(Ok(Message::Close(close))) => break close.map(|c| u16::from(c.code)),
                Some(Ok(_)) => continue,
                Some(Err(error)) => panic!("the connection failed before its close frame: {error}"),
                None => break None,
            }
        };
        assert_eq!(code, Some(CloseCode::RateLimited.code()));
    }
}

/// Issue 10, defect 3: frames made while a session is detached wait in its outbound
/// queue (`outbound_queue_frames`), not only in the replay buffer. Within that bound a
/// resume gets them all; one past it ends the session, and the resume gets a fresh one.
#[tokio::test]
async fn frames_made_while_detached_are_kept_up_to_the_queue_bound_and_never_gapped() {
    let config = Config { outbound_queue_frames: 16, replay_buffer_frames: 4, ..Config::default() };
    let harness = Harness::with_builder(Server::builder().config(config).on_session(|session| async move {
        let _ = session.open_channel("feed", PushOnly);
    }))
    .await;
    for (sent, resumes) in [(16, true), (17, false)] {
        let (mut socket, hello) = connect(&url(&harness)).await;
        let session = hello["session"].as_str().expect("id").to_owned();
        let open = frame(&mut socket).await.expect("open");
        let last_seq = open["seq"].as_u64().expect("seq");
        drop(socket);
        // The server sees the break (the connection's writer stops) before the feed.
        tokio::time::sleep(Duration::from_millis(200)).await;
        for n in 0..sent {
            let _ = harness.server().broadcast("feed", "n", &n);
        }
        let url = format!("{}&resume={session}&last_seq={last_seq}", url(&harness));
        let (mut socket, hello) = connect(&url).await;
        assert_eq!(hello["resumed"], resumes, "{sent} frames while detached");
        if resumes {
            for n in 0..sent {
                let frame = frame(&mut socket).await.expect("replayed");
                assert_eq!((frame["payload"].as_u64(), frame["seq"].as_u64()), (Some(n), Some(last_seq + 1 + n)));
            }
        } else {
            assert_ne!(hello["session"], session.as_str(), "a fresh session");
        }
    }
}

/// Issue 10, defect 3: an `answer` naming another session's channel got
/// `unknown_request`; protocol.md says `unknown_channel`.
#[tokio::test]
async fn an_answer_on_another_sessions_channel_is_an_unknown_channel() {
    let mut harness = Harness::start().await;
    let (mut mine, my_session) = harness.connect().await;
    let (_theirs, their_session) = harness.connect().await;
    my_session.open_channel("a", PushOnly).expect("open");
    let their_channel = their_session.open_channel("a", PushOnly).expect("open").id();
    pulse_tests::expect_open(&mut mine, "a").await;
    mine.send_raw_text(json!({"t": "answer", "channel": their_channel.to_string(), "id": 1, "ok": 1}).to_string())
        .expect("send");
    match pulse_tests::next_frame(&mut mine).await {
        pulse_runtime::client::ServerFrame::Error { error, .. } => {
            assert_eq!(error.code, pulse_runtime::protocol::ErrorCode::UnknownChannel)
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

// A state whose `init` opens a channel and then panics: the channel was opened gated
// (its `open` waits for the state) and must not hold the session's queue forever.

#[channel(name = "doomed", events(poke() => server))]
struct Doomed;

#[state]
struct DoomedState {
    _channel: Channel<Doomed>,
}

impl DoomedHandler for DoomedState {
    fn poke(&mut self, _cx: &mut ChannelCx<Doomed>) {}
}

#[component]
fn Exploding(cx: &mut Scope) -> Node {
    cx.init(|cx| {
        let _channel = cx.channel::<Doomed>();
        panic!("making the state failed");
        #[allow(unreachable_code)]
        DoomedState { _channel }
    });
    p("never")
}

#[tokio::test]
async fn a_channel_of_a_state_that_was_never_made_does_not_block_the_session() {
    let harness = Harness::with_builder(Server::builder().root(|| Exploding {}).on_session(|session| async move {
        let _ = session.open_channel("feed", PushOnly);
    }))
    .await;
    let (mut socket, _) = connect(&url(&harness)).await;
    let (mut doomed, mut feed, mut render_error) = (None, false, false);
    while !(feed && render_error && doomed == Some(false)) {
        let frame = frame(&mut socket).await.expect("the session lives");
        match (frame["t"].as_str(), frame["name"].as_str()) {
            (Some("open"), Some("doomed")) => doomed = Some(true),
            (Some("close"), _) => {
                assert_eq!(doomed, Some(true), "close after open");
                doomed = Some(false);
            }
            (Some("open"), Some("feed")) => feed = true,
            (Some("render_error"), _) => render_error = true,
            _ => {}
        }
    }
    assert_eq!(harness.server().stats().channels, 1, "only the feed is left open");
}

/// An `answer` whose channel and id can be read but whose `error` is malformed fails the
/// server's request at once (it does not wait for the timeout), and the client is told.
#[tokio::test]
async fn a_malformed_answer_fails_its_request_at_once() {
    use pulse_runtime::client::ServerFrame;
    use pulse_runtime::protocol::ErrorCode;
    let mut harness = Harness::start().await;
    let (mut client, session) = harness.connect().await;
    let channel = session.open_channel("calc", PushOnly).expect("open");
    let id = pulse_tests::expect_open(&mut client, "calc").await;
    let started = std::time::Instant::now();
    let ask = tokio::spawn({
        let channel = channel.clone();
        async move { channel.request("ask", &()).timeout(Duration::from_secs(30)).await }
    });
    let request = match pulse_tests::next_frame(&mut client).await {
        ServerFrame::Request { id, .. } => id,
        other => panic!("expected a request, got {other:?}"),
    };
    let answer = json!({"t": "answer", "channel": id.to_string(), "id": request, "error": 5});
    client.send_raw_text(answer.to_string()).expect("send");
    let failure = ask.await.expect("task").expect_err("the request fails");
    assert_eq!(failure.rejection_code(), Some(ErrorCode::MalformedFrame));
    assert!(started.elapsed() < Duration::from_secs(5), "failed at once, not at the timeout");
    match pulse_tests::next_frame(&mut client).await {
        ServerFrame::Error { error, .. } => assert_eq!(error.code, ErrorCode::MalformedFrame),
        other => panic!("expected an error frame, got {other:?}"),
    }
}

/// The server writes its frames itself (header, `seq`, body) and tungstenite, reading,
/// answers the client's WebSocket pings and close frame through the writer: a pong goes
/// out whole between the frames of a burst (sizes around each change of the length's
/// encoding, 125/126 and 65,535/65,536 bytes), every frame arrives whole and numbered in
/// order, and a close from the client is answered with its code before the server ends
/// the connection.
#[tokio::test]
async fn pings_are_answered_between_whole_frames_and_a_client_close_is_answered() {
    let mut harness = Harness::with_config(Config { max_frame_bytes: 1 << 20, ..Config::default() }).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(url(&harness)).await.expect("connect");
    let session = harness.next_session().await;
    let channel = session.open_channel("burst", PushOnly).expect("open");
    let sizes = [0, 60, 100, 101, 102, 103, 200, 65_400, 65_460, 65_461, 65_462, 70_000];
    let texts: Vec<String> = (0..120).map(|i| format!("{i}:{}", "é".repeat(sizes[i % sizes.len()] / 2))).collect();
    for text in &texts {
        channel.emit("item", text).expect("emit");
    }
    socket.send(Message::Ping(b"are you there".as_slice().into())).await.expect("ping");
    let mut items = Vec::new();
    let mut last_seq = 0;
    let mut pong = None;
    while items.len() < texts.len() || pong.is_none() {
        match tokio::time::timeout(PATIENCE, socket.next()).await.expect("a frame in time") {
            Some(Ok(Message::Text(text))) => {
                let frame: Value = serde_json::from_str(text.as_str()).expect("JSON");
                if frame["t"] == "hello" || frame["t"] == "ping" {
                    continue;
                }
                let seq = frame["seq"].as_u64().expect("numbered");
                assert_eq!(seq, last_seq + 1, "{frame}");
                last_seq = seq;
                if frame["t"] == "emit" {
                    items.push(frame["payload"].as_str().expect("text").to_owned());
                }
            }
            Some(Ok(Message::Pong(data))) => pong = Some(data),
            other => panic!("expected a frame or the pong, got {other:?}"),
        }
    }
    assert!(items == texts, "every frame arrives whole and in order");
    assert_eq!(pong.as_deref(), Some(b"are you there".as_slice()));

    socket
        .close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame { code: 1000.into(), reason: "bye".into() }))
        .await
        .expect("close");
    let answer = loop {
        match tokio::time::timeout(PATIENCE, socket.next()).await.expect("the answer in time") {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("expected the close answered, got {other:?}"),
        }
    };
    assert_eq!(answer.map(|frame| u16::from(frame.code)), Some(1000));
    // Then the server ends the connection.
    let end = tokio::time::timeout(PATIENCE, socket.next()).await.expect("the end in time");
    assert!(matches!(end, None | Some(Err(_))), "{end:?}");
}

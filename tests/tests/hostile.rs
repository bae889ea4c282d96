//! A hostile client, over real sockets: floods from one address, silent and slow
//! connections, framing violations and oversized messages while still writing, a
//! layer that refuses the upgrade, and the RFC 6455 handshake's rules. Each case shows
//! the refusal the docs promise and that everyone else is undisturbed.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use pulse_runtime::axum;
use pulse_runtime::client::Client;
use pulse_runtime::protocol::CloseCode;
use pulse_runtime::{Config, Server};
use pulse_tests::PATIENCE;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

async fn start(config: Config) -> pulse_runtime::RunningServer {
    pulse_tests::init_tracing();
    Server::builder().config(config).build().bind("127.0.0.1:0").await.unwrap()
}

/// A TCP connection to `server` from the loopback address `from`.
async fn connect_from(from: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(server).await.unwrap()
}

/// Reads until the server closes the connection; what it sent, or the error that
/// ended the reading (a reset).
async fn read_to_end(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut read = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut read)).await.expect("the server closes")?;
    Ok(read)
}

fn upgrade_request(extra: &str) -> String {
    format!(
        "GET /ws?v=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {KEY}\r\n{extra}\r\n"
    )
}

/// A WebSocket session on a raw stream: the upgrade answered, `hello` read.
async fn raw_session(server: SocketAddr) -> TcpStream {
    raw_session_with_hello(server).await.0
}

/// [`raw_session`], and its `hello`.
async fn raw_session_with_hello(server: SocketAddr) -> (TcpStream, serde_json::Value) {
    let mut stream = TcpStream::connect(server).await.unwrap();
    stream.write_all(upgrade_request("").as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(stream.read_u8().await.unwrap());
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
    let (opcode, hello) = server_frame(&mut stream).await.unwrap();
    assert_eq!(opcode, 1);
    assert!(hello.starts_with(br#"{"t":"hello""#));
    (stream, serde_json::from_slice(&hello).unwrap())
}

/// The next frame the server sends: its opcode and payload.
async fn server_frame(stream: &mut TcpStream) -> std::io::Result<(u8, Vec<u8>)> {
    let first = stream.read_u8().await?;
    let len = match stream.read_u8().await? & 0x7f {
        126 => u64::from(stream.read_u16().await?),
        127 => stream.read_u64().await?,
        len => u64::from(len),
    };
    let mut payload = vec![0; len as usize];
    stream.read_exact(&mut payload).await?;
    Ok((first & 0x0f, payload))
}

/// The server's close frame, after any other frames: its code and reason.
async fn server_close(stream: &mut TcpStream) -> (u16, String) {
    let read = async {
        loop {
            let (opcode, payload) = server_frame(stream).await.expect("a close frame, not a reset");
            if opcode == 8 {
                return (u16::from_be_bytes([payload[0], payload[1]]), String::from_utf8_lossy(&payload[2..]).into());
            }
        }
    };
    tokio::time::timeout(PATIENCE, read).await.expect("a close frame in time")
}

/// A client frame's header: `first` byte (FIN, RSV, opcode), `len`, masked or not.
fn frame_header(first: u8, len: usize, masked: bool) -> Vec<u8> {
    let mask = if masked { 0x80 } else { 0 };
    let mut header = vec![first];
    match len {
        0..=125 => header.push(mask | len as u8),
        126..=65_535 => {
            header.push(mask | 126);
            header.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            header.push(mask | 127);
            header.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    if masked {
        header.extend_from_slice(&[0, 0, 0, 0]); // a zero mask: the payload as it is
    }
    header
}

/// Answers the server's close and shows the connection then ends cleanly: the close
/// handshake completed, no reset.
async fn answer_close_and_see_it_end(stream: &mut TcpStream) {
    let mut close = frame_header(0x88, 2, true);
    close.extend_from_slice(&1000u16.to_be_bytes());
    stream.write_all(&close).await.unwrap();
    let rest = read_to_end(stream).await.expect("the connection ends with FIN, not a reset");
    assert!(rest.is_empty(), "nothing after the close: {rest:?}");
}

#[tokio::test]
async fn one_address_cannot_lock_out_another() {
    let config = Config { max_connections_per_address: 20, ..Config::default() };
    let running = start(config).await;
    let addr = running.local_addr();
    let mut flood = Vec::new();
    for _ in 0..20 {
        flood.push(connect_from("127.0.0.1", addr).await);
    }
    let mut refused = connect_from("127.0.0.1", addr).await;
    let answer = String::from_utf8(read_to_end(&mut refused).await.unwrap()).unwrap();
    assert!(answer.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{answer}");
    assert!(answer.contains("\r\nretry-after: 5\r\n"), "{answer}");
    assert!(answer.contains("20 connections are open from 127.0.0.1"), "{answer}");

    let started = Instant::now();
    let stream = connect_from("127.0.0.2", addr).await;
    let url = running.ws_url();
    let (mut socket, _) = tokio_tungstenite::client_async(url, stream).await.expect("another address gets in");
    let hello = socket.next().await.unwrap().unwrap();
    assert!(hello.to_text().unwrap().starts_with(r#"{"t":"hello""#));
    assert!(started.elapsed() < Duration::from_secs(1), "hello took {:?}", started.elapsed());

    drop(flood);
    let stream = connect_from("127.0.0.1", addr).await;
    tokio::time::timeout(PATIENCE, async {
        // The flood's places come back as its connections close.
        let mut stream = stream;
        loop {
            if tokio_tungstenite::client_async(running.ws_url(), stream).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            stream = connect_from("127.0.0.1", addr).await;
        }
    })
    .await
    .expect("the flooding address gets in again once its connections closed");
    running.shutdown().await;
}

#[tokio::test]
async fn the_server_caps_connections_in_all() {
    let running = start(Config { max_connections: 3, ..Config::default() }).await;
    let addr = running.local_addr();
    let _held = [connect_from("127.0.0.1", addr).await, connect_from("127.0.0.2", addr).await];
    let _client = Client::connect(&running.ws_url()).await.unwrap();
    let mut refused = connect_from("127.0.0.3", addr).await;
    let answer = String::from_utf8(read_to_end(&mut refused).await.unwrap()).unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("the server has 3 connections open (Config::max_connections)"), "{answer}");
    running.shutdown().await;
}

#[tokio::test]
async fn silent_and_slow_connections_are_answered_408_and_closed() {
    let running = start(Config { request_head_timeout: Duration::from_millis(800), ..Config::default() }).await;
    let addr = running.local_addr();
    let started = Instant::now();
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let mut slow = TcpStream::connect(addr).await.unwrap();
    let slowloris = async {
        slow.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if slow.write_all(b"X-a: b\r\n").await.is_err() {
                break;
            }
        }
    };
    let (silent_answer, ()) = tokio::join!(read_to_end(&mut silent), slowloris);
    let silent_answer = String::from_utf8(silent_answer.unwrap()).unwrap();
    assert!(silent_answer.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{silent_answer}");
    assert!(silent_answer.ends_with("request_head_timeout: no whole request head in 0.8 s"), "{silent_answer}");
    let slow_answer = read_to_end(&mut slow).await.unwrap_or_default();
    assert!(slow_answer.is_empty() || slow_answer.starts_with(b"HTTP/1.1 408"), "{slow_answer:?}");
    assert!(started.elapsed() < Duration::from_secs(4), "closed after {:?}", started.elapsed());

    // A kept-alive HTTP connection that goes silent after its request is timed too.
    let mut kept = TcpStream::connect(addr).await.unwrap();
    kept.write_all(b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let answered = read_to_end(&mut kept).await.unwrap_or_default();
    assert!(answered.starts_with(b"HTTP/1.1 404"), "{}", String::from_utf8_lossy(&answered));
    running.shutdown().await;
}

#[tokio::test]
async fn sessions_past_the_cap_are_refused_but_resumes_get_in() {
    let config = Config { max_sessions: 1, ..Config::default() };
    let running = start(config).await;
    let (first, hello) = raw_session_with_hello(running.local_addr()).await;
    let mut second = TcpStream::connect(running.local_addr()).await.unwrap();
    second.write_all(upgrade_request("").as_bytes()).await.unwrap();
    let answer = String::from_utf8(read_to_end(&mut second).await.unwrap()).unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("retry-after: 5"), "{answer}");
    assert!(answer.ends_with("the server has 1 sessions (Config::max_sessions); retry later"), "{answer}");
    // Resuming the session that holds the place, once its connection broke, is let through.
    let resume = format!("{}&resume={}&last_seq=0", running.ws_url(), hello["session"].as_str().unwrap());
    drop(first);
    let resumed = Client::connect(&resume).await.expect("a resume needs no new place");
    assert!(resumed.hello().resumed);
    running.shutdown().await;
}

/// A layer that refuses every upgrade without `token` in its query.
async fn only_with_token(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Result<axum::response::Response, axum::http::StatusCode> {
    match request.uri().query().is_some_and(|query| query.contains("token=")) {
        true => Ok(next.run(request).await),
        false => Err(axum::http::StatusCode::UNAUTHORIZED),
    }
}

async fn status_of_upgrade(addr: SocketAddr, query: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = upgrade_request("").replacen("/ws?v=1", &format!("/ws?v=1{query}"), 1);
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = [0; 12];
    stream.read_exact(&mut head).await.unwrap();
    String::from_utf8_lossy(&head).into()
}

#[tokio::test]
async fn a_layer_refusing_the_upgrade_refuses_it_however_the_server_runs() {
    let layered = || Server::builder().layer(axum::middleware::from_fn(only_with_token)).build();
    // `bind` (and `serve`, which is `bind` until Ctrl-C): the listener reads the upgrade.
    let running = layered().bind("127.0.0.1:0").await.unwrap();
    assert_eq!(status_of_upgrade(running.local_addr(), "").await, "HTTP/1.1 401");
    assert_eq!(status_of_upgrade(running.local_addr(), "&token=t").await, "HTTP/1.1 101");
    running.shutdown().await;

    // The router mounted in an app of one's own, the layer on the builder or the app.
    let app_layered = Server::builder().build().router().layer(axum::middleware::from_fn(only_with_token));
    for app in [layered().router(), app_layered] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move { axum::serve(listener, app).await });
        assert_eq!(status_of_upgrade(addr, "").await, "HTTP/1.1 401");
        assert_eq!(status_of_upgrade(addr, "&token=t").await, "HTTP/1.1 101");
        task.abort();
    }
}

#[tokio::test]
async fn the_handshake_follows_rfc_6455_and_9110() {
    let running = start(Config::default()).await;
    let addr = running.local_addr();
    for key in ["short", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "dGhlIHNhbXBsZSBub25jZQ"] {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(upgrade_request("").replace(KEY, key).as_bytes()).await.unwrap();
        let answer = String::from_utf8(read_to_end(&mut stream).await.unwrap()).unwrap();
        assert!(answer.starts_with("HTTP/1.1 400"), "{key}: {answer}");
        assert!(answer.ends_with("must be 16 bytes in base64 (RFC 6455 §4.2.1)"), "{answer}");
    }
    for method in ["HEAD", "POST", "DELETE"] {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request = upgrade_request("Connection: close\r\n").replacen("GET", method, 1);
        stream.write_all(request.as_bytes()).await.unwrap();
        let answer = String::from_utf8(read_to_end(&mut stream).await.unwrap()).unwrap().to_lowercase();
        assert!(answer.starts_with("http/1.1 405"), "{method}: {answer}");
        assert!(answer.contains("\r\nallow: get"), "{method}: {answer}");
    }
    running.shutdown().await;
}

#[tokio::test]
async fn the_idle_timeout_holds_to_within_a_second() {
    let config = Config {
        idle_timeout: Duration::from_millis(1500),
        heartbeat_interval: Duration::from_secs(10),
        ..Config::default()
    };
    let running = start(config).await;
    let mut stream = raw_session(running.local_addr()).await;
    let started = Instant::now();
    let (code, reason) = server_close(&mut stream).await;
    let took = started.elapsed();
    assert_eq!((code, reason.as_str()), (4001, "idle_timeout: nothing received for 1500 ms"));
    assert!(took >= Duration::from_millis(1400) && took < Duration::from_millis(2500), "closed after {took:?}");
    running.shutdown().await;
}

#[tokio::test]
async fn a_client_still_writing_a_message_too_large_reads_its_close_code() {
    let running = start(Config::default()).await;
    // 70 KB in 4 KiB pieces, and one write of 4 MiB.
    for (len, piece) in [(70_000, 4096), (4 << 20, 4 << 20)] {
        let mut stream = raw_session(running.local_addr()).await;
        stream.write_all(&frame_header(0x81, len, true)).await.unwrap();
        let payload = vec![b'x'; len];
        for chunk in payload.chunks(piece) {
            stream.write_all(chunk).await.expect("the server reads what is sent, and resets nothing");
        }
        let (code, reason) = server_close(&mut stream).await;
        assert_eq!(code, CloseCode::FrameTooLarge.code());
        assert_eq!(reason, "frame_too_large: a message exceeded 65536 bytes");
        answer_close_and_see_it_end(&mut stream).await;
    }
    running.shutdown().await;
}

#[tokio::test]
async fn framing_violations_get_1002_with_a_coded_reason_and_a_clean_close() {
    let running = start(Config::default()).await;
    let mut unmasked = frame_header(0x81, 2, false);
    unmasked.extend_from_slice(b"{}");
    let mut rsv1 = frame_header(0xC1, 2, true);
    rsv1.extend_from_slice(b"{}");
    let reserved_opcode = frame_header(0x83, 0, true);
    let mut long_ping = frame_header(0x89, 126, true);
    long_ping.extend_from_slice(&[0; 126]);
    let mut stray_continuation = frame_header(0x80, 2, true);
    stray_continuation.extend_from_slice(b"{}");
    let mut short_close = frame_header(0x88, 1, true);
    short_close.push(3);
    for (name, bytes) in [
        ("unmasked", unmasked),
        ("rsv1", rsv1),
        ("opcode 0x3", reserved_opcode),
        ("126-byte ping", long_ping),
        ("continuation", stray_continuation),
        ("1-byte close", short_close),
    ] {
        let mut stream = raw_session(running.local_addr()).await;
        stream.write_all(&bytes).await.unwrap();
        let (code, reason) = server_close(&mut stream).await;
        assert_eq!(code, 1002, "{name}: {reason}");
        assert!(reason.starts_with("protocol_error: "), "{name}: {reason}");
        if name != "1-byte close" {
            answer_close_and_see_it_end(&mut stream).await;
        } else {
            assert!(read_to_end(&mut stream).await.is_ok(), "{name}: the connection ends without a reset");
        }
    }
    // Bad UTF-8 in a first fragment, more fragments behind it.
    let mut stream = raw_session(running.local_addr()).await;
    let mut fragments = frame_header(0x01, 3, true);
    fragments.extend_from_slice(&[b'{', 0xff, 0xfe]);
    for _ in 0..20 {
        fragments.extend(frame_header(0x00, 1000, true));
        fragments.extend_from_slice(&[b'a'; 1000]);
    }
    stream.write_all(&fragments).await.unwrap();
    let (code, reason) = server_close(&mut stream).await;
    assert_eq!((code, reason.as_str()), (1007, "invalid_data: a text message was not UTF-8"));
    answer_close_and_see_it_end(&mut stream).await;
    running.shutdown().await;
}

//! Helpers shared by the integration tests: a real server on 127.0.0.1:0, real
//! WebSocket clients, and waiting for frames with a deadline.

use std::time::Duration;

use pulse_runtime::client::{Client, ClientOptions, ServerFrame};
use pulse_runtime::{ChannelId, Config, RunningServer, Server, Session};
use tokio::sync::mpsc;

/// How long a test waits for a frame that should come, before failing.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// Logs to the test output when `RUST_LOG` is set.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// A running server whose sessions are handed to the test as they start.
pub struct Harness {
    /// The server.
    pub running: RunningServer,
    sessions: mpsc::UnboundedReceiver<Session>,
}

impl Harness {
    /// Starts a server with the default configuration.
    pub async fn start() -> Self {
        Self::with_config(Config::default()).await
    }

    /// Starts a server with `config` on a free loopback port.
    pub async fn with_config(config: Config) -> Self {
        Self::with_builder(Server::builder().config(config)).await
    }

    /// Starts a server rendering `root` for every session.
    pub async fn with_root<N: pulse_runtime::component::IntoNode>(
        root: impl Fn() -> N + Send + Sync + 'static,
    ) -> Self {
        Self::with_builder(Server::builder().root(root)).await
    }

    /// Starts the server `builder` makes, handing its sessions to the test.
    pub async fn with_builder(builder: pulse_runtime::ServerBuilder) -> Self {
        init_tracing();
        let (tx, sessions) = mpsc::unbounded_channel();
        let server = builder
            .on_session(move |session| {
                let _ = tx.send(session);
                std::future::ready(())
            })
            .build();
        let running = server.bind("127.0.0.1:0").await.expect("bind a loopback port");
        Harness { running, sessions }
    }

    /// The server.
    pub fn server(&self) -> &Server {
        self.running.server()
    }

    /// Connects a client and returns it with the server's handle to its session.
    pub async fn connect(&mut self) -> (Client, Session) {
        self.connect_with(ClientOptions::default()).await
    }

    /// Connects to `url` (this server's, with extra query parameters).
    pub async fn connect_with_url(&mut self, url: &str) -> (Client, Session) {
        let client = Client::connect(url).await.expect("connect");
        let session = self.next_session().await;
        assert_eq!(session.id(), client.session_id());
        (client, session)
    }

    /// Like [`Harness::connect`] with client options.
    pub async fn connect_with(&mut self, options: ClientOptions) -> (Client, Session) {
        let client = Client::connect_with(&self.running.ws_url(), options).await.expect("connect");
        let session = self.next_session().await;
        assert_eq!(session.id(), client.session_id());
        (client, session)
    }

    /// The server's handle to the next session that started.
    pub async fn next_session(&mut self) -> Session {
        tokio::time::timeout(PATIENCE, self.sessions.recv()).await.expect("the session hook ran").expect("server alive")
    }
}

/// The next frame, failing the test if none comes in time.
pub async fn next_frame(client: &mut Client) -> ServerFrame {
    match tokio::time::timeout(PATIENCE, client.next_frame()).await {
        Ok(Some(frame)) => frame,
        Ok(None) => panic!("the connection ended without a frame"),
        Err(_) => panic!("no frame within {PATIENCE:?}"),
    }
}

/// Asserts that no frame arrives within `wait`.
pub async fn expect_silence(client: &mut Client, wait: Duration) {
    if let Ok(Some(frame)) = tokio::time::timeout(wait, client.next_frame()).await {
        panic!("expected no frame, got {frame:?}");
    }
}

/// Waits for the `open` frame of a channel and returns its id.
pub async fn expect_open(client: &mut Client, name: &str) -> ChannelId {
    match next_frame(client).await {
        ServerFrame::Open { channel, name: opened, .. } if opened == name => channel,
        other => panic!("expected open of `{name}`, got {other:?}"),
    }
}

/// Waits for the end of the connection and returns its close code and reason.
pub async fn expect_disconnect(client: &mut Client) -> (Option<u16>, String) {
    loop {
        match next_frame(client).await {
            ServerFrame::Disconnected { code, reason } => return (code, reason),
            _ => continue,
        }
    }
}

/// Polls `f` until it holds, failing after [`PATIENCE`].
pub async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// What the test handlers saw the client emit.
pub type Seen = mpsc::UnboundedReceiver<(String, serde_json::Value)>;

/// A channel handler exercising every kind of traffic:
/// emits `note` (recorded) and `shout` (answered with an emit `heard`), requests
/// `echo`, `add`, `fail` (handler error), `panic`, and `slow` (async, waits N ms).
pub fn test_handlers() -> (pulse_runtime::Handlers, Seen) {
    let (seen_tx, seen) = mpsc::unbounded_channel();
    let handlers = pulse_runtime::Handlers::new()
        .on("note", move |_cx, value: serde_json::Value| {
            let _ = seen_tx.send(("note".to_owned(), value));
        })
        .on("shout", |cx, text: String| {
            let _ = cx.channel().emit("heard", &text.to_uppercase());
        })
        .on_request("echo", |_cx, value: serde_json::Value| Ok(value))
        .on_request("add", |_cx, (a, b): (i64, i64)| Ok(a + b))
        .on_request("fail", |_cx, (): ()| Err::<(), _>("no luck today".to_owned()))
        .on_request("panic", |_cx, (): ()| -> Result<(), String> { panic!("handler exploded") })
        .on_request_async("slow", |_cx, ms: u64| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(ms)
        });
    (handlers, seen)
}

pub mod lab;
pub mod pages;
pub mod poll;
pub mod redis;
pub mod todo;
pub mod vdom;

/// Polls the async check `f` until it holds, failing after [`PATIENCE`].
pub async fn eventually_async<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !f().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A plain HTTP/1.1 `GET` of `path` from `addr`: the status code, the response head
/// (lowercased) and the body. Enough for the servers under test (no chunking: they
/// answer with a length, and the connection closes after).
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String, String) {
    http_request(addr, "GET", path, &[("Connection", "close")]).await
}

/// Like [`http_get`], with method `method` and the headers `headers` (besides `Host`).
pub async fn http_request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect over HTTP");
    let headers: String = headers.iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
    let request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}\r\n");
    stream.write_all(request.as_bytes()).await.expect("send the request");
    let mut response = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut response)).await.expect("a response in time").expect("read");
    let response = String::from_utf8(response).expect("a UTF-8 response");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status code");
    (status, head.to_lowercase(), body.to_owned())
}

/// The value of the sample `name` (with its labels, as rendered) in a Prometheus scrape;
/// fails the test if there is none.
pub fn metric(scrape: &str, name: &str) -> f64 {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no sample `{name}` in\n{scrape}"))
}

/// Upgrades to `url` with `origin` as the `Origin` header (none if `None`): `Ok` if the
/// server took the upgrade, else the HTTP status it answered.
pub async fn upgrade_status(url: &str, origin: Option<&str>) -> Result<(), u16> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let mut request = url.into_client_request().expect("a WebSocket URL");
    if let Some(origin) = origin {
        request.headers_mut().insert("origin", origin.parse().expect("an Origin header"));
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok(_) => Ok(()),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(other) => panic!("unexpected error {other}"),
    }
}

//! A connection of the load client, speaking each server's protocol over a plain
//! tokio-tungstenite socket, and what the workloads read off the machine.

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt as _, StreamExt as _};
use hdrhistogram::Histogram;
use pulse_bench::{Kind, Protocol};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Sink = SplitSink<Socket, Message>;
type Stream = SplitStream<Socket>;

pub struct Conn {
    kind: Kind,
    pub sink: Sink,
    pub stream: Stream,
    /// Pulse: the `control` channel's id.
    control: String,
    next_id: u64,
}

impl Conn {
    pub async fn open(kind: Kind, port: u16) -> Conn {
        // Nagle off, as on every server: small frames must not wait for delayed ACKs.
        let (socket, _) =
            tokio_tungstenite::connect_async_with_config(kind.url(port), None, true).await.expect("connect");
        let (sink, stream) = socket.split();
        let mut conn = Conn { kind, sink, stream, control: String::new(), next_id: 0 };
        match kind.protocol() {
            Protocol::Pulse => loop {
                let text = conn.recv_text().await;
                if text.contains("\"t\":\"open\"") && text.contains("\"name\":\"control\"") {
                    let start = text.find("\"channel\":\"").expect("channel") + 11;
                    conn.control = text[start..start + 32].to_owned();
                    break;
                }
            },
            Protocol::Raw => {}
            Protocol::SocketIo => {
                let open = conn.recv_text().await;
                assert!(open.starts_with('0'), "engine.io open packet, got {open}");
                conn.send("40".to_owned()).await;
                while !conn.recv_text().await.starts_with("40") {}
            }
        }
        conn
    }

    pub async fn send(&mut self, text: String) {
        self.sink.send(Message::text(text)).await.expect("send");
    }

    /// The next text frame that is not a heartbeat (answered on the way).
    pub async fn recv_text(&mut self) -> String {
        loop {
            let message = self.stream.next().await.expect("connection open").expect("frame");
            let Message::Text(text) = message else { continue };
            let text = text.as_str();
            match self.kind.protocol() {
                Protocol::Pulse if text == r#"{"t":"ping"}"# => self.send(r#"{"t":"pong"}"#.to_owned()).await,
                Protocol::SocketIo if text == "2" => self.send("3".to_owned()).await,
                _ => return text.to_owned(),
            }
        }
    }

    fn event(&self, event: &str, data: &str) -> String {
        match self.kind.protocol() {
            Protocol::Pulse => {
                format!(r#"{{"t":"emit","channel":"{}","event":"{event}","payload":{data}}}"#, self.control)
            }
            Protocol::Raw => match event {
                "join" => "join".to_owned(),
                _ => format!("pub:{data}"),
            },
            Protocol::SocketIo => format!(r#"42["{event}",{data}]"#),
        }
    }

    pub async fn join(&mut self) {
        let frame = self.event("join", "null");
        self.send(frame).await;
    }

    pub async fn publish(&mut self, data: &str) {
        let frame = self.event("publish", data);
        self.send(frame).await;
    }

    /// One request/answer round trip.
    pub async fn echo(&mut self, data: &str) {
        self.next_id += 1;
        let id = self.next_id;
        let frame = match self.kind.protocol() {
            Protocol::Pulse => {
                format!(r#"{{"t":"request","channel":"{}","id":{id},"event":"echo","payload":{data}}}"#, self.control)
            }
            Protocol::Raw => format!("echo:{data}"),
            Protocol::SocketIo => format!(r#"42{id}["echo",{data}]"#),
        };
        self.send(frame).await;
        loop {
            let text = self.recv_text().await;
            let answered = match self.kind.protocol() {
                Protocol::Pulse => text.contains("\"t\":\"answer\""),
                Protocol::Raw => true,
                Protocol::SocketIo => text.starts_with(&format!("43{id}")),
            };
            if answered {
                return;
            }
        }
    }

    pub fn is_delivery(&self, text: &str) -> bool {
        match self.kind.protocol() {
            Protocol::Pulse => text.contains("\"t\":\"broadcast\""),
            Protocol::Raw => true,
            Protocol::SocketIo => text.starts_with("42[\"item\""),
        }
    }
}

pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds")
}

pub async fn connect_many(kind: Kind, port: u16, count: usize) -> Vec<Conn> {
    let mut conns = Vec::with_capacity(count);
    // A few hundred handshakes at a time keep the accept queue from overflowing.
    for chunk in (0..count).collect::<Vec<_>>().chunks(200) {
        let batch = futures_util::future::join_all(chunk.iter().map(|_| Conn::open(kind, port))).await;
        conns.extend(batch);
    }
    conns
}

/// CPU seconds (user + system) a process has used, from /proc (clock ticks of 10 ms).
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces; fields after it are space-separated.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // After the name: state is field 0, utime field 11, stime field 12.
    (ticks(11) + ticks(12)) / 100.0
}

/// How busy this load client was over the last `elapsed` seconds, in percent of the one
/// core its single-threaded runtime can use: near 100, a figure is the client's ceiling.
pub fn client_busy(cpu_before: f64, elapsed: f64) -> f64 {
    (cpu_seconds(std::process::id()) - cpu_before) * 100.0 / elapsed.max(1e-9)
}

//! The pieces the benchmark binaries share: which server is measured, and how a load
//! client speaks each one's protocol over a plain tokio-tungstenite socket, so that
//! every server is driven the same way.

use std::time::{SystemTime, UNIX_EPOCH};

/// The servers under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// This project's runtime.
    Pulse,
    /// A minimal tokio-tungstenite broadcast/echo server whose writer sends every frame
    /// queued for a connection in one write: the physical limit here.
    Raw,
    /// The same server writing (and flushing) each frame on its own, as the naive server
    /// does: what batching saves.
    RawPerFrame,
    /// socketioxide (Socket.IO on axum).
    Socketioxide,
    /// Socket.IO 4 on Node (bench/socketio/server.mjs).
    SocketIoNode,
}

/// The protocol a server speaks: what the load client sends it and reads from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Pulse's JSON frames.
    Pulse,
    /// The raw servers' text commands (`join`, `pub:`, `echo:`).
    Raw,
    /// Socket.IO over engine.io v4.
    SocketIo,
}

impl Kind {
    /// What the load client speaks to a server of this kind.
    pub fn protocol(self) -> Protocol {
        match self {
            Kind::Pulse => Protocol::Pulse,
            Kind::Raw | Kind::RawPerFrame => Protocol::Raw,
            Kind::Socketioxide | Kind::SocketIoNode => Protocol::SocketIo,
        }
    }

    /// Parses `pulse`, `raw`, `raw-per-frame`, `socketioxide` or `socketio-node`.
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "pulse" => Kind::Pulse,
            "raw" => Kind::Raw,
            "raw-per-frame" => Kind::RawPerFrame,
            "socketioxide" => Kind::Socketioxide,
            "socketio-node" => Kind::SocketIoNode,
            _ => return None,
        })
    }

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Pulse => "pulse",
            Kind::Raw => "raw tokio-tungstenite",
            Kind::RawPerFrame => "raw, a write per frame",
            Kind::Socketioxide => "socketioxide",
            Kind::SocketIoNode => "Socket.IO (Node)",
        }
    }

    /// Whether the server speaks Socket.IO (engine.io v4 framing).
    pub fn is_socketio(self) -> bool {
        self.protocol() == Protocol::SocketIo
    }

    /// The WebSocket URL of a server of this kind on `port`.
    pub fn url(self, port: u16) -> String {
        match self.protocol() {
            Protocol::Pulse => format!("ws://127.0.0.1:{port}/ws?v=1"),
            Protocol::Raw => format!("ws://127.0.0.1:{port}/"),
            Protocol::SocketIo => {
                format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket")
            }
        }
    }
}

/// Microseconds since the Unix epoch: the send time carried in each payload (client
/// and server share the machine's clock).
pub fn now_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

/// A ~100-byte JSON payload carrying its send time.
pub fn payload(ts: u64) -> String {
    format!("{{\"ts\":{ts},\"pad\":\"{}\"}}", "x".repeat(70))
}

/// The send time in a frame that contains a payload made by [`payload`].
pub fn find_ts(frame: &str) -> Option<u64> {
    let start = frame.find("\"ts\":")? + 5;
    let digits = &frame[start..];
    let end = digits.find(|c: char| !c.is_ascii_digit()).unwrap_or(digits.len());
    digits[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_carry_their_time() {
        let p = payload(1234567);
        assert!((90..=110).contains(&p.len()), "{}", p.len());
        assert_eq!(find_ts(&format!("42[\"item\",{p}]")), Some(1234567));
        assert_eq!(find_ts("nothing"), None);
    }
}

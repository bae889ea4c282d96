//! Limits and timings of a server, each with a default that is safe in production.

use std::time::Duration;

/// Settings of a [`Server`](crate::Server). Every limit has a default; change one with
/// struct update syntax: `Config { max_frame_bytes: 1 << 20, ..Config::default() }`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Largest inbound WebSocket message, in bytes. A larger one closes the connection
    /// with [`CloseCode::FrameTooLarge`](crate::protocol::CloseCode::FrameTooLarge).
    pub max_frame_bytes: usize,
    /// Channels one session may have open at once; opening one more fails with
    /// [`OpenError::TooManyChannels`](crate::OpenError::TooManyChannels).
    pub max_channels_per_session: usize,
    /// Server-to-client frames that may wait in one session's outbound queue. A client
    /// too slow to drain it is disconnected with
    /// [`CloseCode::SlowConsumer`](crate::protocol::CloseCode::SlowConsumer).
    pub outbound_queue_frames: usize,
    /// Client-to-server requests one session may have unanswered at once; one more is
    /// answered with `too_many_requests`.
    pub max_pending_requests: usize,
    /// How often the server sends a `ping` frame.
    pub heartbeat_interval: Duration,
    /// A session that sends nothing (not even `pong`) for this long is closed with
    /// [`CloseCode::IdleTimeout`](crate::protocol::CloseCode::IdleTimeout).
    pub idle_timeout: Duration,
    /// Timeout of a server-to-client request unless the call sets its own.
    pub request_timeout: Duration,
    /// How long graceful shutdown waits for sessions to end after telling them to go.
    pub shutdown_grace: Duration,
    /// What each connection keeps for reading between frames (it grows while a larger
    /// frame arrives). Small keeps idle sessions lean: it costs no extra system calls,
    /// since every read takes up to 16 KiB from the socket into a buffer shared by the
    /// thread's connections, and what the frame parser has not taken yet is kept only
    /// until it does.
    pub read_buffer_bytes: usize,
    /// Outbound bytes gathered before a socket write: frames queued together go out in
    /// one write up to this size.
    pub write_buffer_bytes: usize,
    /// Inbound frames one session may send per second, on average; a client that sends
    /// faster (beyond `inbound_burst`) is closed with
    /// [`CloseCode::RateLimited`](crate::protocol::CloseCode::RateLimited).
    pub inbound_frames_per_second: u32,
    /// Frames a session may send at once above the average rate.
    pub inbound_burst: u32,
    /// Which browser origins may connect; others get 403 on the upgrade.
    pub origins: Origins,
    /// How long a session whose connection broke waits for its client to resume it
    /// (state, channels and component tree kept). Zero ends sessions with their
    /// connection.
    pub resume_grace: Duration,
    /// Most frames kept per session for replay on resume.
    pub replay_buffer_frames: usize,
    /// Most bytes kept per session for replay on resume.
    pub replay_buffer_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_bytes: 64 * 1024,
            max_channels_per_session: 100,
            outbound_queue_frames: 1024,
            max_pending_requests: 256,
            heartbeat_interval: Duration::from_secs(25),
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(5),
            read_buffer_bytes: 512,
            write_buffer_bytes: 8 * 1024,
            inbound_frames_per_second: 200,
            inbound_burst: 400,
            origins: Origins::SameHost,
            resume_grace: Duration::from_secs(60),
            replay_buffer_frames: 256,
            replay_buffer_bytes: 64 * 1024,
        }
    }
}

/// Which browser origins may open a WebSocket (the `Origin` header of the upgrade).
/// A request without `Origin` (not from a browser) is always let through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Origins {
    /// Only pages served by this host (`Origin`'s host and port equal `Host`): the
    /// default, which stops other sites' pages from using a visitor's cookies here.
    #[default]
    SameHost,
    /// These origins exactly (`https://app.example.com`).
    List(Vec<String>),
    /// Any origin.
    Any,
}

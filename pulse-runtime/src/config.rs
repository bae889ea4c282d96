//! Limits and timings of a server, each with a default that is safe in production.

use std::net::IpAddr;
use std::str::FromStr;
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
    /// [`ServerBuilder::build`](crate::ServerBuilder::build) replaces it with what the
    /// environment variable [`PULSE_ORIGINS`](crate::ORIGINS_VAR) says, when it is set.
    pub origins: Origins,
    /// The WebSocket URLs of every node of the cluster (`wss://a.example.com/ws`). They
    /// are sent to clients in `hello`, so that a page fails over to another node when its
    /// own goes; and each node admits pages served by any of them (the origins the URLs
    /// name), whatever [`origins`](Config::origins) says. Empty by default; `PULSE_NODES`
    /// (comma-separated) sets it when the server is built.
    pub nodes: Vec<String>,
    /// How long a session whose connection broke waits for its client to resume it
    /// (state, channels and component tree kept). Zero ends sessions with their
    /// connection.
    pub resume_grace: Duration,
    /// How long a page requested over HTTP waits for its render to be whole (no
    /// component [still loading](crate::component::Scope::still_loading)); past it the
    /// page is sent as its last render shows it. The session that rendered it waits
    /// [`resume_grace`](Config::resume_grace) for the page's connection.
    pub first_paint_wait: Duration,
    /// Most frames kept per session for replay on resume.
    pub replay_buffer_frames: usize,
    /// Most bytes kept per session for replay on resume.
    pub replay_buffer_bytes: usize,
    /// Most bytes all sessions waiting to be resumed may hold together: the frames
    /// queued for them since their connection broke, and those kept for replay. A
    /// session that would go past it is ended (its client starts a fresh session when
    /// it comes back) rather than grow. Default: 256 MiB.
    pub max_detached_bytes: usize,
    /// Most bytes of client events and requests one session may have waiting for its
    /// handlers (behind an async handler still running), across all its channels. One
    /// more is refused with `too_many_requests`; the session carries on. Default:
    /// 256 KiB. At least one message waits whatever its size.
    pub inbound_queue_bytes: usize,
    /// Most TCP connections open at once (WebSocket sessions and HTTP requests alike).
    /// One more is answered `503 Service Unavailable` with `Retry-After` and closed,
    /// before any of its request is read. The default is the process's open-file limit
    /// less a tenth of it (at least 32, at most 1,024 descriptors), which stay free for
    /// the app's own files, Redis, and the refusals themselves.
    pub max_connections: usize,
    /// Most TCP connections open at once from one client address (an IPv6 client's
    /// `/64`), so that one address cannot take every connection. One more is refused as
    /// past `max_connections`. The address is the socket's, or, for a connection from
    /// one of `trusted_proxies`, the client the proxy names (`Forwarded`,
    /// `X-Forwarded-For`). Default: a sixteenth of `max_connections`, at least 16.
    pub max_connections_per_address: usize,
    /// Most sessions alive at once, connected or waiting to be resumed. A new session
    /// past it is refused with `503` and `Retry-After` on the upgrade; resuming a
    /// session that is still alive is always let through. Default: `max_connections`.
    pub max_sessions: usize,
    /// How long a new connection, and a kept-alive HTTP connection between requests,
    /// may take to send a whole request head. A connection that is silent or sends its
    /// head too slowly is answered `408 Request Timeout` and closed.
    pub request_head_timeout: Duration,
    /// Reverse proxies (load balancers, nginx) whose `Forwarded` / `X-Forwarded-For`
    /// headers name the real client. Empty by default: every client is its socket's
    /// address, and forwarding headers are ignored, since anyone can send them.
    /// [`ServerBuilder::build`](crate::ServerBuilder::build) adds those named by the
    /// environment variable [`PULSE_TRUSTED_PROXIES`](crate::TRUSTED_PROXIES_VAR).
    pub trusted_proxies: Vec<ProxyAddresses>,
}

impl Default for Config {
    fn default() -> Self {
        let max_connections = connections_for_file_limit(open_file_limit());
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
            nodes: Vec::new(),
            resume_grace: Duration::from_secs(60),
            first_paint_wait: Duration::from_secs(2),
            replay_buffer_frames: 256,
            replay_buffer_bytes: 64 * 1024,
            max_detached_bytes: 256 * 1024 * 1024,
            inbound_queue_bytes: 256 * 1024,
            max_connections,
            max_connections_per_address: (max_connections / 16).max(16),
            max_sessions: max_connections,
            request_head_timeout: Duration::from_secs(10),
            trusted_proxies: Vec::new(),
        }
    }
}

/// Descriptors assumed when the open-file limit cannot be read (the usual soft limit).
const ASSUMED_FILE_LIMIT: u64 = 1024;

/// The default of [`Config::max_connections`] under an open-file limit of `files`: a
/// tenth of the descriptors, at least 32 and at most 1,024, stay free for what is not
/// a client's connection (the listener, files the app opens, Redis, log files, and the
/// connections being refused).
pub(crate) fn connections_for_file_limit(files: u64) -> usize {
    let files = usize::try_from(files).unwrap_or(usize::MAX);
    files.saturating_sub((files / 10).clamp(32, 1024)).max(1)
}

/// This process's soft limit on open files.
fn open_file_limit() -> u64 {
    #[cfg(unix)]
    if let Ok((soft, _hard)) = rlimit::getrlimit(rlimit::Resource::NOFILE) {
        return soft;
    }
    ASSUMED_FILE_LIMIT
}

/// Addresses of reverse proxies to trust (see [`Config::trusted_proxies`]): one address
/// or a CIDR block, parsed from `"10.0.0.7"`, `"10.0.0.0/8"` or `"fd00::/8"`.
///
/// ```
/// # use pulse_runtime::{Config, ProxyAddresses};
/// let config = Config {
///     trusted_proxies: vec!["127.0.0.1".parse().unwrap(), "10.0.0.0/8".parse().unwrap()],
///     ..Config::default()
/// };
/// assert!(config.trusted_proxies[1].contains("10.1.2.3".parse().unwrap()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyAddresses {
    network: IpAddr,
    prefix: u8,
}

impl ProxyAddresses {
    /// Whether `address` is one of these.
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, crate::config::canonical(address)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_matches(&net.octets(), &ip.octets(), self.prefix),
            (IpAddr::V6(net), IpAddr::V6(ip)) => prefix_matches(&net.octets(), &ip.octets(), self.prefix),
            _ => false,
        }
    }
}

/// Whether the first `prefix` bits of `a` and `b` agree.
fn prefix_matches(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let (whole, rest) = (usize::from(prefix / 8), prefix % 8);
    a[..whole] == b[..whole] && (rest == 0 || (a[whole] ^ b[whole]) >> (8 - rest) == 0)
}

/// An IPv4 address written as IPv6 (`::ffff:10.0.0.1`, as a dual-stack socket reports
/// it) is the IPv4 address.
pub(crate) fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// Why a [`ProxyAddresses`] could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an IP address or CIDR block (`10.0.0.7`, `10.0.0.0/8`, `fd00::/8`): {0:?}")]
pub struct ProxyAddressesError(String);

impl FromStr for ProxyAddresses {
    type Err = ProxyAddressesError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || ProxyAddressesError(text.to_owned());
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network = canonical(address.trim().parse::<IpAddr>().map_err(|_| error())?);
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix.trim().parse::<u8>().ok().filter(|p| *p <= bits).ok_or_else(error)?,
            None => bits,
        };
        Ok(ProxyAddresses { network, prefix })
    }
}

impl From<IpAddr> for ProxyAddresses {
    fn from(address: IpAddr) -> Self {
        let network = canonical(address);
        ProxyAddresses { network, prefix: if network.is_ipv4() { 32 } else { 128 } }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenth_of_the_descriptors_stays_free_within_bounds() {
        assert_eq!(connections_for_file_limit(20_000), 20_000 - 1024);
        assert_eq!(connections_for_file_limit(4096), 4096 - 409);
        assert_eq!(connections_for_file_limit(1024), 1024 - 102);
        assert_eq!(connections_for_file_limit(256), 256 - 32);
        assert_eq!(connections_for_file_limit(10), 1);
        assert!(connections_for_file_limit(u64::MAX) > 1 << 30);
    }

    #[test]
    fn proxy_addresses_match_by_prefix() {
        let block: ProxyAddresses = "10.0.0.0/8".parse().unwrap();
        assert!(block.contains("10.255.0.1".parse().unwrap()));
        assert!(!block.contains("11.0.0.1".parse().unwrap()));
        assert!(block.contains("::ffff:10.0.0.1".parse().unwrap()), "a v4-mapped address is its IPv4 address");
        let odd: ProxyAddresses = "192.168.4.0/22".parse().unwrap();
        assert!(odd.contains("192.168.7.255".parse().unwrap()));
        assert!(!odd.contains("192.168.8.0".parse().unwrap()));
        let one: ProxyAddresses = "::1".parse().unwrap();
        assert!(one.contains("::1".parse().unwrap()));
        assert!(!one.contains("127.0.0.1".parse().unwrap()));
        let all: ProxyAddresses = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        for bad in ["", "10.0.0.0/33", "fd00::/129", "host.example", "10.0.0.0/x"] {
            assert!(bad.parse::<ProxyAddresses>().is_err(), "{bad}");
        }
    }
}

//! Admission control: the connections open (in all, and from each client address) and
//! the sessions alive, each against its cap in [`Config`]. A connection is admitted, or
//! refused, the moment it is accepted, before any of its request is read; a new session
//! on the upgrade, before the authentication hook runs. What is admitted holds a permit
//! that gives its place back when dropped, with the connection or the session.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

use crate::config::{Config, ProxyAddresses, canonical};
use crate::sync::lock;

/// What a refused client is told to wait before it tries again (`Retry-After`). Long
/// enough that a crowd of refused clients does not come back as one wave a moment
/// later; the TypeScript client adds its own jitter.
pub(crate) const RETRY_AFTER: Duration = Duration::from_secs(5);

/// The counts and caps of one server.
#[derive(Debug)]
pub(crate) struct Admission {
    max_connections: usize,
    max_per_address: usize,
    max_sessions: usize,
    trusted_proxies: Vec<ProxyAddresses>,
    open: AtomicUsize,
    sessions: AtomicUsize,
    /// Connections open from each address that has one (its entry goes with its last).
    by_address: std::sync::Mutex<HashMap<IpAddr, usize>>,
    /// When a refusal was last logged at warn level, and how many came since.
    warned: std::sync::Mutex<(Option<Instant>, u64)>,
    /// Sessions rendered for pages whose connection has not come yet: in all, and by
    /// client address (its entry goes with its last).
    unattached: std::sync::Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// Why a connection or a session was refused; its text is the refusal's body and log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    #[error("overloaded: the server has {max} connections open (Config::max_connections); retry later")]
    Connections { max: usize },
    #[error(
        "overloaded: {max} connections are open from {address} (Config::max_connections_per_address); \
         retry later. Behind a reverse proxy, name it in Config::trusted_proxies"
    )]
    Address { address: IpAddr, max: usize },
    #[error("overloaded: the server has {max} sessions (Config::max_sessions); retry later")]
    Sessions { max: usize },
}

impl Admission {
    pub(crate) fn new(config: &Config) -> Self {
        Admission {
            max_connections: config.max_connections,
            max_per_address: config.max_connections_per_address,
            max_sessions: config.max_sessions,
            trusted_proxies: config.trusted_proxies.clone(),
            open: AtomicUsize::new(0),
            sessions: AtomicUsize::new(0),
            by_address: Default::default(),
            warned: Default::default(),
            unattached: Default::default(),
        }
    }

    /// A refusal happened at `now`: `Some(n)` if it is to be logged at warn level, `n`
    /// being the refusals since the last one that was (itself included). At most one a
    /// second: a flood's refusals must not flood the log too.
    pub(crate) fn warn_of_refusal(&self, now: Instant) -> Option<u64> {
        let mut warned = lock(&self.warned);
        let (last, count) = &mut *warned;
        *count += 1;
        if last.is_some_and(|last| now.duration_since(last) < Duration::from_secs(1)) {
            return None;
        }
        *last = Some(now);
        Some(std::mem::take(count))
    }

    /// Admits a connection accepted from `peer`: counted in all, and against its
    /// address unless it is a trusted proxy (whose clients are counted once their
    /// requests name them, [`ConnectionPermit::admit_client`]).
    pub(crate) fn admit(self: &Arc<Self>, peer: SocketAddr) -> Result<ConnectionPermit, Refusal> {
        if !reserve(&self.open, self.max_connections) {
            return Err(Refusal::Connections { max: self.max_connections });
        }
        let mut permit = ConnectionPermit { admission: self.clone(), address: None };
        if !self.is_trusted_proxy(peer.ip()) {
            permit.admit_client(peer.ip())?;
        }
        Ok(permit)
    }

    /// Whether `address` is one of the proxies whose forwarding headers are believed.
    pub(crate) fn is_trusted_proxy(&self, address: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|proxy| proxy.contains(address))
    }

    /// The client a request from `peer` comes from: `peer` itself, or, when `peer` is a
    /// trusted proxy, the nearest address in its forwarding headers that is not one.
    pub(crate) fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.is_trusted_proxy(peer) {
            return canonical(peer);
        }
        forwarded_chain(headers)
            .into_iter()
            .rev()
            .find(|address| !self.is_trusted_proxy(*address))
            .map_or(canonical(peer), canonical)
    }

    /// Why one more session would be refused now, if it would (nothing is reserved).
    pub(crate) fn session_refusal(&self) -> Option<Refusal> {
        (self.sessions.load(Ordering::Acquire) >= self.max_sessions)
            .then_some(Refusal::Sessions { max: self.max_sessions })
    }

    /// A place for one more session, if the server has one.
    pub(crate) fn reserve_session(self: &Arc<Self>) -> Result<SessionSlot, Refusal> {
        if reserve(&self.sessions, self.max_sessions) {
            Ok(SessionSlot { admission: self.clone() })
        } else {
            Err(Refusal::Sessions { max: self.max_sessions })
        }
    }

    /// A place for one more session rendered for a page and waiting for its connection,
    /// if `client` (when known) and the server have one. Such sessions may take a
    /// quarter of `Config::max_sessions`, and `Config::max_connections_per_address`
    /// from one address: pages requested and never connected (a crawler, a flood) hold
    /// at most that, and the rest stays for the clients that connect.
    pub(crate) fn reserve_unattached(self: &Arc<Self>, client: Option<IpAddr>) -> Option<UnattachedSlot> {
        let mut unattached = lock(&self.unattached);
        let (all, by_address) = &mut *unattached;
        if *all >= (self.max_sessions / 4).max(1) {
            return None;
        }
        let key = client.map(address_key);
        if let Some(key) = key {
            let held = by_address.entry(key).or_default();
            if *held >= self.max_per_address {
                return None;
            }
            *held += 1;
        }
        *all += 1;
        Some(UnattachedSlot { admission: self.clone(), key })
    }

    /// Connections open now.
    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }
}

/// Takes one of `cap` places counted by `count`, if one is free.
fn reserve(count: &AtomicUsize, cap: usize) -> bool {
    count.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < cap).then_some(n + 1)).is_ok()
}

/// The key an address is counted under: itself for IPv4, its `/64` for IPv6 (what one
/// host is usually given).
fn address_key(address: IpAddr) -> IpAddr {
    match canonical(address) {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        v4 => v4,
    }
}

/// The client addresses a request's forwarding headers name, farthest first: RFC 7239
/// `Forwarded: for=…` if present, otherwise `X-Forwarded-For`. Entries that are no
/// address (`unknown`, obfuscated names) are skipped.
fn forwarded_chain(headers: &HeaderMap) -> Vec<IpAddr> {
    let values = |name| headers.get_all(name).iter().filter_map(|value| value.to_str().ok()).flat_map(|v| v.split(','));
    let forwarded: Vec<IpAddr> = values("forwarded")
        .flat_map(|element| element.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
        .filter_map(|(_, node)| parse_node(node.trim().trim_matches('"')))
        .collect();
    if !forwarded.is_empty() {
        return forwarded;
    }
    values("x-forwarded-for").filter_map(|node| parse_node(node.trim())).collect()
}

/// An address as a forwarding header writes it: `192.0.2.60`, `192.0.2.60:4711`,
/// `[2001:db8::1]`, `[2001:db8::1]:4711`, or a bare IPv6 address.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(address) = node.parse::<IpAddr>() {
        return Some(address);
    }
    if let Ok(socket) = node.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    node.strip_prefix('[')?.split(']').next()?.parse().ok()
}

/// An admitted connection's place, given back when dropped (the connection closed).
pub(crate) struct ConnectionPermit {
    admission: Arc<Admission>,
    /// The client address it is counted against, once known.
    address: Option<IpAddr>,
}

impl ConnectionPermit {
    /// Counts this connection against `client`'s address too (a connection through a
    /// trusted proxy, once its request names the client). A connection counted
    /// against an address already is not counted again.
    pub(crate) fn admit_client(&mut self, client: IpAddr) -> Result<(), Refusal> {
        if self.address.is_some() {
            return Ok(());
        }
        let key = address_key(client);
        let max = self.admission.max_per_address;
        let mut by_address = lock(&self.admission.by_address);
        let open = by_address.entry(key).or_default();
        if *open >= max {
            if *open == 0 {
                by_address.remove(&key);
            }
            return Err(Refusal::Address { address: canonical(client), max });
        }
        *open += 1;
        self.address = Some(key);
        Ok(())
    }
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        if let Some(key) = self.address {
            let mut by_address = lock(&self.admission.by_address);
            if let Some(open) = by_address.get_mut(&key) {
                *open -= 1;
                if *open == 0 {
                    by_address.remove(&key);
                }
            }
        }
        self.admission.open.fetch_sub(1, Ordering::AcqRel);
    }
}

impl fmt::Debug for ConnectionPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionPermit").field("address", &self.address).finish()
    }
}

/// A live session's place, given back when dropped (the session ended).
#[derive(Debug)]
pub(crate) struct SessionSlot {
    admission: Arc<Admission>,
}

impl Drop for SessionSlot {
    fn drop(&mut self) {
        self.admission.sessions.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A page's session's place among those waiting for their connection, given back
/// when dropped (the connection came, or the session ended).
#[derive(Debug)]
pub(crate) struct UnattachedSlot {
    admission: Arc<Admission>,
    key: Option<IpAddr>,
}

impl Drop for UnattachedSlot {
    fn drop(&mut self) {
        let mut unattached = lock(&self.admission.unattached);
        let (all, by_address) = &mut *unattached;
        *all -= 1;
        if let Some(key) = self.key
            && let Some(held) = by_address.get_mut(&key)
        {
            *held -= 1;
            if *held == 0 {
                by_address.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn pages_waiting_for_their_connection_take_a_quarter_of_the_sessions_and_an_address_its_share() {
        // 8 sessions: 2 may wait; 1 per address.
        let config = Config { max_sessions: 8, max_connections_per_address: 1, ..Config::default() };
        let admission = Arc::new(Admission::new(&config));
        let one: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let first = admission.reserve_unattached(Some(one)).unwrap();
        assert!(admission.reserve_unattached(Some(one)).is_none(), "one address, its share taken");
        let second = admission.reserve_unattached(Some(other)).unwrap();
        assert!(admission.reserve_unattached(Some("192.0.2.3".parse().unwrap())).is_none(), "a quarter taken");
        drop(first);
        let again = admission.reserve_unattached(Some(one)).unwrap();
        drop((second, again));
        assert_eq!(*lock(&admission.unattached), (0, HashMap::new()), "everything given back");
        assert!(admission.reserve_unattached(None).is_some());
    }

    #[test]
    fn refusals_are_warned_of_once_a_second_with_how_many_came_since() {
        let admission = admission(1, 1, &[]);
        let start = Instant::now();
        assert_eq!(admission.warn_of_refusal(start), Some(1));
        for ms in [1, 500, 999] {
            assert_eq!(admission.warn_of_refusal(start + Duration::from_millis(ms)), None);
        }
        assert_eq!(admission.warn_of_refusal(start + Duration::from_millis(1000)), Some(4));
        assert_eq!(admission.warn_of_refusal(start + Duration::from_secs(5)), Some(1));
    }

    fn admission(connections: usize, per_address: usize, proxies: &[&str]) -> Arc<Admission> {
        Arc::new(Admission::new(&Config {
            max_connections: connections,
            max_connections_per_address: per_address,
            max_sessions: 2,
            trusted_proxies: proxies.iter().map(|p| p.parse().unwrap()).collect(),
            ..Config::default()
        }))
    }

    fn peer(address: &str) -> SocketAddr {
        SocketAddr::new(address.parse().unwrap(), 40_000)
    }

    #[test]
    fn one_address_cannot_take_every_connection() {
        let admission = admission(10, 3, &[]);
        let flood: Vec<_> = (0..3).map(|_| admission.admit(peer("10.0.0.1")).unwrap()).collect();
        let refused = admission.admit(peer("10.0.0.1")).unwrap_err();
        assert_eq!(refused, Refusal::Address { address: "10.0.0.1".parse().unwrap(), max: 3 });
        let other = admission.admit(peer("10.0.0.2")).expect("another address gets in");
        assert_eq!(admission.open(), 4, "a refused connection holds no place");
        drop(flood);
        drop(other);
        assert_eq!(admission.open(), 0);
        assert!(lock(&admission.by_address).is_empty(), "no entry is kept for an address with nothing open");
        admission.admit(peer("10.0.0.1")).expect("places come back");
    }

    #[test]
    fn the_global_cap_holds_across_addresses() {
        let admission = admission(2, 5, &[]);
        let _a = admission.admit(peer("10.0.0.1")).unwrap();
        let _b = admission.admit(peer("10.0.0.2")).unwrap();
        assert_eq!(admission.admit(peer("10.0.0.3")).unwrap_err(), Refusal::Connections { max: 2 });
        assert!(lock(&admission.by_address).len() == 2, "the refused address left nothing behind");
    }

    #[test]
    fn an_ipv6_host_is_its_64() {
        let admission = admission(10, 2, &[]);
        let _a = admission.admit(peer("2001:db8::1")).unwrap();
        let _b = admission.admit(peer("2001:db8::ffff:1")).unwrap();
        assert!(admission.admit(peer("2001:db8::2")).is_err(), "the same /64");
        admission.admit(peer("2001:db8:0:1::1")).expect("another /64");
        let _c = admission.admit(peer("::ffff:10.0.0.9")).unwrap();
        let _d = admission.admit(peer("10.0.0.9")).unwrap();
        assert!(admission.admit(peer("10.0.0.9")).is_err(), "a v4-mapped address is its IPv4 address");
    }

    #[test]
    fn a_trusted_proxys_clients_are_counted_by_what_it_forwards() {
        let admission = admission(10, 1, &["127.0.0.1", "10.0.0.0/8"]);
        let mut first = admission.admit(peer("127.0.0.1")).unwrap();
        let mut second = admission.admit(peer("127.0.0.1")).expect("a proxy is not one client");
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.9, 10.1.1.1"));
        let client = admission.client_address("127.0.0.1".parse().unwrap(), &headers);
        assert_eq!(client, "203.0.113.9".parse::<IpAddr>().unwrap(), "the nearest untrusted hop");
        first.admit_client(client).unwrap();
        assert!(second.admit_client(client).is_err());
        second.admit_client("203.0.113.10".parse().unwrap()).unwrap();
    }

    #[test]
    fn forwarding_headers_are_believed_only_from_a_trusted_proxy() {
        let admission = admission(10, 1, &["127.0.0.1"]);
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.9"));
        let untrusted = "198.51.100.1".parse().unwrap();
        assert_eq!(admission.client_address(untrusted, &headers), untrusted);
        let proxy = "127.0.0.1".parse().unwrap();
        assert_eq!(admission.client_address(proxy, &HeaderMap::new()), proxy, "no header: the proxy itself");
    }

    #[test]
    fn forwarding_headers_of_every_form() {
        let chain = |name: &'static str, value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(name, HeaderValue::from_static(value));
            forwarded_chain(&headers)
        };
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            chain("forwarded", r#"for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711""#),
            [ip("192.0.2.60"), ip("2001:db8:cafe::17")]
        );
        assert_eq!(chain("forwarded", "for=unknown, For=198.51.100.17"), [ip("198.51.100.17")]);
        assert_eq!(
            chain("x-forwarded-for", "203.0.113.195, 2001:db8::1 , 198.51.100.1:80"),
            [ip("203.0.113.195"), ip("2001:db8::1"), ip("198.51.100.1")]
        );
        assert!(chain("x-forwarded-for", "garbage, , [").is_empty());
    }

    #[test]
    fn sessions_are_capped_and_their_places_come_back() {
        let admission = admission(10, 10, &[]);
        let a = admission.reserve_session().unwrap();
        let _b = admission.reserve_session().unwrap();
        assert_eq!(admission.reserve_session().unwrap_err(), Refusal::Sessions { max: 2 });
        drop(a);
        admission.reserve_session().expect("an ended session's place is free again");
    }
}

//! `ServerStats`: counts of what a server holds, for [`Server::stats`](crate::Server::stats) and the metrics.

/// Counts reported by [`Server::stats`](crate::Server::stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStats {
    /// Connected sessions.
    pub sessions: usize,
    /// Open channels across all sessions.
    pub channels: usize,
    /// Channel names with at least one open channel.
    pub topics: usize,
    /// Requests waiting for an answer, in either direction.
    pub pending_requests: usize,
    /// Bytes held for sessions waiting to be resumed (frames queued and kept for
    /// replay), against [`Config::max_detached_bytes`](crate::Config::max_detached_bytes).
    pub detached_bytes: usize,
}

//! The inbound rate limit: a token bucket per connection.

use std::time::Instant;

/// A token bucket: `inbound_burst` frames at once, refilled at
/// `inbound_frames_per_second`.
pub(super) struct RateBudget {
    tokens: f64,
    burst: f64,
    per_second: f64,
    last: Instant,
}

impl RateBudget {
    pub(super) fn new(config: &crate::Config) -> Self {
        let burst = f64::from(config.inbound_burst.max(1));
        RateBudget {
            tokens: burst,
            burst,
            per_second: f64::from(config.inbound_frames_per_second),
            last: Instant::now(),
        }
    }

    /// Takes one frame's token; false when the session is over its rate.
    pub(super) fn spend(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }
}

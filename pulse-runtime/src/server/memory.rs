//! Memory given back after a crowd leaves.
//!
//! glibc's allocator keeps the pages a process frees in the middle of its heaps: after
//! 19,900 sessions had come and gone, a server kept 97.7% of what they had grown it by
//! (docs/benchmarks.md, "W2, after"). Every five seconds this task looks at how many
//! connections and sessions the server holds; once that has fallen to half of its peak
//! since memory was last given back (and by at least [`MIN_DROP`]), and has stopped
//! falling (so what the leavers held is freed), it asks the allocator to return its
//! free pages (`malloc_trim`, on a blocking thread), which brought the same server back
//! to 2.8% of the growth. Elsewhere (another C library, or
//! a global allocator of the app's own, such as mimalloc or jemalloc, which return
//! memory themselves) it does nothing.

use std::sync::Weak;
use std::time::Duration;

use super::ServerShared;

/// How often the server's load is looked at.
const EVERY: Duration = Duration::from_secs(5);

/// Fewer connections and sessions gone than this is not worth a trim (a session is a
/// few KiB).
const MIN_DROP: usize = 1_000;

/// The peak load since memory was last given back, and what to do about the load now.
#[derive(Debug, Default)]
struct Reclaim {
    peak: usize,
    /// The load at the last look.
    last: usize,
    /// The load fell far enough since the peak: memory is to be given back once it
    /// stops falling.
    owed: bool,
}

impl Reclaim {
    /// The server holds `load` connections and sessions now: whether to give memory
    /// back (it has fallen to half its peak, by at least [`MIN_DROP`], and is no lower
    /// than at the last look).
    fn look(&mut self, load: usize) -> bool {
        self.peak = self.peak.max(load);
        self.owed |= load <= self.peak / 2 && self.peak - load >= MIN_DROP;
        let settled = load >= self.last;
        self.last = load;
        if self.owed && settled {
            self.owed = false;
            self.peak = load;
            return true;
        }
        false
    }
}

/// Looks at `server`'s load every [`EVERY`] until it is dropped, and gives memory back
/// after a crowd leaves. On a platform with nothing to trim, no task is started.
pub(super) fn start(server: Weak<ServerShared>) {
    if !CAN_TRIM {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
    runtime.spawn(async move {
        let mut reclaim = Reclaim::default();
        let mut every = tokio::time::interval(EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let Some(server) = server.upgrade() else { return };
            let load = server.admission.open() + server.registry.session_count();
            drop(server);
            if reclaim.look(load) {
                tracing::debug!(load, "connections and sessions have fallen by half: giving memory back");
                let _ = tokio::task::spawn_blocking(trim).await;
            }
        }
    });
}

/// Whether this platform's allocator keeps freed pages that [`trim`] returns.
const CAN_TRIM: bool = cfg!(all(target_os = "linux", target_env = "gnu"));

/// Returns the allocator's free pages to the system.
#[allow(unsafe_code)]
fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only releases memory the allocator holds free; it takes the
    // allocator's own locks and may be called from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_given_back_once_the_load_has_halved_and_stopped_falling() {
        let mut reclaim = Reclaim::default();
        // A crowd arrives: nothing to give back while it grows or stays.
        for load in [0, 5_000, 20_000, 20_000, 15_000, 10_001] {
            assert!(!reclaim.look(load), "at {load}");
        }
        // Half of it is gone, and more is going: not yet.
        assert!(!reclaim.look(10_000));
        assert!(!reclaim.look(4_000));
        assert!(!reclaim.look(900));
        // It stopped falling: memory back once, then not again at the same load.
        assert!(reclaim.look(900));
        assert!(!reclaim.look(900));
        assert!(!reclaim.look(0), "900 gone is not worth another");
    }

    #[test]
    fn a_crowd_that_leaves_at_once_is_given_back_at_the_next_look() {
        let mut reclaim = Reclaim::default();
        assert!(!reclaim.look(39_800));
        assert!(!reclaim.look(0));
        assert!(reclaim.look(0));
        // A new crowd after a drop: given back when it stops falling, even on the way up.
        assert!(!reclaim.look(10_000));
        assert!(!reclaim.look(2_000));
        assert!(reclaim.look(3_000));
    }

    #[test]
    fn small_servers_are_left_alone() {
        let mut reclaim = Reclaim::default();
        assert!(!reclaim.look(1_500));
        assert!(!reclaim.look(600), "900 gone is not worth a trim");
        assert!(!reclaim.look(400));
        assert!(reclaim.look(400));
    }
}

//! Bytes shared out among many holders up to a limit: the inbound work waiting in one
//! session's channels, or what every session waiting to be resumed holds.
//!
//! Lock-free, so that holders behind different locks (each channel's inbox, each
//! session's core) share one count without sharing a lock.

use std::sync::atomic::{AtomicUsize, Ordering};

/// A byte budget. Whoever takes bytes gives the same bytes back when it lets them go.
#[derive(Debug)]
pub(crate) struct Budget {
    used: AtomicUsize,
    limit: usize,
}

impl Budget {
    /// A budget of `limit` bytes, none taken.
    pub(crate) fn new(limit: usize) -> Self {
        Budget { used: AtomicUsize::new(0), limit }
    }

    /// Takes `bytes` if they fit under the limit, or if nothing is taken (so that one
    /// holder larger than the whole budget is still possible, never two). `false`, and
    /// nothing taken, otherwise.
    pub(crate) fn try_take(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                let after = used.checked_add(bytes)?;
                (used == 0 || after <= self.limit).then_some(after)
            })
            .is_ok()
    }

    /// Gives back `bytes` taken before.
    pub(crate) fn give(&self, bytes: usize) {
        if bytes > 0 {
            let before = self.used.fetch_sub(bytes, Ordering::AcqRel);
            debug_assert!(before >= bytes, "gave back {bytes} bytes of {before} taken");
        }
    }

    /// Bytes taken now.
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// The limit.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// What is taken never exceeds the limit unless a single holder alone does, and
        /// giving back everything taken leaves nothing taken.
        #[test]
        fn takes_stay_within_the_limit(limit in 0usize..100, sizes in prop::collection::vec(0usize..60, 0..40)) {
            let budget = Budget::new(limit);
            let mut taken = Vec::new();
            for size in sizes {
                let before = budget.used();
                let fits = before == 0 || before + size <= limit;
                prop_assert_eq!(budget.try_take(size), fits);
                if fits {
                    taken.push(size);
                }
                prop_assert!(budget.used() <= limit || taken.iter().filter(|s| **s > 0).count() == 1);
                prop_assert_eq!(budget.used(), taken.iter().sum::<usize>());
            }
            for size in taken {
                budget.give(size);
            }
            prop_assert_eq!(budget.used(), 0);
        }
    }
}

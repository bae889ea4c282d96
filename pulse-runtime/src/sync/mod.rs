//! Small synchronisation helpers: `lock`, the ranked locks that check the order locks
//! are taken in (in debug builds), and `Watched` (`watched.rs`), a value tasks wait on,
//! built on `Waiters` (`waiters.rs`), the wakers of tasks waiting on a locked state.
//! `schedules.rs` (tests only) polls a few futures in every order they can run in.

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

#[cfg(test)]
pub(crate) mod schedules;
pub(crate) mod waiters;
mod watched;

pub(crate) use watched::Watched;

/// Locks a mutex (a plain one, or a [`Ranked`] one), carrying on if a panic poisoned
/// it. Every critical section in this crate leaves its data consistent before anything
/// that may panic, and handler panics are caught before they cross a lock, so the data
/// behind a poisoned lock is sound.
pub(crate) fn lock<L: Lock + ?Sized>(lock: &L) -> L::Guard<'_> {
    lock.take()
}

/// What [`lock`] can take.
pub(crate) trait Lock {
    /// The guard that holds it.
    type Guard<'a>
    where
        Self: 'a;
    /// Takes it (through poisoning).
    fn take(&self) -> Self::Guard<'_>;
}

impl<T: ?Sized> Lock for Mutex<T> {
    type Guard<'a>
        = MutexGuard<'a, T>
    where
        T: 'a;
    fn take(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<L: Lock + ?Sized> Lock for std::sync::Arc<L> {
    type Guard<'a>
        = L::Guard<'a>
    where
        L: 'a;
    fn take(&self) -> L::Guard<'_> {
        (**self).take()
    }
}

/// Where each ranked lock stands in the order locks are taken in (docs/architecture.md,
/// "The order locks are taken in"): a thread holding a ranked lock may take one of a
/// higher rank only. Debug builds check it at every acquisition (a wrong order stops the
/// process, naming both locks; a panic in this crate's unit tests), so the tests find an
/// order that could deadlock; release builds check nothing and pay nothing.
pub(crate) mod rank {
    /// The sessions this node tracks in presence lists (`registry/presence.rs`).
    pub(crate) const PRESENCE_LOCAL: u8 = 10;
    /// The table of rooms' presence lists.
    pub(crate) const PRESENCE_ROOMS: u8 = 11;
    /// One room's presence list.
    pub(crate) const PRESENCE_ROOM: u8 = 20;
    /// The table of rooms' histories in memory (`history/memory.rs`).
    pub(crate) const HISTORY_ROOMS: u8 = 30;
    /// One room's history in memory.
    pub(crate) const HISTORY_ROOM: u8 = 31;
    /// The table of followers of rooms' histories (`registry/views.rs`).
    pub(crate) const VIEWS: u8 = 40;
    /// One follower (`history/follow.rs`).
    pub(crate) const FOLLOWER: u8 = 41;
    /// One topic's members (`registry/topics/`).
    pub(crate) const TOPIC: u8 = 50;
    /// One member's place in its room's history.
    pub(crate) const MEMBER_FLOW: u8 = 51;
    /// One shard of the table of topics.
    pub(crate) const TOPIC_TABLE: u8 = 52;
    /// A session's core (`session/mod.rs`).
    pub(crate) const SESSION_CORE: u8 = 60;
    /// A session's end signal (`Watched`).
    pub(crate) const ENDING: u8 = 70;

    /// A lock's name in a report (debug builds check the order).
    #[cfg(debug_assertions)]
    pub(crate) fn name(rank: u8) -> &'static str {
        match rank {
            PRESENCE_LOCAL => "the tracked sessions (presence)",
            PRESENCE_ROOMS => "the presence lists' table",
            PRESENCE_ROOM => "a room's presence list",
            HISTORY_ROOMS => "the histories' table",
            HISTORY_ROOM => "a room's history",
            VIEWS => "the followers' table",
            FOLLOWER => "a follower",
            TOPIC => "a topic's members",
            MEMBER_FLOW => "a member's flow",
            TOPIC_TABLE => "the topics' table",
            SESSION_CORE => "a session's core",
            ENDING => "a session's end signal",
            _ => "an unnamed lock",
        }
    }
}

/// The ranks of the ranked locks this thread holds (debug builds).
#[cfg(debug_assertions)]
mod held {
    use std::cell::RefCell;

    thread_local! {
        static HELD: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }

    /// About to take a lock of `rank`: panics if this thread holds one of the same or a
    /// higher rank (the order could deadlock).
    pub(super) fn check(rank: u8) {
        let highest = HELD.with(|held| held.borrow().iter().copied().max());
        if let Some(highest) = highest.filter(|highest| *highest >= rank) {
            let message = format!(
                "lock order: taking {} (rank {rank}) while holding {} (rank {highest}); see docs/architecture.md",
                super::rank::name(rank),
                super::rank::name(highest),
            );
            // This crate's own tests see a panic. Anywhere else (integration tests, a
            // debug build of an app) the process stops: a panic on a server task would be
            // caught and logged, and the test that found the order would still pass.
            #[cfg(test)]
            panic!("{message}");
            #[cfg(not(test))]
            {
                eprintln!("{message}\n{}", std::backtrace::Backtrace::force_capture());
                std::process::abort();
            }
        }
    }

    /// A lock of `rank` is held until the token is dropped.
    pub(super) struct Token(u8);

    impl Token {
        pub(super) fn new(rank: u8) -> Token {
            HELD.with(|held| held.borrow_mut().push(rank));
            Token(rank)
        }
    }

    impl Drop for Token {
        fn drop(&mut self) {
            HELD.with(|held| {
                let mut held = held.borrow_mut();
                if let Some(at) = held.iter().rposition(|rank| *rank == self.0) {
                    held.remove(at);
                }
            });
        }
    }
}

/// A mutex with a place in the order locks are taken in ([`rank`]).
#[derive(Default)]
pub(crate) struct Ranked<T: ?Sized, const RANK: u8> {
    inner: Mutex<T>,
}

impl<T, const RANK: u8> Ranked<T, RANK> {
    pub(crate) const fn new(value: T) -> Self {
        Ranked { inner: Mutex::new(value) }
    }
}

impl<T: ?Sized, const RANK: u8> Lock for Ranked<T, RANK> {
    type Guard<'a>
        = RankedGuard<MutexGuard<'a, T>>
    where
        T: 'a;
    fn take(&self) -> Self::Guard<'_> {
        #[cfg(debug_assertions)]
        held::check(RANK);
        RankedGuard::new(self.inner.lock().unwrap_or_else(PoisonError::into_inner), RANK)
    }
}

/// A read-write lock with a place in the order locks are taken in ([`rank`]).
#[derive(Default)]
pub(crate) struct RankedRw<T, const RANK: u8> {
    inner: RwLock<T>,
}

impl<T, const RANK: u8> RankedRw<T, RANK> {
    /// Takes it to read (through poisoning).
    pub(crate) fn read(&self) -> RankedGuard<RwLockReadGuard<'_, T>> {
        #[cfg(debug_assertions)]
        held::check(RANK);
        RankedGuard::new(self.inner.read().unwrap_or_else(PoisonError::into_inner), RANK)
    }

    /// Takes it to write (through poisoning).
    pub(crate) fn write(&self) -> RankedGuard<RwLockWriteGuard<'_, T>> {
        #[cfg(debug_assertions)]
        held::check(RANK);
        RankedGuard::new(self.inner.write().unwrap_or_else(PoisonError::into_inner), RANK)
    }
}

/// The guard of a ranked lock: the lock's own guard, and (in debug builds) the record
/// that this thread holds a lock of its rank.
pub(crate) struct RankedGuard<G> {
    guard: G,
    #[cfg(debug_assertions)]
    _held: held::Token,
}

impl<G> RankedGuard<G> {
    #[cfg_attr(not(debug_assertions), allow(unused_variables))]
    fn new(guard: G, rank: u8) -> Self {
        RankedGuard {
            guard,
            #[cfg(debug_assertions)]
            _held: held::Token::new(rank),
        }
    }
}

impl<G: std::ops::Deref> std::ops::Deref for RankedGuard<G> {
    type Target = G::Target;
    fn deref(&self) -> &G::Target {
        &self.guard
    }
}

impl<G: std::ops::DerefMut> std::ops::DerefMut for RankedGuard<G> {
    fn deref_mut(&mut self) -> &mut G::Target {
        &mut self.guard
    }
}

#[cfg(test)]
mod tests {
    use super::{Ranked, RankedRw, lock, rank};

    #[test]
    fn locks_taken_in_rank_order_are_fine_and_forgotten_when_dropped() {
        let room: Ranked<u8, { rank::HISTORY_ROOM }> = Ranked::new(0);
        let topic: RankedRw<u8, { rank::TOPIC }> = RankedRw::default();
        let core: Ranked<u8, { rank::SESSION_CORE }> = Ranked::new(0);
        let room_guard = lock(&room);
        let topic_guard = topic.read();
        let core_guard = lock(&core);
        // Dropped out of order: each guard forgets its own lock only.
        drop(topic_guard);
        drop(room_guard);
        drop(core_guard);
        // Nothing is held now: the lowest rank may be taken again.
        drop(lock(&room));
    }

    #[cfg(debug_assertions)]
    #[test]
    #[should_panic(expected = "lock order: taking a room's history (rank 31) while holding a session's core (rank 60)")]
    fn a_lock_taken_below_one_held_is_refused_in_debug_builds() {
        let room: Ranked<u8, { rank::HISTORY_ROOM }> = Ranked::new(0);
        let core: Ranked<u8, { rank::SESSION_CORE }> = Ranked::new(0);
        let _core = lock(&core);
        let _room = lock(&room);
    }

    #[cfg(debug_assertions)]
    #[test]
    #[should_panic(
        expected = "lock order: taking a topic's members (rank 50) while holding a topic's members (rank 50)"
    )]
    fn two_locks_of_one_rank_are_refused_in_debug_builds() {
        let (one, two): (RankedRw<u8, { rank::TOPIC }>, RankedRw<u8, { rank::TOPIC }>) = Default::default();
        let _one = one.write();
        let _two = two.read();
    }
}

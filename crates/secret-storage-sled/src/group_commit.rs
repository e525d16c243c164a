//! Group commit: concurrent updates share one flush, and each caller is still acknowledged only
//! once a flush that covers its own write has completed.
//!
//! # When is a write durable?
//!
//! sled's `Db::flush` reads the highest log position reserved so far and returns once the log
//! is on disk up to there. A transaction reserves its log entries before it returns. So a write
//! is durable once a flush that *started after the write's transaction returned* has completed
//! without error: the commit must happen-before the start of a completed flush. A flush that was
//! already running when the write committed may have read the log position too early, and
//! proves nothing about it.
//!
//! # How the scheme keeps that order
//!
//! - A caller runs its transaction inside the *gate* (a read lock, [`GroupCommit::enter`]) and,
//!   still inside, registers on the slot of the next flush ([`GroupCommit::register`]): the
//!   flush that has not started yet ([`State::next`]).
//! - A leader starts a flush by closing the gate (its write lock), which waits for every caller
//!   inside to finish registering and lets no new transaction in; then it takes `next` out of
//!   the state, leaving a fresh slot for later callers, and only then calls `Db::flush`. So every
//!   caller registered on a slot committed before the flush of that slot started.
//! - The gate stays closed until the flush returns. That costs no concurrency, since sled itself
//!   lets no transaction commit while a flush runs (its flush holds a read lock that every
//!   transaction needs for writing), and it keeps the batches whole: no transaction commits
//!   during a flush, so no caller has to wait for the flush after the one that wrote its data.
//! - A registered caller leaves the gate and waits ([`GroupCommit::wait_durable`]). If no flush
//!   is running, it becomes the leader of its own slot. If one is running (the flush before its
//!   own), it sleeps until that ends; then either another caller has led its slot and the
//!   outcome is there, or it leads it.
//! - The leader publishes the outcome in the slot before it marks the flush as over, and wakes
//!   everyone. Every caller of a slot gets that flush's outcome, an error included.
//!
//! With `n` callers writing at once, the callers that arrive while one flush runs wait at the
//! gate, then commit and all share the next flush: about one flush per batch instead of one per
//! write.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, RwLock, RwLockReadGuard};

/// What a flush came to; `sled::Error` is `Clone`, so every caller of a slot gets a copy.
type Outcome = Result<(), sled::Error>;

/// The outcome of one flush, filled exactly once by its leader.
#[derive(Default)]
struct Slot(OnceLock<Outcome>);

/// A caller's place in the flush that will start after its registration.
pub(crate) struct Ticket(Arc<Slot>);

struct State {
    /// Whether a leader is flushing (or closing the gate to flush) right now.
    flushing: bool,
    /// The slot of the flush that will start next; callers registering now wait on it.
    next: Arc<Slot>,
}

/// The shared state of one store's group commit (shared by the store's clones).
pub(crate) struct GroupCommit {
    /// Transactions run under its read lock; a leader holds its write lock while it flushes.
    gate: RwLock<()>,
    state: Mutex<State>,
    /// Signalled whenever a flush ends.
    flush_ended: Condvar,
    /// Updates that decided to write and have not yet been settled (made durable or failed).
    unsettled: AtomicUsize,
    /// Flushes started by leaders; see `SledStorage::flush_count`.
    flushes: AtomicU64,
}

impl GroupCommit {
    pub(crate) fn new() -> Self {
        GroupCommit {
            gate: RwLock::new(()),
            state: Mutex::new(State {
                flushing: false,
                next: Arc::new(Slot::default()),
            }),
            flush_ended: Condvar::new(),
            unsettled: AtomicUsize::new(0),
            flushes: AtomicU64::new(0),
        }
    }

    /// How many flushes leaders have started.
    pub(crate) fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }

    /// Enters the gate: run the transaction and [`GroupCommit::register`] while holding this.
    pub(crate) fn enter(&self) -> RwLockReadGuard<'_, ()> {
        // Only a panicking flush poisons the gate, and it holds no state behind it.
        self.gate.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers for the next flush to start. Call inside the gate, after the transaction.
    pub(crate) fn register(&self) -> Ticket {
        Ticket(Arc::clone(&self.lock().next))
    }

    /// Whether some update has written (or is about to) and is not yet durable or failed.
    ///
    /// A [`Pending`] is marked inside the transaction, before its commit, and settled only after
    /// its flush. So if a reader's transaction saw a write, the write's mark happened-before the
    /// read (sled publishes a commit to later readers with release/acquire), and this returns
    /// `true` until that write is durable.
    pub(crate) fn any_unsettled(&self) -> bool {
        self.unsettled.load(Ordering::SeqCst) != 0
    }

    /// A token for one update, to be [marked](Pending::mark) if the update writes.
    pub(crate) fn pending(&self) -> Pending<'_> {
        Pending {
            group: self,
            marked: Cell::new(false),
        }
    }

    /// Returns once the flush of `ticket` has completed, with its outcome. Call outside the
    /// gate. `flush` is run only if this caller becomes the leader (`Db::flush`, or a stand-in
    /// in tests).
    pub(crate) fn wait_durable(&self, ticket: Ticket, flush: impl FnOnce() -> Outcome) -> Outcome {
        let mine = ticket.0;
        let mut state = self.lock();
        loop {
            if let Some(outcome) = mine.0.get() {
                return outcome.clone();
            }
            if !state.flushing {
                // `mine` is unfilled and nothing is flushing, so no leader has taken it (a
                // leader fills its slot before it clears `flushing`): it is still `next`.
                debug_assert!(Arc::ptr_eq(&mine, &state.next), "an untaken slot is next");
                state.flushing = true;
                drop(state);
                return self.lead(flush, &mine);
            }
            state = self
                .flush_ended
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Closes the gate, takes `slot` (which is `next`) out of the state, runs the flush,
    /// publishes its outcome and wakes the waiters.
    fn lead(&self, flush: impl FnOnce() -> Outcome, slot: &Arc<Slot>) -> Outcome {
        /// Ends the flush when dropped, also if `flush` panics, so that no waiter sleeps forever.
        struct Leading<'a> {
            group: &'a GroupCommit,
            slot: &'a Slot,
            outcome: Option<Outcome>,
        }
        impl Drop for Leading<'_> {
            fn drop(&mut self) {
                let outcome = self.outcome.take().unwrap_or_else(|| {
                    Err(sled::Error::ReportableBug(
                        "flushing the sled store panicked".into(),
                    ))
                });
                let mut state = self.group.lock();
                // The outcome is published before `flushing` is cleared (see `wait_durable`).
                let _ = self.slot.0.set(outcome);
                state.flushing = false;
                drop(state);
                self.group.flush_ended.notify_all();
            }
        }

        let mut leading = Leading {
            group: self,
            slot,
            outcome: None,
        };
        // Waits for the callers inside to register; while `flushing` is set, no other leader
        // takes `next`, so those late registrations land on `slot`.
        let gate = self.gate.write().unwrap_or_else(PoisonError::into_inner);
        {
            let mut state = self.lock();
            debug_assert!(Arc::ptr_eq(slot, &state.next), "only the leader takes next");
            state.next = Arc::new(Slot::default());
        }
        self.flushes.fetch_add(1, Ordering::Relaxed);
        let outcome = flush();
        drop(gate);
        leading.outcome = Some(outcome.clone());
        drop(leading);
        outcome
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held, and the state is valid between statements.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One update's claim that it has written and is not yet settled; released on drop.
pub(crate) struct Pending<'a> {
    group: &'a GroupCommit,
    marked: Cell<bool>,
}

impl Pending<'_> {
    /// Records that the update writes. Call inside the transaction, before it commits; calling
    /// again (sled may run the body more than once) changes nothing.
    pub(crate) fn mark(&self) {
        if !self.marked.replace(true) {
            self.group.unsettled.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Whether [`Pending::mark`] was called.
    pub(crate) fn is_marked(&self) -> bool {
        self.marked.get()
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if self.marked.get() {
            self.group.unsettled.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::thread;
    use std::time::Duration;

    use super::*;

    fn failed(why: &str) -> Outcome {
        Err(sled::Error::Unsupported(why.into()))
    }

    fn error_text(outcome: &Outcome) -> String {
        match outcome {
            Ok(()) => "ok".into(),
            Err(sled::Error::Unsupported(why)) => why.clone(),
            Err(other) => other.to_string(),
        }
    }

    /// What an update does after its transaction: register inside the gate, wait outside.
    fn commit(group: &GroupCommit, flush: impl FnOnce() -> Outcome) -> Outcome {
        let ticket = {
            let _gate = group.enter();
            group.register()
        };
        group.wait_durable(ticket, flush)
    }

    /// Starts a flush on another thread that lasts until the returned sender sends (or is
    /// dropped) and then comes to `outcome`; returns once it is running.
    fn running_flush<'s>(
        s: &'s thread::Scope<'s, '_>,
        group: &'s GroupCommit,
        outcome: Outcome,
    ) -> (mpsc::Sender<()>, thread::ScopedJoinHandle<'s, Outcome>) {
        let (release, released) = mpsc::channel::<()>();
        let leader = s.spawn(move || {
            commit(group, move || {
                let _ = released.recv();
                outcome
            })
        });
        while group.gate.try_write().is_ok() {
            thread::sleep(Duration::from_millis(1));
        }
        (release, leader)
    }

    /// Waits until `n` callers are registered on `next` (the state holds one more reference).
    fn wait_for_registered(group: &GroupCommit, n: usize) {
        while Arc::strong_count(&group.lock().next) < n + 1 {
            thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_lone_caller_leads_its_own_flush() {
        let group = GroupCommit::new();
        let mut ran = 0;
        commit(&group, || {
            ran += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!((ran, group.flushes()), (1, 1));
    }

    #[test]
    fn no_transaction_enters_while_a_flush_runs() {
        let group = GroupCommit::new();
        thread::scope(|s| {
            let (release, leader) = running_flush(s, &group, Ok(()));
            assert!(group.gate.try_read().is_err());
            release.send(()).unwrap();
            leader.join().unwrap().unwrap();
        });
        assert!(group.gate.try_read().is_ok());
    }

    #[test]
    fn callers_registered_during_a_flush_share_the_next_one_and_its_error() {
        let group = GroupCommit::new();
        thread::scope(|s| {
            let (release, first) = running_flush(s, &group, failed("the first flush"));
            // Register as a transaction that committed after the first flush started would
            // (the gate keeps real ones out until it ends): none may be released by that
            // flush, and all share the second.
            let group = &group;
            let later: Vec<_> = (0..3)
                .map(|_| {
                    let ticket = group.register();
                    s.spawn(move || group.wait_durable(ticket, || failed("the second flush")))
                })
                .collect();
            wait_for_registered(group, 3);
            release.send(()).unwrap();
            assert_eq!(error_text(&first.join().unwrap()), "the first flush");
            for caller in later {
                assert_eq!(error_text(&caller.join().unwrap()), "the second flush");
            }
        });
        assert_eq!(group.flushes(), 2);
    }

    #[test]
    fn a_later_flush_succeeds_after_a_failed_one() {
        let group = GroupCommit::new();
        assert!(commit(&group, || failed("once")).is_err());
        assert!(commit(&group, || Ok(())).is_ok());
    }

    #[test]
    fn a_panicking_leader_releases_its_waiters_with_an_error() {
        let group = GroupCommit::new();
        thread::scope(|s| {
            let (release, first) = running_flush(s, &group, Ok(()));
            let group = &group;
            let later: Vec<_> = (0..2)
                .map(|_| {
                    let ticket = group.register();
                    s.spawn(move || group.wait_durable(ticket, || panic!("flush exploded")))
                })
                .collect();
            release.send(()).unwrap();
            first.join().unwrap().unwrap();
            // One of the two led the second flush and panicked; the other got an error.
            let outcomes: Vec<_> = later.into_iter().map(|t| t.join()).collect();
            assert_eq!(outcomes.iter().filter(|o| o.is_err()).count(), 1);
            let waiter = outcomes.into_iter().find_map(Result::ok).unwrap();
            assert!(error_text(&waiter).contains("panicked"), "{waiter:?}");
        });
        // The group still works.
        commit(&group, || Ok(())).unwrap();
    }

    #[test]
    fn pending_counts_once_and_settles_on_drop() {
        let group = GroupCommit::new();
        let unmarked = group.pending();
        assert!(!group.any_unsettled());
        let marked = group.pending();
        marked.mark();
        marked.mark();
        assert!(marked.is_marked() && !unmarked.is_marked());
        assert_eq!(group.unsettled.load(Ordering::SeqCst), 1);
        drop(marked);
        drop(unmarked);
        assert!(!group.any_unsettled());
    }
}

//! Every order in which a few futures can be polled: a small stateless model checker
//! for the synchronisation built on [`Waiters`](super::waiters::Waiters) (tests only).
//!
//! A scenario builds fresh state and the futures ("actors") that share it. One run
//! polls the actors a step at a time: an actor not yet polled, or woken since its last
//! poll, may be polled next. The explorer runs the scenario again for every such
//! choice, depth first, replaying the choices before it, until every order has been
//! tried. A poll is one atomic step here, as it is on a real machine: what it reads and
//! writes is under one lock, and wakers are woken after the lock is let go (a wake that
//! comes late can only make a task poll once more for nothing). A run fails if an actor
//! panics, or if it ends with an actor neither finished nor woken: a lost wake-up.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

/// One of a scenario's futures.
pub(crate) type Actor = Pin<Box<dyn Future<Output = ()>>>;

/// One run of a scenario: its actors, and what must hold once they have all finished.
pub(crate) struct Run {
    pub actors: Vec<Actor>,
    pub then: Box<dyn FnOnce()>,
}

impl From<Vec<Actor>> for Run {
    fn from(actors: Vec<Actor>) -> Self {
        Run { actors, then: Box::new(|| {}) }
    }
}

/// A bound on the runs of one scenario, so that a scenario too big to explore fails
/// instead of running for hours.
const MAX_RUNS: usize = 200_000;

/// A bound on the steps of one run: an actor that wakes itself forever is a bug too.
const MAX_STEPS: usize = 1_000;

/// Runs `scenario` in every order its actors' steps can take; returns how many orders
/// there were. Panics, naming the order, if a run panics or loses a wake-up.
pub(crate) fn every_schedule<R: Into<Run>>(scenario: impl Fn() -> R) -> usize {
    // Each step's choice: which of the runnable actors, and of how many.
    let mut choices: Vec<(usize, usize)> = Vec::new();
    let mut runs = 0;
    loop {
        run_once(&scenario, &mut choices);
        runs += 1;
        assert!(runs <= MAX_RUNS, "more than {MAX_RUNS} schedules: make the scenario smaller");
        // The next order: the deepest choice with an alternative left, taken.
        loop {
            match choices.pop() {
                None => return runs,
                Some((chosen, of)) if chosen + 1 < of => {
                    choices.push((chosen + 1, of));
                    break;
                }
                Some(_) => {}
            }
        }
    }
}

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn run_once<R: Into<Run>>(scenario: &impl Fn() -> R, choices: &mut Vec<(usize, usize)>) {
    let Run { actors, then } = scenario().into();
    let mut actors: Vec<Option<Actor>> = actors.into_iter().map(Some).collect();
    let flags: Vec<Arc<Flag>> = actors.iter().map(|_| Arc::new(Flag(AtomicBool::new(true)))).collect();
    let mut order = Vec::new();
    for step in 0.. {
        assert!(step < MAX_STEPS, "a run of more than {MAX_STEPS} steps: {order:?}");
        let runnable: Vec<usize> =
            (0..actors.len()).filter(|&i| actors[i].is_some() && flags[i].0.load(Ordering::SeqCst)).collect();
        if runnable.is_empty() {
            break;
        }
        if step == choices.len() {
            choices.push((0, runnable.len()));
        }
        let (chosen, of) = choices[step];
        assert_eq!(of, runnable.len(), "the scenario does not replay the same way: {order:?}");
        let actor = runnable[chosen];
        order.push(actor);
        flags[actor].0.store(false, Ordering::SeqCst);
        let waker = Waker::from(flags[actor].clone());
        let Some(future) = actors[actor].as_mut() else { unreachable!("only live actors are runnable") };
        let polled =
            std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut Context::from_waker(&waker))));
        match polled {
            Ok(Poll::Ready(())) => actors[actor] = None,
            Ok(Poll::Pending) => {}
            Err(panic) => panic!("actor {actor} panicked after the steps {order:?}: {}", message(&*panic)),
        }
    }
    let stuck: Vec<usize> = (0..actors.len()).filter(|&i| actors[i].is_some()).collect();
    assert!(
        stuck.is_empty(),
        "actors {stuck:?} wait and nothing will wake them (a lost wake-up), after the steps {order:?}"
    );
    if let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(then)) {
        panic!("after the steps {order:?}: {}", message(&*panic));
    }
}

fn message(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic.downcast_ref::<String>().cloned();
    text.or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned())).unwrap_or_default()
}

/// Lets the other actors take a step: pending once, having woken itself.
pub(crate) async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
}

/// Polls `future` once: its output if it is ready at once; otherwise it is dropped
/// (a caller that gives up, as a `select!` branch not taken).
pub(crate) async fn poll_once<F: Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| {
        Poll::Ready(match future.as_mut().poll(cx) {
            Poll::Ready(output) => Some(output),
            Poll::Pending => None,
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use super::*;

    type Flag = Rc<Cell<bool>>;
    type Slot = Rc<Cell<Option<Waker>>>;

    /// A waiter that `wait`s on a flag and a waker slot, and a setter that sets the flag
    /// and wakes what the slot holds.
    fn flag_and_waiter<F: Future<Output = ()> + 'static>(wait: impl FnOnce(Flag, Slot) -> F) -> Vec<Actor> {
        let flag: Flag = Rc::new(Cell::new(false));
        let slot: Slot = Rc::new(Cell::new(None));
        let waiter: Actor = Box::pin(wait(flag.clone(), slot.clone()));
        let setter: Actor = Box::pin(async move {
            flag.set(true);
            if let Some(waker) = slot.take() {
                waker.wake();
            }
        });
        vec![waiter, setter]
    }

    /// The explorer finds the order a racy check-then-wait loses its wake-up in.
    #[test]
    fn a_lost_wake_up_is_found() {
        // Checks and registers in one step: correct, so every order passes.
        let result = std::panic::catch_unwind(|| {
            every_schedule(|| {
                flag_and_waiter(|flag, slot| async move {
                    while !flag.get() {
                        yield_once().await;
                        std::future::poll_fn(|cx| {
                            if flag.get() {
                                return Poll::Ready(());
                            }
                            slot.set(Some(cx.waker().clone()));
                            Poll::Pending
                        })
                        .await;
                    }
                })
            })
        });
        assert!(result.is_ok());
        // Checks, lets others run, then registers without checking again: the classic
        // lost wake-up, if the flag is set in between.
        let result = std::panic::catch_unwind(|| {
            every_schedule(|| {
                flag_and_waiter(|flag, slot| async move {
                    if !flag.get() {
                        yield_once().await;
                        let mut registered = false;
                        std::future::poll_fn(|cx| {
                            if registered {
                                return Poll::Ready(());
                            }
                            registered = true;
                            slot.set(Some(cx.waker().clone()));
                            Poll::Pending
                        })
                        .await;
                    }
                })
            })
        });
        let panic = result.expect_err("the lost wake-up was not found");
        let message = message(&*panic);
        assert!(message.contains("lost wake-up"), "{message}");
    }
}

//! Running one job per file on every core, for `repo add` (copy and hash)
//! and `repo publish` (hash against the approved metadata).
//!
//! A small pool of scoped threads takes items in order from a shared
//! counter; each worker keeps its own state (a reusable buffer), so nothing
//! is allocated per file. Workers report progress (bytes done) through a
//! channel to the calling thread, which owns the caller's progress callback:
//! callbacks need not be thread-safe, and a caller that aborts inside one
//! (the crash tests) does so on a known thread. The first error stops every
//! worker at its next item, and the results come back in item order. With
//! one item (or one core) the calling thread does the work itself.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use crate::RepoError;

/// Fewer independent checks than this (signature checks of the roles one
/// delegator delegates) run one by one: threads would cost more than they
/// save.
pub(crate) const CHECKS_WORTH_THREADS: usize = 4;

/// Progress is passed on once a worker has done this many bytes (and when
/// it finishes): often enough for a progress bar, rarely enough that small
/// files do not cost a wake-up each.
const REPORT_EVERY: u64 = 1 << 20;

/// How many workers: one per core the process may use, no more than items.
fn worker_count(items: usize) -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(items)
        .max(1)
}

/// Runs `aside` on another thread while the calling thread runs `here`
/// (work that does not depend on it), and returns both results: `publish`
/// and `sign` read the staged side while the published state loads. A
/// panic in `aside` comes back as its error, so the caller reports
/// `here`'s error first, as when the two ran one after the other.
pub(crate) fn beside<A: Send, H>(
    aside: impl FnOnce() -> Result<A, RepoError> + Send,
    here: impl FnOnce() -> H,
) -> (H, Result<A, RepoError>) {
    std::thread::scope(|scope| {
        let aside = scope.spawn(aside);
        let here = here();
        let aside = aside
            .join()
            .unwrap_or_else(|_| Err(RepoError::Invalid("a worker thread panicked".into())));
        (here, aside)
    })
}

/// Drops `value` on a thread of its own that nothing waits for. Freeing a
/// loaded catalogue of 10^5 targets took a twentieth of a command that
/// changes one of them, and neither the caller's result nor, in the CLI,
/// the exit needs it done (exiting does not wait for the thread). Where no
/// thread can be started, `value` is dropped here.
pub(crate) fn drop_aside<T: Send + 'static>(value: T) {
    let detached = std::thread::Builder::new()
        .name("fwsign-drop".into())
        .spawn(move || drop(value));
    drop(detached);
}

/// Runs `work` on every item from a pool of threads and returns the results
/// in item order, or the first error. `work` gets the worker's own state
/// (made by `state`) and a function to report bytes done, which reaches
/// `on_progress` on the calling thread.
pub(crate) fn map_parallel<T, R, S>(
    items: &[T],
    state: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, &T, &dyn Fn(u64)) -> Result<R, RepoError> + Sync,
    on_progress: &mut dyn FnMut(u64),
) -> Result<Vec<R>, RepoError>
where
    T: Sync,
    R: Send,
{
    // One worker (one item, or one core) is the calling thread itself: a
    // command that saves or checks a single role spawns no thread for it.
    if worker_count(items.len()) == 1 {
        let progress = std::cell::RefCell::new(on_progress);
        let report = |n: u64| (progress.borrow_mut())(n);
        let mut own = state();
        return items
            .iter()
            .map(|item| work(&mut own, item, &report))
            .collect();
    }
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<u64>();
    let per_worker = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..worker_count(items.len()))
            .map(|_| {
                let tx = tx.clone();
                let (next, failed, state, work) = (&next, &failed, &state, &work);
                scope.spawn(move || {
                    let mut own = state();
                    // Bytes are sent on in batches of at least `REPORT_EVERY`:
                    // a message per 1 KiB file woke the calling thread 10^5
                    // times in a 10^5-file add.
                    let unsent = std::cell::Cell::new(0u64);
                    let flush = || {
                        let n = unsent.replace(0);
                        if n > 0 {
                            // The receiver outlives every worker.
                            let _ = tx.send(n);
                        }
                    };
                    let report = |n: u64| {
                        unsent.set(unsent.get().saturating_add(n));
                        if unsent.get() >= REPORT_EVERY {
                            flush();
                        }
                    };
                    let mut done: Vec<(usize, R)> = Vec::new();
                    while !failed.load(Ordering::Relaxed) {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(index) else {
                            break;
                        };
                        match work(&mut own, item, &report) {
                            Ok(result) => done.push((index, result)),
                            Err(e) => {
                                flush();
                                failed.store(true, Ordering::Relaxed);
                                // Boxed: a worker's result stays small.
                                return Err((index, Box::new(e)));
                            }
                        }
                    }
                    flush();
                    Ok(done)
                })
            })
            .collect();
        // Only the workers hold senders now: the loop ends when all are done.
        drop(tx);
        for n in rx {
            on_progress(n);
        }
        workers
            .into_iter()
            .map(|w| {
                w.join().unwrap_or_else(|_| {
                    Err((
                        usize::MAX,
                        Box::new(RepoError::Invalid("a worker thread panicked".into())),
                    ))
                })
            })
            .collect::<Vec<_>>()
    });
    let mut slots: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    // The error of the earliest item wins, so the message does not depend
    // on which worker got there first.
    let mut first_error: Option<(usize, Box<RepoError>)> = None;
    for result in per_worker {
        match result {
            Ok(done) => {
                for (index, r) in done {
                    if let Some(slot) = slots.get_mut(index) {
                        *slot = Some(r);
                    }
                }
            }
            Err((index, e)) => {
                if first_error.as_ref().is_none_or(|(i, _)| index < *i) {
                    first_error = Some((index, e));
                }
            }
        }
    }
    if let Some((_, e)) = first_error {
        return Err(*e);
    }
    slots
        .into_iter()
        .map(|s| s.ok_or_else(|| RepoError::Invalid("a file was left unprocessed".into())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_item_order_with_all_progress() {
        let items: Vec<u64> = (0..1000).collect();
        let mut total = 0u64;
        let out = map_parallel(
            &items,
            || 0u64,
            |calls, &i, report| {
                *calls += 1;
                report(i);
                Ok(i * 2)
            },
            &mut |n| total += n,
        )
        .unwrap();
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(total, items.iter().sum::<u64>());
    }

    /// A single item runs on the calling thread, with its progress and
    /// its error as from a pool.
    #[test]
    fn one_item_runs_on_the_calling_thread() {
        let caller = std::thread::current().id();
        let mut total = 0u64;
        let out = map_parallel(
            &[7u64],
            || (),
            |(), &i, report| {
                assert_eq!(std::thread::current().id(), caller);
                report(i);
                Ok(i * 2)
            },
            &mut |n| total += n,
        )
        .unwrap();
        assert_eq!((out, total), (vec![14], 7));
        let err = map_parallel(
            &[1u64],
            || (),
            |(), _, _| Err::<u64, _>(RepoError::Invalid("item 0".into())),
            &mut |_| {},
        )
        .unwrap_err();
        assert!(err.to_string().contains("item 0"), "{err}");
    }

    /// A value dropped aside is dropped, and not on the calling thread.
    #[test]
    fn a_value_dropped_aside_is_dropped_on_another_thread() {
        struct Tell(std::sync::mpsc::Sender<std::thread::ThreadId>);
        impl Drop for Tell {
            fn drop(&mut self) {
                let _sent = self.0.send(std::thread::current().id());
            }
        }
        let (tx, rx) = std::sync::mpsc::channel();
        drop_aside(Tell(tx));
        // Waits for the drop: a value never dropped would hang here, and
        // the sender goes only with the value.
        let dropped_on = rx.recv().unwrap();
        assert_ne!(dropped_on, std::thread::current().id());
    }

    /// Work beside the calling thread runs on another one, and both
    /// results come back, errors included.
    #[test]
    fn work_beside_runs_on_another_thread_and_both_results_come_back() {
        let caller = std::thread::current().id();
        let (here, aside) = beside(
            || Ok(std::thread::current().id()),
            || std::thread::current().id(),
        );
        assert_eq!(here, caller);
        assert_ne!(aside.unwrap(), caller);
        let (here, aside) = beside(
            || Err::<(), _>(RepoError::Invalid("aside".into())),
            || Err::<(), _>(RepoError::Invalid("here".into())),
        );
        assert!(here.unwrap_err().to_string().contains("here"));
        assert!(aside.unwrap_err().to_string().contains("aside"));
    }

    #[test]
    fn the_earliest_failing_item_is_reported() {
        let items: Vec<u64> = (0..200).collect();
        let err = map_parallel(
            &items,
            || (),
            |(), &i, _| {
                if i == 150 || i == 151 {
                    Err(RepoError::Invalid(format!("item {i}")))
                } else {
                    Ok(i)
                }
            },
            &mut |_| {},
        )
        .unwrap_err();
        // 151 may fail first in time, but 150 was taken before it and a
        // taken item always runs to its end: 150 is the one reported.
        let text = err.to_string();
        assert!(text.contains("item 150"), "{text}");
    }
}

//! A second thread kept warm for short parallel phases ([`crate::Par::Pair`]).
//!
//! Handing work to rayon's pool from an outside thread costs the time to
//! wake its workers and then the caller, while a thread spinning on an
//! atomic answers at once. For phases of a few tens of microseconds (a
//! global average pooling of a ResNet's last feature map, the passes of a
//! 1-d batch norm over `(256, 1024)`) that wait is the whole gain of a
//! second core (figures: the crate's `PERF.md`).
//!
//! Here one helper thread, started on first use, spins for a while (about
//! [`SPIN`], yielding the CPU between checks so that other runnable threads
//! are not held up) after each job, then parks. A job is a set of indices
//! `0..n` taken one at a time from a shared counter by both the calling
//! thread and the helper: the caller starts at once, and a helper that
//! wakes late simply takes fewer indices (or none: a job the helper has not
//! picked up when the caller runs out of indices is withdrawn). Results are
//! stored per index, so they do not depend on which thread ran what.
//!
//! Only one job uses the helper at a time; a call made while it is busy
//! (from another thread, or from inside a job) runs all its indices on the
//! calling thread. A panic in either thread is re-raised in the caller
//! once the helper no longer touches the job.
//!
//! The hand-off (post, take, run, withdraw, park and wake) is checked by
//! `loom` in `loom_model.rs`; `sync.rs` holds the primitives it swaps.

#[cfg(all(test, feature = "loom"))]
mod loom_model;
mod sync;

use std::any::Any;
use std::mem::MaybeUninit;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::OnceLock;
use std::time::Duration;

use sync::{
    AtomicBool, AtomicU32, AtomicUsize, CHECKS_PER_ROUND, Ordering, Slot, SpinClock, Thread,
    spin_loop, yield_now,
};

/// How long the helper keeps spinning after its last job before it parks.
pub(crate) const SPIN: Duration = Duration::from_micros(300);

/// No job.
const IDLE: u32 = 0;
/// A job is posted and not taken yet.
const POSTED: u32 = 1;
/// The helper is running the job.
const RUNNING: u32 = 2;
/// The helper finished the job.
const DONE: u32 = 3;

/// The job as the helper sees it: a shared closure with its lifetime
/// erased (the caller waits until the helper is done with it).
type ErasedJob = *const (dyn Fn() + Sync + 'static);

struct Helper {
    /// Held by the caller that owns the helper for one job.
    busy: AtomicBool,
    /// `IDLE`, `POSTED`, `RUNNING` or `DONE`.
    state: AtomicU32,
    /// Whether the helper is parked (or about to park).
    sleeping: AtomicBool,
    /// The posted job: written by the owner before `POSTED`, read by the
    /// helper after taking it (`RUNNING`).
    job: Slot<Option<ErasedJob>>,
    /// A panic of the job on the helper: written before `DONE`, read by
    /// the owner after it.
    panic: Slot<Option<Box<dyn Any + Send>>>,
    /// The helper thread, to unpark it.
    thread: OnceLock<Thread>,
    /// Set to end the helper's loop (only the loom model stops its helper;
    /// the process-wide one lives as long as the process).
    #[cfg(feature = "loom")]
    quit: AtomicBool,
}

impl Helper {
    /// A helper with no job, before its thread is started.
    fn new() -> Self {
        Self {
            busy: AtomicBool::new(false),
            state: AtomicU32::new(IDLE),
            sleeping: AtomicBool::new(false),
            job: Slot::new(None),
            panic: Slot::new(None),
            thread: OnceLock::new(),
            #[cfg(feature = "loom")]
            quit: AtomicBool::new(false),
        }
    }

    /// Whether the helper's loop should end.
    fn quitting(&self) -> bool {
        #[cfg(feature = "loom")]
        return self.quit.load(Ordering::SeqCst);
        #[cfg(not(feature = "loom"))]
        return false;
    }
}

// SAFETY: the `Slot`s are only accessed under the protocol above: `job` by
// the owner (holding `busy`) before it publishes `POSTED` with release
// ordering and by the helper after acquiring `RUNNING`; `panic` by the
// helper before it publishes `DONE` and by the owner after acquiring it.
// The erased closure is `Sync`.
unsafe impl Sync for Helper {}
// SAFETY: as above; the erased closure is only called, never owned.
unsafe impl Send for Helper {}

/// The process's helper, started on first use; `None` on a single-CPU
/// machine, when the thread cannot be started, and with the `loom`
/// feature (whose model starts helpers of its own).
fn helper() -> Option<&'static Helper> {
    #[cfg(feature = "loom")]
    return None;
    #[cfg(not(feature = "loom"))]
    {
        static HELPER: OnceLock<Option<&'static Helper>> = OnceLock::new();
        *HELPER.get_or_init(|| {
            if std::thread::available_parallelism().map_or(1, usize::from) < 2 {
                return None;
            }
            let h: &'static Helper = Box::leak(Box::new(Helper::new()));
            let spawned = std::thread::Builder::new()
                .name("handgrad-warm".into())
                .spawn(move || serve(h));
            match spawned {
                Ok(handle) => {
                    let _ = h.thread.set(handle.thread().clone());
                    Some(h)
                }
                Err(_) => None,
            }
        })
    }
}

/// The helper's loop: take posted jobs, spin for [`SPIN`] after each,
/// then park until a job is posted.
fn serve(h: &Helper) {
    while !h.quitting() {
        let mut spin = SpinClock::start();
        let mut checks = 0u32;
        loop {
            if h.state.load(Ordering::Acquire) == POSTED
                && h.state
                    .compare_exchange(POSTED, RUNNING, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            {
                // SAFETY: the owner wrote `job` before publishing `POSTED`
                // and keeps the closure alive until it sees `DONE`.
                let job = unsafe { h.job.with_mut(|j| j.expect("a posted job")) };
                // SAFETY: as above; the closure is `Sync`.
                let result = catch_unwind(AssertUnwindSafe(|| unsafe { (*job)() }));
                if let Err(payload) = result {
                    // SAFETY: the owner reads `panic` only after `DONE`.
                    unsafe { h.panic.with_mut(|p| *p = Some(payload)) };
                }
                h.state.store(DONE, Ordering::Release);
                spin = SpinClock::start();
                continue;
            }
            spin_loop();
            checks = checks.wrapping_add(1);
            if checks.is_multiple_of(CHECKS_PER_ROUND) {
                if spin.expired() {
                    break;
                }
                yield_now();
            }
        }
        h.sleeping.store(true, Ordering::SeqCst);
        if h.state.load(Ordering::SeqCst) != POSTED && !h.quitting() {
            sync::park();
        }
        h.sleeping.store(false, Ordering::SeqCst);
    }
}

/// Calls `f(i)` for every `i` in `0..n`, spread over the calling thread and
/// the warm helper, and returns the results in index order.
///
/// ```
/// // Through the public entry point, `Par::Pair`.
/// let squares = core_tensor::Par::Pair.map_range(5, |i| i * i);
/// assert_eq!(squares, [0, 1, 4, 9, 16]);
/// ```
pub(crate) fn map_indices<R: Send>(n: usize, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let mut out: Vec<MaybeUninit<R>> = Vec::with_capacity(n);
    // SAFETY: `MaybeUninit` needs no initialization.
    unsafe { out.set_len(n) };
    let slots = SendPtr(out.as_mut_ptr());
    let next = AtomicUsize::new(0);
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= n {
                break;
            }
            let r = f(i);
            // SAFETY: each index is taken exactly once, so each slot is
            // written by one thread only, and `out` outlives the job.
            unsafe { (*slots.get().add(i)).write(r) };
        }
    };
    run(n, &work);
    // SAFETY: `run` returned normally, so every index was taken and its
    // slot written; `MaybeUninit<R>` has the layout of `R`.
    unsafe {
        let mut out = std::mem::ManuallyDrop::new(out);
        Vec::from_raw_parts(out.as_mut_ptr().cast::<R>(), n, out.capacity())
    }
}

/// Runs `work` on the calling thread and, when the helper is free and
/// there is more than one index, on the helper too; returns when both are
/// done with it (re-raising a panic of either).
fn run(n: usize, work: &(dyn Fn() + Sync)) {
    match helper().filter(|_| n > 1) {
        Some(h) => run_on(h, work),
        None => work(),
    }
}

/// Runs `work` on the calling thread and, when `h` is free, on its thread
/// too; returns when both are done with it (re-raising a panic of either).
fn run_on(h: &Helper, work: &(dyn Fn() + Sync)) {
    if h.busy
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        work();
        return;
    }
    // SAFETY: the lifetime is erased only for the helper's use, which ends
    // before this function returns or unwinds (see `Withdraw`).
    let erased: ErasedJob = unsafe { std::mem::transmute::<&(dyn Fn() + Sync), ErasedJob>(work) };
    // SAFETY: this thread holds `busy`, and the helper only reads `job`
    // after `POSTED`.
    unsafe { h.job.with_mut(|j| *j = Some(erased)) };
    h.state.store(POSTED, Ordering::SeqCst);
    if h.sleeping.load(Ordering::SeqCst)
        && let Some(t) = h.thread.get()
    {
        t.unpark();
    }
    let guard = Withdraw(h);
    let mine = catch_unwind(AssertUnwindSafe(work));
    drop(guard);
    // SAFETY: the helper wrote `panic` (if at all) before `DONE`, which
    // `Withdraw` observed; it no longer touches it.
    let theirs = unsafe { h.panic.with_mut(Option::take) };
    // SAFETY: as above for `job`.
    unsafe { h.job.with_mut(|j| *j = None) };
    h.state.store(IDLE, Ordering::Release);
    h.busy.store(false, Ordering::Release);
    if let Err(payload) = mine {
        resume_unwind(payload);
    }
    if let Some(payload) = theirs {
        resume_unwind(payload);
    }
}

/// On drop, makes sure the helper no longer uses the job: withdraws it if
/// not taken yet, else waits for `DONE`.
struct Withdraw<'h>(&'h Helper);

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        let h = self.0;
        if h.state
            .compare_exchange(POSTED, IDLE, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            return;
        }
        let mut checks = 0u32;
        while h.state.load(Ordering::Acquire) != DONE {
            spin_loop();
            checks = checks.wrapping_add(1);
            if checks.is_multiple_of(2 * CHECKS_PER_ROUND) {
                yield_now();
            }
        }
    }
}

/// A raw pointer the job's closure may share between the two threads.
struct SendPtr<T>(*mut T);

impl<T> SendPtr<T> {
    fn get(&self) -> *mut T {
        self.0
    }
}

// SAFETY: used only to write disjoint elements from the two threads (each
// index is taken once).
unsafe impl<T: Send> Sync for SendPtr<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for SendPtr<T> {}

/// Calls `f(i, chunk)` for the `chunk_len`-sized chunks of `data` (the last
/// may be shorter), spread over the calling thread and the warm helper,
/// and returns the results in chunk order.
///
/// # Panics
/// If `chunk_len` is 0.
///
/// ```
/// // Through the public entry point, `Par::Pair`.
/// let mut v = vec![0usize; 7];
/// core_tensor::Par::Pair.for_each_chunk_mut(&mut v, 3, |i, c| c.fill(i));
/// assert_eq!(v, [0, 0, 0, 1, 1, 1, 2]);
/// ```
pub(crate) fn map_chunks_mut<T: Send, R: Send>(
    data: &mut [T],
    chunk_len: usize,
    f: impl Fn(usize, &mut [T]) -> R + Sync,
) -> Vec<R> {
    assert!(chunk_len > 0, "chunk length must be positive");
    let len = data.len();
    let base = SendPtr(data.as_mut_ptr());
    map_indices(len.div_ceil(chunk_len), |i| {
        let start = i * chunk_len;
        // SAFETY: chunk `i` is `data[start..start + k]`, within `data`;
        // each index is taken once, so the chunks handed out are disjoint,
        // and `data` is borrowed mutably for the whole call.
        let chunk = unsafe {
            std::slice::from_raw_parts_mut(base.get().add(start), chunk_len.min(len - start))
        };
        f(i, chunk)
    })
}

/// [`map_chunks_mut`] over two buffers chunked in step (chunk `i` of `a`
/// has `a_len` elements, of `b` `b_len`).
///
/// # Panics
/// If a chunk length is 0 or the buffers hold different chunk counts.
pub(crate) fn map_chunk_pairs_mut<T: Send, U: Send, R: Send>(
    a: &mut [T],
    a_len: usize,
    b: &mut [U],
    b_len: usize,
    f: impl Fn(usize, &mut [T], &mut [U]) -> R + Sync,
) -> Vec<R> {
    assert!(a_len > 0 && b_len > 0, "chunk lengths must be positive");
    let (la, lb) = (a.len(), b.len());
    assert_eq!(
        la.div_ceil(a_len),
        lb.div_ceil(b_len),
        "chunk counts differ"
    );
    let (pa, pb) = (SendPtr(a.as_mut_ptr()), SendPtr(b.as_mut_ptr()));
    map_indices(la.div_ceil(a_len), |i| {
        let (sa, sb) = (i * a_len, i * b_len);
        // SAFETY: as in `map_chunks_mut`, for each buffer.
        let (x, y) = unsafe {
            (
                std::slice::from_raw_parts_mut(pa.get().add(sa), a_len.min(la - sa)),
                std::slice::from_raw_parts_mut(pb.get().add(sb), b_len.min(lb - sb)),
            )
        };
        f(i, x, y)
    })
}

#[cfg(all(test, not(feature = "loom")))]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn every_index_runs_once_and_results_keep_their_order() {
        for n in [0usize, 1, 2, 3, 17, 1000] {
            let hits: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
            let out = map_indices(n, |i| {
                hits[i].fetch_add(1, Ordering::Relaxed);
                i * 3
            });
            assert_eq!(out, (0..n).map(|i| i * 3).collect::<Vec<_>>());
            assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
        }
    }

    #[test]
    fn both_threads_take_work_when_it_lasts() {
        // Indices that each take a while: the helper (spinning after the
        // first job, or woken) takes some of them.
        // Other tests may hold the helper at that moment (their calls then
        // run inline, and so would this one): a few attempts.
        let me = std::thread::current().id();
        let mut helped = false;
        for _ in 0..20 {
            let threads: Vec<std::thread::ThreadId> = map_indices(64, |_| {
                let t = Instant::now();
                while t.elapsed() < Duration::from_micros(200) {
                    std::hint::spin_loop();
                }
                std::thread::current().id()
            });
            assert!(threads.contains(&me));
            helped = threads.iter().any(|&t| t != me);
            if helped {
                break;
            }
        }
        assert_eq!(helped, helper().is_some(), "the helper took no index");
    }

    #[test]
    fn nested_and_concurrent_calls_run_inline_and_stay_correct() {
        let outer = map_indices(8, |i| map_indices(5, |j| i * 10 + j).iter().sum::<usize>());
        assert_eq!(outer, (0..8).map(|i| 50 * i + 10).collect::<Vec<_>>());
        let handles: Vec<_> = (0..4)
            .map(|k| std::thread::spawn(move || map_indices(100, |i| i + k).iter().sum::<usize>()))
            .collect();
        for (k, h) in handles.into_iter().enumerate() {
            assert_eq!(h.join().unwrap(), 4950 + 100 * k);
        }
    }

    #[test]
    fn a_panic_in_a_job_reaches_the_caller_and_the_helper_stays_usable() {
        for _ in 0..3 {
            let r = catch_unwind(|| {
                map_indices(16, |i| {
                    assert!(i != 7, "index seven");
                    i
                })
            });
            assert!(r.is_err());
            assert_eq!(map_indices(4, |i| i + 1), [1, 2, 3, 4]);
        }
    }

    #[test]
    fn chunks_are_disjoint_and_cover_the_data() {
        let mut a = vec![0u32; 103];
        let mut b = vec![0u8; 21];
        let r = map_chunk_pairs_mut(&mut a, 10, &mut b, 2, |i, x, y| {
            x.fill(i as u32 + 1);
            y.fill(i as u8 + 1);
            (x.len(), y.len())
        });
        assert_eq!(r.len(), 11);
        assert_eq!(r[10], (3, 1));
        assert!(a.iter().enumerate().all(|(k, &v)| v == (k / 10) as u32 + 1));
        assert!(b.iter().enumerate().all(|(k, &v)| v == (k / 2) as u8 + 1));
    }
}

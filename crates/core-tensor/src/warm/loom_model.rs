//! The hand-off between a caller and the warm helper, checked by `loom`
//! over every interleaving of the two threads (within a preemption bound):
//! the job's indices each run exactly once, whichever thread takes them;
//! the caller returns only when the helper no longer touches the job
//! (loom checks every access to the job and panic slots against the
//! protocol's happens-before order); a job the helper has not taken is
//! withdrawn; the helper parks between jobs and is woken for the next.
//!
//! Run with
//! `cargo test -p core-tensor --features loom --lib warm::loom_model`
//! (`.ci/run` does).

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};

use super::{Helper, run_on, serve};

/// Starts a helper thread, runs `jobs` jobs of `n` indices through it from
/// the model's main thread, checks each, then stops the helper.
fn jobs_through_a_helper(jobs: usize, n: usize) {
    let h = Arc::new(Helper::new());
    let served = Arc::clone(&h);
    let t = loom::thread::spawn(move || serve(&served));
    h.thread
        .set(t.thread().clone())
        .expect("the helper thread is set once");
    for _ in 0..jobs {
        let hits: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
        let next = AtomicUsize::new(0);
        let work = || {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                hits[i].fetch_add(1, Ordering::Relaxed);
            }
        };
        run_on(&h, &work);
        for (i, hit) in hits.iter().enumerate() {
            assert_eq!(hit.load(Ordering::Relaxed), 1, "index {i} of {n}");
        }
        assert!(!h.busy.load(Ordering::Relaxed), "the helper is released");
    }
    h.quit.store(true, Ordering::SeqCst);
    h.thread.get().expect("set above").unpark();
    t.join().expect("the helper ends without panicking");
}

#[test]
fn one_job_runs_each_index_once() {
    loom::model(|| jobs_through_a_helper(1, 2));
}

#[test]
fn a_second_job_reaches_a_spinning_or_parked_helper() {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(2);
    model.check(|| jobs_through_a_helper(2, 1));
}

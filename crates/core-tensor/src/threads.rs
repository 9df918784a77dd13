//! The worker threads: setting up rayon's global thread pool so that the
//! thread that calls a kernel works in it, as an OpenMP runtime
//! (PyTorch's) does.
//!
//! By default rayon's global pool has its own `n` worker threads: a kernel
//! called from the main thread hands its job to them and the main thread
//! sleeps until they finish. [`init_global_pool`] instead makes the
//! calling thread one of the `n` (`ThreadPoolBuilder::use_current_thread`),
//! so that a call from it starts on it at once and only `n − 1` threads are
//! woken, which makes short memory-bound kernels faster (figures and the
//! command that measures them: the crate's `PERF.md`).

/// Builds rayon's global pool with `threads` threads, the calling thread
/// being one of them (it then runs pool work whenever it calls into rayon,
/// and must not be blocked elsewhere while other threads wait on it).
/// Call it once, early, from the thread that will call the kernels (usually
/// `main`). Returns `false`, changing nothing, when the global pool already
/// exists (rayon builds it on first use, or another call built it).
///
/// ```standalone_crate
/// // The first call in a process builds the pool, with this thread in it;
/// // later ones report that it already exists.
/// assert!(core_tensor::threads::init_global_pool(2));
/// assert_eq!(rayon::current_num_threads(), 2);
/// assert_eq!(rayon::current_thread_index(), Some(0));
/// assert!(!core_tensor::threads::init_global_pool(3));
/// ```
pub fn init_global_pool(threads: usize) -> bool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .use_current_thread()
        .build_global()
        .is_ok()
}

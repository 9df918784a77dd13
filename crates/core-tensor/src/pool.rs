//! Setting up rayon's global pool so that the thread that calls a kernel
//! works in it, as an OpenMP runtime (PyTorch's) does.
//!
//! By default rayon's global pool has its own `n` worker threads: a kernel
//! called from the main thread hands its job to them and the main thread
//! sleeps until they finish. [`init_global_pool`] instead makes the
//! calling thread one of the `n` (`ThreadPoolBuilder::use_current_thread`),
//! so that a call from it starts on it at once and only `n − 1` threads are
//! woken. Measured on this project's 2-vCPU machine in a fast memory phase
//! (alternated runs in one session): memory-bound kernels of 25 MB ran
//! 15–30% faster, e.g. the batch-norm eval forward of `(32, 64, 56, 56)`
//! 0.54–0.64 ms against 0.76–0.92 ms in eight standalone runs, and
//! 0.49–0.58 against 0.65–0.76 ms in five `cargo xtask bench` rounds; in
//! a slow phase the two pools measured alike.

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
/// assert!(core_tensor::pool::init_global_pool(2));
/// assert_eq!(rayon::current_num_threads(), 2);
/// assert_eq!(rayon::current_thread_index(), Some(0));
/// assert!(!core_tensor::pool::init_global_pool(3));
/// ```
pub fn init_global_pool(threads: usize) -> bool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .use_current_thread()
        .build_global()
        .is_ok()
}

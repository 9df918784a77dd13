//! Memory for tensors: a cache of freed buffers that a training loop
//! reuses step after step, and the C allocator's own retention setting.
//!
//! Every kernel returns a fresh tensor. Freed to the C allocator, a large
//! buffer is often given back to the operating system (glibc unmaps blocks
//! over its mmap threshold and trims the top of its heap), and the next
//! allocation of the same size starts on fresh pages whose faults, with the
//! kernel zeroing each page, can cost more than the arithmetic that fills
//! them. So tensor storage ([`CachedVec`]) hands its buffer to a
//! process-wide cache when it is dropped, and kernels take their outputs
//! and scratch buffers from it ([`vec_with_capacity`], [`vec_filled`]).
//! Nothing has to be set up: a steady-state training loop allocates the
//! same sizes every step and finds them in the cache.
//!
//! - Size classes: eight per power of two from 32 KiB on (a request is
//!   rounded up by at most 1/8); smaller buffers go straight to the C
//!   allocator, which keeps them in its own free lists.
//! - Bounded: at most [`set_cache_limit`] bytes (1 GiB by default) are held;
//!   past that, the largest cached buffers are released first.
//! - Thread-safe: a lock per size class, held for a push or a pop.
//! - A buffer is in the cache only after its owner dropped it, and leaves
//!   it for exactly one new owner: memory in use is never handed out. A
//!   buffer taken from the cache is handed out empty (length 0), so its
//!   old contents cannot change any result.
//! - [`empty_cache`] frees everything held, [`memory_stats`] reads the
//!   counters (PyTorch's `empty_cache` and `memory_stats`).

mod cache;
mod cached_vec;
mod malloc_options;
mod size_class;

pub use cache::{
    DEFAULT_CACHE_LIMIT, MemoryStats, empty_cache, memory_stats, recycle, reset_memory_stats,
    set_cache_limit, vec_filled, vec_with_capacity,
};
pub use cached_vec::CachedVec;
pub use malloc_options::retain_freed_memory;

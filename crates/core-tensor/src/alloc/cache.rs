//! The process-wide cache of freed buffers: one free list per size class,
//! each behind its own lock, and counters read by [`memory_stats`].

use std::alloc::{Layout, dealloc};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex, MutexGuard};

use super::size_class::{CLASSES, class_bytes, class_for_request, floor_class};

/// The default bound on the bytes the cache holds.
pub const DEFAULT_CACHE_LIMIT: usize = 1 << 30;

/// A freed allocation of the global allocator, kept for reuse: the layout
/// it was allocated with is `(bytes, align)`.
struct RawBuf {
    ptr: NonNull<u8>,
    bytes: usize,
    align: usize,
}

// SAFETY: a `RawBuf` owns its allocation exclusively (nothing else points
// into it while it is cached), so moving it between threads is sound.
unsafe impl Send for RawBuf {}

impl RawBuf {
    fn release(self) {
        // SAFETY: `ptr` was allocated by the global allocator with exactly
        // this layout (a `Vec` of `bytes / size` elements of alignment
        // `align`, see `recycle`), and the cache owned it alone.
        unsafe {
            dealloc(
                self.ptr.as_ptr(),
                Layout::from_size_align_unchecked(self.bytes, self.align),
            );
        }
    }
}

struct Cache {
    classes: Vec<Mutex<Vec<RawBuf>>>,
    cached_bytes: AtomicUsize,
    cached_buffers: AtomicUsize,
    peak_cached_bytes: AtomicUsize,
    limit: AtomicUsize,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
}

static CACHE: LazyLock<Cache> = LazyLock::new(|| Cache {
    classes: (0..CLASSES).map(|_| Mutex::new(Vec::new())).collect(),
    cached_bytes: AtomicUsize::new(0),
    cached_buffers: AtomicUsize::new(0),
    peak_cached_bytes: AtomicUsize::new(0),
    limit: AtomicUsize::new(DEFAULT_CACHE_LIMIT),
    hits: AtomicU64::new(0),
    misses: AtomicU64::new(0),
    evictions: AtomicU64::new(0),
});

impl Cache {
    fn list(&self, class: usize) -> MutexGuard<'_, Vec<RawBuf>> {
        // A panic while the lock is held cannot leave the list inconsistent
        // (push and swap_remove are the only updates), so poisoning is ignored.
        self.classes[class]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a cached buffer of `class` allocated with alignment `align`
    /// whose size is a multiple of `size`.
    fn take(&self, class: usize, align: usize, size: usize) -> Option<RawBuf> {
        let buf = {
            let mut list = self.list(class);
            let at = list
                .iter()
                .rposition(|b| b.align == align && b.bytes % size == 0)?;
            list.swap_remove(at)
        };
        self.cached_bytes.fetch_sub(buf.bytes, Ordering::Relaxed);
        self.cached_buffers.fetch_sub(1, Ordering::Relaxed);
        Some(buf)
    }

    /// Reserves `bytes` under the limit, releasing the largest cached
    /// buffers while that is needed. `false` when it cannot fit.
    fn reserve(&self, bytes: usize) -> bool {
        loop {
            let limit = self.limit.load(Ordering::Relaxed);
            if bytes > limit {
                return false;
            }
            let cur = self.cached_bytes.load(Ordering::Relaxed);
            if cur + bytes <= limit {
                if self
                    .cached_bytes
                    .compare_exchange_weak(cur, cur + bytes, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
                {
                    self.peak_cached_bytes
                        .fetch_max(cur + bytes, Ordering::Relaxed);
                    return true;
                }
                continue;
            }
            if !self.evict_one() {
                return false;
            }
        }
    }

    /// Releases one buffer of the largest non-empty class.
    fn evict_one(&self) -> bool {
        for class in (0..CLASSES).rev() {
            let popped = self.list(class).pop();
            if let Some(buf) = popped {
                self.cached_bytes.fetch_sub(buf.bytes, Ordering::Relaxed);
                self.cached_buffers.fetch_sub(1, Ordering::Relaxed);
                self.evictions.fetch_add(1, Ordering::Relaxed);
                buf.release();
                return true;
            }
        }
        false
    }
}

/// A `Vec` with room for at least `n` elements and length 0, taken from the
/// cache when a freed buffer of the same size class is there, freshly
/// allocated (with the class's whole size as capacity) otherwise.
///
/// Requests under 32 KiB are not cached and go straight to the global
/// allocator. The memory's old contents are never visible: the vector is
/// empty, and [`Vec::spare_capacity_mut`] hands out `MaybeUninit` slots.
///
/// ```
/// use core_tensor::alloc::{memory_stats, recycle, vec_with_capacity};
///
/// let mut v: Vec<f32> = vec_with_capacity(100_000);
/// assert!(v.is_empty() && v.capacity() >= 100_000);
/// v.extend((0..100_000).map(|i| i as f32));
/// recycle(v); // back into the cache
/// let w: Vec<f32> = vec_with_capacity(100_000); // the same buffer again
/// assert!(w.is_empty());
/// assert!(memory_stats().hits >= 1);
/// ```
pub fn vec_with_capacity<T>(n: usize) -> Vec<T> {
    let size = size_of::<T>();
    let Some(class) = n
        .checked_mul(size)
        .filter(|_| size > 0)
        .and_then(class_for_request)
    else {
        return Vec::with_capacity(n);
    };
    let cache = &*CACHE;
    if let Some(buf) = cache.take(class, align_of::<T>(), size) {
        cache.hits.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `buf` came from a `Vec` of the global allocator whose
        // layout was `(buf.bytes, align_of::<T>())` (checked by `take`), and
        // `buf.bytes` is a multiple of `size_of::<T>()`: these are the
        // conditions of `Vec::from_raw_parts` for length 0 and capacity
        // `buf.bytes / size`, which is at least `n` because the class of a
        // freed buffer is the largest one it holds.
        return unsafe { Vec::from_raw_parts(buf.ptr.as_ptr().cast::<T>(), 0, buf.bytes / size) };
    }
    cache.misses.fetch_add(1, Ordering::Relaxed);
    Vec::with_capacity(class_bytes(class) / size)
}

/// A `Vec` of `n` copies of `value`, its buffer taken as
/// [`vec_with_capacity`] takes it.
///
/// ```
/// let v = core_tensor::alloc::vec_filled(50_000, 0.5f64);
/// assert_eq!(v.len(), 50_000);
/// assert!(v.iter().all(|&x| x == 0.5));
/// ```
pub fn vec_filled<T: Clone>(n: usize, value: T) -> Vec<T> {
    let mut v = vec_with_capacity(n);
    v.resize(n, value);
    v
}

/// Drops the elements of `v` and keeps its buffer in the cache for a later
/// [`vec_with_capacity`] of the same size class, if its capacity is a whole
/// size class (as that function allocates) of at least 32 KiB and the cache
/// has room under its limit (after releasing its largest buffers if
/// needed); otherwise frees it.
pub fn recycle<T>(mut v: Vec<T>) {
    v.clear();
    let size = size_of::<T>();
    if size == 0 {
        return;
    }
    // No overflow: the allocation of `capacity * size` bytes exists.
    let bytes = v.capacity() * size;
    // Only buffers of a whole class (those `vec_with_capacity` allocated)
    // are kept: one of another size would sit in the class below its size,
    // where requests of its own size never look.
    let Some(class) = floor_class(bytes).filter(|&c| class_bytes(c) == bytes) else {
        return;
    };
    let cache = &*CACHE;
    if !cache.reserve(bytes) {
        return;
    }
    let mut v = std::mem::ManuallyDrop::new(v);
    let buf = RawBuf {
        ptr: NonNull::new(v.as_mut_ptr().cast::<u8>()).expect("a Vec's buffer is never null"),
        bytes,
        align: align_of::<T>(),
    };
    cache.list(class).push(buf);
    cache.cached_buffers.fetch_add(1, Ordering::Relaxed);
}

/// Frees every cached buffer (PyTorch's `torch.cuda.empty_cache` for this
/// cache) and returns how many bytes went back to the allocator. Buffers in
/// use are not affected; they return to the cache when freed.
pub fn empty_cache() -> usize {
    let cache = &*CACHE;
    let mut freed = 0;
    for class in 0..CLASSES {
        let drained: Vec<RawBuf> = std::mem::take(&mut *cache.list(class));
        for buf in drained {
            cache.cached_bytes.fetch_sub(buf.bytes, Ordering::Relaxed);
            cache.cached_buffers.fetch_sub(1, Ordering::Relaxed);
            freed += buf.bytes;
            buf.release();
        }
    }
    freed
}

/// Sets the most bytes the cache may hold (default 1 GiB) and releases
/// cached buffers until it holds no more. `0` turns caching off: every
/// freed buffer then goes back to the allocator.
pub fn set_cache_limit(bytes: usize) {
    let cache = &*CACHE;
    cache.limit.store(bytes, Ordering::Relaxed);
    while cache.cached_bytes.load(Ordering::Relaxed) > bytes {
        if !cache.evict_one() {
            break;
        }
    }
}

/// The cache's counters (in the spirit of PyTorch's
/// `torch.cuda.memory_stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryStats {
    /// Bytes of freed buffers held for reuse.
    pub cached_bytes: usize,
    /// How many buffers that is.
    pub cached_buffers: usize,
    /// The most bytes held at once since the start or the last
    /// [`reset_memory_stats`].
    pub peak_cached_bytes: usize,
    /// The bound on `cached_bytes` ([`set_cache_limit`]).
    pub limit: usize,
    /// Requests of at least 32 KiB served from the cache.
    pub hits: u64,
    /// Requests of at least 32 KiB that had to allocate.
    pub misses: u64,
    /// Cached buffers released to make room under the limit.
    pub evictions: u64,
}

/// The cache's current counters.
pub fn memory_stats() -> MemoryStats {
    let cache = &*CACHE;
    MemoryStats {
        cached_bytes: cache.cached_bytes.load(Ordering::Relaxed),
        cached_buffers: cache.cached_buffers.load(Ordering::Relaxed),
        peak_cached_bytes: cache.peak_cached_bytes.load(Ordering::Relaxed),
        limit: cache.limit.load(Ordering::Relaxed),
        hits: cache.hits.load(Ordering::Relaxed),
        misses: cache.misses.load(Ordering::Relaxed),
        evictions: cache.evictions.load(Ordering::Relaxed),
    }
}

/// Sets hits, misses and evictions to zero and the peak to the bytes held
/// now (PyTorch's `reset_peak_memory_stats` and
/// `reset_accumulated_memory_stats`).
pub fn reset_memory_stats() {
    let cache = &*CACHE;
    cache.hits.store(0, Ordering::Relaxed);
    cache.misses.store(0, Ordering::Relaxed);
    cache.evictions.store(0, Ordering::Relaxed);
    cache.peak_cached_bytes.store(
        cache.cached_bytes.load(Ordering::Relaxed),
        Ordering::Relaxed,
    );
}

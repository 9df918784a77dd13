//! The tensor buffer cache: reuse, bounds, statistics and safety. The cache
//! is process-wide, so the tests of this file take turns.

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard};

use core_tensor::Tensor;
use core_tensor::alloc::{
    CachedVec, DEFAULT_CACHE_LIMIT, empty_cache, memory_stats, recycle, reset_memory_stats,
    set_cache_limit, vec_filled, vec_with_capacity,
};

static TURN: Mutex<()> = Mutex::new(());

/// Takes this file's turn with an empty cache at the default limit.
fn turn() -> MutexGuard<'static, ()> {
    let guard = TURN.lock().unwrap_or_else(|e| e.into_inner());
    set_cache_limit(DEFAULT_CACHE_LIMIT);
    empty_cache();
    reset_memory_stats();
    guard
}

#[test]
fn a_freed_buffer_is_handed_out_again_once() {
    let _t = turn();
    let a: Vec<f32> = vec_with_capacity(100_000);
    let ptr = a.as_ptr();
    assert!(a.capacity() >= 100_000 && a.is_empty());
    assert_eq!(memory_stats().misses, 1);
    recycle(a);
    let s = memory_stats();
    assert_eq!(s.cached_buffers, 1);
    assert_eq!(s.cached_bytes % 4096, 0);
    assert!(s.cached_bytes >= 400_000);
    let b: Vec<f32> = vec_with_capacity(100_000);
    assert_eq!(b.as_ptr(), ptr, "the cached buffer is reused");
    assert_eq!(memory_stats().hits, 1);
    // It left the cache: the next request of that size allocates anew.
    let c: Vec<f32> = vec_with_capacity(100_000);
    assert_ne!(c.as_ptr(), ptr);
    assert_eq!(memory_stats().misses, 2);
    assert_eq!(memory_stats().cached_buffers, 0);
}

#[test]
fn small_and_foreign_buffers_are_not_kept() {
    let _t = turn();
    // Under 32 KiB: the C allocator's business.
    recycle(vec_with_capacity::<f64>(100));
    // Not a whole size class: it was not allocated by the cache.
    recycle(vec![0.0f64; 100_003]);
    let s = memory_stats();
    assert_eq!((s.cached_buffers, s.cached_bytes), (0, 0));
    assert_eq!((s.hits, s.misses), (0, 0), "small requests are not counted");
}

#[test]
fn f32_and_f64_buffers_are_kept_apart_by_alignment() {
    let _t = turn();
    let a: Vec<f32> = vec_with_capacity(200_000);
    recycle(a);
    // Same byte size, stricter alignment: not served from the f32 buffer.
    let b: Vec<f64> = vec_with_capacity(100_000);
    assert_eq!(memory_stats().hits, 0);
    // Same alignment, other type: served.
    let c: Vec<u32> = vec_with_capacity(200_000);
    assert_eq!(memory_stats().hits, 1);
    assert!(c.capacity() >= 200_000);
    drop(b);
}

#[test]
fn tensors_give_their_storage_back_when_the_last_clone_drops() {
    let _t = turn();
    let t = Tensor::<f32>::zeros(&[64, 16, 28, 28]);
    let ptr = t.as_slice().as_ptr();
    let u = t.clone();
    drop(t);
    assert_eq!(memory_stats().cached_buffers, 0, "a clone still holds it");
    let r = u.reshape(&[64, 16 * 28 * 28]).unwrap();
    drop(u);
    assert_eq!(memory_stats().cached_buffers, 0, "a reshape shares it");
    drop(r);
    assert_eq!(memory_stats().cached_buffers, 1);
    let v = Tensor::<f32>::full(&[64, 16, 28, 28], 2.0);
    assert_eq!(v.as_slice().as_ptr(), ptr);
    assert!(v.as_slice().iter().all(|&x| x == 2.0), "no old value shows");
}

#[test]
fn empty_cache_returns_every_cached_byte() {
    let _t = turn();
    let held: Vec<Vec<f64>> = (1..=5).map(|i| vec_with_capacity(i * 50_000)).collect();
    let bytes: usize = held.iter().map(|v| v.capacity() * 8).sum();
    held.into_iter().for_each(recycle);
    assert_eq!(memory_stats().cached_bytes, bytes);
    assert_eq!(memory_stats().peak_cached_bytes, bytes);
    assert_eq!(empty_cache(), bytes);
    let s = memory_stats();
    assert_eq!((s.cached_bytes, s.cached_buffers), (0, 0));
    assert_eq!(empty_cache(), 0);
}

#[test]
fn the_limit_bounds_the_cache_and_zero_turns_it_off() {
    let _t = turn();
    let one = vec_with_capacity::<u8>(1 << 20).capacity();
    set_cache_limit(3 * one);
    let bufs: Vec<Vec<u8>> = (0..5).map(|_| vec_with_capacity(1 << 20)).collect();
    bufs.into_iter().for_each(recycle);
    let s = memory_stats();
    assert!(s.cached_bytes <= 3 * one, "{s:?}");
    assert_eq!(s.cached_buffers, 3);
    // Past the limit, the largest cached buffers make room for a new one.
    recycle(vec_with_capacity::<u8>(2 << 20));
    let s = memory_stats();
    assert!(s.cached_bytes <= 3 * one, "{s:?}");
    assert!(s.evictions >= 2, "{s:?}");
    // Lowering the limit releases what no longer fits.
    set_cache_limit(one);
    assert!(memory_stats().cached_bytes <= one);
    set_cache_limit(0);
    assert_eq!(memory_stats().cached_bytes, 0);
    recycle(vec_with_capacity::<u8>(1 << 20));
    assert_eq!(memory_stats().cached_buffers, 0, "caching is off");
    assert_eq!(memory_stats().limit, 0);
}

#[test]
fn no_buffer_is_handed_out_twice_while_alive_under_contention() {
    let _t = turn();
    let live: Mutex<HashSet<usize>> = Mutex::new(HashSet::new());
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let live = &live;
            s.spawn(move || {
                let mut held: Vec<CachedVec<u64>> = Vec::new();
                // A fixed pseudo-random walk per thread over three sizes.
                let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ t;
                for _ in 0..2_000 {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    if !state.is_multiple_of(3) || held.is_empty() {
                        let n = [5_000, 9_000, 40_000][(state % 5 % 3) as usize];
                        let mut v = CachedVec::with_capacity(n);
                        let addr = v.as_ptr() as usize;
                        assert!(
                            live.lock().unwrap().insert(addr),
                            "buffer {addr:#x} handed out twice"
                        );
                        v.push(t);
                        held.push(v);
                    } else {
                        let v = held.swap_remove((state as usize / 7) % held.len());
                        assert_eq!(v[0], t, "another thread wrote into a buffer we hold");
                        assert!(live.lock().unwrap().remove(&(v.as_ptr() as usize)));
                        drop(v);
                    }
                }
                for v in held {
                    live.lock().unwrap().remove(&(v.as_ptr() as usize));
                }
            });
        }
    });
    let s = memory_stats();
    assert!(s.hits > 0 && s.misses > 0, "{s:?}");
}

#[test]
fn filled_buffers_hold_exactly_the_value() {
    let _t = turn();
    let mut dirty = vec_with_capacity::<f64>(60_000);
    dirty.resize(60_000, f64::NAN);
    recycle(dirty);
    let clean = vec_filled(60_000, 0.0f64);
    assert_eq!(memory_stats().hits, 1);
    assert!(clean.iter().all(|&x| x == 0.0));
    assert_eq!(clean.len(), 60_000);
}

#[test]
fn a_growing_cached_vec_takes_its_new_buffer_from_the_cache() {
    let _t = turn();
    let mut v = CachedVec::<f32>::with_capacity(0);
    v.resize(50_000, 1.0);
    v.reserve(100_000);
    assert!(v.capacity() >= 150_000);
    assert_eq!(v.len(), 50_000);
    assert!(v.iter().all(|&x| x == 1.0));
    drop(v);
    // Both buffers (the 50 000 and the 150 000 one) are cached: they were
    // class-sized, not grown by Vec.
    assert_eq!(memory_stats().cached_buffers, 2);
}

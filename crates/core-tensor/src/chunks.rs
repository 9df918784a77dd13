//! Output buffers built chunk by chunk by the tasks that compute them.
//!
//! A kernel's output is split into chunks, one per task (a few planes or
//! rows). Each task writes its chunk while it works on it, so the chunk is
//! written once, from the cache, by the thread that owns it. Filling the
//! whole buffer first (`vec![0; n]`, or a parallel fill) would cost one more
//! pass over memory, and for accumulating kernels (the backward of pooling)
//! one more read too: by the time the kernel comes back to the zeroed
//! values, they have left the cache.
//!
//! - [`build_chunks`] / [`build_chunk_pairs`]: the task writes every
//!   element of its chunk (through [`MaybeUninit`]) and says how many it
//!   wrote. A kernel that accumulates, or leaves parts at a default value,
//!   sets each plane of its chunk with [`init_slice`] just before working on
//!   it: a whole task chunk set at once (tens of kilobytes) would be pushed
//!   out of L1 before the kernel comes back to it (figures: the crate's
//!   `PERF.md`).
//! - [`init_chunks`]: every chunk set to an initial value, then handed to
//!   its task (for chunks that are one small plane).

use std::mem::MaybeUninit;

use rayon::prelude::*;

use crate::Par;

/// Maps `f(task, chunk)` over `chunk_len`-sized chunks of `data`, in
/// parallel unless `par` is `Seq`, and returns the results in chunk order
/// (so reductions over them are deterministic). Empty data gives no chunk.
pub fn map_chunks_mut<T: Send, R: Send>(
    par: Par,
    data: &mut [T],
    chunk_len: usize,
    f: impl Fn(usize, &mut [T]) -> R + Sync + Send,
) -> Vec<R> {
    let chunk_len = chunk_len.max(1);
    match par {
        Par::Seq => data
            .chunks_mut(chunk_len)
            .enumerate()
            .map(|(i, c)| f(i, c))
            .collect(),
        Par::Rayon => data
            .par_chunks_mut(chunk_len)
            .enumerate()
            .map(|(i, c)| f(i, c))
            .collect(),
        Par::Pair => crate::warm::map_chunks_mut(data, chunk_len, f),
    }
}

/// Allocates `n` values and has `fill(task, chunk)` write them chunk by
/// chunk (`chunk_len` values per chunk, the last may be shorter; in
/// parallel unless `Seq`), without initializing the memory first. `fill`
/// returns how many elements of its chunk it wrote and a per-chunk result;
/// the results come back in chunk order.
///
/// # Panics
/// If `fill` reports writing fewer or more elements than its chunk holds
/// (a kernel bug: the values are then never exposed).
///
/// ```
/// use core_tensor::{Par, chunks::build_chunks};
///
/// let (squares, sums) = build_chunks(Par::Rayon, 10, 4, |task, chunk| {
///     let mut sum = 0;
///     for (i, v) in chunk.iter_mut().enumerate() {
///         let k = task * 4 + i;
///         v.write(k * k);
///         sum += k * k;
///     }
///     (chunk.len(), sum)
/// });
/// assert_eq!(squares, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
/// assert_eq!(sums, [14, 126, 145]);
/// ```
pub fn build_chunks<T: Send, R: Send>(
    par: Par,
    n: usize,
    chunk_len: usize,
    fill: impl Fn(usize, &mut [MaybeUninit<T>]) -> (usize, R) + Sync + Send,
) -> (Vec<T>, Vec<R>) {
    let mut v: Vec<T> = crate::alloc::vec_with_capacity(n);
    let results = map_chunks_mut(
        par,
        &mut v.spare_capacity_mut()[..n],
        chunk_len,
        |t, chunk| {
            let (written, r) = fill(t, chunk);
            assert_eq!(
                written,
                chunk.len(),
                "a kernel left part of its output chunk unwritten"
            );
            r
        },
    );
    // SAFETY: the chunks partition the first `n` slots of the allocation
    // (capacity ≥ n), and each chunk was written in full: `fill` writes its
    // elements and reported writing all of them (asserted above; a failed
    // assertion panics before this line, leaving the length 0).
    unsafe { v.set_len(n) };
    (v, results)
}

/// Sets every slot of `chunk` to `init` and returns it as initialized.
///
/// ```
/// use std::mem::MaybeUninit;
///
/// let mut slots = [MaybeUninit::<u8>::uninit(); 3];
/// let init = core_tensor::chunks::init_slice(&mut slots, 7);
/// init[1] += 1;
/// assert_eq!(init, [7, 8, 7]);
/// ```
pub fn init_slice<T: Copy>(chunk: &mut [MaybeUninit<T>], init: T) -> &mut [T] {
    for v in chunk.iter_mut() {
        v.write(init);
    }
    // SAFETY: every element was just written; `MaybeUninit<T>` has the
    // layout of `T`.
    unsafe { &mut *(std::ptr::from_mut::<[MaybeUninit<T>]>(chunk) as *mut [T]) }
}

/// Allocates `n` values; each chunk of `chunk_len` is set to `init` by the
/// task that owns it, right before `f(task, chunk)` works on it (in
/// parallel unless `Seq`). For kernels that accumulate into their output
/// (`init` = 0) or leave parts of it at a default value.
///
/// ```
/// use core_tensor::{Par, chunks::init_chunks};
///
/// // Each chunk of 3 counts how often each of its positions is hit.
/// let hits = init_chunks(Par::Rayon, 6, 3, 0u32, |_, chunk| {
///     for i in [0, 2, 2] {
///         chunk[i] += 1;
///     }
/// });
/// assert_eq!(hits, [1, 0, 2, 1, 0, 2]);
/// ```
pub fn init_chunks<T: Copy + Send + Sync>(
    par: Par,
    n: usize,
    chunk_len: usize,
    init: T,
    f: impl Fn(usize, &mut [T]) + Sync + Send,
) -> Vec<T> {
    build_chunks(par, n, chunk_len, |t, chunk| {
        f(t, init_slice(chunk, init));
        (chunk.len(), ())
    })
    .0
}

/// [`build_chunks`] over two buffers chunked in step: chunk `i` of the
/// first (`a = (n, chunk_len)`) and chunk `i` of the second go to the same
/// task, which returns how many elements of each it wrote.
///
/// # Panics
/// If the two buffers split into different numbers of chunks, or a task
/// leaves part of a chunk unwritten (caller bugs).
pub fn build_chunk_pairs<T: Send, U: Send>(
    par: Par,
    a: (usize, usize),
    b: (usize, usize),
    fill: impl Fn(usize, &mut [MaybeUninit<T>], &mut [MaybeUninit<U>]) -> (usize, usize) + Sync + Send,
) -> (Vec<T>, Vec<U>) {
    let ((na, la), (nb, lb)) = (a, b);
    let (la, lb) = (la.max(1), lb.max(1));
    assert_eq!(na.div_ceil(la), nb.div_ceil(lb), "chunk counts differ");
    let mut va: Vec<T> = crate::alloc::vec_with_capacity(na);
    let mut vb: Vec<U> = crate::alloc::vec_with_capacity(nb);
    let (sa, sb) = (
        &mut va.spare_capacity_mut()[..na],
        &mut vb.spare_capacity_mut()[..nb],
    );
    let work = |i: usize, (ca, cb): (&mut [MaybeUninit<T>], &mut [MaybeUninit<U>])| {
        let written = fill(i, ca, cb);
        assert_eq!(
            written,
            (ca.len(), cb.len()),
            "a kernel left part of its output chunk unwritten"
        );
    };
    match par {
        Par::Seq => sa
            .chunks_mut(la)
            .zip(sb.chunks_mut(lb))
            .enumerate()
            .for_each(|(i, c)| work(i, c)),
        Par::Rayon => sa
            .par_chunks_mut(la)
            .zip(sb.par_chunks_mut(lb))
            .enumerate()
            .for_each(|(i, c)| work(i, c)),
        Par::Pair => {
            crate::warm::map_chunk_pairs_mut(sa, la, sb, lb, |i, ca, cb| work(i, (ca, cb)));
        }
    }
    // SAFETY: the chunks partition the first `na` (`nb`) slots of each
    // allocation (equal chunk counts, so the zip visits every chunk of both),
    // and every chunk was reported written in full (asserted above; a failed
    // assertion panics before this line, leaving both lengths 0).
    unsafe {
        va.set_len(na);
        vb.set_len(nb);
    }
    (va, vb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_initialized_then_handed_to_their_task() {
        for par in [Par::Seq, Par::Rayon] {
            let v = init_chunks(par, 7, 3, 5i32, |t, c| c[0] = t as i32);
            assert_eq!(v, [0, 5, 5, 1, 5, 5, 2]);
            let (a, b) = build_chunk_pairs(par, (4, 2), (6, 3), |t, ca, cb| {
                let (ca, cb) = (init_slice(ca, 1u8), init_slice(cb, 0.5f32));
                ca[1] = 10 + t as u8;
                cb[2] = t as f32;
                (ca.len(), cb.len())
            });
            assert_eq!(a, [1, 10, 1, 11]);
            assert_eq!(b, [0.5, 0.5, 0.0, 0.5, 0.5, 1.0]);
            assert!(init_chunks(par, 0, 4, 0u8, |_, _| panic!("no chunk")).is_empty());
        }
    }

    #[test]
    #[should_panic(expected = "unwritten")]
    fn a_chunk_left_unwritten_is_caught() {
        let _ = build_chunks(Par::Seq, 4, 2, |_, c: &mut [MaybeUninit<u8>]| {
            c[0].write(1);
            (1, ())
        });
    }

    #[test]
    #[should_panic(expected = "unwritten")]
    fn a_pair_chunk_left_unwritten_is_caught() {
        let _ = build_chunk_pairs(
            Par::Seq,
            (2, 2),
            (2, 2),
            |_, a: &mut [MaybeUninit<u8>], b: &mut [MaybeUninit<u8>]| {
                init_slice(a, 0);
                (a.len(), b.len() - 1)
            },
        );
    }

    #[test]
    #[should_panic(expected = "chunk counts differ")]
    fn pairs_must_split_alike() {
        let _ = build_chunk_pairs(
            Par::Seq,
            (4, 2),
            (4, 1),
            |_, a: &mut [MaybeUninit<u8>], b: &mut [MaybeUninit<u8>]| (a.len(), b.len()),
        );
    }
}

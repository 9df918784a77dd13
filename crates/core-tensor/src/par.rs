//! Explicit choice of parallelism for kernels (the faer pattern).

use rayon::prelude::*;

/// How a kernel may spread its work: on the calling thread only, over
/// rayon's global pool, or, for short phases, over the calling thread and
/// one helper thread that spins between jobs (see the crate's `PERF.md`).
/// Kernels take it as an argument so that tests can force a sequential run
/// and compare it with the parallel ones; [`Par::for_work`] picks among
/// them by size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub enum Par {
    /// Run on the calling thread.
    Seq,
    /// Split independent work over rayon's global thread pool.
    #[default]
    Rayon,
    /// Split independent work over the calling thread and one warm helper
    /// thread that spins between jobs (two threads, the helper answering
    /// far sooner than rayon's workers wake up; see the crate's `PERF.md`).
    Pair,
}

impl Par {
    /// Calls `f(i, chunk)` for every `chunk_len`-sized chunk of `data`
    /// (the last may be shorter), in parallel unless `self` is `Seq`.
    ///
    /// # Panics
    /// If `chunk_len` is 0 (an internal invariant of the caller).
    pub fn for_each_chunk_mut<T: Send>(
        self,
        data: &mut [T],
        chunk_len: usize,
        f: impl Fn(usize, &mut [T]) + Sync + Send,
    ) {
        assert!(chunk_len > 0, "chunk length must be positive");
        match self {
            Par::Seq => data
                .chunks_mut(chunk_len)
                .enumerate()
                .for_each(|(i, c)| f(i, c)),
            Par::Rayon => data
                .par_chunks_mut(chunk_len)
                .enumerate()
                .for_each(|(i, c)| f(i, c)),
            Par::Pair => {
                crate::warm::map_chunks_mut(data, chunk_len, f);
            }
        }
    }

    /// Like [`Par::for_each_chunk_mut`] over two buffers chunked in step:
    /// chunk `i` of `a` has `a_len` elements and chunk `i` of `b` has `b_len`.
    ///
    /// # Panics
    /// If a chunk length is 0 or the buffers hold different chunk counts.
    pub fn for_each_chunk_pair_mut<T: Send, U: Send>(
        self,
        a: &mut [T],
        a_len: usize,
        b: &mut [U],
        b_len: usize,
        f: impl Fn(usize, &mut [T], &mut [U]) + Sync + Send,
    ) {
        assert!(a_len > 0 && b_len > 0, "chunk lengths must be positive");
        assert_eq!(
            a.len().div_ceil(a_len),
            b.len().div_ceil(b_len),
            "chunk counts differ"
        );
        match self {
            Par::Seq => a
                .chunks_mut(a_len)
                .zip(b.chunks_mut(b_len))
                .enumerate()
                .for_each(|(i, (x, y))| f(i, x, y)),
            Par::Rayon => a
                .par_chunks_mut(a_len)
                .zip(b.par_chunks_mut(b_len))
                .enumerate()
                .for_each(|(i, (x, y))| f(i, x, y)),
            Par::Pair => {
                crate::warm::map_chunk_pairs_mut(a, a_len, b, b_len, f);
            }
        }
    }

    /// Maps `0..n` through `f`, in parallel unless `self` is `Seq`, keeping order.
    pub fn map_range<R: Send>(self, n: usize, f: impl Fn(usize) -> R + Sync + Send) -> Vec<R> {
        match self {
            Par::Seq => (0..n).map(f).collect(),
            Par::Rayon => (0..n).into_par_iter().map(f).collect(),
            Par::Pair => crate::warm::map_indices(n, f),
        }
    }

    /// The mode for a phase touching about `work` elements: `Seq` when it is
    /// too small to repay any hand-off; for `Rayon` called from a thread
    /// outside rayon's pool, `Pair` while the phase is short enough that
    /// waking the pool (see the crate's `PERF.md`) would cost a large part
    /// of it, and `Rayon` above. The bound shrinks as rayon's pool grows (a
    /// wide pool repays its wake-up sooner): [`PAIR_MAX_WORK`] elements for
    /// 2 threads. A caller that is itself one of the pool's threads (as
    /// after `threads::init_global_pool`) keeps `Rayon`: there the pair
    /// gained nothing.
    ///
    /// ```
    /// use core_tensor::Par;
    /// assert_eq!(Par::Rayon.for_work(100), Par::Seq);
    /// assert_eq!(Par::Seq.for_work(1 << 24), Par::Seq);
    /// assert_eq!(Par::Rayon.for_work(1 << 30), Par::Rayon);
    /// ```
    pub fn for_work(self, work: usize) -> Par {
        const MIN_PARALLEL_WORK: usize = 1 << 15;
        if work < MIN_PARALLEL_WORK {
            return Par::Seq;
        }
        let threads = rayon::current_num_threads().max(2);
        if self == Par::Rayon
            && work < PAIR_MAX_WORK * 2 / threads
            && rayon::current_thread_index().is_none()
        {
            return Par::Pair;
        }
        self
    }
}

/// Largest phase, in elements touched, that [`Par::for_work`] gives to the
/// warm pair rather than to a 2-thread rayon pool: 2^21 (8 MB of `f32`),
/// a phase long enough that rayon's wake-up is a small part of it.
pub const PAIR_MAX_WORK: usize = 1 << 21;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_and_rayon_agree() {
        for par in [Par::Seq, Par::Rayon, Par::Pair] {
            let mut v = vec![0usize; 10];
            par.for_each_chunk_mut(&mut v, 3, |i, c| c.iter_mut().for_each(|x| *x = i));
            assert_eq!(v, vec![0, 0, 0, 1, 1, 1, 2, 2, 2, 3]);
            let mut a = vec![0; 4];
            let mut b = vec![0; 2];
            par.for_each_chunk_pair_mut(&mut a, 2, &mut b, 1, |i, x, y| {
                x[0] = i;
                y[0] = 10 + i;
            });
            assert_eq!((a, b), (vec![0, 0, 1, 0], vec![10, 11]));
            assert_eq!(par.map_range(4, |i| i * i), vec![0, 1, 4, 9]);
        }
        assert_eq!(Par::Rayon.for_work(10), Par::Seq);
        assert_eq!(Par::Pair.for_work(10), Par::Seq);
        // Short phases go to the warm pair, long ones to rayon; the bound
        // halves as the pool doubles.
        let bound = PAIR_MAX_WORK * 2 / rayon::current_num_threads().max(2);
        if bound > 1 << 15 {
            assert_eq!(Par::Rayon.for_work(bound - 1), Par::Pair);
        }
        assert_eq!(Par::Rayon.for_work(bound), Par::Rayon);
        assert_eq!(Par::Rayon.for_work(PAIR_MAX_WORK), Par::Rayon);
        assert_eq!(Par::Pair.for_work(1 << 24), Par::Pair);
    }

    #[test]
    fn callers_inside_the_pool_keep_rayon_for_short_phases() {
        let bound = PAIR_MAX_WORK * 2 / rayon::current_num_threads().max(2);
        let work = bound - 1;
        if work >= 1 << 15 {
            assert_eq!(Par::Rayon.for_work(work), Par::Pair);
            assert_eq!(rayon::scope(|_| Par::Rayon.for_work(work)), Par::Rayon);
        }
        assert_eq!(rayon::scope(|_| Par::Rayon.for_work(10)), Par::Seq);
    }
}

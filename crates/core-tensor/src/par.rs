//! Explicit choice of parallelism for kernels (the faer pattern).

use rayon::prelude::*;

/// How a kernel may spread its work: on the calling thread only, or over
/// rayon's global pool. Kernels take it as an argument so that tests can
/// force a sequential run and compare it with the parallel one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub enum Par {
    /// Run on the calling thread.
    Seq,
    /// Split independent work over rayon's global thread pool.
    #[default]
    Rayon,
}

impl Par {
    /// Calls `f(i, chunk)` for every `chunk_len`-sized chunk of `data`
    /// (the last may be shorter), in parallel when `self` is `Rayon`.
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
        }
    }

    /// Maps `0..n` through `f`, in parallel when `self` is `Rayon`, keeping order.
    pub fn map_range<R: Send>(self, n: usize, f: impl Fn(usize) -> R + Sync + Send) -> Vec<R> {
        match self {
            Par::Seq => (0..n).map(f).collect(),
            Par::Rayon => (0..n).into_par_iter().map(f).collect(),
        }
    }

    /// `Seq` when `work` (a rough count of elements touched) is too small to
    /// repay the cost of waking other threads, else `self`.
    pub fn for_work(self, work: usize) -> Par {
        const MIN_PARALLEL_WORK: usize = 1 << 15;
        if work < MIN_PARALLEL_WORK {
            Par::Seq
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_and_rayon_agree() {
        for par in [Par::Seq, Par::Rayon] {
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
        assert_eq!(Par::Rayon.for_work(1 << 20), Par::Rayon);
    }
}

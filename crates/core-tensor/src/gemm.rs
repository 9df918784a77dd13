//! Matrix products `C = alpha·A·B + beta·C` over strided slices, on the
//! `gemm` crate's kernels (AVX-512, AVX2 + FMA or portable, chosen at run
//! time), with a parallel split that depends only on the problem's size.
//!
//! Every operand is a slice with a row and a column stride, so a transposed
//! operand is the same slice with its strides swapped ([`MatRef::t`]):
//! callers never make a transposed copy. The one copy made here is of a
//! column-major `B` whose columns lie a multiple of 1 KiB apart, which the
//! crate packs slowly: it is copied row-major, 128 columns at a time, just
//! before its product. With [`Par::Rayon`], `C` is cut into
//! blocks of rows or columns whose count is a function of `m`, `n` and `k`
//! alone, and each block is one sequential product; every element of `C` is
//! thus computed by the same instructions in the same order on any number of
//! threads, and results are bitwise equal across thread counts.

use crate::alloc::CachedVec;
use crate::{Float, Par};
use rayon::prelude::*;

/// A read-only `rows x cols` matrix in a slice: element `(i, j)` is
/// `data[i * row_stride + j * col_stride]`.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a, F> {
    data: &'a [F],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

/// The element count a `rows x cols` matrix with these strides spans, or
/// `None` when that overflows.
fn span(rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> Option<usize> {
    if rows == 0 || cols == 0 {
        return Some(0);
    }
    (rows - 1)
        .checked_mul(row_stride)?
        .checked_add((cols - 1).checked_mul(col_stride)?)?
        .checked_add(1)
}

impl<'a, F> MatRef<'a, F> {
    /// A strided matrix view.
    ///
    /// # Panics
    /// If the last element lies beyond `data`.
    pub fn new(
        data: &'a [F],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Self {
        let need = span(rows, cols, row_stride, col_stride).expect("matrix span overflows usize");
        assert!(
            need <= data.len(),
            "a {rows}x{cols} matrix with strides ({row_stride}, {col_stride}) spans {need} elements, the slice holds {}",
            data.len()
        );
        Self {
            data,
            rows,
            cols,
            row_stride,
            col_stride,
        }
    }

    /// The row-major `rows x cols` matrix at the start of `data`.
    ///
    /// # Panics
    /// If `data` holds fewer than `rows * cols` elements.
    pub fn row_major(data: &'a [F], rows: usize, cols: usize) -> Self {
        Self::new(data, rows, cols, cols, 1)
    }

    /// The transpose (the same elements, strides swapped).
    pub fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// Rows `start..start + len`.
    ///
    /// # Panics
    /// If the range is not inside the matrix.
    pub fn rows_range(self, start: usize, len: usize) -> Self {
        assert!(start + len <= self.rows, "rows out of range");
        let offset = if len == 0 { 0 } else { start * self.row_stride };
        Self {
            data: &self.data[offset.min(self.data.len())..],
            rows: len,
            ..self
        }
    }

    /// Columns `start..start + len`.
    ///
    /// # Panics
    /// If the range is not inside the matrix.
    pub fn cols_range(self, start: usize, len: usize) -> Self {
        self.t().rows_range(start, len).t()
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns.
    pub fn cols(&self) -> usize {
        self.cols
    }
}

/// A mutable `rows x cols` matrix in a slice, row-major with a row stride of
/// at least `cols` (so that no two elements share a slot).
#[derive(Debug)]
pub struct MatMut<'a, F> {
    data: &'a mut [F],
    rows: usize,
    cols: usize,
    row_stride: usize,
}

impl<'a, F> MatMut<'a, F> {
    /// A row-major matrix whose rows start `row_stride` elements apart.
    ///
    /// # Panics
    /// If `row_stride < cols` (with more than one row) or the last element
    /// lies beyond `data`.
    pub fn new(data: &'a mut [F], rows: usize, cols: usize, row_stride: usize) -> Self {
        assert!(rows <= 1 || row_stride >= cols, "rows would overlap");
        let need = span(rows, cols, row_stride, 1).expect("matrix span overflows usize");
        assert!(
            need <= data.len(),
            "a {rows}x{cols} matrix with row stride {row_stride} spans {need} elements, the slice holds {}",
            data.len()
        );
        Self {
            data,
            rows,
            cols,
            row_stride,
        }
    }

    /// The row-major `rows x cols` matrix at the start of `data`.
    ///
    /// # Panics
    /// If `data` holds fewer than `rows * cols` elements.
    pub fn row_major(data: &'a mut [F], rows: usize, cols: usize) -> Self {
        Self::new(data, rows, cols, cols)
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns.
    pub fn cols(&self) -> usize {
        self.cols
    }
}

/// Work (`m·n·k`) below which a product is not split.
const SPLIT_WORK: usize = 1 << 21;

/// Most blocks a product is cut into.
const MAX_BLOCKS: usize = 16;

/// Fewest rows or columns of `C` in one block.
const MIN_BLOCK: usize = 128;

/// How many blocks of `len` rows (or columns) a product of `work` is cut
/// into: a function of the problem's size alone.
fn block_count(len: usize, work: usize) -> usize {
    if work < SPLIT_WORK {
        return 1;
    }
    (work / SPLIT_WORK)
        .min(MAX_BLOCKS)
        .min(len / MIN_BLOCK)
        .max(1)
}

/// `C = alpha·A·B + beta·C` (BLAS's `gemm`), where `A` is `m x k`, `B` is
/// `k x n` and `C` is `m x n`. With `beta = 0` the old contents of `C` are
/// not read (a NaN there does not propagate), as in BLAS.
///
/// With [`Par::Rayon`] (or [`Par::Pair`]) and enough work, `C` is cut into
/// blocks of rows (when `m >= n`) or of columns, their count a function of
/// `m`, `n` and `k` only, computed in parallel; results are bitwise equal to
/// those of any other thread count.
///
/// ```
/// use core_tensor::{Par, gemm::{MatMut, MatRef, gemm}};
///
/// let a = [1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2x3
/// let b = [1.0f64, 0.0, 0.0, 1.0, 1.0, 1.0]; // 3x2
/// let mut c = [0.0f64; 4];
/// gemm(1.0, MatRef::row_major(&a, 2, 3), MatRef::row_major(&b, 3, 2),
///      0.0, MatMut::row_major(&mut c, 2, 2), Par::Seq);
/// assert_eq!(c, [4.0, 5.0, 10.0, 11.0]);
/// // Aᵀ·A through strides, without a transposed copy.
/// let mut g = [0.0f64; 9];
/// let at = MatRef::row_major(&a, 2, 3).t();
/// gemm(1.0, at, MatRef::row_major(&a, 2, 3), 0.0, MatMut::row_major(&mut g, 3, 3), Par::Seq);
/// assert_eq!(g[..3], [17.0, 22.0, 27.0]);
/// ```
///
/// # Panics
/// If the shapes do not agree (`A.cols != B.rows`, or `C` is not
/// `A.rows x B.cols`).
pub fn gemm<F: Float>(
    alpha: F,
    a: MatRef<'_, F>,
    b: MatRef<'_, F>,
    beta: F,
    c: MatMut<'_, F>,
    par: Par,
) {
    assert_eq!(
        a.cols, b.rows,
        "gemm: A is {}x{}, B is {}x{}",
        a.rows, a.cols, b.rows, b.cols
    );
    assert!(
        c.rows == a.rows && c.cols == b.cols,
        "gemm: C is {}x{}, A·B is {}x{}",
        c.rows,
        c.cols,
        a.rows,
        b.cols
    );
    let (m, n, k) = (a.rows, b.cols, a.cols);
    if m == 0 || n == 0 {
        return;
    }
    let work = m.saturating_mul(n).saturating_mul(k);
    let by_rows = m >= n;
    let blocks = match par {
        Par::Seq => 1,
        Par::Rayon | Par::Pair => block_count(if by_rows { m } else { n }, work),
    };
    if blocks == 1 {
        gemm_seq(alpha, a, b, beta, c);
        return;
    }
    let row_stride = c.row_stride;
    if by_rows {
        let per = m.div_ceil(blocks);
        c.data
            .par_chunks_mut(per * row_stride)
            .enumerate()
            .for_each(|(i, chunk)| {
                let r0 = i * per;
                let rows = per.min(m - r0);
                let ci = MatMut::new(chunk, rows, n, row_stride);
                gemm_seq(alpha, a.rows_range(r0, rows), b, beta, ci);
            });
    } else {
        let per = n.div_ceil(blocks);
        let cols: Vec<(usize, usize)> = (0..n.div_ceil(per))
            .map(|i| (i * per, per.min(n - i * per)))
            .collect();
        let base = SyncPtr(c.data.as_mut_ptr());
        cols.into_par_iter().for_each(|(c0, width)| {
            let base = &base;
            // SAFETY: MatMut::new checked that rows `0..m` with this row
            // stride lie inside C's slice; the tasks write disjoint column
            // ranges `c0..c0 + width` of them, and nothing else touches C
            // while they run (it is borrowed mutably for this call).
            unsafe {
                gemm_raw(
                    alpha,
                    a,
                    b.cols_range(c0, width),
                    beta,
                    base.0.add(c0),
                    row_stride,
                )
            };
        });
    }
}

/// A pointer shared by the tasks of [`gemm`] that write disjoint columns.
struct SyncPtr<F>(*mut F);
// SAFETY: only used to derive slices whose written elements are disjoint.
unsafe impl<F: Send> Sync for SyncPtr<F> {}

/// One sequential product on the `gemm` crate.
fn gemm_seq<F: Float>(alpha: F, a: MatRef<'_, F>, b: MatRef<'_, F>, beta: F, c: MatMut<'_, F>) {
    // SAFETY: MatMut::new checked that C's rows lie inside its slice, which
    // is borrowed mutably for this call.
    unsafe { gemm_raw(alpha, a, b, beta, c.data.as_mut_ptr(), c.row_stride) }
}

/// One sequential product into the row-major `A.rows x B.cols` matrix at
/// `c` whose rows start `c_row_stride` elements apart.
///
/// # Safety
/// Every element `c + i * c_row_stride + j` (`i < A.rows`, `j < B.cols`)
/// must be valid for reads and writes, and not accessed by anyone else
/// during the call.
unsafe fn gemm_raw<F: Float>(
    alpha: F,
    a: MatRef<'_, F>,
    b: MatRef<'_, F>,
    beta: F,
    c: *mut F,
    c_row_stride: usize,
) {
    let (m, n, k) = (a.rows, b.cols, a.cols);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 || alpha == F::zero() {
        // No product term: C = beta·C (0 when beta is 0, even over NaN).
        for i in 0..m {
            for j in 0..n {
                // SAFETY: inside C by the caller's contract.
                let v = unsafe { &mut *c.add(i * c_row_stride + j) };
                *v = if beta == F::zero() {
                    F::zero()
                } else {
                    *v * beta
                };
            }
        }
        return;
    }
    if aliased_columns::<F>(b) && m >= COPY_MIN_ROWS {
        // The crate gathers such a B into its panels one element per cache
        // line, in lines that share a few cache sets; a row-major copy of a
        // panel of B's columns at a time costs less (see PERF.md).
        let mut rows = CachedVec::with_capacity(k * n.min(COPY_PANEL));
        for j0 in (0..n).step_by(COPY_PANEL) {
            let w = COPY_PANEL.min(n - j0);
            let panel = b.cols_range(j0, w);
            rows.clear();
            transpose_into(panel, &mut rows.spare_capacity_mut()[..k * w]);
            // SAFETY: `transpose_into` wrote all `k * w` elements.
            unsafe { rows.set_len(k * w) };
            // SAFETY: columns `j0..j0 + w` of C, inside it by the caller's
            // contract, which is passed on unchanged.
            unsafe {
                gemm_raw(
                    alpha,
                    a,
                    MatRef::row_major(&rows, k, w),
                    beta,
                    c.add(j0),
                    c_row_stride,
                )
            };
        }
        return;
    }
    let is = |s: usize| isize::try_from(s).expect("stride fits isize");
    // SAFETY: MatRef's constructor checked that every element of A and B
    // these strides address lies inside its slice, the caller that C's
    // elements are valid and exclusively ours; `gemm::gemm` supports f32 and
    // f64 (the only `Float`s). In the crate's convention, dst := alpha·dst +
    // beta·lhs·rhs, with dst read only when `read_dst` is true.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c,
            1,
            is(c_row_stride),
            beta != F::zero(),
            a.data.as_ptr(),
            is(a.col_stride),
            is(a.row_stride),
            b.data.as_ptr(),
            is(b.col_stride),
            is(b.row_stride),
            beta,
            alpha,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// Columns of B in one panel of its row-major copy ([`aliased_columns`]).
const COPY_PANEL: usize = 128;

/// Fewest rows of A for which an aliased B is copied: below, the copy
/// costs more than the crate's gather saves.
const COPY_MIN_ROWS: usize = 8;

/// Whether `b` is column-major (row stride 1) with columns a multiple of
/// 1 KiB apart. The `gemm` crate packs such a B (its left operand, as it
/// computes `Cᵀ = Bᵀ·Aᵀ` for a row-major C) by gathering one element per
/// column, and with this spacing the columns it gathers together fall into
/// a handful of the L1 cache's sets and evict each other: on this
/// project's machines the product ran 1.5-3x slower than with a row-major
/// B of the same values.
fn aliased_columns<F>(b: MatRef<'_, F>) -> bool {
    b.row_stride == 1
        && b.cols > 1
        && b.rows > 1
        && b.col_stride > 1
        && (b.col_stride * size_of::<F>()).is_multiple_of(1024)
}

/// Writes the column-major `k x n` matrix `b` (row stride 1) row-major into
/// `out[..k * n]`, eight columns at a time: eight sequential read streams,
/// and each output row written in runs of eight.
fn transpose_into<F: Copy>(b: MatRef<'_, F>, out: &mut [std::mem::MaybeUninit<F>]) {
    const T: usize = 8;
    let (k, n, cs) = (b.rows, b.cols, b.col_stride);
    for j0 in (0..n).step_by(T) {
        let jn = T.min(n - j0);
        let cols: [&[F]; T] = std::array::from_fn(|jj| &b.data[(j0 + jj.min(jn - 1)) * cs..][..k]);
        for (p, row) in out.chunks_exact_mut(n).take(k).enumerate() {
            for (jj, o) in row[j0..j0 + jn].iter_mut().enumerate() {
                o.write(cols[jj][p]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rng;

    /// C = alpha·A·B + beta·C in f64 with plain loops.
    #[allow(clippy::too_many_arguments)]
    fn naive(
        alpha: f64,
        a: &[f64],
        ars: usize,
        acs: usize,
        b: &[f64],
        brs: usize,
        bcs: usize,
        beta: f64,
        c: &mut [f64],
        m: usize,
        n: usize,
        k: usize,
    ) {
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0;
                for p in 0..k {
                    s += a[i * ars + p * acs] * b[p * brs + j * bcs];
                }
                c[i * n + j] = alpha * s
                    + if beta == 0.0 {
                        0.0
                    } else {
                        beta * c[i * n + j]
                    };
            }
        }
    }

    #[test]
    fn matches_loops_for_every_transpose_and_beta() {
        let mut rng = Rng::new(7);
        for &(m, n, k) in &[
            (1, 1, 1),
            (3, 5, 7),
            (17, 9, 33),
            (64, 130, 70),
            (200, 3, 300),
            // A transposed B with columns 128 f64 (1 KiB) apart is copied
            // row-major in panels: one full and one partial here.
            (9, 300, 128),
            (300, 140, 256),
        ] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                for (alpha, beta) in [(1.0, 0.0), (0.5, 1.0), (-2.0, 0.25)] {
                    let a = rng.uniform_vec(m * k, -1.0, 1.0);
                    let b = rng.uniform_vec(k * n, -1.0, 1.0);
                    let c0 = rng.uniform_vec(m * n, -1.0, 1.0);
                    // A stored as m x k (or k x m when transposed), same for B.
                    let (ars, acs) = if ta { (1, m) } else { (k, 1) };
                    let (brs, bcs) = if tb { (1, k) } else { (n, 1) };
                    let mut want = c0.clone();
                    naive(alpha, &a, ars, acs, &b, brs, bcs, beta, &mut want, m, n, k);
                    for par in [Par::Seq, Par::Rayon] {
                        let mut c = c0.clone();
                        let am = if ta {
                            MatRef::row_major(&a, k, m).t()
                        } else {
                            MatRef::row_major(&a, m, k)
                        };
                        let bm = if tb {
                            MatRef::row_major(&b, n, k).t()
                        } else {
                            MatRef::row_major(&b, k, n)
                        };
                        gemm(alpha, am, bm, beta, MatMut::row_major(&mut c, m, n), par);
                        for (i, (x, y)) in c.iter().zip(&want).enumerate() {
                            assert!(
                                (x - y).abs() <= 1e-12 * (1.0 + y.abs()),
                                "{m}x{n}x{k} {ta} {tb} [{i}] {x} vs {y}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn only_column_major_b_with_columns_1_kib_apart_is_copied() {
        let data = vec![0.0f32; 600 * 600];
        let col_major = |k: usize, n: usize, cs: usize| MatRef::new(&data, k, n, 1, cs);
        assert!(aliased_columns(col_major(256, 4, 256)));
        assert!(aliased_columns(col_major(300, 5, 512)));
        assert!(!aliased_columns(col_major(300, 5, 300)));
        assert!(!aliased_columns(col_major(256, 1, 256)));
        assert!(!aliased_columns(MatRef::row_major(&data, 256, 256)));
        let data = vec![0.0f64; 300 * 300];
        assert!(aliased_columns(MatRef::new(&data, 128, 3, 1, 128)));
        assert!(!aliased_columns(MatRef::new(&data, 64, 3, 1, 64)));
        // The copy itself, on a panel that is not a multiple of its blocks.
        let b: Vec<f64> = (0..300 * 300).map(f64::from).collect();
        let view = MatRef::new(&b, 13, 7, 1, 300);
        let mut out = vec![std::mem::MaybeUninit::uninit(); 13 * 7];
        transpose_into(view, &mut out);
        for p in 0..13 {
            for j in 0..7 {
                // SAFETY: transpose_into wrote every element.
                assert_eq!(unsafe { out[p * 7 + j].assume_init() }, b[j * 300 + p]);
            }
        }
    }

    #[test]
    fn beta_zero_ignores_nan_in_c_and_empty_k_scales_c() {
        let a = [1.0f32, 2.0];
        let b = [3.0f32, 4.0];
        let mut c = [f32::NAN];
        gemm(
            1.0,
            MatRef::row_major(&a, 1, 2),
            MatRef::row_major(&b, 2, 1),
            0.0,
            MatMut::row_major(&mut c, 1, 1),
            Par::Seq,
        );
        assert_eq!(c, [11.0]);
        let mut c = [2.0f32, f32::NAN];
        gemm(
            1.0,
            MatRef::row_major(&[], 2, 0),
            MatRef::row_major(&[], 0, 1),
            0.0,
            MatMut::row_major(&mut c, 2, 1),
            Par::Seq,
        );
        assert_eq!(c, [0.0, 0.0]);
        let mut c = [2.0f32, 3.0];
        gemm(
            1.0,
            MatRef::row_major(&[], 2, 0),
            MatRef::row_major(&[], 0, 1),
            0.5,
            MatMut::row_major(&mut c, 2, 1),
            Par::Seq,
        );
        assert_eq!(c, [1.0, 1.5]);
    }

    #[test]
    fn split_products_are_bitwise_equal_to_one_block_per_size() {
        // Large enough to be split; Rayon's result must not depend on the
        // pool, so compare pools of 1 and 3 threads.
        let mut rng = Rng::new(3);
        for &(m, n, k) in &[(300, 200, 150), (90, 700, 160)] {
            let a: Vec<f32> = rng
                .uniform_vec(m * k, -1.0, 1.0)
                .iter()
                .map(|&v| v as f32)
                .collect();
            let b: Vec<f32> = rng
                .uniform_vec(k * n, -1.0, 1.0)
                .iter()
                .map(|&v| v as f32)
                .collect();
            let run = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let mut c = vec![0.0f32; m * n];
                pool.install(|| {
                    gemm(
                        1.0,
                        MatRef::row_major(&a, m, k),
                        MatRef::row_major(&b, k, n),
                        0.0,
                        MatMut::row_major(&mut c, m, n),
                        Par::Rayon,
                    )
                });
                c
            };
            let one = run(1);
            assert!(block_count(m.max(n), m * n * k) > 1);
            assert_eq!(one, run(3));
            assert_eq!(one, run(2));
        }
    }

    #[test]
    fn strided_output_rows_leave_the_gaps_alone() {
        let a = [1.0f64, 2.0];
        let b = [10.0f64];
        let mut c = [0.0, -1.0, 0.0, -1.0];
        gemm(
            1.0,
            MatRef::row_major(&a, 2, 1),
            MatRef::row_major(&b, 1, 1),
            0.0,
            MatMut::new(&mut c[..], 2, 1, 2),
            Par::Seq,
        );
        assert_eq!(c, [10.0, -1.0, 20.0, -1.0]);
    }
}

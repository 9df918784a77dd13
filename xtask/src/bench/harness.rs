//! The benchmark harness: times each [`BenchCase`] and, in the same process
//! and the same way, a plain parallel copy of the case's input bytes; the
//! ratio kernel/copy is what the issues' targets are stated in, because it
//! holds across machines far better than absolute times.

use std::fmt::Write as _;
use std::time::Instant;

use rayon::prelude::*;

use super::BenchCase;

/// Rayon threads used for the kernels and the copy baseline.
pub const THREADS: usize = 2;

/// How many iterations to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BenchOptions {
    /// Untimed iterations before timing.
    pub warmup: usize,
    /// Timed iterations (at least 1).
    pub iters: usize,
    /// Time all iterations of the kernel in a row, then all of the copy,
    /// instead of alternating them: a kernel whose input fits in the
    /// last-level cache then finds it there, as in a plain timing loop.
    pub back_to_back: bool,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            warmup: 2,
            iters: 10,
            back_to_back: false,
        }
    }
}

/// Median and minimum of timed iterations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timing {
    /// Median time in milliseconds (mean of the middle two for even counts).
    pub median_ms: f64,
    /// Fastest time in milliseconds.
    pub min_ms: f64,
}

/// Runs `f` `warmup` times untimed, then `iters` times timed (at least once).
pub fn time(mut f: impl FnMut(), opts: BenchOptions) -> Timing {
    for _ in 0..opts.warmup {
        f();
    }
    summarize((0..opts.iters.max(1)).map(|_| once(&mut f)).collect())
}

fn once(f: &mut dyn FnMut()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64() * 1e3
}

/// Times `a` and `b` as `opts` says: alternately ([`time_interleaved`]) or
/// each in a row ([`BenchOptions::back_to_back`]).
pub fn time_pair(a: impl FnMut(), mut b: impl FnMut(), opts: BenchOptions) -> (Timing, Timing) {
    if opts.back_to_back {
        (time(a, opts), time(&mut b, opts))
    } else {
        time_interleaved(a, b, opts)
    }
}

/// Times `a` and `b` alternately (`a`, `b`, `a`, `b`, ...), after `warmup`
/// untimed rounds, so that both see the same load on a shared machine and
/// their ratio is fair. Runs at least one timed round.
pub fn time_interleaved(
    mut a: impl FnMut(),
    mut b: impl FnMut(),
    opts: BenchOptions,
) -> (Timing, Timing) {
    for _ in 0..opts.warmup {
        a();
        b();
    }
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for _ in 0..opts.iters.max(1) {
        ta.push(once(&mut a));
        tb.push(once(&mut b));
    }
    (summarize(ta), summarize(tb))
}

fn summarize(mut ms: Vec<f64>) -> Timing {
    ms.sort_by(f64::total_cmp);
    let n = ms.len();
    let median_ms = if n % 2 == 1 {
        ms[n / 2]
    } else {
        (ms[n / 2 - 1] + ms[n / 2]) / 2.0
    };
    Timing {
        median_ms,
        min_ms: ms[0],
    }
}

/// Bytes per piece of [`CopyBaseline::run`].
const COPY_CHUNK: usize = 1 << 18;

/// A plain parallel copy of `bytes` bytes (rayon, in 256 KiB
/// pieces), the baseline every kernel is measured against.
pub struct CopyBaseline {
    src: Vec<u8>,
    dst: Vec<u8>,
}

impl CopyBaseline {
    /// Allocates and touches source and destination buffers of `bytes` bytes.
    pub fn new(bytes: usize) -> Self {
        Self {
            // Non-zero fills write every page now, not in the first timed copy.
            src: vec![1; bytes],
            dst: vec![2; bytes],
        }
    }

    /// Copies the source into the destination once, in 256 KiB pieces
    /// spread over the threads: measured 10–13% faster here than a few large
    /// `memcpy` calls (which glibc does with non-temporal stores), so the
    /// baseline is the faster copy.
    pub fn run(&mut self) {
        let chunk = COPY_CHUNK;
        self.dst
            .par_chunks_mut(chunk)
            .zip(self.src.par_chunks(chunk))
            .for_each(|(d, s)| d.copy_from_slice(s));
    }

    /// Whether the destination holds the source's bytes (true after [`run`](Self::run)).
    pub fn is_copied(&self) -> bool {
        self.src == self.dst
    }
}

/// One measured case.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchRow {
    /// The case id.
    pub id: &'static str,
    /// The case description.
    pub description: String,
    /// The kernel's timing.
    pub kernel: Timing,
    /// The copy baseline's timing.
    pub copy: Timing,
    /// Bytes an ideal kernel reads plus writes.
    pub ideal_bytes: usize,
    /// The target for `kernel median / copy median`.
    pub target_copy_ratio: f64,
    /// PyTorch's median quoted in the issue, in ms.
    pub pytorch_ms: Option<f64>,
}

impl BenchRow {
    /// Effective bandwidth of the kernel: ideal bytes over median time, GB/s.
    pub fn gb_per_s(&self) -> f64 {
        self.ideal_bytes as f64 / (self.kernel.median_ms * 1e-3) / 1e9
    }

    /// Kernel median over copy median.
    pub fn ratio(&self) -> f64 {
        self.kernel.median_ms / self.copy.median_ms
    }

    /// Whether the ratio meets the target.
    pub fn meets_target(&self) -> bool {
        self.ratio() <= self.target_copy_ratio
    }

    /// PyTorch's quoted median over our median (above 1: we are faster).
    pub fn speedup_vs_pytorch(&self) -> Option<f64> {
        self.pytorch_ms.map(|p| p / self.kernel.median_ms)
    }
}

/// How rayon's global pool is set up for a run (kernels that take
/// `Par::Rayon`, and the copy baseline, run on it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PoolSetup {
    /// Rayon's default: [`THREADS`] worker threads of their own; the caller
    /// hands each call to them and sleeps until they finish. The setup in
    /// which the issues' figures have been taken.
    #[default]
    Workers,
    /// [`THREADS`] threads, the calling thread one of them
    /// (`core_tensor::threads::init_global_pool`, as the examples set it up): a
    /// call starts on the caller at once and wakes one worker, as PyTorch's
    /// OpenMP pool runs it.
    CallerInPool,
}

impl PoolSetup {
    /// The setup in words, for the table's notes.
    pub fn describe(self) -> &'static str {
        match self {
            PoolSetup::CallerInPool => {
                "the calling thread one of them (core_tensor::threads::init_global_pool)"
            }
            PoolSetup::Workers => "rayon's default pool: workers of their own, the caller waits",
        }
    }
}

/// Builds rayon's global pool of [`THREADS`] threads as `setup` says.
/// Returns `false`, changing nothing, when a global pool already existed.
pub fn init_thread_pool(setup: PoolSetup) -> bool {
    match setup {
        PoolSetup::CallerInPool => core_tensor::threads::init_global_pool(THREADS),
        PoolSetup::Workers => rayon::ThreadPoolBuilder::new()
            .num_threads(THREADS)
            .build_global()
            .is_ok(),
    }
}

/// Times every case and its copy baseline (interleaved, see
/// [`time_interleaved`], unless [`BenchOptions::back_to_back`]), in order,
/// calling `progress` after each one.
pub fn run_cases(
    cases: Vec<BenchCase>,
    opts: BenchOptions,
    mut progress: impl FnMut(&BenchRow),
) -> Vec<BenchRow> {
    cases
        .into_iter()
        .map(|mut case| {
            let mut baseline = CopyBaseline::new(case.input_bytes);
            let (kernel, copy) = time_pair(&mut case.run, || baseline.run(), opts);
            let row = BenchRow {
                id: case.id,
                description: case.description,
                kernel,
                copy,
                ideal_bytes: case.ideal_bytes,
                target_copy_ratio: case.target_copy_ratio,
                pytorch_ms: case.pytorch_ms,
            };
            progress(&row);
            row
        })
        .collect()
}

/// The table header (see [`format_row`]).
pub fn header() -> String {
    format!(
        "{:<12} {:>9} {:>9} {:>7} {:>8} {:>7} {:>7} {:<5} {:>9} {:>8}  {}",
        "id",
        "median ms",
        "min ms",
        "GB/s",
        "copy ms",
        "ratio",
        "target",
        "",
        "torch ms*",
        "speedup*",
        "description"
    )
}

/// One table line: id, median and min ms, effective GB/s, copy ms, ratio
/// kernel/copy, target ratio, pass/FAIL, PyTorch's quoted ms, our speedup
/// over it, description.
pub fn format_row(r: &BenchRow) -> String {
    let (torch, speedup) = match (r.pytorch_ms, r.speedup_vs_pytorch()) {
        (Some(p), Some(s)) => (format!("{p:.2}"), format!("{s:.2}x")),
        _ => ("-".into(), "-".into()),
    };
    format!(
        "{:<12} {:>9.3} {:>9.3} {:>7.2} {:>8.3} {:>7.2} {:>7.2} {:<5} {:>9} {:>8}  {}",
        r.id,
        r.kernel.median_ms,
        r.kernel.min_ms,
        r.gb_per_s(),
        r.copy.median_ms,
        r.ratio(),
        r.target_copy_ratio,
        if r.meets_target() { "pass" } else { "FAIL" },
        torch,
        speedup,
        r.description
    )
}

/// The notes printed under the table.
pub fn footer(rows: &[BenchRow], opts: BenchOptions, pool: PoolSetup) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} warm-up + {} timed iterations each, {THREADS} rayon threads ({}); ratio = kernel median / median of a parallel copy of the input bytes, timed {} in this process.",
        opts.warmup,
        opts.iters,
        pool.describe(),
        if opts.back_to_back {
            "after the kernel's iterations (each back to back)"
        } else {
            "alternately with the kernel"
        }
    );
    let _ = writeln!(
        out,
        "* torch ms: PyTorch median quoted in the issue (measured on another machine, not here); speedup: ours vs PyTorch median quoted in the issue."
    );
    let _ = writeln!(
        out,
        "The machine is shared: absolute times vary from run to run; compare ratios from one run."
    );
    let met = rows.iter().filter(|r| r.meets_target()).count();
    let _ = writeln!(
        out,
        "{met} of {} cases meet their copy-ratio target",
        rows.len()
    );
    out
}

//! Kernel/copy ratios for the criterion benchmarks of ops-pool and ops-norm
//! (shared by both through `#[path]`): after criterion has run, each case's
//! median is read back from criterion's saved estimates and divided by the
//! median of the copy of the same input bytes benchmarked in the same
//! group, in the same process, and printed against the target.
//!
//! Criterion times a function's iterations in a row, so an input that fits
//! the last-level cache (32 MB here: every N case, P1, P3 and P4) would stay
//! there from one call to the next, and a copy of 25.7 MB then measured
//! 0.49 ms instead of about 1 ms. Every timed call (kernels and the copy)
//! therefore runs after an untimed [`Evict::run`], a copy of as many other
//! bytes, as `cargo xtask bench` alternates kernel and copy.

use std::path::{Path, PathBuf};

use criterion::{BatchSize, Bencher};
use rayon::prelude::*;

/// Two buffers of the size of a case's input, copied one into the other
/// before each timed call (untimed): the kernel's or the copy's data is
/// then no longer in the cache, as after the previous call of the other.
pub(crate) struct Evict {
    src: Vec<u8>,
    dst: Vec<u8>,
}

impl Evict {
    /// Buffers of `bytes` bytes, the size of the case's input (the copy
    /// `cargo xtask bench` runs between two calls of a kernel).
    pub(crate) fn new(bytes: usize) -> Self {
        Self {
            src: vec![1; bytes],
            dst: vec![2; bytes],
        }
    }

    /// One copy between the two buffers.
    pub(crate) fn run(&mut self) {
        self.dst
            .par_chunks_mut(1 << 20)
            .zip(self.src.par_chunks(1 << 20))
            .for_each(|(d, s)| d.copy_from_slice(s));
    }
}

/// One printed line: criterion group, the copy's function id, the kernel's
/// function id, the target for kernel/copy.
pub(crate) struct Ratio<'a> {
    /// The criterion group.
    pub(crate) group: &'a str,
    /// The function id of the group's copy of the input bytes.
    pub(crate) copy: &'a str,
    /// The function id of the kernel.
    pub(crate) kernel: &'a str,
    /// The target for kernel/copy.
    pub(crate) target: f64,
}

/// Times `f` with an untimed [`Evict::run`] before each call.
pub(crate) fn cold<O>(b: &mut Bencher<'_>, evict: &mut Evict, mut f: impl FnMut() -> O) {
    b.iter_batched(|| evict.run(), |()| f(), BatchSize::PerIteration);
}

/// criterion's output folder: `CRITERION_HOME`, or `criterion` in the
/// cargo target folder this benchmark was built in
/// (`<target>/<profile>/deps/<binary>`).
fn criterion_dir() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return Some(home.into());
    }
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.parent()?.join("criterion"))
}

/// The median (ns) criterion saved for `group/function` in this run.
fn median_ns(dir: &Path, group: &str, function: &str) -> Option<f64> {
    let path = dir
        .join(group)
        .join(function)
        .join("new")
        .join("estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["median"]["point_estimate"].as_f64()
}

/// Prints one line per case with both medians: kernel ms, copy ms, ratio,
/// target, pass/FAIL. Cases criterion did not run (filtered out) are
/// skipped.
pub(crate) fn print_ratios(cases: &[Ratio<'_>]) {
    let Some(dir) = criterion_dir() else {
        eprintln!("kernel/copy ratios: criterion's output folder not found");
        return;
    };
    println!("\nkernel/copy ratios (criterion medians, this run):");
    for c in cases {
        let (Some(k), Some(cp)) = (
            median_ns(&dir, c.group, c.kernel),
            median_ns(&dir, c.group, c.copy),
        ) else {
            continue;
        };
        let ratio = k / cp;
        println!(
            "  {:<48} {:>9.3} ms  copy {:>8.3} ms  ratio {:>5.2}  target {:>4.1}  {}",
            format!("{} / {}", c.group, c.kernel),
            k / 1e6,
            cp / 1e6,
            ratio,
            c.target,
            if ratio <= c.target { "pass" } else { "FAIL" }
        );
    }
}

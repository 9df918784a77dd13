//! Which instruction set the kernels run on, decided once per process.

use std::sync::atomic::{AtomicU8, Ordering};

/// The environment variable that forces the portable path: set to `1`
/// (any value but empty or `0`), no kernel runs code compiled for AVX2,
/// even on a CPU that has it. Read once, at the first dispatch.
pub const FORCE_PORTABLE_VAR: &str = "HANDGRAD_FORCE_PORTABLE";

/// The instruction set the dispatched kernels use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// Code compiled for the target's baseline (on x86-64, SSE2), with the
    /// lane types of the portable module: plain arrays.
    Portable,
    /// x86-64 with AVX2: 256-bit registers (`f32x8`, `f64x4`).
    Avx2,
}

/// `0` until decided, then `1 + Level as u8`.
static LEVEL: AtomicU8 = AtomicU8::new(0);

/// The level every kernel dispatches on: AVX2 when the CPU has it and
/// [`FORCE_PORTABLE_VAR`] is not set, else portable. The CPU check and the
/// environment are read on the first call only; later calls are one
/// relaxed atomic load.
///
/// ```
/// use core_tensor::simd::{level, Level};
/// let forced = std::env::var("HANDGRAD_FORCE_PORTABLE").is_ok_and(|v| !v.is_empty() && v != "0");
/// if forced {
///     assert_eq!(level(), Level::Portable);
/// }
/// assert_eq!(level(), level());
/// ```
#[inline(always)]
pub fn level() -> Level {
    match LEVEL.load(Ordering::Relaxed) {
        1 => Level::Portable,
        2 => Level::Avx2,
        _ => decide(),
    }
}

/// Whether dispatched code may use AVX2 (`level() == Level::Avx2`).
#[inline(always)]
pub fn has_avx2() -> bool {
    level() == Level::Avx2
}

#[cold]
fn decide() -> Level {
    let forced = std::env::var_os(FORCE_PORTABLE_VAR).is_some_and(|v| !v.is_empty() && v != "0");
    let level = if !forced && cpu_has_avx2() {
        Level::Avx2
    } else {
        Level::Portable
    };
    // Two threads deciding at once store the same value.
    LEVEL.store(1 + level as u8, Ordering::Relaxed);
    level
}

fn cpu_has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_follows_the_cpu_and_the_switch() {
        let forced =
            std::env::var_os(FORCE_PORTABLE_VAR).is_some_and(|v| !v.is_empty() && v != "0");
        let want = if !forced && cpu_has_avx2() {
            Level::Avx2
        } else {
            Level::Portable
        };
        assert_eq!(level(), want);
        assert_eq!(has_avx2(), want == Level::Avx2);
        // Decided once: the cached value is what later calls see.
        assert_eq!(LEVEL.load(Ordering::Relaxed), 1 + want as u8);
    }
}

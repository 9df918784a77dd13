//! The synchronisation primitives of the warm helper: the standard
//! library's, or `loom`'s with the crate's `loom` feature (for
//! the model check of the hand-off in `loom_model.rs`, which explores every
//! interleaving of the caller and the helper).

#[cfg(feature = "loom")]
pub(super) use loom::hint::spin_loop;
#[cfg(feature = "loom")]
pub(super) use loom::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
#[cfg(feature = "loom")]
pub(super) use loom::thread::{Thread, park, yield_now};
#[cfg(not(feature = "loom"))]
pub(super) use std::hint::spin_loop;
#[cfg(not(feature = "loom"))]
pub(super) use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
#[cfg(not(feature = "loom"))]
pub(super) use std::thread::{Thread, park, yield_now};

/// Checks of the job state between two looks at the clock (and between
/// two yields of the CPU) while the helper spins.
#[cfg(not(feature = "loom"))]
pub(super) const CHECKS_PER_ROUND: u32 = 32;
/// Under loom every check is a scheduling point already: one per round.
#[cfg(feature = "loom")]
pub(super) const CHECKS_PER_ROUND: u32 = 1;

/// When the helper's spinning after a job ends: [`super::SPIN`] after it.
#[cfg(not(feature = "loom"))]
pub(super) struct SpinClock(std::time::Instant);

#[cfg(not(feature = "loom"))]
impl SpinClock {
    /// Starts the spin now.
    pub(super) fn start() -> Self {
        Self(std::time::Instant::now())
    }
    /// Whether the spin is over.
    pub(super) fn expired(&self) -> bool {
        self.0.elapsed() > super::SPIN
    }
}

/// Under loom time does not pass: the spin ends after one round of checks,
/// so the model covers both a helper that finds the job spinning and one
/// that must be unparked.
#[cfg(feature = "loom")]
pub(super) struct SpinClock;

#[cfg(feature = "loom")]
impl SpinClock {
    /// Starts the spin.
    pub(super) fn start() -> Self {
        Self
    }
    /// Always over.
    pub(super) fn expired(&self) -> bool {
        true
    }
}

/// A cell shared by the two threads under the hand-off protocol (which
/// decides who may touch it when); under loom, every access is checked
/// against the happens-before order the protocol sets up.
pub(super) struct Slot<T>(
    #[cfg(not(feature = "loom"))] std::cell::UnsafeCell<T>,
    #[cfg(feature = "loom")] loom::cell::UnsafeCell<T>,
);

impl<T> Slot<T> {
    /// A slot holding `v`.
    pub(super) fn new(v: T) -> Self {
        #[cfg(not(feature = "loom"))]
        return Self(std::cell::UnsafeCell::new(v));
        #[cfg(feature = "loom")]
        return Self(loom::cell::UnsafeCell::new(v));
    }

    /// Runs `f` on the slot's value.
    ///
    /// # Safety
    /// No other thread may access the slot during the call (the protocol
    /// must order every other access before or after it).
    pub(super) unsafe fn with_mut<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        #[cfg(not(feature = "loom"))]
        // SAFETY: exclusive access, by the caller's contract.
        return f(unsafe { &mut *self.0.get() });
        #[cfg(feature = "loom")]
        // SAFETY: as above; loom checks it.
        return self.0.with_mut(|p| f(unsafe { &mut *p }));
    }
}

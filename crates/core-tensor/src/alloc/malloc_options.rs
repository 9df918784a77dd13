//! The C allocator's own retention setting, for memory that does not go
//! through the tensor cache.
//!
//! With glibc's default settings, a block larger than the dynamic mmap
//! threshold (at most 32 MiB) is given back to the operating system when it
//! is freed, so the next allocation of the same size starts on fresh pages.
//! Tensor storage avoids that through the cache of this module's parent;
//! [`retain_freed_memory`] asks glibc to keep every other large block too
//! (a program's own buffers, third-party code). The cost is that the process
//! keeps its peak heap size instead of returning memory to the OS.

/// Asks the C allocator to keep large freed blocks for reuse: on glibc,
/// `mallopt(M_MMAP_THRESHOLD, 1 GiB)` and `mallopt(M_TRIM_THRESHOLD,
/// i32::MAX)` (the same as setting `MALLOC_MMAP_THRESHOLD_` and
/// `MALLOC_TRIM_THRESHOLD_` in the environment). Call it once, early in
/// `main`, before large allocations.
///
/// Returns whether the setting was applied: `false` on other platforms or
/// C libraries, where it does nothing.
///
/// ```
/// let applied = core_tensor::alloc::retain_freed_memory();
/// assert_eq!(applied, cfg!(all(target_os = "linux", target_env = "gnu")));
/// ```
pub fn retain_freed_memory() -> bool {
    imp::retain_freed_memory()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod imp {
    use std::ffi::c_int;

    // glibc's <malloc.h>.
    const M_TRIM_THRESHOLD: c_int = -1;
    const M_MMAP_THRESHOLD: c_int = -3;

    unsafe extern "C" {
        fn mallopt(param: c_int, value: c_int) -> c_int;
    }

    pub(super) fn retain_freed_memory() -> bool {
        // SAFETY: mallopt only changes allocator tunables; glibc documents it
        // as safe to call at any time and returns 0 for rejected values.
        let mmap = unsafe { mallopt(M_MMAP_THRESHOLD, 1 << 30) };
        // SAFETY: as above.
        let trim = unsafe { mallopt(M_TRIM_THRESHOLD, c_int::MAX) };
        mmap == 1 && trim == 1
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod imp {
    pub(super) fn retain_freed_memory() -> bool {
        false
    }
}

//! Size classes of the buffer cache: eight per power of two, so a request
//! is rounded up by at most an eighth of its size.
//!
//! Class `i` holds buffers of `class_bytes(i)` bytes: from [`MIN_BYTES`] on,
//! the octave `[2^k, 2^(k+1))` is cut into the eight sizes
//! `2^k + j * 2^(k-3)`, `j = 0..8`.

/// Buffers smaller than this are not cached: the C allocator keeps small
/// blocks in its own free lists, and they never fault in fresh pages.
pub(crate) const MIN_BYTES: usize = 1 << 15;

/// `log2(MIN_BYTES)`.
const MIN_SHIFT: u32 = MIN_BYTES.trailing_zeros();

/// Sizes per power of two.
const STEPS: usize = 8;

/// `log2(STEPS)`.
const STEP_SHIFT: u32 = STEPS.trailing_zeros();

/// Number of classes: every octave from `MIN_BYTES` up to `2^63`.
pub(crate) const CLASSES: usize = (63 - MIN_SHIFT as usize) * STEPS;

/// The size in bytes of class `class`.
pub(crate) fn class_bytes(class: usize) -> usize {
    let shift = MIN_SHIFT + (class / STEPS) as u32;
    let step = (class % STEPS) << (shift - STEP_SHIFT);
    (1usize << shift) + step
}

/// The smallest class that holds `bytes` (at least `MIN_BYTES`), or `None`
/// below `MIN_BYTES` or beyond the largest class.
pub(crate) fn class_for_request(bytes: usize) -> Option<usize> {
    let class = floor_class(bytes)?;
    if class_bytes(class) == bytes {
        Some(class)
    } else {
        (class + 1 < CLASSES).then_some(class + 1)
    }
}

/// The largest class not larger than `bytes`: the class a freed buffer of
/// `bytes` bytes can serve. `None` below `MIN_BYTES`.
pub(crate) fn floor_class(bytes: usize) -> Option<usize> {
    if bytes < MIN_BYTES {
        return None;
    }
    let shift = usize::BITS - 1 - bytes.leading_zeros();
    let step = (bytes >> (shift - STEP_SHIFT)) & (STEPS - 1);
    let class = (shift - MIN_SHIFT) as usize * STEPS + step;
    (class < CLASSES).then_some(class)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_grow_by_an_eighth_of_their_octave() {
        assert_eq!(class_bytes(0), 32 * 1024);
        assert_eq!(class_bytes(1), 36 * 1024);
        assert_eq!(class_bytes(7), 60 * 1024);
        assert_eq!(class_bytes(8), 64 * 1024);
        assert_eq!(class_bytes(9), 72 * 1024);
        for c in 1..CLASSES {
            assert!(class_bytes(c) > class_bytes(c - 1), "class {c}");
        }
    }

    #[test]
    fn a_request_gets_the_smallest_class_that_holds_it() {
        assert_eq!(class_for_request(MIN_BYTES - 1), None);
        assert_eq!(class_for_request(MIN_BYTES), Some(0));
        assert_eq!(class_for_request(MIN_BYTES + 1), Some(1));
        assert_eq!(class_for_request(36 * 1024), Some(1));
        assert_eq!(class_for_request(64 * 1024 - 1), Some(8));
        for bytes in [40_000, 1 << 20, 3 * 1024 * 1024 + 17, 7_225_344, 1 << 40] {
            let c = class_for_request(bytes).unwrap();
            assert!(class_bytes(c) >= bytes);
            assert!(c == 0 || class_bytes(c - 1) < bytes);
            // Rounded up by at most an eighth.
            assert!(class_bytes(c) - bytes <= bytes / 8, "{bytes}");
        }
    }

    #[test]
    fn a_freed_buffer_serves_the_largest_class_it_holds() {
        assert_eq!(floor_class(MIN_BYTES - 1), None);
        for bytes in [MIN_BYTES, 40_000, 65_536, 3 * 1024 * 1024 + 17] {
            let c = floor_class(bytes).unwrap();
            assert!(class_bytes(c) <= bytes);
            assert!(c + 1 == CLASSES || class_bytes(c + 1) > bytes);
        }
        // Exact class sizes map to themselves both ways.
        for c in [0, 5, 8, 100] {
            assert_eq!(floor_class(class_bytes(c)), Some(c));
            assert_eq!(class_for_request(class_bytes(c)), Some(c));
        }
        assert_eq!(floor_class(usize::MAX), None);
    }
}

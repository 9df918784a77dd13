//! Conversions between `f64` and the 16-bit float formats of safetensors
//! files (IEEE binary16 `F16`, bfloat16 `BF16`).
//!
//! Widening (16 bits to `f32` / `f64`) is exact and done by the `half`
//! crate. Narrowing is done here, from the exact `f64` value, with one
//! rounding to the nearest representable value, ties to even: `half`'s own
//! `from_f64` drops the low 32 bits of the `f64` mantissa before rounding,
//! which rounds a value just above a tie down instead of up.

/// A 16-bit float format: `exp_bits` exponent bits, `man_bits` stored
/// mantissa bits, one sign bit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HalfFormat {
    /// The dtype's name in safetensors (`"F16"`, `"BF16"`).
    pub(crate) name: &'static str,
    exp_bits: u32,
    man_bits: u32,
}

/// IEEE 754 binary16 (`torch.float16`).
pub(crate) const F16: HalfFormat = HalfFormat {
    name: "F16",
    exp_bits: 5,
    man_bits: 10,
};

/// bfloat16 (`torch.bfloat16`).
pub(crate) const BF16: HalfFormat = HalfFormat {
    name: "BF16",
    exp_bits: 8,
    man_bits: 7,
};

impl HalfFormat {
    fn bias(self) -> i32 {
        (1 << (self.exp_bits - 1)) - 1
    }

    /// The bits of +infinity.
    fn inf_bits(self) -> u16 {
        (((1u32 << self.exp_bits) - 1) << self.man_bits) as u16
    }

    /// The largest finite value (65504 for F16).
    pub(crate) fn max_finite(self) -> f64 {
        let m = self.man_bits as i32;
        (2.0 - 2f64.powi(-m)) * 2f64.powi(self.bias())
    }

    /// The exact value of `bits`.
    pub(crate) fn to_f64(self, bits: u16) -> f64 {
        if self.man_bits == 10 {
            half::f16::from_bits(bits).to_f64()
        } else {
            half::bf16::from_bits(bits).to_f64()
        }
    }

    /// `v` rounded to the nearest value of this format, ties to even.
    /// NaN gives a quiet NaN and infinities stay infinite, keeping the sign.
    /// `None` when `v` is finite but rounds past the largest finite value
    /// (where a cast would give infinity).
    pub(crate) fn round_f64(self, v: f64) -> Option<u16> {
        let sign: u16 = if v.is_sign_negative() { 0x8000 } else { 0 };
        let m = self.man_bits;
        if v.is_nan() {
            return Some(sign | self.inf_bits() | (1 << (m - 1)));
        }
        if v.is_infinite() {
            return Some(sign | self.inf_bits());
        }
        let a = v.abs();
        if a == 0.0 {
            return Some(sign);
        }
        let emin = 1 - self.bias();
        // The binary exponent of `a` (f64 subnormals lie far below both
        // formats and round to zero through the subnormal branch).
        let e = (((a.to_bits() >> 52) & 0x7ff) as i32 - 1023).max(emin);
        // Spacing of the format's values around `a`: 2^(e - m) for normal
        // numbers, 2^(emin - m) for subnormals. `a / q` is exact.
        let n = (a / 2f64.powi(e - m as i32)).round_ties_even();
        // For normal `e`, n is in [2^m, 2^(m+1)] and the encoding is
        // ((e + bias - 1) << m) + n (a carry to 2^(m+1) moves into the
        // exponent field); for subnormals (e == emin and n < 2^m) the
        // encoding is n itself, which the same formula gives.
        let exp_field = if n >= f64::from(1u32 << m) {
            (e + self.bias() - 1) as u64
        } else {
            0
        };
        let bits = (exp_field << m) + n as u64;
        if bits >= u64::from(self.inf_bits()) {
            return None;
        }
        Some(sign | bits as u16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_known_values() {
        assert_eq!(F16.round_f64(1.0), Some(0x3c00));
        assert_eq!(F16.round_f64(-2.0), Some(0xc000));
        assert_eq!(F16.round_f64(65504.0), Some(0x7bff));
        // Below the halfway point to 65536 it rounds down, at it the tie
        // goes to even, which is 65536 = infinity.
        assert_eq!(F16.round_f64(65519.99), Some(0x7bff));
        assert_eq!(F16.round_f64(65520.0), None);
        assert_eq!(F16.round_f64(1e10), None);
        assert_eq!(F16.round_f64(f64::INFINITY), Some(0x7c00));
        assert_eq!(F16.round_f64(f64::NEG_INFINITY), Some(0xfc00));
        assert!(F16.to_f64(F16.round_f64(f64::NAN).unwrap()).is_nan());
        // Smallest subnormal 2^-24, and half of it (a tie) goes to even 0.
        assert_eq!(F16.round_f64(2f64.powi(-24)), Some(1));
        assert_eq!(F16.round_f64(2f64.powi(-25)), Some(0));
        assert_eq!(F16.round_f64(1.5 * 2f64.powi(-24)), Some(2));
        assert_eq!(F16.round_f64(-0.0), Some(0x8000));
        // The largest subnormal rounds up into the smallest normal.
        assert_eq!(F16.round_f64(2f64.powi(-14) - 2f64.powi(-26)), Some(0x0400));
        assert_eq!(F16.max_finite(), 65504.0);
    }

    #[test]
    fn ties_go_to_even_and_sticky_bits_count() {
        // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: even is 1.
        assert_eq!(F16.round_f64(1.0 + 2f64.powi(-11)), Some(0x3c00));
        // 1 + 3·2^-11 is halfway between 1 + 2^-10 and 1 + 2^-9: even is the latter.
        assert_eq!(F16.round_f64(1.0 + 3.0 * 2f64.powi(-11)), Some(0x3c02));
        // Just above the tie (a bit below the f32 precision): up.
        assert_eq!(
            F16.round_f64(1.0 + 2f64.powi(-11) + 2f64.powi(-40)),
            Some(0x3c01)
        );
        assert_eq!(
            BF16.round_f64(1.0 + 2f64.powi(-8) + 2f64.powi(-45)),
            Some(0x3f81)
        );
        assert_eq!(BF16.round_f64(1.0 + 2f64.powi(-8)), Some(0x3f80));
    }

    #[test]
    fn bf16_known_values() {
        assert_eq!(BF16.round_f64(1.0), Some(0x3f80));
        assert_eq!(BF16.round_f64(f64::from(f32::MAX)), None);
        assert_eq!(BF16.max_finite(), 3.3895313892515355e38);
        assert_eq!(BF16.round_f64(BF16.max_finite()), Some(0x7f7f));
        assert_eq!(BF16.round_f64(2f64.powi(-133)), Some(1));
        assert_eq!(BF16.round_f64(1e-300), Some(0));
    }

    #[test]
    fn agrees_with_half_on_f32_inputs() {
        // `half`'s f32 conversions round correctly; compare on a spread of
        // bit patterns (every 65521st f32).
        let mut bits = 0u32;
        while let Some(next) = bits.checked_add(65521) {
            bits = next;
            let v = f32::from_bits(bits);
            if v.is_nan() {
                continue;
            }
            let h = half::f16::from_f32(v);
            match F16.round_f64(f64::from(v)) {
                Some(b) => assert_eq!(b, h.to_bits(), "f16 of {v:e}"),
                None => assert!(h.is_infinite() && v.is_finite(), "{v:e}"),
            }
            let h = half::bf16::from_f32(v);
            match BF16.round_f64(f64::from(v)) {
                Some(b) => assert_eq!(b, h.to_bits(), "bf16 of {v:e}"),
                None => assert!(h.is_infinite() && v.is_finite(), "{v:e}"),
            }
        }
    }

    #[test]
    fn widening_then_narrowing_is_the_identity() {
        for fmt in [F16, BF16] {
            for bits in 0..=u16::MAX {
                let v = fmt.to_f64(bits);
                if v.is_nan() {
                    continue;
                }
                assert_eq!(fmt.round_f64(v), Some(bits), "{} {bits:#x}", fmt.name);
            }
        }
    }
}

//! Lanes as plain arrays: the path on CPUs without AVX2, on other targets,
//! and under `HANDGRAD_FORCE_PORTABLE=1`.

use super::lane::Lane;

/// `N` lanes of `T` in an array, each operation a loop over the lanes in
/// the order and with the rules of the AVX2 instructions it stands for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Portable<T, const N: usize>(pub [T; N]);

macro_rules! portable {
    ($t:ty, $n:literal) => {
        impl Lane for Portable<$t, $n> {
            type Elem = $t;
            type Mask = [bool; $n];
            const N: usize = $n;

            #[inline(always)]
            fn splat(v: $t) -> Self {
                Self([v; $n])
            }
            #[inline(always)]
            fn zero() -> Self {
                Self([0.0; $n])
            }
            #[inline(always)]
            fn load(s: &[$t]) -> Self {
                let mut a = [0.0; $n];
                a.copy_from_slice(&s[..$n]);
                Self(a)
            }
            #[inline(always)]
            fn store(self, s: &mut [$t]) {
                s[..$n].copy_from_slice(&self.0);
            }
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                Self(std::array::from_fn(|k| self.0[k] + o.0[k]))
            }
            #[inline(always)]
            fn sub(self, o: Self) -> Self {
                Self(std::array::from_fn(|k| self.0[k] - o.0[k]))
            }
            #[inline(always)]
            fn mul(self, o: Self) -> Self {
                Self(std::array::from_fn(|k| self.0[k] * o.0[k]))
            }
            #[inline(always)]
            fn div(self, o: Self) -> Self {
                Self(std::array::from_fn(|k| self.0[k] / o.0[k]))
            }
            #[inline(always)]
            fn max(self, o: Self) -> Self {
                Self(std::array::from_fn(|k| {
                    if self.0[k] > o.0[k] {
                        self.0[k]
                    } else {
                        o.0[k]
                    }
                }))
            }
            #[inline(always)]
            fn min(self, o: Self) -> Self {
                Self(std::array::from_fn(|k| {
                    if self.0[k] < o.0[k] {
                        self.0[k]
                    } else {
                        o.0[k]
                    }
                }))
            }
            #[inline(always)]
            fn gt(self, o: Self) -> [bool; $n] {
                std::array::from_fn(|k| self.0[k] > o.0[k])
            }
            #[inline(always)]
            fn eq(self, o: Self) -> [bool; $n] {
                std::array::from_fn(|k| self.0[k] == o.0[k])
            }
            #[inline(always)]
            fn is_nan(self) -> [bool; $n] {
                std::array::from_fn(|k| self.0[k].is_nan())
            }
            #[inline(always)]
            fn select(m: [bool; $n], a: Self, b: Self) -> Self {
                Self(std::array::from_fn(|k| if m[k] { a.0[k] } else { b.0[k] }))
            }
            #[inline(always)]
            fn mask_or(a: [bool; $n], b: [bool; $n]) -> [bool; $n] {
                std::array::from_fn(|k| a[k] | b[k])
            }
            #[inline(always)]
            fn mask_and(a: [bool; $n], b: [bool; $n]) -> [bool; $n] {
                std::array::from_fn(|k| a[k] & b[k])
            }
            #[inline(always)]
            fn mask_bits(m: [bool; $n]) -> u32 {
                m.iter()
                    .enumerate()
                    .fold(0, |bits, (k, &on)| bits | (u32::from(on) << k))
            }
            #[inline(always)]
            fn sum_halves(self) -> $t {
                let mut a = self.0;
                let mut w = $n;
                while w > 1 {
                    w /= 2;
                    for k in 0..w {
                        a[k] += a[k + w];
                    }
                }
                a[0]
            }
        }
    };
}

portable!(f32, 8);
portable!(f64, 4);

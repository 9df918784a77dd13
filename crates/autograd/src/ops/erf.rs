//! The error function `erf(x) = 2/√π ∫₀ˣ e^{-t²} dt` (`torch.erf`): a
//! scalar kernel accurate to about 1e-15 relative in `f64`, and the
//! differentiable op.

use core_tensor::{Float, Tensor};

use super::util::{map_elements, zip_elements};
use crate::{Backward, BackwardCtx, Result, Var};

/// `2/√π`.
const TWO_OVER_SQRT_PI: f64 = std::f64::consts::FRAC_2_SQRT_PI;
/// `√π`.
const SQRT_PI: f64 = 1.772_453_850_905_515_9;

/// Below this `|x|` the power series is used, above it the continued
/// fraction of `erfc` (which converges too slowly nearer to 0).
const SERIES_LIMIT: f64 = 1.25;
/// From here on `1 - erfc(x)` rounds to 1 in `f64` (`erfc(6) ≈ 2e-17`).
const SATURATION: f64 = 6.0;

/// `e^{-a²}`, with the rounding error of `a²` put back: `a² = hi + lo`
/// exactly (`lo` from a fused multiply-add), `e^{-hi-lo} ≈ e^{-hi}(1 - lo)`.
/// Without the correction the relative error grows like `a²·2⁻⁵³`.
fn exp_neg_square(a: f64) -> (f64, f64, f64) {
    let hi = a * a;
    let lo = a.mul_add(a, -hi);
    ((-hi).exp() * (1.0 - lo), hi, lo)
}

/// Terms of the series below [`SERIES_LIMIT`]: the 28th term is below
/// `3.2^28 / (3·5·…·57) < 1e-22` of the first.
const SERIES_TERMS: u32 = 28;

/// `erf(a)` for `0 <= a < SERIES_LIMIT` from the series of positive terms
/// `erf(a) = 2/√π · a · e^{-a²} · S(2a²)`, `S(q) = Σₙ qⁿ / (1·3·…·(2n+1))`,
/// which has no cancellation. `S` is evaluated by Horner's rule from the
/// tail, `S = 1 + q/3·(1 + q/5·(1 + …))`, so rounding errors do not pile
/// up term after term; `q` is the rounded `2·hi`, and `S(q + 2·lo) ≈
/// S(q) + 2·lo·S'(q)` (with `S'` carried along the same recurrence)
/// restores the exact `2a²`.
fn erf_series(a: f64) -> f64 {
    let (e, hi, lo) = exp_neg_square(a);
    let q = 2.0 * hi;
    let (mut s, mut ds) = (1.0f64, 0.0f64);
    for k in (1..=SERIES_TERMS).rev() {
        let odd = f64::from(2 * k + 1);
        ds = (s + q * ds) / odd;
        s = 1.0 + (q / odd) * s;
    }
    s += 2.0 * lo * ds;
    (TWO_OVER_SQRT_PI * a) * e * s
}

/// `erfc(a)` for `SERIES_LIMIT <= a < SATURATION` from its continued
/// fraction `erfc(a) = e^{-a²}/√π · 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + …))))`,
/// evaluated from the tail with enough terms for the fraction to settle
/// below 1e-16 relative at the smallest `a` of each band.
fn erfc_continued_fraction(a: f64) -> f64 {
    let (e, _, _) = exp_neg_square(a);
    let terms: u32 = if a < 1.5 {
        200
    } else if a < 2.0 {
        120
    } else {
        70
    };
    let mut f = a;
    for k in (1..=terms).rev() {
        f = a + (0.5 * f64::from(k)) / f;
    }
    e / (f * SQRT_PI)
}

/// `erf(x)` in `f64`, within about 1e-15 relative of the exact value
/// (checked against 40-digit references); odd, `erf(±0) = ±0`, `±1` for
/// `|x| >= 6` (and at infinity), NaN for NaN.
pub fn erf_f64(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let a = x.abs();
    let r = if a < SERIES_LIMIT {
        erf_series(a)
    } else if a < SATURATION {
        1.0 - erfc_continued_fraction(a)
    } else {
        1.0
    };
    r.copysign(x)
}

/// `erf(x)` in `f32`: the `f64` value rounded once, so correctly rounded
/// except where the `f64` value lies within its own error of an `f32`
/// rounding boundary.
pub fn erf_f32(x: f32) -> f32 {
    erf_f64(f64::from(x)) as f32
}

/// `erf` in either float type (through [`erf_f64`], which is exact enough
/// that the `f32` result is the `f64` one rounded).
pub(crate) fn erf<F: Float>(x: F) -> F {
    F::cast(erf_f64(x.widen()))
}

struct ErfBackward;

impl<F: Float> Backward<F> for ErfBackward {
    fn name(&self) -> &'static str {
        "erf"
    }

    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> Result<Vec<Option<Var<F>>>> {
        if !ctx.needs_grad[0] {
            return Ok(vec![None]);
        }
        let (g, x) = (ctx.grad_output, &ctx.inputs[0]);
        // d/dx erf(x) = 2/√π · e^{-x²}
        let gx = if ctx.create_graph {
            let d = x.mul(x)?.neg().exp().mul_scalar(TWO_OVER_SQRT_PI);
            g.mul(&d)?
        } else {
            let c = F::cast(TWO_OVER_SQRT_PI);
            let (gv, xv) = (g.value(), x.value());
            let out = zip_elements(gv.as_slice(), xv.as_slice(), |g, x| {
                g * (c * (-(x * x)).exp())
            });
            Var::constant(Tensor::from_vec(xv.shape(), out)?)
        };
        Ok(vec![Some(gx)])
    }
}

impl<F: Float> Var<F> {
    /// The error function `erf(x) = 2/√π ∫₀ˣ e^{-t²} dt` elementwise
    /// (`torch.erf`), with derivative `2/√π · e^{-x²}`; differentiable to
    /// any order. Accurate to about 1e-15 relative in `f64`, and the `f64`
    /// value rounded in `f32`.
    ///
    /// ```
    /// use autograd::Var;
    /// use core_tensor::Tensor;
    /// let x = Var::leaf(Tensor::from_vec(&[2], vec![0.0f64, 1.0])?);
    /// let y = x.erf();
    /// assert!((y.value().as_slice()[1] - 0.8427007929497149).abs() < 1e-16);
    /// y.sum_all().backward()?;
    /// assert!((x.grad().unwrap().as_slice()[0] - 1.1283791670955126).abs() < 1e-16);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn erf(&self) -> Var<F> {
        let x = self.value();
        let y = Tensor::from_vec(x.shape(), map_elements(x.as_slice(), erf)).expect("same shape");
        Var::from_op(y, vec![self.clone()], ErfBackward)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(x, erf(x))` with `erf` from mpmath at 40 digits:
    /// `float(mpmath.erf(mpmath.mpf(x)))` for hand-picked points and seeded
    /// random ones in `[0, 6]` and `[1e-6, 1]`.
    const REFERENCE: &[(f64, f64)] = &[
        (0.0, 0.0),
        (1e-300, 1.1283791670955126e-300),
        (1e-20, 1.1283791670955125e-20),
        (1e-08, 1.1283791670955126e-08),
        (0.1, 0.1124629160182849),
        (0.25, 0.27632639016823696),
        (0.5, 0.5204998778130465),
        (0.75, 0.7111556336535151),
        (1.0, 0.8427007929497149),
        (1.2, 0.9103139782296353),
        (1.25, 0.9229001282564583),
        (1.3, 0.9340079449406524),
        (1.5, 0.9661051464753108),
        (2.0, 0.9953222650189527),
        (2.4, 0.999311486103355),
        (2.5, 0.999593047982555),
        (3.0, 0.9999779095030014),
        (3.5, 0.9999992569016276),
        (4.0, 0.9999999845827421),
        (5.0, 0.9999999999984626),
        (5.9, 0.9999999999999999),
        (6.0, 1.0),
        (7.0, 1.0),
        (27.0, 1.0),
        (1.942997, 0.9940005731466368),
        (0.905095, 0.7994540285458834),
        (3.905607, 0.9999999667427211),
        (0.434618, 0.4612092716014779),
        (3.215292, 0.9999945612308712),
        (2.194134, 0.9980841356796529),
        (0.347994, 0.37737809247100695),
        (3.044614, 0.9999833567356675),
        (0.224974, 0.24963739956920025),
        (2.601874, 0.9997664049614721),
        (0.419133, 0.4466472240870048),
        (0.544278, 0.558537158308622),
        (2.547115, 0.9996844215419908),
        (4.961113, 0.999999999997718),
        (0.742812, 0.7065093216769257),
        (1.339434, 0.9418075990557363),
        (3.764599, 0.9999998984604764),
        (5.686254, 0.9999999999999991),
        (3.462618, 0.9999990263040485),
        (2.380083, 0.999237182655613),
        (5.857531, 0.9999999999999999),
        (0.279496, 0.3073541740959116),
        (5.150811, 0.9999999999996768),
        (1.737656, 0.9860059732519054),
        (0.865531, 0.7790650037806556),
        (0.706753, 0.6824473049391441),
        (1.850891, 0.9911437825301619),
        (4.896758, 0.9999999999956422),
        (1.084358, 0.8748506884558594),
        (3.489601, 0.9999991986610097),
        (3.833481, 0.9999999408529623),
        (2.234385, 0.9984217538710415),
        (3.286467, 0.9999966445108432),
        (0.376734, 0.4058157346028695),
        (0.357607, 0.3869556692113772),
        (1.235752, 0.9194696716314977),
        (4.0824, 0.9999999922305567),
        (2.565554, 0.9997146414636131),
        (1.884883, 0.9923155122703298),
        (3.513371, 0.9999993258176892),
        (0.000523729, 0.0005909648387714432),
        (6.2893e-05, 7.096715086256718e-05),
        (0.05838172, 0.06580194776887516),
        (0.015630274, 0.017635439401157898),
        (2.9146e-05, 3.2887739194853214e-05),
        (0.002796033, 0.0031549771660486967),
        (0.001416378, 0.0015982103591948777),
        (0.178166059, 0.19893177235682413),
        (0.023805195, 0.026856212985825228),
        (5.341e-05, 6.026673125726514e-05),
        (0.760412216, 0.7177977256603117),
        (5.11e-06, 5.7660175438078815e-06),
        (0.000322654, 0.0003640760391459169),
        (0.034901619, 0.039366274807185284),
        (8.164e-06, 9.2120875199631e-06),
        (0.000858576, 0.0009687990337172344),
    ];

    #[test]
    fn f64_within_1e15_relative_of_40_digit_references() {
        for &(x, want) in REFERENCE {
            for (x, want) in [(x, want), (-x, -want)] {
                let got = erf_f64(x);
                let err = if want == 0.0 {
                    got.abs()
                } else {
                    ((got - want) / want).abs()
                };
                assert!(err <= 1e-15, "erf({x:e}) = {got:e}, want {want:e}: {err:e}");
            }
        }
    }

    #[test]
    fn f32_is_the_rounded_f64_value() {
        for &(x, want) in REFERENCE {
            let xf = x as f32;
            let got = erf_f32(xf);
            let exact = erf_f64(f64::from(xf));
            assert_eq!(got, exact as f32, "erf({xf})");
            if xf as f64 == x {
                assert_eq!(got, want as f32, "erf({xf})");
            }
        }
    }

    #[test]
    fn special_values() {
        assert_eq!(erf_f64(f64::INFINITY), 1.0);
        assert_eq!(erf_f64(f64::NEG_INFINITY), -1.0);
        assert!(erf_f64(f64::NAN).is_nan());
        assert!(erf_f64(-0.0).is_sign_negative());
        assert_eq!(erf_f64(-0.0), 0.0);
    }

    #[test]
    fn continuous_at_the_switch_points() {
        for s in [SERIES_LIMIT, SATURATION] {
            let below = erf_f64(f64::from_bits(s.to_bits() - 1));
            let at = erf_f64(s);
            assert!(
                (at - below).abs() <= 4.0 * f64::EPSILON,
                "{s}: {below} {at}"
            );
        }
    }
}

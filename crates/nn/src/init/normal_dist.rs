//! The standard normal distribution's CDF and its inverse, and samples of a
//! truncated normal by inversion (what `nn.init.trunc_normal_` does).

use core_tensor::Rng;

/// `erfc(x)` for `x >= 0` to about 1e-15 relative: the Taylor series of
/// `erf` below 3, the continued fraction of `erfc` (modified Lentz) above.
fn erfc_nonneg(x: f64) -> f64 {
    if x > 27.0 {
        // erfc(27) is below the smallest f64.
        0.0
    } else if x < 3.0 {
        // erf(x) = 2/√π Σ (-1)^n x^(2n+1) / (n! (2n+1)).
        let x2 = x * x;
        let (mut term, mut sum, mut n) = (x, x, 0.0f64);
        while term.abs() > 1e-17 * sum.abs() {
            n += 1.0;
            term *= -x2 / n;
            sum += term / (2.0 * n + 1.0);
        }
        1.0 - sum * std::f64::consts::FRAC_2_SQRT_PI
    } else {
        // erfc(x) = e^(-x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))).
        let tiny = 1e-300;
        let mut f = x;
        let (mut c, mut d) = (x, 0.0f64);
        for k in 1..300 {
            let a = 0.5 * k as f64;
            d = x + a * d;
            d = if d == 0.0 { tiny } else { d };
            c = x + a / c;
            c = if c == 0.0 { tiny } else { c };
            d = 1.0 / d;
            let delta = c * d;
            f *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (-x * x).exp() / (f * std::f64::consts::PI.sqrt())
    }
}

/// `Φ(z) = P(Z <= z)` for a standard normal `Z`, accurate in both tails.
pub(crate) fn normal_cdf(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    if x < 0.0 {
        0.5 * erfc_nonneg(-x)
    } else {
        1.0 - 0.5 * erfc_nonneg(x)
    }
}

/// `Φ⁻¹(p)` for `p` in `(0, 1)`: Acklam's rational approximation, then one
/// Halley step on `Φ(z) − p`.
pub(crate) fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383_577_518_672_69e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let z = if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    };
    // Halley: e = Φ(z) − p, u = e / φ(z), z ← z − u / (1 + z u / 2).
    let e = normal_cdf(z) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (z * z / 2.0).exp();
    let refined = z - u / (1.0 + z * u / 2.0);
    if refined.is_finite() { refined } else { z }
}

/// One sample of `N(mean, std²)` conditioned on `[a, b]` (`std > 0`,
/// `a < b`): `Φ⁻¹` of a uniform draw between `Φ(α)` and `Φ(β)`, with
/// `α = (a − mean)/std`, `β = (b − mean)/std`, clamped to `[a, b]` against
/// rounding. An interval above the mean is mirrored below it first, so
/// the CDF values stay small and accurate far into either tail. One
/// uniform draw per sample in every case, so the stream stays aligned.
pub(crate) fn trunc_normal_sample(mean: f64, std: f64, a: f64, b: f64, rng: &mut Rng) -> f64 {
    let (alpha, beta) = ((a - mean) / std, (b - mean) / std);
    let mirrored = alpha > 0.0;
    let (lo, hi) = if mirrored {
        (-beta, -alpha)
    } else {
        (alpha, beta)
    };
    let (pl, ph) = (normal_cdf(lo), normal_cdf(hi));
    let u = rng.uniform();
    if ph <= pl {
        // The interval holds no probability mass an f64 can resolve: the
        // conditional law sits at the end nearest the mean.
        return mean.clamp(a, b);
    }
    let z = normal_quantile(pl + (ph - pl) * u).clamp(lo, hi);
    let z = if mirrored { -z } else { z };
    (mean + std * z).clamp(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdf_matches_known_values() {
        // Python: 0.5 * math.erfc(-z / math.sqrt(2)).
        let cases = [
            (0.0, 0.5),
            (1.0, 0.8413447460685429),
            (-1.96, 0.024997895148220435),
            (-3.0, 0.0013498980316300957),
            (-5.0, 2.866515718791946e-7),
            (-10.0, 7.619853024160593e-24),
            (2.5, 0.9937903346742238),
        ];
        for (z, want) in cases {
            let got = normal_cdf(z);
            assert!(
                ((got - want) / want).abs() < 1e-13,
                "Φ({z}) = {got:e}, want {want:e}"
            );
        }
    }

    #[test]
    fn quantile_inverts_the_cdf() {
        for &p in &[1e-20, 1e-9, 0.001, 0.02, 0.3, 0.5, 0.77, 0.98, 0.999999] {
            let z = normal_quantile(p);
            let back = normal_cdf(z);
            assert!(((back - p) / p).abs() < 1e-12, "p {p}: z {z}, Φ(z) {back}");
        }
        assert_eq!(normal_quantile(0.5), 0.0);
    }

    #[test]
    fn samples_stay_in_the_interval_even_in_far_tails() {
        let mut rng = Rng::new(9);
        for &(mean, std, a, b) in &[
            (0.0, 1.0, -2.0, 2.0),
            (0.0, 1.0, 8.0, 9.0),
            (0.0, 1.0, -40.0, -39.0),
            (5.0, 0.1, -1.0, 1.0),
        ] {
            for _ in 0..1000 {
                let x = trunc_normal_sample(mean, std, a, b, &mut rng);
                assert!(x >= a && x <= b, "{x} outside [{a}, {b}]");
            }
        }
    }
}

//! Power-average (Lp) pooling: `y = (Σ_window |x|^p)^(1/p)`, padding adding
//! nothing (FORMAT.md; equals PyTorch's `lp_pool` for `x >= 0` and ONNX
//! `LpPool` always).
//!
//! Backward: `dx_i = sign(x_i)·|x_i|^(p-1) · Σ_{o ∋ i} dy_o · y_o^(1-p)`, with
//! the term of an all-zero window (`y_o = 0`) set to zero as in PyTorch.
//! For second order the same formula is rebuilt from differentiable ops
//! (the window sum being the average-pooling backward with divisor 1).

use core_tensor::{Float, Par};

use super::avg::{self, Divisor};
use crate::geometry::Geometry;

#[inline(always)]
fn pow_abs<F: Float>(v: F, p: F) -> F {
    if p == F::one() {
        v.abs()
    } else if p == F::cast(2.0) {
        v * v
    } else {
        v.abs().powf(p)
    }
}

/// Lp pooling forward for a finite `p > 0`.
///
/// # Panics
/// If a slice length does not match the geometry (an internal invariant:
/// the functional API builds both from the same shapes).
pub fn forward<F: Float>(x: &[F], g: &Geometry, p: f64, par: Par) -> Vec<F> {
    let (pin, pout) = (g.plane_in(), g.plane_out());
    assert_eq!(
        x.len(),
        g.planes * pin,
        "lp_pool forward: input length does not match the geometry"
    );
    let mut y = vec![F::zero(); g.planes * pout];
    if g.planes == 0 {
        return y;
    }
    let pf = F::cast(p);
    let inv = F::cast(1.0 / p);
    par.for_work(x.len())
        .for_each_chunk_mut(&mut y, pout, |pl, yp| {
            avg::window_sums(&x[pl * pin..(pl + 1) * pin], g, yp, false, |v| {
                pow_abs(v, pf)
            });
            for v in yp.iter_mut() {
                *v = if p == 1.0 {
                    *v
                } else if p == 2.0 {
                    v.sqrt()
                } else {
                    v.powf(inv)
                };
            }
        });
    y
}

/// Lp pooling backward for a finite `p > 0`, given the input `x`, the
/// forward output `y` and the output gradient `dy`.
///
/// # Panics
/// If a slice length does not match the geometry (an internal invariant:
/// the functional API builds both from the same shapes).
pub fn backward<F: Float>(x: &[F], y: &[F], dy: &[F], g: &Geometry, p: f64, par: Par) -> Vec<F> {
    assert_eq!(
        y.len(),
        dy.len(),
        "lp_pool backward: output and gradient lengths differ"
    );
    let one_minus_p = F::cast(1.0 - p);
    let c: Vec<F> = y
        .iter()
        .zip(dy)
        .map(|(&yv, &gv)| {
            if yv == F::zero() {
                F::zero()
            } else {
                gv * yv.powf(one_minus_p)
            }
        })
        .collect();
    let mut dx = avg::backward(&c, g, Divisor::Override(1), par);
    let pm1 = F::cast(p - 1.0);
    for (d, &xv) in dx.iter_mut().zip(x) {
        *d = if xv == F::zero() {
            F::zero()
        } else {
            *d * xv.signum() * xv.abs().powf(pm1)
        };
    }
    dx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LpPoolParams;

    #[test]
    fn forward_and_backward_on_a_hand_checked_row() {
        // p = 2 over [3, -4] and [0, 0]
        let g = LpPoolParams::new(2.0, &[2]).geometry(&[1, 4]).unwrap();
        let x = [3.0, -4.0, 0.0, 0.0];
        let y = forward(&x, &g, 2.0, Par::Seq);
        assert_eq!(y, vec![5.0, 0.0]);
        // d/dx sqrt(x0^2 + x1^2) = x / y; the zero window has gradient 0
        assert_eq!(
            backward(&x, &y, &[10.0, 1.0], &g, 2.0, Par::Seq),
            vec![6.0, -8.0, 0.0, 0.0]
        );
        // p = 3 over positive values: y = (1 + 8)^(1/3), dy/dx_i = x_i^2 / y^2
        let g = LpPoolParams::new(3.0, &[2]).geometry(&[1, 2]).unwrap();
        let y = forward(&[1.0, 2.0], &g, 3.0, Par::Seq);
        assert!((y[0] - 9f64.cbrt()).abs() < 1e-14);
        let dx = backward(&[1.0, 2.0], &y, &[1.0], &g, 3.0, Par::Seq);
        assert!((dx[1] - 4.0 / (y[0] * y[0])).abs() < 1e-14);
    }
}

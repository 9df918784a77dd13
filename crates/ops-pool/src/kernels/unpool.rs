//! Max unpooling: the partial inverse of max pooling. Every input value is
//! written at its index inside a zero output plane (`y[idx[i]] = x[i]`;
//! when indices repeat, the last write wins, where PyTorch is
//! nondeterministic). Backward is the gather `dx[i] = dy[idx[i]]` (PyTorch's
//! rule), whose adjoint, the scatter-add, is its double backward.

use core_tensor::chunks::init_chunks;
use core_tensor::{Float, Par};

use crate::geometry::UnpoolGeometry;

/// Max unpooling forward: `y[plane, idx[i]] = x[i]` on zeros. `idx` must be valid
/// ([`UnpoolGeometry::validate`]).
///
/// # Panics
/// If a slice length does not match the geometry (an internal invariant:
/// the functional API builds both from the same shapes).
pub fn forward<F: Float>(x: &[F], idx: &[i64], g: &UnpoolGeometry, par: Par) -> Vec<F> {
    let (pin, pout) = (g.plane_in(), g.plane_out());
    assert!(
        x.len() == g.planes() * pin && idx.len() == x.len(),
        "max_unpool forward: lengths do not match the geometry"
    );
    let n = g.planes() * pout;
    init_chunks(par.for_work(n), n, pout, F::zero(), |p, yp| {
        for (&v, &i) in x[p * pin..(p + 1) * pin]
            .iter()
            .zip(&idx[p * pin..(p + 1) * pin])
        {
            yp[i as usize] = v;
        }
    })
}

/// Max unpooling backward: `dx[i] = dy[plane, idx[i]]`.
///
/// # Panics
/// If a slice length does not match the geometry (an internal invariant:
/// the functional API builds both from the same shapes).
pub fn gather<F: Float>(dy: &[F], idx: &[i64], g: &UnpoolGeometry, par: Par) -> Vec<F> {
    let (pin, pout) = (g.plane_in(), g.plane_out());
    assert!(
        dy.len() == g.planes() * pout && idx.len() == g.planes() * pin,
        "max_unpool gather: lengths do not match the geometry"
    );
    let n = g.planes() * pin;
    init_chunks(par.for_work(n), n, pin, F::zero(), |p, dxp| {
        let dyp = &dy[p * pout..(p + 1) * pout];
        for (d, &i) in dxp.iter_mut().zip(&idx[p * pin..(p + 1) * pin]) {
            *d = dyp[i as usize];
        }
    })
}

/// The adjoint of [`gather`]: `y[plane, idx[i]] += v[i]`.
///
/// # Panics
/// If a slice length does not match the geometry (an internal invariant:
/// the functional API builds both from the same shapes).
pub fn scatter_add<F: Float>(v: &[F], idx: &[i64], g: &UnpoolGeometry, par: Par) -> Vec<F> {
    let (pin, pout) = (g.plane_in(), g.plane_out());
    assert!(
        v.len() == g.planes() * pin && idx.len() == v.len(),
        "max_unpool scatter_add: lengths do not match the geometry"
    );
    let n = g.planes() * pout;
    init_chunks(par.for_work(n), n, pout, F::zero(), |p, yp| {
        for (&val, &i) in v[p * pin..(p + 1) * pin]
            .iter()
            .zip(&idx[p * pin..(p + 1) * pin])
        {
            yp[i as usize] += val;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::MaxUnpoolParams;

    #[test]
    fn scatter_and_gather() {
        let p = MaxUnpoolParams::new(&[2]);
        let g = UnpoolGeometry::new("t", &[1, 2], &p).unwrap();
        let idx = [1i64, 2];
        assert_eq!(
            forward(&[5.0, 7.0], &idx, &g, Par::Seq),
            vec![0.0, 5.0, 7.0, 0.0]
        );
        assert_eq!(
            gather(&[1.0, 2.0, 3.0, 4.0], &idx, &g, Par::Seq),
            vec![2.0, 3.0]
        );
        assert_eq!(
            scatter_add(&[1.0, 2.0], &[3, 3], &g, Par::Seq),
            vec![0.0, 0.0, 0.0, 3.0]
        );
    }
}

//! The bias gradient: `db[o] = Σ_n Σ_p dY[n, o, p]`.

use core_tensor::lanes::lane_sum;
use core_tensor::{Float, Par};

use crate::ConvGeom;

/// Sums `dy` `(n, cout, positions)` over samples and positions, per output
/// channel: each channel's rows summed over vector lanes in a fixed order,
/// then added sample by sample, so the result does not depend on the
/// threads (channels are independent tasks).
pub(crate) fn backward_bias<F: Float>(dy: &[F], geom: &ConvGeom, par: Par) -> Vec<F> {
    let l = geom.positions();
    let work = geom.n * geom.cout * l;
    par.for_work(work).map_range(geom.cout, |o| {
        (0..geom.n).fold(F::zero(), |acc, n| {
            acc + lane_sum(&dy[(n * geom.cout + o) * l..][..l], F::zero())
        })
    })
}

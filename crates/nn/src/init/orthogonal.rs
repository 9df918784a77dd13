//! The orthonormal factor of a QR decomposition, for `orthogonal_`.

/// Orthonormalizes the `n` columns of the row-major `m × n` matrix `a`
/// (`m >= n`) in place: the `Q` of `a = QR` whose `R` has a positive
/// diagonal, which is what PyTorch's `orthogonal_` makes of
/// `torch.linalg.qr` by flipping signs with `sign(diag(R))`.
///
/// Modified Gram–Schmidt, each column projected twice against the
/// previous ones so the result is orthonormal to rounding. Returns `false`
/// when a column is (numerically) dependent on the previous ones, which
/// for Gaussian draws happens with probability zero.
pub(crate) fn orthonormalize_columns(a: &mut [f64], m: usize, n: usize) -> bool {
    for j in 0..n {
        let start: f64 = (0..m)
            .map(|r| a[r * n + j] * a[r * n + j])
            .sum::<f64>()
            .sqrt();
        for _pass in 0..2 {
            for k in 0..j {
                let dot: f64 = (0..m).map(|r| a[r * n + k] * a[r * n + j]).sum();
                for r in 0..m {
                    a[r * n + j] -= dot * a[r * n + k];
                }
            }
        }
        let norm: f64 = (0..m)
            .map(|r| a[r * n + j] * a[r * n + j])
            .sum::<f64>()
            .sqrt();
        if norm.is_nan() || norm <= 1e-10 * start {
            return false;
        }
        for r in 0..m {
            a[r * n + j] /= norm;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gives_q_with_positive_r_diagonal() {
        // A = [[3, 1], [4, 2]]: q1 = (0.6, 0.8); the second column minus its
        // projection (2.2) is (1 - 1.32, 2 - 1.76) = (-0.32, 0.24), norm 0.4.
        let mut a = vec![3.0, 1.0, 4.0, 2.0];
        assert!(orthonormalize_columns(&mut a, 2, 2));
        let want = [0.6, -0.8, 0.8, 0.6];
        for (g, w) in a.iter().zip(want) {
            assert!((g - w).abs() < 1e-15, "{a:?}");
        }
    }

    #[test]
    fn dependent_columns_are_reported() {
        let mut a = vec![1.0, 2.0, 2.0, 4.0, 3.0, 6.0];
        assert!(!orthonormalize_columns(&mut a, 3, 2));
    }
}

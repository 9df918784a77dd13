//! [`NormOptions`]: the constructor settings of batch and instance norm.

/// Settings shared by batch and instance norm (`eps`, `momentum`, `affine`,
/// `track_running_stats`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NormOptions {
    /// Added to the variance before the square root (default 1e-5).
    pub eps: f64,
    /// Weight of each batch in the running statistics (default `Some(0.1)`);
    /// `None` makes them a cumulative average over `num_batches_tracked`
    /// (batch norm) or disables the update (instance norm, as in PyTorch).
    pub momentum: Option<f64>,
    /// Learnable per-channel `weight` (ones) and `bias` (zeros).
    pub affine: bool,
    /// Keep `running_mean`, `running_var` and `num_batches_tracked` buffers.
    pub track_running_stats: bool,
}

impl NormOptions {
    /// `BatchNorm*d`'s defaults: eps 1e-5, momentum 0.1, affine, tracked.
    pub fn batch_norm() -> Self {
        Self {
            eps: 1e-5,
            momentum: Some(0.1),
            affine: true,
            track_running_stats: true,
        }
    }

    /// `InstanceNorm*d`'s defaults: eps 1e-5, momentum 0.1, no affine, not tracked.
    pub fn instance_norm() -> Self {
        Self {
            affine: false,
            track_running_stats: false,
            ..Self::batch_norm()
        }
    }

    /// Sets `eps`.
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// Sets `momentum` (`None` for the cumulative average).
    pub fn momentum(mut self, m: Option<f64>) -> Self {
        self.momentum = m;
        self
    }

    /// Sets `affine`.
    pub fn affine(mut self, a: bool) -> Self {
        self.affine = a;
        self
    }

    /// Sets `track_running_stats`.
    pub fn track_running_stats(mut self, t: bool) -> Self {
        self.track_running_stats = t;
        self
    }
}

//! Pooling modules over the ops of `ops-pool`, with PyTorch's constructor
//! defaults: `MaxPool1d/2d/3d`, `AvgPool1d/2d/3d`, `LPPool1d/2d/3d`,
//! `AdaptiveAvgPool1d/2d/3d`, `AdaptiveMaxPool1d/2d/3d` (modules) and
//! `MaxUnpool1d/2d/3d` (a layer taking indices, so not a [`Module`]).
//!
//! Inputs are `(N, C, *spatial)` or unbatched `(C, *spatial)` with `D`
//! spatial axes; the ops check ranks and parameters and report a typed
//! [`ops_pool::PoolError`] (wrapped in [`NnError::Pool`]).

use autograd::Var;
use core_tensor::{Float, Tensor};
use ops_pool::{AvgPoolParams, LpPoolParams, MaxPoolParams, MaxUnpoolParams};

use super::module_parts::{dim_name, training_flag};
use crate::module::Module;
use crate::{NnError, Result};

fn check_len(module: &'static str, param: &'static str, got: usize, d: usize) -> Result<()> {
    if got != d {
        return Err(NnError::config(
            module,
            param,
            format!("{param} has {got} entries, expected {d} (one per spatial axis)"),
        ));
    }
    Ok(())
}

/// A builder method that sets the same value on every spatial axis of the
/// module's `params` (whose own method takes one value per axis).
macro_rules! same_on_every_axis {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub fn $name(mut self, value: usize) -> Self {
            self.params = self.params.$name(&[value; D]);
            self
        }
    };
}

/// The 1-d, 2-d and 3-d aliases of a pool module and its PyTorch class
/// names (`NAME`, for messages).
macro_rules! dim_aliases {
    ($name:ident as [$n1:literal, $n2:literal, $n3:literal], [$a1:ident, $a2:ident, $a3:ident]) => {
        #[doc = concat!("`torch.nn.", $n1, "`.")]
        pub type $a1 = $name<1>;
        #[doc = concat!("`torch.nn.", $n2, "`.")]
        pub type $a2 = $name<2>;
        #[doc = concat!("`torch.nn.", $n3, "`.")]
        pub type $a3 = $name<3>;

        impl<const D: usize> $name<D> {
            const NAME: [&'static str; 3] = [$n1, $n2, $n3];
        }
    };
}

/// The parts every sliding-window pool module shares: the struct (op
/// parameters and the training flag), its 1-d/2-d/3-d aliases, PyTorch's
/// class names, `ceil_mode`, and the [`Module`] impl that calls the
/// functional op. With `kernel_new`, also the constructors from one kernel
/// size (`new`) and from full parameters (`from_params`), and `params`.
macro_rules! window_pool {
    (
        $(#[$doc:meta])*
        $name:ident($params:ty) as [$n1:literal, $n2:literal, $n3:literal],
        aliases [$a1:ident, $a2:ident, $a3:ident],
        forward $op:path
        $(, $kernel_new:ident)?
    ) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $name<const D: usize> {
            params: $params,
            training: bool,
        }

        dim_aliases!($name as [$n1, $n2, $n3], [$a1, $a2, $a3]);

        impl<const D: usize> $name<D> {
            /// `ceil_mode`.
            pub fn ceil_mode(mut self, c: bool) -> Self {
                self.params = self.params.ceil_mode(c);
                self
            }
        }

        $(window_pool!(@$kernel_new $name($params));)?

        impl<F: Float, const D: usize> Module<F> for $name<D> {
            fn type_name(&self) -> &'static str {
                dim_name(Self::NAME, D)
            }

            fn forward(&mut self, x: &Var<F>) -> Result<Var<F>> {
                Ok($op(x, &self.params)?)
            }

            training_flag!();
        }
    };
    (@kernel_new $name:ident($params:ty)) => {
        impl<const D: usize> $name<D> {
            /// A square (cubic) window of size `kernel` with PyTorch's defaults.
            pub fn new(kernel: usize) -> Self {
                Self {
                    params: <$params>::new(&[kernel; D]),
                    training: true,
                }
            }

            /// Full control over per-axis parameters.
            ///
            /// # Errors
            /// [`NnError::InvalidConfig`] when `kernel_size` does not have `D` entries.
            pub fn from_params(params: $params) -> Result<Self> {
                check_len(dim_name(Self::NAME, D), "kernel_size", params.kernel_size.len(), D)?;
                Ok(Self {
                    params,
                    training: true,
                })
            }

            /// The op parameters.
            pub fn params(&self) -> &$params {
                &self.params
            }
        }
    };
}

/// An adaptive pool module: the struct (output size and the training
/// flag), its aliases and class names, the constructors, and the
/// [`Module`] impl that calls the functional op.
macro_rules! adaptive_pool {
    (
        $(#[$doc:meta])*
        $name:ident as [$n1:literal, $n2:literal, $n3:literal],
        aliases [$a1:ident, $a2:ident, $a3:ident],
        forward $op:path
    ) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $name<const D: usize> {
            output_size: [Option<usize>; D],
            training: bool,
        }

        dim_aliases!($name as [$n1, $n2, $n3], [$a1, $a2, $a3]);

        impl<const D: usize> $name<D> {
            /// The same output size on every axis.
            pub fn new(size: usize) -> Self {
                Self::with_sizes([Some(size); D])
            }

            /// Per-axis output sizes (`None` keeps the input size).
            pub fn with_sizes(output_size: [Option<usize>; D]) -> Self {
                Self {
                    output_size,
                    training: true,
                }
            }
        }

        impl<F: Float, const D: usize> Module<F> for $name<D> {
            fn type_name(&self) -> &'static str {
                dim_name(Self::NAME, D)
            }

            fn forward(&mut self, x: &Var<F>) -> Result<Var<F>> {
                Ok($op(x, &self.output_size)?)
            }

            training_flag!();
        }
    };
}

window_pool!(
    /// Max pooling over `D` spatial axes (`torch.nn.MaxPool{D}d(kernel_size,
    /// stride=None, padding=0, dilation=1, return_indices=False,
    /// ceil_mode=False)`); `stride` defaults to the kernel size. Padding acts
    /// as minus infinity; ties pick the first maximum, NaN propagates.
    MaxPool(MaxPoolParams) as ["MaxPool1d", "MaxPool2d", "MaxPool3d"],
    aliases [MaxPool1d, MaxPool2d, MaxPool3d],
    forward ops_pool::max_pool,
    kernel_new
);

impl<const D: usize> MaxPool<D> {
    same_on_every_axis!(
        /// The same stride on every axis.
        stride
    );

    same_on_every_axis!(
        /// The same symmetric padding on every axis.
        padding
    );

    same_on_every_axis!(
        /// The same dilation on every axis.
        dilation
    );

    /// The pooled values and PyTorch's `i64` indices (`return_indices=True`),
    /// for [`MaxUnpool`].
    ///
    /// # Errors
    /// The op's [`ops_pool::PoolError`].
    pub fn forward_with_indices<F: Float>(&self, x: &Var<F>) -> Result<(Var<F>, Tensor<i64>)> {
        Ok(ops_pool::max_pool_with_indices(x, &self.params)?)
    }
}

window_pool!(
    /// Average pooling over `D` spatial axes (`torch.nn.AvgPool{D}d(kernel_size,
    /// stride=None, padding=0, ceil_mode=False, count_include_pad=True,
    /// divisor_override=None)`). PyTorch's `AvgPool1d` has no
    /// `divisor_override`; here every rank accepts it.
    AvgPool(AvgPoolParams) as ["AvgPool1d", "AvgPool2d", "AvgPool3d"],
    aliases [AvgPool1d, AvgPool2d, AvgPool3d],
    forward ops_pool::avg_pool,
    kernel_new
);

impl<const D: usize> AvgPool<D> {
    same_on_every_axis!(
        /// The same stride on every axis.
        stride
    );

    same_on_every_axis!(
        /// The same symmetric zero padding on every axis.
        padding
    );

    /// `count_include_pad`.
    pub fn count_include_pad(mut self, c: bool) -> Self {
        self.params = self.params.count_include_pad(c);
        self
    }

    /// `divisor_override`.
    pub fn divisor_override(mut self, d: Option<i64>) -> Self {
        self.params = self.params.divisor_override(d);
        self
    }
}

window_pool!(
    /// Power-average pooling (`torch.nn.LPPool{D}d(norm_type, kernel_size,
    /// stride=None, ceil_mode=False)`): `(Σ_window x^p)^(1/p)`.
    ///
    /// Note: `ops-pool` pools `|x|^p` (ONNX's definition), equal to PyTorch for
    /// non-negative inputs and full windows; PyTorch gives NaN for odd `p` on
    /// negative sums and rescales partial ceil-mode windows.
    LpPool(LpPoolParams) as ["LPPool1d", "LPPool2d", "LPPool3d"],
    aliases [LPPool1d, LPPool2d, LPPool3d],
    forward ops_pool::lp_pool
);

impl<const D: usize> LpPool<D> {
    /// Norm `norm_type` over a square (cubic) window of size `kernel`.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] when `norm_type` is NaN, zero or negative.
    pub fn new(norm_type: f64, kernel: usize) -> Result<Self> {
        Self::from_params(LpPoolParams::new(norm_type, &[kernel; D]))
    }

    /// Full control over per-axis parameters.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] when `kernel_size` does not have `D`
    /// entries or `norm_type` is not positive.
    pub fn from_params(params: LpPoolParams) -> Result<Self> {
        let name = dim_name(Self::NAME, D);
        check_len(name, "kernel_size", params.kernel_size.len(), D)?;
        if params.norm_type.is_nan() || params.norm_type <= 0.0 {
            return Err(NnError::config(
                name,
                "norm_type",
                format!(
                    "norm_type must be a positive number or +inf, but got {}",
                    params.norm_type
                ),
            ));
        }
        Ok(Self {
            params,
            training: true,
        })
    }

    same_on_every_axis!(
        /// The same stride on every axis.
        stride
    );
}

adaptive_pool!(
    /// Adaptive average pooling to a fixed output size
    /// (`torch.nn.AdaptiveAvgPool{D}d(output_size)`); a `None` entry keeps that
    /// axis' input size.
    AdaptiveAvgPool as ["AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d"],
    aliases [AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d],
    forward ops_pool::adaptive_avg_pool
);

adaptive_pool!(
    /// Adaptive max pooling to a fixed output size
    /// (`torch.nn.AdaptiveMaxPool{D}d(output_size, return_indices=False)`).
    AdaptiveMaxPool as ["AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d"],
    aliases [AdaptiveMaxPool1d, AdaptiveMaxPool2d, AdaptiveMaxPool3d],
    forward ops_pool::adaptive_max_pool
);

impl<const D: usize> AdaptiveMaxPool<D> {
    /// The pooled values and PyTorch's `i64` indices (`return_indices=True`).
    ///
    /// # Errors
    /// The op's [`ops_pool::PoolError`].
    pub fn forward_with_indices<F: Float>(&self, x: &Var<F>) -> Result<(Var<F>, Tensor<i64>)> {
        Ok(ops_pool::adaptive_max_pool_with_indices(
            x,
            &self.output_size,
        )?)
    }
}

/// The partial inverse of max pooling (`torch.nn.MaxUnpool{D}d(kernel_size,
/// stride=None, padding=0)`), called with the indices of
/// [`MaxPool::forward_with_indices`]. It takes two inputs, so it is a plain
/// layer rather than a single-input [`Module`]; it has no parameters.
#[derive(Clone, Debug)]
pub struct MaxUnpool<const D: usize> {
    params: MaxUnpoolParams,
}

/// `torch.nn.MaxUnpool1d`.
pub type MaxUnpool1d = MaxUnpool<1>;
/// `torch.nn.MaxUnpool2d`.
pub type MaxUnpool2d = MaxUnpool<2>;
/// `torch.nn.MaxUnpool3d`.
pub type MaxUnpool3d = MaxUnpool<3>;

impl<const D: usize> MaxUnpool<D> {
    /// Inverts a max pooling with a square (cubic) window of size `kernel`
    /// (stride = kernel, no padding).
    pub fn new(kernel: usize) -> Self {
        Self {
            params: MaxUnpoolParams::new(&[kernel; D]),
        }
    }

    same_on_every_axis!(
        /// The same stride on every axis.
        stride
    );

    same_on_every_axis!(
        /// The same symmetric padding on every axis.
        padding
    );

    /// Writes every `x[i]` at `indices[i]` of a zero output of the default
    /// size `(L - 1)·stride - 2·padding + kernel` per axis, or of
    /// `output_size` (spatial sizes only) when given.
    ///
    /// # Errors
    /// The op's [`ops_pool::PoolError`]: indices of another shape or out of
    /// range, an output size outside `(default - stride, default + stride)`.
    pub fn forward<F: Float>(
        &self,
        x: &Var<F>,
        indices: &Tensor<i64>,
        output_size: Option<&[usize]>,
    ) -> Result<Var<F>> {
        let mut p = self.params.clone();
        if let Some(s) = output_size {
            p = p.output_size(s);
        }
        Ok(ops_pool::max_unpool(x, indices, &p)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooling_modules_follow_pytorch_defaults() {
        let x = Var::constant(
            Tensor::from_vec(&[1, 1, 4, 4], (0..16).map(f64::from).collect()).unwrap(),
        );
        let mut mp = MaxPool2d::new(2);
        let y = Module::<f64>::forward(&mut mp, &x).unwrap();
        assert_eq!(y.value().as_slice(), &[5., 7., 13., 15.]);
        let mut ap = AvgPool2d::new(2);
        let y = Module::<f64>::forward(&mut ap, &x).unwrap();
        assert_eq!(y.value().as_slice(), &[2.5, 4.5, 10.5, 12.5]);
        let mut aap = AdaptiveAvgPool2d::new(1);
        assert_eq!(
            Module::<f64>::forward(&mut aap, &x)
                .unwrap()
                .value()
                .as_slice(),
            &[7.5]
        );
        let mut amp = AdaptiveMaxPool2d::with_sizes([Some(1), None]);
        assert_eq!(
            Module::<f64>::forward(&mut amp, &x)
                .unwrap()
                .value()
                .as_slice(),
            &[12., 13., 14., 15.]
        );
        let mut lp = LPPool2d::new(1.0, 2).unwrap();
        assert_eq!(
            Module::<f64>::forward(&mut lp, &x)
                .unwrap()
                .value()
                .as_slice(),
            &[10., 18., 42., 50.]
        );
        let (y, idx) = mp.forward_with_indices(&x).unwrap();
        let up = MaxUnpool2d::new(2).forward(&y, &idx, None).unwrap();
        assert_eq!(up.shape(), vec![1, 1, 4, 4]);
        assert_eq!(up.value().as_slice()[5], 5.0);
        assert_eq!(up.value().as_slice()[4], 0.0);
        assert!(LPPool1d::new(0.0, 2).is_err());
    }

    #[test]
    fn pooling_rank_errors_are_typed() {
        let mut mp = MaxPool2d::new(2);
        let err =
            Module::<f64>::forward(&mut mp, &Var::constant(Tensor::zeros(&[4, 4]))).unwrap_err();
        assert!(matches!(err, NnError::Pool(_)), "{err}");
        assert!(err.to_string().contains("rank"), "{err}");
    }
}

//! Convolution kernels: pure functions over contiguous row-major slices and
//! a checked [`ConvGeom`], with an explicit [`Par`], so that each can be
//! tested without a graph and forced sequential for a differential test.
//!
//! - [`conv_forward`], [`conv_backward_input`], [`conv_backward_weight`]:
//!   matrix products over the unfolded input (`im2col`), tile by tile
//!   (`unfolded`); a pointwise convolution multiplies the input directly.
//!   A forward with stride 1 and few unfolded rows (a first layer over one
//!   to a few input channels) sums shifted input planes instead (`direct`).
//! - [`conv_backward_bias`]: per-channel sums of the output gradient.
//!
//! Every kernel gives bitwise the same result for [`Par::Seq`] and
//! [`Par::Rayon`] on any number of threads: work is split by the problem's
//! size alone, and every sum runs in a fixed order.

mod bias;
mod direct;
mod im2col;
mod unfolded;

use core_tensor::{Float, Par};

use crate::ConvGeom;

pub(crate) use im2col::{col2im_tile, im2col_tile, pad_planes, runs, unpad_planes};

/// `y = conv(x, w) + b`: `x` `(n, c, *input)`, `w` `(cout, c / groups,
/// *kernel)`, optional `b` `(cout)`; returns `(n, cout, *output)`.
///
/// # Panics
/// If a slice is shorter than `geom` says.
pub fn conv_forward<F: Float>(
    x: &[F],
    w: &[F],
    b: Option<&[F]>,
    geom: &ConvGeom,
    par: Par,
) -> Vec<F> {
    check_len("x", x, geom.input_shape());
    check_len("w", w, geom.weight_shape());
    if let Some(b) = b {
        check_len("b", b, vec![geom.cout]);
    }
    if direct::applies(geom) {
        direct::forward(x, w, b, geom, par)
    } else {
        unfolded::forward(x, w, b, geom, par)
    }
}

/// The gradient of the input, `(n, c, *input)`, from the output gradient
/// `dy` `(n, cout, *output)` and `w`: the transposed convolution of `dy`.
///
/// # Panics
/// If a slice is shorter than `geom` says.
pub fn conv_backward_input<F: Float>(dy: &[F], w: &[F], geom: &ConvGeom, par: Par) -> Vec<F> {
    check_len("dy", dy, geom.output_shape());
    check_len("w", w, geom.weight_shape());
    unfolded::backward_input(dy, w, geom, par)
}

/// The gradient of the weight, `(cout, c / groups, *kernel)`, from `dy` and
/// the input `x`.
///
/// # Panics
/// If a slice is shorter than `geom` says.
pub fn conv_backward_weight<F: Float>(dy: &[F], x: &[F], geom: &ConvGeom, par: Par) -> Vec<F> {
    check_len("dy", dy, geom.output_shape());
    check_len("x", x, geom.input_shape());
    unfolded::backward_weight(dy, x, geom, par)
}

/// The gradient of the bias, `(cout)`: `dy` summed over samples and
/// positions.
///
/// # Panics
/// If `dy` is shorter than `geom` says.
pub fn conv_backward_bias<F: Float>(dy: &[F], geom: &ConvGeom, par: Par) -> Vec<F> {
    check_len("dy", dy, geom.output_shape());
    bias::backward_bias(dy, geom, par)
}

fn check_len<F>(what: &str, s: &[F], shape: Vec<usize>) {
    let need: usize = shape.iter().product();
    assert_eq!(
        s.len(),
        need,
        "{what} holds {} elements, shape {shape:?} needs {need}",
        s.len()
    );
}

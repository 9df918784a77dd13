//! Losses: `cross_entropy` (fused log-softmax + NLL) and `nll_loss`, with
//! PyTorch's class weights, `ignore_index`, reductions and (for
//! cross-entropy) label smoothing; the elementwise regression losses
//! `mse_loss`, `l1_loss`, `smooth_l1_loss` and `huber_loss` (broadcasting
//! input and target as PyTorch does); `binary_cross_entropy`,
//! `binary_cross_entropy_with_logits` and `kl_div`.

mod bce;
mod bce_with_logits;
mod cross_entropy;
#[cfg(test)]
mod elementwise_reference;
mod huber;
mod kl_div;
mod l1;
mod mse;
mod nll;
mod pointwise;
mod robust;
mod rows;
mod smooth_l1;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_elementwise;

pub use bce::{BCELoss, binary_cross_entropy};
pub use bce_with_logits::{BCEWithLogitsLoss, binary_cross_entropy_with_logits};
pub use cross_entropy::{CrossEntropyOptions, cross_entropy, cross_entropy_with};
pub use huber::{HuberLoss, huber_loss};
pub use kl_div::{KLDivLoss, KlDivReduction, kl_div};
pub use l1::{L1Loss, l1_loss};
pub use mse::{MSELoss, mse_loss};
pub use nll::{NllOptions, nll_loss, nll_loss_with};
pub use smooth_l1::{SmoothL1Loss, smooth_l1_loss};

/// How per-element losses are combined (`reduction=` in PyTorch).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reduction {
    /// The average over all elements (PyTorch's default).
    #[default]
    Mean,
    /// The sum over all elements.
    Sum,
    /// No reduction: one loss per element.
    None,
}

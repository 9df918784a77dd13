//! Losses: `cross_entropy` (fused log-softmax + NLL) and `nll_loss`, with
//! PyTorch's class weights, `ignore_index`, reductions and (for
//! cross-entropy) label smoothing; `mse_loss`.

mod cross_entropy;
mod mse;
mod nll;
mod rows;
#[cfg(test)]
mod tests;

pub use cross_entropy::{CrossEntropyOptions, cross_entropy, cross_entropy_with};
pub use mse::mse_loss;
pub use nll::{NllOptions, nll_loss, nll_loss_with};

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

//! Pieces that every layer's [`Module`](crate::Module) impl shares: the
//! training flag accessors and the `weight` / `bias` parameter list.

use autograd::Var;
use core_tensor::Float;

/// Implements [`Module::is_training`](crate::Module::is_training) and
/// [`Module::set_training_flag`](crate::Module::set_training_flag) over a
/// `training: bool` field. Used inside an `impl Module<F> for …` block.
macro_rules! training_flag {
    () => {
        fn is_training(&self) -> bool {
            self.training
        }

        fn set_training_flag(&mut self, training: bool) {
            self.training = training;
        }
    };
}
pub(crate) use training_flag;

/// The parameters `weight` and `bias` that are present, in PyTorch's
/// registration order (weight first), for [`Module::own_parameters`](crate::Module::own_parameters).
pub(crate) fn weight_and_bias<F: Float>(
    weight: Option<&Var<F>>,
    bias: Option<&Var<F>>,
) -> Vec<(&'static str, Var<F>)> {
    let weight = weight.map(|w| ("weight", w.clone()));
    let bias = bias.map(|b| ("bias", b.clone()));
    weight.into_iter().chain(bias).collect()
}

/// PyTorch's class name for a `D`-dimensional layer, from its three names
/// (`["MaxPool1d", "MaxPool2d", "MaxPool3d"]`); for another `D`, the first
/// name without its `1d` suffix (`"MaxPool"`).
pub(crate) fn dim_name(names: [&'static str; 3], d: usize) -> &'static str {
    match names.get(d.wrapping_sub(1)) {
        Some(name) => name,
        None => names[0].trim_end_matches("1d"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core_tensor::Tensor;

    #[test]
    fn dim_name_picks_the_rank_or_drops_the_suffix() {
        let names = ["MaxPool1d", "MaxPool2d", "MaxPool3d"];
        assert_eq!(dim_name(names, 1), "MaxPool1d");
        assert_eq!(dim_name(names, 3), "MaxPool3d");
        assert_eq!(dim_name(names, 0), "MaxPool");
        assert_eq!(dim_name(names, 4), "MaxPool");
    }

    #[test]
    fn weight_and_bias_lists_what_is_present_weight_first() {
        let w = Var::leaf(Tensor::from_vec(&[1], vec![2.0f64]).unwrap());
        let b = Var::leaf(Tensor::from_vec(&[1], vec![3.0f64]).unwrap());
        let listed = |w: Option<&Var<f64>>, b: Option<&Var<f64>>| -> Vec<(&str, f64)> {
            weight_and_bias(w, b)
                .into_iter()
                .map(|(n, v)| (n, v.value().as_slice()[0]))
                .collect()
        };
        assert_eq!(listed(Some(&w), Some(&b)), [("weight", 2.0), ("bias", 3.0)]);
        assert_eq!(listed(Some(&w), None), [("weight", 2.0)]);
        assert_eq!(listed(None, Some(&b)), [("bias", 3.0)]);
        assert!(listed(None, None).is_empty());
    }
}

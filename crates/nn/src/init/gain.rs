//! PyTorch's gain table (`nn.init.calculate_gain`) and the fans of a
//! weight tensor (`_calculate_fan_in_and_fan_out`).

use crate::{NnError, Result};

/// The recommended gain for a nonlinearity, `nn.init.calculate_gain(
/// nonlinearity, param)`:
///
/// | nonlinearity | gain |
/// |---|---|
/// | `linear`, `conv1d`, `conv2d`, `conv3d`, `conv_transpose1d/2d/3d`, `sigmoid` | 1 |
/// | `tanh` | 5/3 |
/// | `relu` | √2 |
/// | `leaky_relu` | √(2 / (1 + s²)), `s = param` (default 0.01) |
/// | `selu` | 3/4 |
///
/// ```
/// use nn::init::calculate_gain;
/// assert_eq!(calculate_gain("tanh", None)?, 5.0 / 3.0);
/// assert_eq!(calculate_gain("leaky_relu", Some(1.0))?, 1.0);
/// assert!(calculate_gain("softmax", None).is_err());
/// # Ok::<(), nn::NnError>(())
/// ```
///
/// # Errors
/// [`NnError::InvalidConfig`] for a name outside the table or a
/// `leaky_relu` slope that is not a finite number.
pub fn calculate_gain(nonlinearity: &str, param: Option<f64>) -> Result<f64> {
    match nonlinearity {
        "linear" | "conv1d" | "conv2d" | "conv3d" | "conv_transpose1d" | "conv_transpose2d"
        | "conv_transpose3d" | "sigmoid" => Ok(1.0),
        "tanh" => Ok(5.0 / 3.0),
        "relu" => Ok(2f64.sqrt()),
        "leaky_relu" => {
            let s = param.unwrap_or(0.01);
            if !s.is_finite() {
                return Err(NnError::config(
                    "calculate_gain",
                    "param",
                    format!("negative_slope {s} is not a valid number"),
                ));
            }
            Ok((2.0 / (1.0 + s * s)).sqrt())
        }
        "selu" => Ok(0.75),
        other => Err(NnError::config(
            "calculate_gain",
            "nonlinearity",
            format!(
                "unsupported nonlinearity {other:?}; supported are linear, conv1d, conv2d, \
                 conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d, sigmoid, tanh, \
                 relu, leaky_relu and selu"
            ),
        )),
    }
}

/// Which fan scales a Kaiming initialization (`mode='fan_in'` keeps the
/// variance of the forward activations, `'fan_out'` that of the backward
/// gradients).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FanMode {
    /// `size(1) · Π size(2..)` (PyTorch's default).
    #[default]
    FanIn,
    /// `size(0) · Π size(2..)`.
    FanOut,
}

/// `(fan_in, fan_out)` of a weight of `shape`: `fan_in = shape[1] · r`,
/// `fan_out = shape[0] · r` with the receptive field `r = Π shape[2..]`
/// (`Linear` weights `(out, in)`, conv weights `(out, in / groups, *k)`).
///
/// # Errors
/// [`NnError::InvalidConfig`] naming `op` for fewer than 2 dimensions or a
/// product that overflows.
pub fn fan_in_and_fan_out(op: &'static str, shape: &[usize]) -> Result<(usize, usize)> {
    if shape.len() < 2 {
        return Err(NnError::config(
            op,
            "tensor",
            format!(
                "fan in and fan out can not be computed for a tensor with fewer than 2 \
                 dimensions (shape {shape:?})"
            ),
        ));
    }
    let overflow = || NnError::config(op, "tensor", format!("the fans of {shape:?} overflow"));
    let receptive = shape[2..]
        .iter()
        .try_fold(1usize, |acc, &k| acc.checked_mul(k))
        .ok_or_else(overflow)?;
    let fan_in = shape[1].checked_mul(receptive).ok_or_else(overflow)?;
    let fan_out = shape[0].checked_mul(receptive).ok_or_else(overflow)?;
    Ok((fan_in, fan_out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gain_table_is_pytorchs() {
        // torch.nn.init.calculate_gain for each entry.
        for name in [
            "linear",
            "conv1d",
            "conv2d",
            "conv3d",
            "conv_transpose2d",
            "sigmoid",
        ] {
            assert_eq!(calculate_gain(name, None).unwrap(), 1.0, "{name}");
        }
        assert_eq!(calculate_gain("tanh", None).unwrap(), 5.0 / 3.0);
        assert_eq!(
            calculate_gain("relu", None).unwrap(),
            std::f64::consts::SQRT_2
        );
        assert_eq!(calculate_gain("selu", None).unwrap(), 0.75);
        // calculate_gain('leaky_relu') = 1.4141428569978354,
        // calculate_gain('leaky_relu', 0.2) = 1.3867504905630728.
        assert_eq!(
            calculate_gain("leaky_relu", None).unwrap(),
            1.4141428569978354
        );
        assert_eq!(
            calculate_gain("leaky_relu", Some(0.2)).unwrap(),
            1.3867504905630728
        );
        assert!(calculate_gain("leaky_relu", Some(f64::NAN)).is_err());
        let err = calculate_gain("gelu", None).unwrap_err().to_string();
        assert!(err.contains("\"gelu\"") && err.contains("selu"), "{err}");
    }

    #[test]
    fn fans_follow_the_weight_layout() {
        assert_eq!(fan_in_and_fan_out("t", &[3, 5]).unwrap(), (5, 3));
        assert_eq!(fan_in_and_fan_out("t", &[16, 4, 3, 3]).unwrap(), (36, 144));
        assert_eq!(fan_in_and_fan_out("t", &[0, 4, 2]).unwrap(), (8, 0));
        assert!(fan_in_and_fan_out("t", &[7]).is_err());
        assert!(fan_in_and_fan_out("t", &[]).is_err());
        assert!(fan_in_and_fan_out("t", &[2, usize::MAX, 2]).is_err());
    }
}

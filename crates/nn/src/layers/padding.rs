//! Padding layers: `ZeroPad{1,2,3}d`, `ConstantPad{1,2,3}d`,
//! `ReflectionPad{1,2,3}d`, `ReplicationPad{1,2,3}d` and
//! `CircularPad{1,2,3}d`, over [`Var::pad_with`].

use autograd::{PadMode, Var};
use core_tensor::Float;

use super::module_parts::training_flag;
use crate::module::Module;
use crate::{NnError, Result};

/// Pads the last `D` axes of its input (`torch.nn.ReflectionPad2d(padding)`
/// and its siblings; the mode is chosen by the constructor). The sides are
/// given in PyTorch's order, last axis first: `(left, right)` for 1-d,
/// `(left, right, top, bottom)` for 2-d, then `(front, back)` for 3-d.
///
/// Reflect, replicate and circular padding take `(C, *)` or `(N, C, *)`
/// inputs with `D` trailing axes, as in PyTorch; constant padding takes any
/// input with at least `D` axes. No parameters; the same in training and
/// evaluation.
///
/// ```
/// use autograd::{PadMode, Var};
/// use core_tensor::Tensor;
/// use nn::{Module, Pad2d};
///
/// // torch.nn.ReflectionPad2d((1, 2, 0, 1)) on a 1×2×3 input.
/// let mut pad = Pad2d::with_sides(&[1, 2, 0, 1], PadMode::Reflect)?;
/// let x = Var::constant(Tensor::from_vec(&[1, 2, 3], (0..6).map(f64::from).collect())?);
/// let y = pad.forward(&x)?;
/// assert_eq!(y.shape(), vec![1, 3, 6]);
/// assert_eq!(&y.value().as_slice()[..6], &[1., 0., 1., 2., 1., 0.]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Pad<const D: usize> {
    /// `[before, after]` per padded axis, first padded axis first.
    pads: [[usize; 2]; D],
    mode: PadMode,
    training: bool,
}

/// Padding of the last axis.
pub type Pad1d = Pad<1>;
/// Padding of the last two axes.
pub type Pad2d = Pad<2>;
/// Padding of the last three axes.
pub type Pad3d = Pad<3>;

impl<const D: usize> Pad<D> {
    fn uniform(p: usize, mode: PadMode) -> Self {
        Self {
            pads: [[p, p]; D],
            mode,
            training: true,
        }
    }

    /// `ZeroPad{D}d(padding)`: `p` zeros on every side.
    pub fn zeros(p: usize) -> Self {
        Self::uniform(p, PadMode::Constant(0.0))
    }

    /// `ConstantPad{D}d(padding, value)`: `p` copies of `value` on every side.
    pub fn constant(p: usize, value: f64) -> Self {
        Self::uniform(p, PadMode::Constant(value))
    }

    /// `ReflectionPad{D}d(padding)`: the input mirrored about its edges.
    pub fn reflection(p: usize) -> Self {
        Self::uniform(p, PadMode::Reflect)
    }

    /// `ReplicationPad{D}d(padding)`: the edge values repeated.
    pub fn replication(p: usize) -> Self {
        Self::uniform(p, PadMode::Replicate)
    }

    /// `CircularPad{D}d(padding)`: the input wrapped around.
    pub fn circular(p: usize) -> Self {
        Self::uniform(p, PadMode::Circular)
    }

    /// The sides in PyTorch's order (last axis first), for any mode.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] unless `sides` has `2·D` entries.
    pub fn with_sides(sides: &[usize], mode: PadMode) -> Result<Self> {
        if sides.len() != 2 * D {
            return Err(NnError::config(
                "Pad",
                "padding",
                format!(
                    "padding has {} entries, expected {} (before and after for each of the last {D} axes, last axis first)",
                    sides.len(),
                    2 * D
                ),
            ));
        }
        let mut pads = [[0; 2]; D];
        for (i, side) in sides.chunks_exact(2).enumerate() {
            pads[D - 1 - i] = [side[0], side[1]];
        }
        Ok(Self {
            pads,
            mode,
            training: true,
        })
    }

    /// `[before, after]` per padded axis, in axis order.
    pub fn pads(&self) -> &[[usize; 2]; D] {
        &self.pads
    }

    /// The fill mode.
    pub fn mode(&self) -> PadMode {
        self.mode
    }
}

impl<F: Float, const D: usize> Module<F> for Pad<D> {
    fn type_name(&self) -> &'static str {
        let names: [&'static str; 3] = match self.mode {
            PadMode::Constant(0.0) => ["ZeroPad1d", "ZeroPad2d", "ZeroPad3d"],
            PadMode::Constant(_) => ["ConstantPad1d", "ConstantPad2d", "ConstantPad3d"],
            PadMode::Reflect => ["ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d"],
            PadMode::Replicate => ["ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d"],
            PadMode::Circular => ["CircularPad1d", "CircularPad2d", "CircularPad3d"],
        };
        super::module_parts::dim_name(names, D)
    }

    fn forward(&mut self, x: &Var<F>) -> Result<Var<F>> {
        let shape = x.shape();
        if shape.len() < D {
            return Err(NnError::input(
                Module::<F>::type_name(self),
                format!("with at least {D} axes to pad"),
                &shape,
            ));
        }
        Ok(x.pad_with(&self.pads, self.mode)?)
    }

    training_flag!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use core_tensor::Tensor;

    fn x(shape: &[usize]) -> Var<f64> {
        let n = shape.iter().product::<usize>();
        Var::leaf(Tensor::from_vec(shape, (0..n).map(|v| v as f64).collect()).unwrap())
    }

    #[test]
    fn layers_match_pytorch() {
        // torch.nn.ReplicationPad1d((0, 2)) and CircularPad1d(1) on [0 1 2].
        let mut rep = Pad1d::with_sides(&[0, 2], PadMode::Replicate).unwrap();
        let y = Module::<f64>::forward(&mut rep, &x(&[1, 3])).unwrap();
        assert_eq!(y.value().as_slice(), &[0., 1., 2., 2., 2.]);
        let mut circ = Pad1d::circular(1);
        let y = Module::<f64>::forward(&mut circ, &x(&[1, 3])).unwrap();
        assert_eq!(y.value().as_slice(), &[2., 0., 1., 2., 0.]);
        // torch.nn.ConstantPad1d((1, 0), -2.0) on a (2, 3, 4, 5) input pads
        // only the last axis, whatever the rank.
        let mut cst = Pad1d::with_sides(&[1, 0], PadMode::Constant(-2.0)).unwrap();
        let y = Module::<f64>::forward(&mut cst, &x(&[2, 3, 4, 5])).unwrap();
        assert_eq!(y.shape(), vec![2, 3, 4, 6]);
        assert_eq!(&y.value().as_slice()[..3], &[-2., 0., 1.]);
        // ZeroPad2d(1) on a 1×1×1 input.
        let mut zero = Pad2d::zeros(1);
        let y =
            Module::<f64>::forward(&mut zero, &Var::constant(Tensor::ones(&[1, 1, 1]))).unwrap();
        assert_eq!(y.value().as_slice(), &[0., 0., 0., 0., 1., 0., 0., 0., 0.]);
    }

    #[test]
    fn names_sides_and_errors() {
        assert_eq!(Module::<f64>::type_name(&Pad2d::zeros(1)), "ZeroPad2d");
        assert_eq!(
            Module::<f64>::type_name(&Pad3d::constant(1, 0.5)),
            "ConstantPad3d"
        );
        assert_eq!(
            Module::<f64>::type_name(&Pad1d::replication(1)),
            "ReplicationPad1d"
        );
        // (left, right, top, bottom): the last axis first.
        let sides = Pad2d::with_sides(&[1, 2, 3, 4], PadMode::Reflect).unwrap();
        assert_eq!(sides.pads(), &[[3, 4], [1, 2]]);
        assert!(Pad2d::with_sides(&[1, 2], PadMode::Reflect).is_err());
        // PyTorch: "Padding size 4 is not supported for 2D input tensor".
        let mut refl = Pad2d::reflection(1);
        assert!(matches!(
            Module::<f64>::forward(&mut refl, &x(&[3, 3])),
            Err(NnError::Autograd(_))
        ));
        // A reflect pad as large as the axis is an error, one less is not.
        let mut big = Pad1d::reflection(3);
        assert!(Module::<f64>::forward(&mut big, &x(&[1, 3])).is_err());
        assert!(Module::<f64>::forward(&mut big, &x(&[1, 4])).is_ok());
        let mut three = Pad3d::zeros(1);
        assert!(matches!(
            Module::<f64>::forward(&mut three, &x(&[2, 2])),
            Err(NnError::BadInput { .. })
        ));
    }

    #[test]
    fn gradients_flow_back_to_the_input() {
        let input = x(&[1, 1, 3]);
        let mut refl = Pad1d::reflection(2);
        let y = Module::<f64>::forward(&mut refl, &input).unwrap();
        // 2 1 | 0 1 2 | 1 0: x0 read twice, x1 three times, x2 twice.
        y.sum_all().backward().unwrap();
        assert_eq!(input.grad().unwrap().as_slice(), &[2., 3., 2.]);
    }
}

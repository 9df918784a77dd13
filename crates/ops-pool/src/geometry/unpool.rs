//! The shapes of one max-unpooling call (`max_unpool1d/2d/3d`): the input
//! planes, the output size (the default `(L − 1)·stride + kernel −
//! padding`, or a requested `output_size` within a stride of it) and the
//! check of the indices.

use core_tensor::Tensor;

use crate::error::{PoolError, Result};
use crate::geometry::split_input;
use crate::params::{MaxUnpoolParams, broadcast, positive};

/// Shapes of one max-unpooling call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnpoolGeometry {
    lead: Vec<usize>,
    input: Vec<usize>,
    output: Vec<usize>,
    planes: usize,
}

impl UnpoolGeometry {
    /// Resolves the output size of unpooling an input of shape `shape`.
    ///
    /// # Errors
    /// Rank, parameter-length and range errors as [`PoolError`].
    pub fn new(op: &'static str, shape: &[usize], p: &MaxUnpoolParams) -> Result<Self> {
        let d = p.kernel_size.len();
        let (lead, input) = split_input(op, shape, d)?;
        let kernel = broadcast(op, "kernel_size", &p.kernel_size, d)?;
        let stride = match &p.stride {
            Some(s) if !s.is_empty() => broadcast(op, "stride", s, d)?,
            _ => kernel.clone(),
        };
        let padding = if p.padding.is_empty() {
            vec![[0, 0]; d]
        } else {
            broadcast(op, "padding", &p.padding, d)?
        };
        let mut output = Vec::with_capacity(d);
        for i in 0..d {
            positive(op, "kernel_size", i, kernel[i])?;
            positive(op, "stride", i, stride[i])?;
            let default = (input[i] - 1)
                .checked_mul(stride[i])
                .and_then(|v| v.checked_add(kernel[i]))
                .and_then(|v| v.checked_sub(padding[i][0]))
                .and_then(|v| v.checked_sub(padding[i][1]))
                .filter(|&v| v > 0)
                .ok_or_else(|| PoolError::InvalidParam {
                    op,
                    param: "padding",
                    axis: i,
                    value: format!("{:?}", padding[i]),
                    allowed: format!(
                        "the default output size (L_in - 1) * stride + kernel - before - after = ({} - 1) * {} + {} - {} - {} must be positive",
                        input[i], stride[i], kernel[i], padding[i][0], padding[i][1]
                    ),
                })?;
            output.push(default);
        }
        if let Some(req) = &p.output_size {
            let req = if req.len() == shape.len() {
                &req[shape.len() - d..]
            } else {
                &req[..]
            };
            if req.len() != d {
                return Err(PoolError::ParamLength {
                    op,
                    param: "output_size",
                    expected: d,
                    got: req.len(),
                });
            }
            for i in 0..d {
                let lo = output[i].saturating_sub(stride[i]);
                let hi = output[i].saturating_add(stride[i]);
                if req[i] <= lo || req[i] >= hi || req[i] == 0 {
                    return Err(PoolError::InvalidParam {
                        op,
                        param: "output_size",
                        axis: i,
                        value: req[i].to_string(),
                        allowed: format!(
                            "it must lie strictly between {lo} and {hi} (default {} ± stride {})",
                            output[i], stride[i]
                        ),
                    });
                }
                output[i] = req[i];
            }
        }
        let mut full = lead.clone();
        full.extend(&output);
        crate::geometry::check_alloc(op, &full)?;
        Ok(Self {
            planes: lead.iter().product(),
            lead,
            input,
            output,
        })
    }

    /// The geometry of a scatter from planes of `input` to planes of
    /// `output` (fractional max pooling's backward).
    pub(crate) fn from_shapes(lead: Vec<usize>, input: Vec<usize>, output: Vec<usize>) -> Self {
        Self {
            planes: lead.iter().product(),
            lead,
            input,
            output,
        }
    }

    /// Elements of one input plane.
    pub fn plane_in(&self) -> usize {
        self.input.iter().product()
    }
    /// Elements of one output plane.
    pub fn plane_out(&self) -> usize {
        self.output.iter().product()
    }
    /// Number of `(N, C)` planes.
    pub fn planes(&self) -> usize {
        self.planes
    }
    /// The full input shape.
    pub fn input_shape(&self) -> Vec<usize> {
        let mut s = self.lead.clone();
        s.extend(&self.input);
        s
    }
    /// The full output shape.
    pub fn output_shape(&self) -> Vec<usize> {
        let mut s = self.lead.clone();
        s.extend(&self.output);
        s
    }

    /// Checks that `indices` has the input's shape and every index lies in the output plane.
    ///
    /// # Errors
    /// [`PoolError::ShapeMismatch`], [`PoolError::IndexOutOfRange`].
    pub fn validate(&self, op: &'static str, indices: &Tensor<i64>) -> Result<()> {
        let want = self.input_shape();
        if indices.shape() != want.as_slice() {
            return Err(PoolError::ShapeMismatch {
                op,
                what: "indices",
                expected: want,
                got: indices.shape().to_vec(),
            });
        }
        let plane = self.plane_out();
        if let Some((position, &index)) = indices
            .as_slice()
            .iter()
            .enumerate()
            .find(|(_, i)| **i < 0 || **i as u128 >= plane as u128)
        {
            return Err(PoolError::IndexOutOfRange {
                op,
                index,
                position,
                plane,
                output: self.output.clone(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_index_checks() {
        let p = MaxUnpoolParams::new(&[2]);
        let g = UnpoolGeometry::new("t", &[1, 2], &p).unwrap();
        assert_eq!(g.output_shape(), vec![1, 4]);
        let idx = Tensor::from_vec(&[1, 2], vec![1i64, 2]).unwrap();
        g.validate("t", &idx).unwrap();
        // The default size minus/plus the stride bounds the explicit size.
        assert!(UnpoolGeometry::new("t", &[1, 2], &p.clone().output_size(&[5])).is_ok());
        assert!(UnpoolGeometry::new("t", &[1, 2], &p.clone().output_size(&[6])).is_err());
        assert!(UnpoolGeometry::new("t", &[1, 2], &p.clone().output_size(&[2])).is_err());
        let bad = Tensor::from_vec(&[1, 2], vec![0i64, 4]).unwrap();
        assert!(matches!(
            g.validate("t", &bad),
            Err(PoolError::IndexOutOfRange {
                index: 4,
                position: 1,
                ..
            })
        ));
    }
}

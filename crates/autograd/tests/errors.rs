//! Every bad argument to a basic op is a typed error with a message saying
//! what was wrong and what is allowed.
// `&[x.clone()]` reads better than `std::slice::from_ref(&x)` in tests.
#![allow(clippy::cloned_ref_to_slice_refs)]

use autograd::{AutogradError, Var};
use core_tensor::{Tensor, TensorError};

fn var(shape: &[usize]) -> Var<f64> {
    Var::leaf(Tensor::zeros(shape))
}

#[test]
fn axis_out_of_range() {
    let x = var(&[2, 3]);
    let e = x.sum(&[2], false).unwrap_err();
    assert!(matches!(
        e,
        AutogradError::AxisOutOfRange {
            op: "sum",
            axis: 2,
            ndim: 2
        }
    ));
    assert_eq!(
        e.to_string(),
        "sum: axis 2 is out of range for a tensor of rank 2 (allowed -2..2)"
    );
    assert_eq!(
        x.mean(&[-3], true).unwrap_err().to_string(),
        "mean: axis -3 is out of range for a tensor of rank 2 (allowed -2..2)"
    );
    assert_eq!(
        x.max_axis(5, false).unwrap_err().to_string(),
        "max: axis 5 is out of range for a tensor of rank 2 (allowed -2..2)"
    );
    assert_eq!(
        x.log_softmax(2).unwrap_err().to_string(),
        "log_softmax: axis 2 is out of range for a tensor of rank 2 (allowed -2..2)"
    );
    assert_eq!(
        x.transpose(0, 2).unwrap_err().to_string(),
        "transpose: axis 2 is out of range for a tensor of rank 2 (allowed -2..2)"
    );
    assert_eq!(
        x.narrow(-3, 0, 1).unwrap_err().to_string(),
        "narrow: axis -3 is out of range for a tensor of rank 2 (allowed -2..2)"
    );
    assert_eq!(
        Var::concat(&[x.clone()], 2).unwrap_err().to_string(),
        "concat: axis 2 is out of range for a tensor of rank 2 (allowed -2..2)"
    );
    assert_eq!(
        x.unsqueeze(3).unwrap_err().to_string(),
        "unsqueeze: axis 3 is out of range for a tensor of rank 2 (allowed -2..2)"
    );
    assert_eq!(
        x.flatten_from(3).unwrap_err().to_string(),
        "flatten: axis 3 is out of range for a tensor of rank 2 (allowed -2..2)"
    );
    let e = x.sum(&[0, -2], false).unwrap_err();
    assert_eq!(
        e.to_string(),
        "sum: invalid axes: axis listed twice in [0, -2]"
    );
}

#[test]
fn shape_mismatches() {
    let e = var(&[2, 3]).add(&var(&[4])).unwrap_err();
    assert!(matches!(
        e,
        AutogradError::Tensor(TensorError::ShapeMismatch { op: "add", .. })
    ));
    assert_eq!(e.to_string(), "add: expected shape [2, 3], got [4]");
    assert_eq!(
        var(&[3]).mul(&var(&[2])).unwrap_err().to_string(),
        "mul: expected shape [3], got [2]"
    );
    assert_eq!(
        var(&[3]).div(&var(&[2])).unwrap_err().to_string(),
        "div: expected shape [3], got [2]"
    );
    assert_eq!(
        var(&[3]).sub(&var(&[2])).unwrap_err().to_string(),
        "sub: expected shape [3], got [2]"
    );
    let e = var(&[2, 3]).reshape(&[4]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Tensor::reshape: expected shape [2, 3], got [4]"
    );
    let e = var(&[3, 1]).broadcast_to(&[2, 2]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "broadcast_to: shapes [3, 1] and [2, 2] are incompatible: each axis must match or be 1 (aligned on the right)"
    );
    let e = var(&[2, 3]).sum_to(&[2]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "sum_to: shapes [2, 3] and [2] are incompatible: the target shape must broadcast to the value's shape"
    );
    let e = Var::concat(&[var(&[2, 3]), var(&[3, 3])], 1).unwrap_err();
    assert_eq!(
        e.to_string(),
        "concat: shapes [2, 3] and [3, 3] are incompatible: all axes but the concatenation axis must agree"
    );
    let e = Var::concat(&[var(&[2, 3]), var(&[2, 3, 1])], 0).unwrap_err();
    assert!(matches!(
        e,
        AutogradError::ShapeMismatch { op: "concat", .. }
    ));
    let e = Var::<f64>::concat(&[], 0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "concat: invalid vars: at least one value is required"
    );
}

#[test]
fn bad_permutations() {
    let x = var(&[2, 3, 4]);
    for axes in [
        &[0, 0, 1][..],
        &[0, 1][..],
        &[0, 1, 3][..],
        &[0, 1, 2, 3][..],
    ] {
        let e = x.permute(axes).unwrap_err();
        assert!(matches!(
            e,
            AutogradError::InvalidArgument {
                op: "permute",
                param: "axes",
                ..
            }
        ));
        assert_eq!(
            e.to_string(),
            format!("permute: invalid axes: {axes:?} is not a permutation of 0..3")
        );
    }
}

#[test]
fn narrow_out_of_range() {
    let x = var(&[2, 4]);
    let e = x.narrow(1, 3, 2).unwrap_err();
    assert_eq!(
        e.to_string(),
        "narrow: invalid start/len: start 3 + length 2 exceeds axis 1 of size 4"
    );
    // No usize overflow on huge values.
    let e = x.narrow(1, usize::MAX, 2).unwrap_err();
    assert!(e.to_string().contains("exceeds axis 1 of size 4"), "{e}");
    let e = x
        .max_axis(0, false)
        .map(|_| ())
        .and(var(&[2, 0]).max_axis(1, false).map(|_| ()))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "max: invalid axis: axis 1 of shape [2, 0] is empty; max needs at least one element"
    );
}

#[test]
fn pad_errors() {
    let e = var(&[3]).pad(&[[1, 1], [1, 1]], 0.0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "pad_constant: expected at least rank 2, got a tensor of rank 1 (shape [3])"
    );
    let e = var(&[3]).pad(&[[usize::MAX, 1]], 0.0).unwrap_err();
    assert!(
        matches!(e, AutogradError::Tensor(TensorError::SizeOverflow { .. })),
        "{e:?}"
    );
}

#[test]
fn matmul_rank_and_inner_size() {
    let e = var(&[3]).matmul(&var(&[3, 2])).unwrap_err();
    assert!(matches!(
        e,
        AutogradError::WrongRank {
            op: "matmul",
            got: 1,
            ..
        }
    ));
    assert_eq!(
        e.to_string(),
        "matmul: expected lhs of rank >= 2, got rank 1 (shape [3])"
    );
    let e = var(&[2, 3]).matmul(&var(&[3])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "matmul: expected rhs of rank >= 2, got rank 1 (shape [3])"
    );
    let e = var(&[2, 3]).matmul(&var(&[2, 3])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "matmul: shapes [2, 3] and [2, 3] are incompatible: the last axis of lhs must equal the second-to-last axis of rhs"
    );
    let e = var(&[2, 2, 3]).matmul(&var(&[3, 3, 1])).unwrap_err();
    assert_eq!(e.to_string(), "matmul: expected shape [2], got [3]");
}

#[test]
fn wrapped_op_errors_keep_their_source() {
    let inner = TensorError::ParamLength {
        op: "pool",
        param: "stride",
        expected: 2,
        got: 1,
    };
    let e = AutogradError::op("max_pool2d", inner);
    assert_eq!(
        e.to_string(),
        "max_pool2d: pool: stride has 1 entries, expected 2 (one per spatial axis)"
    );
    assert!(std::error::Error::source(&e).is_some());
}

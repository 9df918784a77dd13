//! Gradient clipping against `torch.nn.utils.clip_grad_norm_` /
//! `clip_grad_value_` (PyTorch 2.15, float64).

use autograd::Var;
use core_tensor::Tensor;
use nn::{NnError, clip_grad_norm_, clip_grad_value_};
use proptest::prelude::*;

const A: [f64; 6] = [0.5, -1.25, 2.0, 3.0, -0.75, 0.125];
const B: [f64; 4] = [-4.0, 1.5, 0.0, 2.25];

/// `(norm_type, max_norm, total norm, clipped grad of a, of b)`.
type Case = (f64, f64, f64, [f64; 6], [f64; 4]);

fn params() -> [Var<f64>; 2] {
    let a = Var::leaf(Tensor::from_vec(&[2, 3], A.to_vec()).unwrap());
    let b = Var::leaf(Tensor::from_vec(&[4], B.to_vec()).unwrap());
    a.set_grad(Some(a.value())).unwrap();
    b.set_grad(Some(b.value())).unwrap();
    [a, b]
}

fn close(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-14 + 1e-12 * w.abs(),
            "element {i}: {g} vs {w}"
        );
    }
}

// Values from:
// a = torch.tensor([[0.5,-1.25,2.0],[3.0,-0.75,0.125]], dtype=torch.float64, requires_grad=True)
// b = torch.tensor([-4.0, 1.5, 0.0, 2.25], dtype=torch.float64, requires_grad=True)
// a.grad, b.grad = a.detach().clone(), b.detach().clone()
// tot = torch.nn.utils.clip_grad_norm_([a, b], max_norm, norm_type=p)
#[test]
fn clip_grad_norm_matches_pytorch_for_several_orders() {
    #[rustfmt::skip]
    let cases: [Case; 5] = [
        (2.0, 1.0, 6.221183569064652,
         [0.08037054590636818, -0.20092636476592043, 0.3214821836254727, 0.4822232754382091, -0.12055581885955227, 0.020092636476592044],
         [-0.6429643672509454, 0.24111163771910454, 0.0, 0.3616674565786568]),
        (1.0, 2.5, 15.375,
         [0.08130080772027268, -0.2032520193006817, 0.3252032308810907, 0.48780484632163607, -0.12195121158040902, 0.02032520193006817],
         [-0.6504064617621814, 0.24390242316081803, 0.0, 0.36585363474122706]),
        (f64::INFINITY, 1.5, 4.0,
         [0.18749995312501172, -0.4687498828125293, 0.7499998125000469, 1.1249997187500704, -0.2812499296875176, 0.04687498828125293],
         [-1.4999996250000938, 0.5624998593750352, 0.0, 0.8437497890625527]),
        (0.5, 4.0, 119.15313535844733,
         [0.016785122583625644, -0.04196280645906411, 0.06714049033450258, 0.10071073550175386, -0.025177683875438464, 0.004196280645906411],
         [-0.13428098066900515, 0.05035536775087693, 0.0, 0.07553305162631539]),
        (3.0, 100.0, 4.880746018890222, A, B),
    ];
    for (p, max_norm, total, ga, gb) in cases {
        let [a, b] = params();
        let got = clip_grad_norm_(&[a.clone(), b.clone()], max_norm, p, true).unwrap();
        close(&[got], &[total]);
        close(a.grad().unwrap().as_slice(), &ga);
        close(b.grad().unwrap().as_slice(), &gb);
    }
}

#[test]
fn order_zero_and_minus_infinity_follow_vector_norm() {
    // p = 0: per-parameter counts of non-zeros (6, 3), then the count of
    // non-zero counts: 2. p = -inf: the smallest magnitude, 0 here.
    let [a, b] = params();
    let t = clip_grad_norm_(&[a.clone(), b.clone()], 3.0, 0.0, false).unwrap();
    assert_eq!(t, 2.0);
    assert_eq!(a.grad().unwrap().as_slice(), &A);
    let t = clip_grad_norm_(&[a.clone(), b.clone()], 0.1, f64::NEG_INFINITY, false).unwrap();
    assert_eq!(t, 0.0);
    assert_eq!(b.grad().unwrap().as_slice(), &B);
}

#[test]
fn parameters_without_gradients_are_skipped() {
    let [a, _] = params();
    let none = Var::leaf(Tensor::from_vec(&[2], vec![1.0, 1.0]).unwrap());
    let t = clip_grad_norm_(&[none.clone(), a], 1.0, 2.0, true).unwrap();
    close(&[t], &[A.iter().map(|v| v * v).sum::<f64>().sqrt()]);
    assert!(none.grad().is_none());
    assert_eq!(clip_grad_norm_(&[none], 1.0, 2.0, true).unwrap(), 0.0);
}

#[test]
fn a_non_finite_total_is_an_error_only_when_asked() {
    let p = Var::leaf(Tensor::from_vec(&[2], vec![0.0f64, 0.0]).unwrap());
    p.set_grad(Some(
        Tensor::from_vec(&[2], vec![f64::INFINITY, 1.0]).unwrap(),
    ))
    .unwrap();
    let e = clip_grad_norm_(std::slice::from_ref(&p), 1.0, 2.0, true).unwrap_err();
    assert!(matches!(e, NnError::NonFiniteNorm { total, .. } if total == f64::INFINITY));
    assert!(e.to_string().contains("non-finite"), "{e}");
    assert_eq!(p.grad().unwrap().as_slice()[1], 1.0, "unchanged on error");
    // Without the flag: coefficient max_norm / inf = 0, so inf·0 = NaN and 1·0 = 0,
    // as torch gives [nan, 0.].
    let t = clip_grad_norm_(std::slice::from_ref(&p), 1.0, 2.0, false).unwrap();
    assert_eq!(t, f64::INFINITY);
    let g = p.grad().unwrap();
    assert!(g.as_slice()[0].is_nan());
    assert_eq!(g.as_slice()[1], 0.0);
}

#[test]
fn bad_arguments_are_typed_errors() {
    let [a, _] = params();
    for (m, p) in [(-1.0, 2.0), (f64::NAN, 2.0), (1.0, -2.0), (1.0, f64::NAN)] {
        let e = clip_grad_norm_(std::slice::from_ref(&a), m, p, false).unwrap_err();
        assert!(matches!(e, NnError::InvalidConfig { .. }), "{e}");
    }
    let e = clip_grad_value_(std::slice::from_ref(&a), -0.5).unwrap_err();
    assert!(
        e.to_string().contains("clip_value must be a non-negative"),
        "{e}"
    );
}

#[test]
fn clip_grad_value_clamps_and_keeps_nan() {
    let p = Var::leaf(Tensor::from_vec(&[4], vec![0.0f32; 4]).unwrap());
    p.set_grad(Some(
        Tensor::from_vec(&[4], vec![-3.0f32, 0.25, f32::NAN, 9.0]).unwrap(),
    ))
    .unwrap();
    clip_grad_value_(std::slice::from_ref(&p), 0.5).unwrap();
    let g = p.grad().unwrap();
    assert_eq!(g.as_slice()[0], -0.5);
    assert_eq!(g.as_slice()[1], 0.25);
    assert!(g.as_slice()[2].is_nan());
    assert_eq!(g.as_slice()[3], 0.5);
}

proptest! {
    /// After clipping, the total norm is at most max_norm (up to the 1e-6
    /// guard and rounding), and the direction is kept.
    #[test]
    fn clipped_norm_is_bounded(
        g in prop::collection::vec(-100.0f64..100.0, 1..20),
        max_norm in 0.0f64..10.0,
        p in prop::sample::select(vec![1.0, 2.0, 3.5, f64::INFINITY]),
    ) {
        let v = Var::leaf(Tensor::from_vec(&[g.len()], vec![0.0; g.len()]).unwrap());
        v.set_grad(Some(Tensor::from_vec(&[g.len()], g.clone()).unwrap())).unwrap();
        let total = clip_grad_norm_(std::slice::from_ref(&v), max_norm, p, true).unwrap();
        let after = clip_grad_norm_(std::slice::from_ref(&v), f64::MAX, p, true).unwrap();
        prop_assert!(after <= max_norm.max(total.min(max_norm)) * (1.0 + 1e-9) + 1e-12);
        let scale = (max_norm / (total + 1e-6)).min(1.0);
        for (x, y) in g.iter().zip(v.grad().unwrap().as_slice()) {
            prop_assert!((x * scale - y).abs() <= 1e-12 * x.abs().max(1.0));
        }
    }

    /// Arbitrary arguments never panic, in f32 as in f64.
    #[test]
    fn arbitrary_arguments_never_panic(
        g in prop::collection::vec(prop::num::f32::ANY, 0..8),
        max_norm in prop::num::f64::ANY,
        p in prop::num::f64::ANY,
        e in any::<bool>(),
    ) {
        let v = Var::leaf(Tensor::from_vec(&[g.len()], vec![0.0f32; g.len()]).unwrap());
        v.set_grad(Some(Tensor::from_vec(&[g.len()], g).unwrap())).unwrap();
        let _ = clip_grad_norm_(std::slice::from_ref(&v), max_norm, p, e);
        let _ = clip_grad_value_(&[v], max_norm);
    }
}

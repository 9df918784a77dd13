//! Property tests of the basic ops over random shapes: gradcheck in f64 for
//! every op (broadcasting shapes, reduction axes, permutations, narrow
//! ranges, pads, concat), gradgradcheck for a representative subset, and
//! invariants (adjointness of broadcast/sum_to, f32 vs f64 agreement,
//! matmul against a naive product, softmax normalization).
// `&[x.clone()]` reads better than `std::slice::from_ref(&x)` in tests.
#![allow(clippy::cloned_ref_to_slice_refs)]

use autograd::gradcheck::single;
use autograd::samples::gradcheck_cases;
use autograd::{GradcheckOptions, Result, Var, gradcheck, gradgradcheck};
use core_tensor::testing::assert_close;
use core_tensor::{Float, Rng, Tensor};
use proptest::prelude::*;

fn values(shape: &[usize], seed: u64, low: f64, high: f64) -> Tensor<f64> {
    let n = shape.iter().product();
    Tensor::from_vec(shape, Rng::new(seed).uniform_vec(n, low, high)).unwrap()
}

fn check(
    f: impl Fn(&[Var<f64>]) -> Result<Var<f64>> + Send + Sync,
    inputs: &[Tensor<f64>],
    second: bool,
) {
    let f = single(f);
    let opts = GradcheckOptions::default();
    let r = gradcheck(&f, inputs, &opts).unwrap();
    assert!(r.passed, "first order: {r}");
    assert!(r.compared > 0 || inputs.iter().all(|t| t.is_empty()));
    if second {
        let r = gradgradcheck(&f, inputs, &opts).unwrap();
        assert!(r.passed, "second order: {r}");
    }
}

/// A shape of rank 1..=3 with sizes 1..=3, and a mask saying which axes a
/// partner keeps (`true`) or sets to 1, plus how many leading axes it drops.
fn broadcast_pair() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    prop::collection::vec((1usize..=3, any::<bool>()), 1..=3).prop_flat_map(|dims| {
        let n = dims.len();
        (Just(dims), 0..=n).prop_map(|(dims, drop)| {
            let full: Vec<usize> = dims.iter().map(|d| d.0).collect();
            let partner: Vec<usize> = dims[drop..]
                .iter()
                .map(|&(d, keep)| if keep { d } else { 1 })
                .collect();
            (full, partner)
        })
    })
}

fn shape_strategy(max_rank: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=3, 1..=max_rank)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Every registered basic-op sample, for random seeds, first and second order.
    #[test]
    fn registered_samples_pass(seed in any::<u64>()) {
        for case in gradcheck_cases(seed, 1) {
            let out = case.run().unwrap();
            prop_assert!(out.passed(), "{} {}: {} / {:?}", case.op, case.label, out.first, out.second);
        }
    }

    #[test]
    fn broadcasting_arithmetic((full, partner) in broadcast_pair(), swap in any::<bool>(), seed in any::<u64>()) {
        let (sa, sb) = if swap { (partner.clone(), full.clone()) } else { (full.clone(), partner.clone()) };
        let a = values(&sa, seed, -1.0, 1.0);
        let b = values(&sb, seed ^ 1, -1.0, 1.0);
        check(|v| v[0].add(&v[1]), &[a.clone(), b.clone()], false);
        check(|v| v[0].sub(&v[1]), &[a.clone(), b.clone()], false);
        check(|v| v[0].mul(&v[1]), &[a.clone(), b.clone()], true);
        // Divisors away from 0.
        let d = values(&sb, seed ^ 2, 0.5, 1.5);
        check(|v| v[0].div(&v[1]), &[a, d], true);
    }

    #[test]
    fn reductions_over_axes(shape in shape_strategy(3), mask in prop::collection::vec(any::<bool>(), 3), keepdim in any::<bool>(), seed in any::<u64>()) {
        let n = shape.len();
        let axes: Vec<isize> = (0..n).filter(|&i| mask[i]).map(|i| if i % 2 == 0 { i as isize } else { i as isize - n as isize }).collect();
        let x = values(&shape, seed, -1.0, 1.0);
        let ax = axes.clone();
        check(move |v| v[0].sum(&ax, keepdim), std::slice::from_ref(&x), false);
        let ax = axes.clone();
        check(move |v| v[0].mean(&ax, keepdim), std::slice::from_ref(&x), true);
        // max over one axis on tie-free values
        let axis = (seed % n as u64) as isize;
        let m = Tensor::from_vec(&shape, Rng::new(seed).distinct_vec(x.len(), -1.0, 0.1)).unwrap();
        check(move |v| v[0].max_axis(axis, keepdim), &[m], true);
    }

    #[test]
    fn permutations(shape in shape_strategy(4), seed in any::<u64>()) {
        let mut axes: Vec<usize> = (0..shape.len()).collect();
        Rng::new(seed).shuffle(&mut axes);
        let x = values(&shape, seed, -1.0, 1.0);
        let ax = axes.clone();
        check(move |v| v[0].permute(&ax)?.mul(&v[0].permute(&ax)?), std::slice::from_ref(&x), true);
        let a = (seed % shape.len() as u64) as isize;
        check(move |v| v[0].transpose(a, -1), &[x], false);
    }

    #[test]
    fn narrow_ranges(shape in shape_strategy(3), axis_pick in any::<usize>(), start_pick in any::<usize>(), len_pick in any::<usize>(), seed in any::<u64>()) {
        let axis = axis_pick % shape.len();
        let start = start_pick % shape[axis];
        let len = 1 + len_pick % (shape[axis] - start);
        let x = values(&shape, seed, -1.0, 1.0);
        check(move |v| Ok(v[0].narrow(axis as isize, start, len)?.exp()), &[x], true);
    }

    #[test]
    fn pads(shape in shape_strategy(3), pads in prop::collection::vec((0usize..3, 0usize..3), 1..=3), value in -1.0f64..1.0, seed in any::<u64>()) {
        let k = pads.len().min(shape.len());
        let pads: Vec<[usize; 2]> = pads[..k].iter().map(|&(a, b)| [a, b]).collect();
        let x = values(&shape, seed, -1.0, 1.0);
        let p = pads.clone();
        check(move |v| Ok(v[0].pad(&p, value)?.tanh()), &[x.clone()], true);
        // The padded value is the constant outside the original block.
        let y = Var::constant(x.clone()).pad(&pads, value).unwrap().value();
        let inside: f64 = y.as_slice().iter().sum::<f64>();
        let extra = (y.len() - x.len()) as f64 * value;
        prop_assert!((inside - extra - x.as_slice().iter().sum::<f64>()).abs() < 1e-9);
    }

    #[test]
    fn concat_pieces(base in shape_strategy(3), sizes in prop::collection::vec(1usize..=3, 1..=3), axis_pick in any::<usize>(), seed in any::<u64>()) {
        let axis = axis_pick % base.len();
        let inputs: Vec<Tensor<f64>> = sizes
            .iter()
            .enumerate()
            .map(|(i, &s)| {
                let mut sh = base.clone();
                sh[axis] = s;
                values(&sh, seed ^ i as u64, -1.0, 1.0)
            })
            .collect();
        check(move |v| Var::concat(v, axis as isize), &inputs, false);
        check(move |v| Ok(Var::concat(v, axis as isize)?.sigmoid()), &inputs, true);
    }

    #[test]
    fn matmul_batched_and_broadcast((batch, partner) in broadcast_pair(), n in 1usize..=3, k in 1usize..=3, m in 1usize..=3, seed in any::<u64>()) {
        let mut sa = batch.clone();
        sa.extend([n, k]);
        let mut sb = partner;
        sb.extend([k, m]);
        let a = values(&sa, seed, -1.0, 1.0);
        let b = values(&sb, seed ^ 7, -1.0, 1.0);
        check(|v| v[0].matmul(&v[1]), &[a.clone(), b.clone()], true);
        check(|v| v[1].transpose(-1, -2)?.matmul(&v[0].transpose(-1, -2)?), &[a, b], false);
    }

    #[test]
    fn softmaxes(shape in shape_strategy(3), axis_pick in any::<usize>(), seed in any::<u64>()) {
        let axis = (axis_pick % shape.len()) as isize;
        let x = values(&shape, seed, -3.0, 3.0);
        check(move |v| v[0].log_softmax(axis), std::slice::from_ref(&x), true);
        check(move |v| v[0].softmax(axis), std::slice::from_ref(&x), true);
        // Softmax sums to 1 along the axis.
        let s = Var::constant(x).softmax(axis).unwrap().sum(&[axis], false).unwrap().value();
        assert_close(s.as_slice(), &vec![1.0; s.len()], 1e-12, 1e-12);
    }

    /// sum_to(broadcast_to(x)) = x times the number of copies, and
    /// <broadcast_to(x), g> = <x, sum_to(g)> (they are adjoint).
    #[test]
    fn broadcast_and_sum_to_are_adjoint((full, partner) in broadcast_pair(), seed in any::<u64>()) {
        let x = Var::constant(values(&partner, seed, -1.0, 1.0));
        let copies = full.iter().product::<usize>() / partner.iter().product::<usize>();
        let back = x.broadcast_to(&full).unwrap().sum_to(&partner).unwrap();
        let want: Vec<f64> = x.value().as_slice().iter().map(|v| v * copies as f64).collect();
        assert_close(back.value().as_slice(), &want, 1e-12, 1e-12);
        let g = Var::constant(values(&full, seed ^ 3, -1.0, 1.0));
        let lhs = x.broadcast_to(&full).unwrap().mul(&g).unwrap().sum_all().value().as_slice()[0];
        let rhs = x.mul(&g.sum_to(&partner).unwrap()).unwrap().sum_all().value().as_slice()[0];
        prop_assert!((lhs - rhs).abs() < 1e-12 * (1.0 + lhs.abs()));
    }

    /// The same computation in f32 and f64 agrees to f32 precision.
    #[test]
    fn f32_and_f64_forward_agree((full, partner) in broadcast_pair(), seed in any::<u64>()) {
        fn compute<F: Float>(a: &Tensor<F>, b: &Tensor<F>) -> Vec<f64> {
            let (a, b) = (Var::constant(a.clone()), Var::constant(b.clone()));
            let y = a
                .mul(&b.sigmoid()).unwrap()
                .add(&a.tanh()).unwrap()
                .div(&b.abs().add_scalar(1.0)).unwrap()
                .exp()
                .log_softmax(-1).unwrap()
                .add(&a.mul(&a).unwrap().add_scalar(1.0).sqrt().log()).unwrap()
                .mean(&[0], true).unwrap();
            y.value().to_f64_vec()
        }
        let a = values(&full, seed, -2.0, 2.0);
        let b = values(&partner, seed ^ 5, -2.0, 2.0);
        let hi = compute(&a, &b);
        let lo = compute(&a.cast::<f32>(), &b.cast::<f32>());
        assert_close(&lo, &hi, 1e-5, 1e-5);
    }

    /// matmul equals the naive triple loop.
    #[test]
    fn matmul_matches_naive(n in 1usize..=4, k in 1usize..=4, m in 1usize..=4, seed in any::<u64>()) {
        let a = values(&[n, k], seed, -1.0, 1.0);
        let b = values(&[k, m], seed ^ 9, -1.0, 1.0);
        let c = Var::constant(a.clone()).matmul(&Var::constant(b.clone())).unwrap().value();
        let (av, bv) = (a.as_slice(), b.as_slice());
        let want: Vec<f64> = (0..n * m).map(|ij| (0..k).map(|p| av[ij / m * k + p] * bv[p * m + ij % m]).sum()).collect();
        assert_close(c.as_slice(), &want, 1e-12, 1e-12);
    }
}

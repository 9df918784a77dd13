//! Gradient properties: finite-difference gradcheck and gradgradcheck
//! (f64) of every op over random shapes, the adjoint identity of the linear
//! pools, and max-pool gradients landing only on the argmaxes.

use std::sync::Arc;

use autograd::Var;
use core_tensor::{Par, Rng, Tensor};
use ops_pool::kernels::*;
use ops_pool::*;
use proptest::prelude::*;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-10 * (1.0 + a.abs().max(b.abs()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// First and second order finite-difference checks of every op, on
    /// the registered random cases of a random seed.
    #[test]
    fn gradcheck_and_gradgradcheck_pass_for_every_op(seed in any::<u64>()) {
        let cases = gradcheck_cases(seed, 1);
        prop_assert_eq!(cases.len(), OPS.len());
        for case in &cases {
            let outcome = case.run().map_err(|e| TestCaseError::fail(format!("{} {}: {e}", case.op, case.label)))?;
            prop_assert!(outcome.passed(), "{} {}: first {} second {:?}", case.op, case.label, outcome.first, outcome.second);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// `<pool(x), g> == <x, pool_backward(g)>` for average, adaptive average,
    /// the max-pool scatter/gather pair and the unpool gather/scatter pair.
    #[test]
    fn adjoint_identity_of_linear_pools(
        dims in 1usize..=3, k in 1usize..=3, s in 1usize..=3, pad in 0usize..2, ceil in any::<bool>(),
        cip in any::<bool>(), len in 3usize..8, out in 1usize..6, seed in any::<u64>()
    ) {
        let mut rng = Rng::new(seed);
        let mut shape = vec![2, 3];
        shape.extend(std::iter::repeat_n(len, dims));
        let n: usize = shape.iter().product();
        let x = rng.uniform_vec(n, -1.0, 1.0);
        let pad = pad.min(k - 1);
        let ks = vec![k; dims];
        let ap = AvgPoolParams::new(&ks).stride(&[s]).padding(&[pad]).ceil_mode(ceil).count_include_pad(cip);
        let g = ap.geometry(&shape).unwrap();
        let d = ap.divisor().unwrap();
        let y = avg::forward(&x, &g, d, Par::Seq);
        let gy = rng.uniform_vec(y.len(), -1.0, 1.0);
        prop_assert!(close(dot(&y, &gy), dot(&x, &avg::backward(&gy, &g, d, Par::Seq))));

        let ga = Geometry::adaptive_for("adaptive_avg_pool", &shape, &vec![Some(out); dims]).unwrap();
        let y = avg::forward(&x, &ga, Divisor::InBounds, Par::Seq);
        let gy = rng.uniform_vec(y.len(), -1.0, 1.0);
        prop_assert!(close(dot(&y, &gy), dot(&x, &avg::backward(&gy, &ga, Divisor::InBounds, Par::Seq))));

        let mp = MaxPoolParams::new(&ks).stride(&[s]).padding(&[pad]).ceil_mode(ceil);
        let gm = Arc::new(mp.geometry(&shape).unwrap());
        let (y, am) = max::forward(&x, &gm, Par::Seq);
        let gy = rng.uniform_vec(y.len(), -1.0, 1.0);
        let v = rng.uniform_vec(n, -1.0, 1.0);
        prop_assert!(close(dot(&max::gather(&v, &am, Par::Seq), &gy), dot(&v, &max::backward(&gy, &am, Par::Seq))));

        let up = MaxUnpoolParams::new(&ks).stride(&[s]).padding(&[pad]);
        let gu = UnpoolGeometry::new("max_unpool", &gm.output_shape(), &up);
        if let Ok(gu) = gu {
            let idx: Vec<i64> = am.to_indices().iter().map(|&i| i % gu.plane_out() as i64).collect();
            let yv = rng.uniform_vec(gu.planes() * gu.plane_out(), -1.0, 1.0);
            let lhs = dot(&unpool::gather(&yv, &idx, &gu, Par::Seq), &y);
            prop_assert!(close(lhs, dot(&yv, &unpool::scatter_add(&y, &idx, &gu, Par::Seq))));
        }
    }

    /// With ties and overlapping windows, `dx` is exactly the sum of `dy`
    /// over the outputs whose index points at each element, and zero elsewhere.
    #[test]
    fn max_pool_gradient_lands_only_on_argmaxes(
        k in 1usize..=3, s in 1usize..=3, d in 1usize..=2, pad in 0usize..2, ceil in any::<bool>(),
        h in 3usize..8, w in 3usize..8, seed in any::<u64>()
    ) {
        let mut rng = Rng::new(seed);
        let shape = [2usize, 2, h, w];
        let n: usize = shape.iter().product();
        let x: Vec<f64> = (0..n).map(|_| rng.below(4) as f64).collect();
        let p = MaxPoolParams::new(&[k, k]).stride(&[s]).dilation(&[d]).padding(&[pad.min(k - 1)]).ceil_mode(ceil);
        let xv = Var::leaf(Tensor::from_vec(&shape, x).unwrap());
        let Ok((y, idx)) = max_pool_with_indices(&xv, &p) else { return Ok(()) };
        let gy = rng.uniform_vec(y.len(), 0.5, 1.5);
        y.backward_with(&Tensor::from_vec(&y.shape(), gy.clone()).unwrap(), Default::default()).unwrap();
        let gx = xv.grad().unwrap().to_vec();
        let (pin, pout) = (h * w, y.len() / 4);
        let mut want = vec![0.0; n];
        for (o, (&i, &g)) in idx.as_slice().iter().zip(&gy).enumerate() {
            want[(o / pout) * pin + i as usize] += g;
        }
        prop_assert_eq!(gx, want);
    }
}

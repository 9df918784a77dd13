//! `batch_norm_input_grad_with_sums`, the hook for batch statistics taken
//! over several processes: with the local sums it is the fused backward's
//! `dx`; with the sums of a split batch it is the whole batch's `dx`.

use core_tensor::Par;
use ops_norm::kernels::Moments;
use ops_norm::kernels::channel::{
    ChannelLayout, batch_norm_backward_train, batch_norm_input_grad_with_sums, channel_grad_sums,
    channel_moments,
};

fn data(len: usize, k: f64) -> Vec<f64> {
    (0..len).map(|i| (i as f64 * k).sin() * 3.0 + 0.5).collect()
}

#[test]
fn local_sums_give_the_fused_backward_bit_for_bit() {
    for &(n, c, s) in &[(4, 3, 1), (3, 2, 20), (5, 1, 7)] {
        let layout = ChannelLayout { n, c, s };
        let x = data(n * c * s, 0.37);
        let dy = data(n * c * s, 1.13);
        let w: Vec<f64> = (0..c).map(|i| 0.5 + i as f64).collect();
        let m = channel_moments(&x, layout, Par::Seq).unwrap();
        let mean: Vec<f64> = m.iter().map(|m| m.mean).collect();
        let invstd: Vec<f64> = m
            .iter()
            .map(|m| 1.0 / (m.var_biased() + 1e-5).sqrt())
            .collect();
        let fused =
            batch_norm_backward_train(&x, &dy, layout, &mean, &invstd, Some(&w), Par::Seq).unwrap();
        let sums = channel_grad_sums(&x, &dy, layout, &mean, Par::Seq).unwrap();
        let dx = batch_norm_input_grad_with_sums(
            &x,
            &dy,
            layout,
            &mean,
            &invstd,
            Some(&w),
            &sums,
            layout.per_channel(),
            Par::Seq,
        )
        .unwrap();
        assert_eq!(dx, fused.dx);
    }
}

#[test]
fn split_batch_sums_give_the_whole_batch_gradient() {
    let (n, c, s) = (7, 3, 5);
    let whole = ChannelLayout { n, c, s };
    let x = data(n * c * s, 0.21);
    let dy = data(n * c * s, 0.83);
    let m = channel_moments(&x, whole, Par::Seq).unwrap();
    let mean: Vec<f64> = m.iter().map(|m| m.mean).collect();
    let invstd: Vec<f64> = m
        .iter()
        .map(|m| 1.0 / (m.var_biased() + 1e-5).sqrt())
        .collect();
    let want = batch_norm_backward_train(&x, &dy, whole, &mean, &invstd, None, Par::Seq).unwrap();
    // Split 4 + 3 samples; each part adds its sums about the whole mean.
    let split = [(0, 4), (4, 7)];
    let mut sums = vec![(0.0, 0.0); c];
    for &(lo, hi) in &split {
        let part = ChannelLayout { n: hi - lo, c, s };
        let r = lo * c * s..hi * c * s;
        for (acc, p) in sums
            .iter_mut()
            .zip(channel_grad_sums(&x[r.clone()], &dy[r], part, &mean, Par::Seq).unwrap())
        {
            acc.0 += p.0;
            acc.1 += p.1;
        }
    }
    for &(lo, hi) in &split {
        let part = ChannelLayout { n: hi - lo, c, s };
        let r = lo * c * s..hi * c * s;
        let dx = batch_norm_input_grad_with_sums(
            &x[r.clone()],
            &dy[r.clone()],
            part,
            &mean,
            &invstd,
            None,
            &sums,
            n * s,
            Par::Seq,
        )
        .unwrap();
        for (a, b) in dx.iter().zip(&want.dx[r]) {
            assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} vs {b}");
        }
    }
    // The merged moments of the parts are the whole batch's.
    let merged = split
        .iter()
        .fold(vec![Moments::EMPTY; c], |acc, &(lo, hi)| {
            let part = ChannelLayout { n: hi - lo, c, s };
            let pm = channel_moments(&x[lo * c * s..hi * c * s], part, Par::Seq).unwrap();
            acc.into_iter().zip(pm).map(|(a, b)| a.merge(b)).collect()
        });
    for (a, b) in merged.iter().zip(&m) {
        assert_eq!(a.count, b.count);
        assert!((a.mean - b.mean).abs() < 1e-14 && (a.m2 - b.m2).abs() < 1e-12 * b.m2);
    }
}

#[test]
fn lengths_are_checked() {
    let layout = ChannelLayout { n: 2, c: 2, s: 1 };
    let x = [1.0, 2.0, 3.0, 4.0];
    let r = batch_norm_input_grad_with_sums(
        &x,
        &x,
        layout,
        &[0.0; 2],
        &[1.0; 2],
        None,
        &[(0.0, 0.0)],
        4,
        Par::Seq,
    );
    assert!(r.is_err());
}

//! The losses against PyTorch's values and error messages.

use autograd::Var;
use core_tensor::Tensor;

use super::*;

fn close(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol, "element {i}: {x} vs {y}");
    }
}

#[test]
fn cross_entropy_matches_pytorch() {
    // torch: x = torch.tensor([[1., 2., 0.5], [0.1, -1., 3.]], dtype=torch.float64, requires_grad=True)
    // F.cross_entropy(x, torch.tensor([2, 0]))                        -> 2.2434616041209755
    // F.cross_entropy(x, torch.tensor([2, 0]), label_smoothing=0.3)   -> 2.1385470640282573
    let x = Var::leaf(Tensor::from_vec(&[2, 3], vec![1., 2., 0.5, 0.1, -1., 3.]).unwrap());
    let l = cross_entropy(&x, &[2, 0], Reduction::Mean, 0.0).unwrap();
    let lse0 = (1f64.exp() + 2f64.exp() + 0.5f64.exp()).ln();
    let lse1 = (0.1f64.exp() + (-1f64).exp() + 3f64.exp()).ln();
    let expect = ((lse0 - 0.5) + (lse1 - 0.1)) / 2.0;
    close(l.value().as_slice(), &[expect], 1e-14);
    l.backward().unwrap();
    let g = x.grad().unwrap().to_vec();
    let p0: Vec<f64> = [1., 2., 0.5]
        .iter()
        .map(|v: &f64| (v - lse0).exp())
        .collect();
    let p1: Vec<f64> = [0.1, -1., 3.]
        .iter()
        .map(|v: &f64| (v - lse1).exp())
        .collect();
    close(
        &g,
        &[
            p0[0] / 2.,
            p0[1] / 2.,
            (p0[2] - 1.) / 2.,
            (p1[0] - 1.) / 2.,
            p1[1] / 2.,
            p1[2] / 2.,
        ],
        1e-14,
    );
    // Label smoothing and sum / none reductions.
    let eps = 0.3;
    let smooth0 = -(3.5 - 3.0 * lse0) / 3.0;
    let smooth1 = -(2.1 - 3.0 * lse1) / 3.0;
    let l0 = (1.0 - eps) * (lse0 - 0.5) + eps * smooth0;
    let l1 = (1.0 - eps) * (lse1 - 0.1) + eps * smooth1;
    let none = cross_entropy(&x, &[2, 0], Reduction::None, eps).unwrap();
    close(none.value().as_slice(), &[l0, l1], 1e-14);
    let sum = cross_entropy(&x, &[2, 0], Reduction::Sum, eps).unwrap();
    close(sum.value().as_slice(), &[l0 + l1], 1e-14);
}

#[test]
fn cross_entropy_with_spatial_axes_equals_rows() {
    // (N=1, C=2, L=2) scores vs the same rows as (2, 2).
    let x = Var::leaf(Tensor::from_vec(&[1, 2, 2], vec![1., 2., 3., -1.]).unwrap());
    let l = cross_entropy(&x, &[0, 1], Reduction::Sum, 0.0).unwrap();
    let r = Var::leaf(Tensor::from_vec(&[2, 2], vec![1., 3., 2., -1.]).unwrap());
    let lr = cross_entropy(&r, &[0, 1], Reduction::Sum, 0.0).unwrap();
    close(l.value().as_slice(), lr.value().as_slice(), 1e-15);
    l.backward().unwrap();
    lr.backward().unwrap();
    let gr = r.grad().unwrap().to_vec();
    close(
        &x.grad().unwrap().to_vec(),
        &[gr[0], gr[2], gr[1], gr[3]],
        1e-15,
    );
}

#[test]
fn nll_and_mse_values() {
    let lp = Var::leaf(Tensor::from_vec(&[2, 2], vec![-0.1, -2.0, -1.5, -0.3]).unwrap());
    let l = nll_loss(&lp, &[1, 0], Reduction::Mean).unwrap();
    close(l.value().as_slice(), &[1.75], 1e-15);
    l.backward().unwrap();
    close(&lp.grad().unwrap().to_vec(), &[0., -0.5, -0.5, 0.], 0.0);
    let a = Var::leaf(Tensor::from_vec(&[3], vec![1., 2., 3.]).unwrap());
    let b = Var::constant(Tensor::from_vec(&[3], vec![1., 0., 0.]).unwrap());
    let m = mse_loss(&a, &b, Reduction::Mean).unwrap();
    close(m.value().as_slice(), &[13.0 / 3.0], 1e-15);
}

/// The scores, targets and class weights of the weighted cases below.
fn weighted_case() -> (Var<f64>, [usize; 4], [f64; 3]) {
    let x = Var::leaf(
        Tensor::from_vec(
            &[4, 3],
            vec![1., 2., 0.5, 0.1, -1., 3., -0.7, 0.4, 2.2, 0.3, 0.3, -2.0],
        )
        .unwrap(),
    );
    (x, [2, 0, 1, 1], [0.5, 2.0, 1.5])
}

#[test]
fn weighted_cross_entropy_with_ignore_index_matches_pytorch() {
    // torch 2.15: F.cross_entropy(x, t, weight=w, ignore_index=1, reduction=r,
    // label_smoothing=eps), then l.sum().backward(); rows 2 and 3 are ignored.
    let cases: [(Reduction, f64, &[f64], [f64; 6]); 6] = [
        (
            Reduction::Mean,
            0.0,
            &[2.2159701428210816],
            [
                0.17341792321661179,
                0.47139878940882185,
                -0.6448167126254336,
                -0.2371840985729141,
                0.0042660429966018525,
                0.23291805557631223,
            ],
        ),
        (
            Reduction::Mean,
            0.3,
            &[2.268207700588444],
            [
                0.14263732577605803,
                0.3556854964285277,
                -0.49832282220458574,
                -0.1807761478593711,
                -0.09360093550509721,
                0.27437708336446837,
            ],
        ),
        (
            Reduction::Sum,
            0.0,
            &[4.431940285642163],
            [
                0.34683584643322357,
                0.9427975788176437,
                -1.2896334252508672,
                -0.4743681971458282,
                0.008532085993203705,
                0.46583611115262447,
            ],
        ),
        (
            Reduction::Sum,
            0.3,
            &[4.536415401176888],
            [
                0.28527465155211607,
                0.7113709928570554,
                -0.9966456444091715,
                -0.3615522957187422,
                -0.18720187101019442,
                0.5487541667289367,
            ],
        ),
        (
            Reduction::None,
            0.0,
            &[2.9465531761619173, 1.4853871094802455, 0.0, 0.0],
            [
                0.34683584643322357,
                0.9427975788176437,
                -1.2896334252508672,
                -0.4743681971458282,
                0.008532085993203705,
                0.46583611115262447,
            ],
        ),
        (
            Reduction::None,
            0.3,
            &[2.5233347369565196, 2.013080664220368, 0.0, 0.0],
            [
                0.28527465155211607,
                0.7113709928570554,
                -0.9966456444091715,
                -0.3615522957187422,
                -0.18720187101019442,
                0.5487541667289367,
            ],
        ),
    ];
    for (reduction, eps, value, grad) in cases {
        let (x, t, w) = weighted_case();
        let opts = CrossEntropyOptions {
            weight: Some(&w[..]),
            ignore_index: Some(1),
            reduction,
            label_smoothing: eps,
        };
        let l = cross_entropy_with(&x, &t, &opts).unwrap();
        close(l.value().as_slice(), value, 1e-14);
        l.sum_all().backward().unwrap();
        let g = x.grad().unwrap().to_vec();
        close(&g[..6], &grad, 1e-14);
        assert_eq!(&g[6..], &[0.0; 6], "ignored rows get no gradient");
    }
}

#[test]
fn weighted_nll_loss_with_ignore_index_matches_pytorch() {
    // torch 2.15: F.nll_loss(x, t, weight=w, ignore_index=1, reduction=r).
    for (reduction, value, scale) in [
        (Reduction::Mean, &[-0.4][..], 0.5),
        (Reduction::Sum, &[-0.8][..], 1.0),
        (Reduction::None, &[-0.75, -0.05, 0.0, 0.0][..], 1.0),
    ] {
        let (x, t, w) = weighted_case();
        let opts = NllOptions {
            weight: Some(&w[..]),
            ignore_index: Some(1),
            reduction,
        };
        let l = nll_loss_with(&x, &t, &opts).unwrap();
        close(l.value().as_slice(), value, 1e-15);
        l.sum_all().backward().unwrap();
        let mut expect = [0.0; 12];
        (expect[2], expect[3]) = (-1.5 * scale, -0.5 * scale);
        close(&x.grad().unwrap().to_vec(), &expect, 1e-15);
    }
}

#[test]
fn every_row_ignored_gives_nan_mean_and_zero_gradient_as_pytorch() {
    // torch 2.15: the mean over no rows is nan; the gradient is all zeros.
    let (x, _, w) = weighted_case();
    let opts = CrossEntropyOptions {
        weight: Some(&w[..]),
        ignore_index: Some(1),
        label_smoothing: 0.2,
        ..Default::default()
    };
    let l = cross_entropy_with(&x, &[1, 1, 1, 1], &opts).unwrap();
    assert!(l.value().as_slice()[0].is_nan());
    l.backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec(), vec![0.0; 12]);
}

#[test]
fn weighted_cross_entropy_over_spatial_axes_matches_pytorch() {
    // torch 2.15: x (1, 3, 2), target [[2, 0]], weight w, ignore_index=0,
    // label_smoothing=0.1 -> 1.6282666743012708 and the gradient below.
    let (_, _, w) = weighted_case();
    let x = Var::leaf(Tensor::from_vec(&[1, 3, 2], vec![1., -1., 0.5, 2., 0., 0.3]).unwrap());
    let opts = CrossEntropyOptions {
        weight: Some(&w[..]),
        ignore_index: Some(0),
        label_smoothing: 0.1,
        ..Default::default()
    };
    let l = cross_entropy_with(&x, &[2, 0], &opts).unwrap();
    close(l.value().as_slice(), &[1.6282666743012708], 1e-14);
    l.backward().unwrap();
    close(
        &x.grad().unwrap().to_vec(),
        &[
            0.48974172004392447,
            0.0,
            0.2593381536549595,
            0.0,
            -0.749079873698884,
            0.0,
        ],
        1e-14,
    );
}

#[test]
fn bad_weights_and_ignored_targets_are_checked() {
    let x = Var::leaf(Tensor::<f64>::zeros(&[2, 3]));
    let w = [1.0, 2.0];
    let e = cross_entropy_with(
        &x,
        &[0, 1],
        &CrossEntropyOptions {
            weight: Some(&w[..]),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("one value per class (3), got 2"),
        "{e}"
    );
    // The ignored index may lie outside the classes, as PyTorch's -100.
    let opts = NllOptions {
        ignore_index: Some(100),
        ..Default::default()
    };
    assert!(nll_loss_with(&x, &[100, 2], &opts).is_ok());
    let e = nll_loss_with(&x, &[100, 3], &opts).unwrap_err();
    assert!(e.to_string().contains("(or 100, the ignored index)"), "{e}");
}

#[test]
fn bad_targets_are_errors() {
    let x = Var::leaf(Tensor::<f64>::zeros(&[2, 3]));
    let e = cross_entropy(&x, &[0, 3], Reduction::Mean, 0.0).unwrap_err();
    assert!(
        e.to_string()
            .contains("target 3 at position 1 is out of bounds"),
        "{e}"
    );
    assert!(cross_entropy(&x, &[0], Reduction::Mean, 0.0).is_err());
    assert!(cross_entropy(&x, &[0, 1], Reduction::Mean, 1.5).is_err());
    let y = Var::constant(Tensor::<f64>::zeros(&[3, 2]));
    assert!(mse_loss(&x, &y, Reduction::Mean).is_err());
}

//! `padding_mode` of the convolution layers against PyTorch 2.15 (float64).
//!
//! Inputs follow one recipe: `x[i] = sin(0.37 i)`, `w[i] = 0.3 cos(0.11 i)`
//! (flat row-major indices), the loss is `(y * r).sum()` with
//! `r[i] = (i % 7)·0.1 − 0.3`.

use autograd::Var;
use core_tensor::{Rng, Tensor};
use nn::{Conv1d, Conv2d, ConvOptions, Module, NnError, PaddingMode};

fn seq(shape: &[usize], f: impl Fn(f64) -> f64) -> Tensor<f64> {
    let n = shape.iter().product::<usize>();
    Tensor::from_vec(shape, (0..n).map(|i| f(i as f64)).collect()).unwrap()
}

fn input(shape: &[usize]) -> Var<f64> {
    Var::leaf(seq(shape, |i| (0.37 * i).sin()))
}

/// Sets the layer's weight to the recipe and its bias to `bias`.
fn load<const D: usize>(conv: &nn::ConvNd<f64, D>, bias: &[f64]) {
    let w = conv.weight();
    w.set_value(seq(&w.shape(), |i| 0.3 * (0.11 * i).cos()))
        .unwrap();
    conv.bias()
        .unwrap()
        .set_value(Tensor::from_vec(&[bias.len()], bias.to_vec()).unwrap())
        .unwrap();
}

/// `(y * r).sum()` and its backward.
fn loss(y: &Var<f64>) -> Var<f64> {
    let r = Var::constant(seq(&y.shape(), |i| (i % 7.0) * 0.1 - 0.3));
    let l = y.mul(&r).unwrap().sum_all();
    l.backward().unwrap();
    l
}

fn close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len());
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!((a - b).abs() <= tol, "element {i}: {a} vs {b}");
    }
}

#[test]
fn conv1d_padding_modes_match_pytorch() {
    // nn.Conv1d(1, 1, 3, padding=2, padding_mode=mode), x (1, 1, 5), b 0.1.
    type Case = (PaddingMode, [f64; 7], [f64; 5], [f64; 3]);
    let cases: [Case; 3] = [
        (
            PaddingMode::Reflect,
            [
                0.4101153326034892,
                0.31435450289744604,
                0.40523971503675593,
                0.6717814228690531,
                0.8609351974639358,
                0.9279011760011302,
                0.8632605604520467,
            ],
            [
                -0.1774681363171563,
                -0.23782857871463992,
                -0.0014461530401636002,
                0.23782857871463997,
                0.17891428935732,
            ],
            [0.2707233217786802, 0.4128094703935624, 0.3412623175224103],
        ),
        (
            PaddingMode::Replicate,
            [
                0.1,
                0.20586987330795747,
                0.40523971503675593,
                0.6717814228690531,
                0.8609351974639358,
                0.9572314299903977,
                0.9872860776476753,
            ],
            [
                -0.416924185133259,
                -0.08837252989853721,
                0.000723076520081866,
                0.08981868293870092,
                0.41475495557301356,
            ],
            [0.5453327816601161, 0.5513487476403287, 0.4577766291667773],
        ),
        (
            PaddingMode::Circular,
            [
                0.66566815718395,
                0.5046341266692494,
                0.40523971503675593,
                0.6717814228690531,
                0.8609351974639358,
                0.66566815718395,
                0.5046341266692494,
            ],
            [
                -0.029458240541217234,
                -0.0005417594587826813,
                0.000723076520081866,
                -0.0001813170612990772,
                0.029458240541217318,
            ],
            [
                0.07744700704857391,
                -0.04617975908225527,
                0.06832083648744586,
            ],
        ),
    ];
    for (mode, y_want, dx_want, dw_want) in cases {
        let opts = ConvOptions::default().padding(2).padding_mode(mode);
        let mut conv = Conv1d::<f64>::with_options(1, 1, [3], opts, &mut Rng::new(0)).unwrap();
        load(&conv, &[0.1]);
        let x = input(&[1, 1, 5]);
        let y = conv.forward(&x).unwrap();
        assert_eq!(y.shape(), vec![1, 1, 7], "{mode:?}");
        close(&y.value().to_vec(), &y_want, 1e-14);
        loss(&y);
        close(&x.grad().unwrap().to_vec(), &dx_want, 1e-14);
        close(&conv.weight().grad().unwrap().to_vec(), &dw_want, 1e-14);
    }
}

#[test]
fn conv2d_padding_modes_with_stride_dilation_and_groups_match_pytorch() {
    // nn.Conv2d(2, 4, (2, 3), stride=(2, 1), padding=(1, 2), dilation=(1, 2),
    // groups=2, padding_mode=mode), x (2, 2, 4, 5), b [0.1, -0.2, 0.3, 0.05].
    // Checked through the loss, Σ y, Σ dx·s and Σ dw·t with
    // s[i] = (i % 5)·0.2 − 0.4 and t[i] = (i % 3)·0.5 − 0.5.
    let cases = [
        (
            PaddingMode::Reflect,
            [
                -2.0489672640045646,
                3.0148200184168767,
                0.006161269800529223,
                -0.2854316824513714,
            ],
        ),
        (
            PaddingMode::Replicate,
            [
                -0.8450634574677607,
                16.759847549084558,
                0.0002248385913622697,
                0.7373826977795046,
            ],
        ),
        (
            PaddingMode::Circular,
            [
                -1.2818962111974546,
                17.736085823516294,
                0.1950323290887043,
                1.4307053485410504,
            ],
        ),
    ];
    let dot = |t: &Tensor<f64>, f: fn(f64) -> f64| -> f64 {
        let w = seq(t.shape(), f);
        t.as_slice()
            .iter()
            .zip(w.as_slice())
            .map(|(a, b)| a * b)
            .sum()
    };
    for (mode, want) in cases {
        let opts = ConvOptions {
            stride: [2, 1],
            padding: [1, 2],
            dilation: [1, 2],
            groups: 2,
            ..ConvOptions::default()
        }
        .padding_mode(mode);
        let mut conv = Conv2d::<f64>::with_options(2, 4, [2, 3], opts, &mut Rng::new(0)).unwrap();
        load(&conv, &[0.1, -0.2, 0.3, 0.05]);
        let x = input(&[2, 2, 4, 5]);
        let y = conv.forward(&x).unwrap();
        assert_eq!(y.shape(), vec![2, 4, 3, 5], "{mode:?}");
        let l = loss(&y).value().as_slice()[0];
        let got = [
            l,
            y.value().as_slice().iter().sum(),
            dot(&x.grad().unwrap(), |i| (i % 5.0) * 0.2 - 0.4),
            dot(&conv.weight().grad().unwrap(), |i| (i % 3.0) * 0.5 - 0.5),
        ];
        close(&got, &want, 1e-13);
    }
}

#[test]
fn padding_same_pads_with_the_mode_too() {
    // A kernel of 4 pads [1, 2]: reflect reads x1 before and x3, x2 after.
    let opts = ConvOptions::default()
        .padding_same()
        .padding_mode(PaddingMode::Reflect);
    let mut conv = Conv1d::<f64>::with_options(1, 1, [4], opts, &mut Rng::new(0)).unwrap();
    conv.weight()
        .set_value(Tensor::from_vec(&[1, 1, 4], vec![1.0, 0.0, 0.0, 0.0]).unwrap())
        .unwrap();
    conv.bias().unwrap().set_value(Tensor::zeros(&[1])).unwrap();
    let x = Var::constant(Tensor::from_vec(&[1, 1, 4], vec![0.0, 1.0, 2.0, 3.0]).unwrap());
    // Padded input 1 | 0 1 2 3 | 2 1; the first tap reads positions 0..4.
    let y = conv.forward(&x).unwrap();
    assert_eq!(y.value().as_slice(), &[1.0, 0.0, 1.0, 2.0]);
}

#[test]
fn a_reflect_pad_as_large_as_the_input_is_a_typed_error() {
    let opts = ConvOptions::default()
        .padding(3)
        .padding_mode(PaddingMode::Reflect);
    let mut conv = Conv1d::<f64>::with_options(1, 1, [3], opts, &mut Rng::new(0)).unwrap();
    let x = Var::constant(Tensor::zeros(&[1, 1, 3]));
    let err = conv.forward(&x).unwrap_err();
    assert!(matches!(err, NnError::Autograd(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("each pad must be smaller than the axis"),
        "{err}"
    );
    // Four values take a pad of three.
    let x = Var::constant(Tensor::zeros(&[1, 1, 4]));
    assert_eq!(conv.forward(&x).unwrap().shape(), vec![1, 1, 8]);
}

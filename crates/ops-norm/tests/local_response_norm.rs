//! `local_response_norm` against PyTorch 2.15 (`F.local_response_norm`,
//! float64) and float32 against float64.
//!
//! Inputs follow one recipe: `x[i] = 2 sin(0.37 i)` (flat row-major index),
//! the loss is `(y * r).sum()` with `r[i] = (i % 7)·0.1 − 0.3`.

mod common;

use autograd::{BackwardOptions, Tensor, Var};
use common::assert_close;
use ops_norm::{NormError, local_response_norm};

fn input(shape: &[usize]) -> Var<f64> {
    let n = shape.iter().product::<usize>();
    let v = (0..n).map(|i| 2.0 * (0.37 * i as f64).sin()).collect();
    Var::leaf(Tensor::from_vec(shape, v).unwrap())
}

/// `(size, [alpha, beta, k], shape, y, dx)`.
type Case = (
    usize,
    [f64; 3],
    &'static [usize],
    &'static [f64],
    &'static [f64],
);

#[test]
fn values_and_gradients_match_pytorch() {
    // An odd window on a 3-d input, PyTorch's defaults with an even window
    // as wide as the channels, and an even window on a 5-d input.
    let cases: [Case; 3] = [
        (
            3,
            [0.7, 0.75, 1.5],
            &[2, 5, 3],
            &[
                0.0,
                0.3586449354578116,
                0.6252389529188609,
                0.8186301982361813,
                0.9191814821120223,
                0.8841170808129379,
                0.7217969702608507,
                0.4663331263144187,
                0.1588008579486585,
                -0.16471071468610698,
                -0.4716302322312506,
                -0.7257554852353078,
                -0.9994423702415097,
                -0.9485713968832232,
                -0.815621768253126,
                -0.7828682794601878,
                -0.4149485283962261,
                0.007409273404941399,
                0.32518979801834114,
                0.6101719730075392,
                0.821609270500211,
                0.9197873419771104,
                0.8822019544498807,
                0.7178067006418132,
                0.46101855823107757,
                0.15288570275125554,
                -0.17061506913852736,
                -0.6325828490550204,
                -0.9119948769999382,
                -0.9995594935526122,
            ],
            &[
                -0.16336515350707212,
                -0.10034965754635027,
                -0.06539826791651117,
                -0.047244116135401054,
                0.07605135320233627,
                0.07198090073963259,
                0.09083429623876091,
                -0.12807400551483866,
                -0.09132964698158832,
                -0.04429616732482231,
                -0.05691154469430201,
                0.07346411289468216,
                0.051297218610900724,
                0.06917014832427715,
                -0.09904688326258942,
                -0.07597289184859646,
                -0.0429269546736207,
                -0.00041401536298854764,
                0.04699145139630918,
                0.0900059196823799,
                0.09823836520660931,
                -0.07744251444234848,
                -0.08152611663623736,
                -0.07325556269387593,
                0.06980864714442589,
                0.03534405275417783,
                0.0943044125190558,
                0.14190882970664148,
                -0.09484725936113123,
                -0.05512938335426766,
            ],
        ),
        (
            4,
            [0.0001, 0.75, 1.0],
            &[1, 4, 2],
            &[
                0.0,
                0.7231802577113796,
                1.348429543931124,
                1.791147902684985,
                1.9914508875266752,
                1.9222430886516337,
                1.592882346676871,
                1.047931423037317,
            ],
            &[
                -0.2999897704627373,
                -0.19999250765280344,
                -0.10001656515540362,
                5.009580702213692e-06,
                0.09994390969207136,
                0.19996297993768022,
                0.29991274915546956,
                -0.2999577397407741,
            ],
        ),
        (
            2,
            [2.0, 0.5, 0.5],
            &[1, 3, 1, 2, 2],
            &[
                0.0,
                0.7150325085341208,
                0.8856398278846715,
                0.9301594346728211,
                0.9423751518340083,
                0.8849946537705292,
                0.7229026353487511,
                0.4780068498170144,
                0.1684513015519308,
                -0.1798808210308521,
                -0.519486422628023,
                -0.7848581433064947,
            ],
            &[
                -0.42426406871192845,
                -0.12376291201564113,
                -0.07438063676544522,
                0.05343422120955966,
                0.019891070400883053,
                0.011983354167852678,
                0.06498942882862335,
                -0.08579885376521695,
                -0.09062831481081596,
                -0.046466993310387616,
                1.9869427242045807e-17,
                0.01882079565126836,
            ],
        ),
    ];
    for (size, [alpha, beta, k], shape, y_want, dx_want) in cases {
        let x = input(shape);
        let y = local_response_norm(&x, size, alpha, beta, k).unwrap();
        assert_eq!(y.shape(), shape.to_vec());
        let what = format!("size {size} shape {shape:?}");
        assert_close(
            y.value().as_slice(),
            y_want,
            1e-13,
            1e-15,
            &format!("{what} y"),
        );
        let r = (0..y_want.len())
            .map(|i| (i % 7) as f64 * 0.1 - 0.3)
            .collect();
        let r = Tensor::from_vec(shape, r).unwrap();
        y.backward_with(&r, BackwardOptions::default()).unwrap();
        let dx = x.grad().unwrap();
        assert_close(dx.as_slice(), dx_want, 1e-12, 1e-15, &format!("{what} dx"));
    }
}

#[test]
fn float32_agrees_with_float64() {
    let shape = [3, 6, 4, 5];
    let n = shape.iter().product::<usize>();
    let x64 = input(&shape);
    let narrow = |v: &[f64]| v.iter().map(|&v| v as f32).collect::<Vec<f32>>();
    let widen = |v: &[f32]| v.iter().map(|&v| f64::from(v)).collect::<Vec<f64>>();
    let x32 = Var::leaf(Tensor::from_vec(&shape, narrow(x64.value().as_slice())).unwrap());
    let y64 = local_response_norm(&x64, 5, 0.5, 0.75, 2.0).unwrap();
    let y32 = local_response_norm(&x32, 5, 0.5, 0.75, 2.0).unwrap();
    assert_close(
        &widen(y32.value().as_slice()),
        y64.value().as_slice(),
        1e-6,
        1e-6,
        "f32 y",
    );
    let g: Vec<f64> = (0..n).map(|i| (0.3 * i as f64).cos()).collect();
    let opts = BackwardOptions::default();
    y64.backward_with(&Tensor::from_vec(&shape, g.clone()).unwrap(), opts)
        .unwrap();
    y32.backward_with(&Tensor::from_vec(&shape, narrow(&g)).unwrap(), opts)
        .unwrap();
    let dx32 = widen(x32.grad().unwrap().as_slice());
    assert_close(&dx32, x64.grad().unwrap().as_slice(), 1e-5, 1e-6, "f32 dx");
}

#[test]
fn rank_and_size_errors_are_typed() {
    let err = local_response_norm(&input(&[2, 3]), 2, 1e-4, 0.75, 1.0).unwrap_err();
    assert!(
        matches!(err, NormError::WrongRank { min: 3, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "local_response_norm: expected an input of rank at least 3 (N, C, *), got shape [2, 3]"
    );
    let err = local_response_norm(&input(&[1, 3, 2]), 0, 1e-4, 0.75, 1.0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "local_response_norm: size must be at least 1 (channels in a window), but got 0"
    );
    // Empty inputs pass through, as in PyTorch.
    for shape in [[0, 3, 4], [2, 0, 4], [2, 3, 0]] {
        let y = local_response_norm(&input(&shape), 2, 1e-4, 0.75, 1.0).unwrap();
        assert_eq!(y.shape(), shape.to_vec());
    }
}

#[test]
fn alpha_zero_divides_by_k_to_the_beta() {
    // alpha = 0: y = x / k^beta = x / 2, whatever the window.
    let x = input(&[2, 4, 3]);
    let y = local_response_norm(&x, 3, 0.0, 0.5, 4.0).unwrap();
    let want: Vec<f64> = x.value().as_slice().iter().map(|v| v / 2.0).collect();
    assert_close(y.value().as_slice(), &want, 1e-15, 0.0, "alpha 0");
}

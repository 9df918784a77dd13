//! The activation layers against PyTorch's modules, their defaults, names
//! and parameter errors.
// `&[x.clone()]` reads better than `std::slice::from_ref(&x)` in tests.
#![allow(clippy::cloned_ref_to_slice_refs)]
// PyTorch's printed values are kept as printed; one case table.
#![allow(clippy::approx_constant, clippy::type_complexity)]

use autograd::{GeluApproximate, Var};
use core_tensor::Tensor;

use super::*;
use crate::NnError;
use crate::module::Module;

#[test]
fn layers_match_pytorch_modules() {
    let x =
        Var::constant(Tensor::from_vec(&[2, 3], vec![-2.5f64, -0.5, 0.0, 0.75, 1.0, 3.5]).unwrap());
    #[rustfmt::skip]
    let cases: Vec<(&str, Box<dyn Module<f64>>, &[f64])> = vec![
        // torch 2.15.0+cu132: x = torch.tensor([[-2.5, -0.5, 0.], [0.75, 1., 3.5]], dtype=torch.float64); module(x)
        ("GELU", Box::new(GELU::default()), &[-0.015524163314440398, -0.15426876936299344, 0.0, 0.5800294857173489, 0.841344746068543, 3.4991857982233756]),
        ("GELU", Box::new(GELU::new(GeluApproximate::Tanh)), &[-0.015084266089998577, -0.15428599017485606, 0.0, 0.5799605551656203, 0.8411919906082768, 3.499383802344626]),
        ("LeakyReLU", Box::new(LeakyReLU::default()), &[-0.025, -0.005, 0.0, 0.75, 1.0, 3.5]),
        ("ELU", Box::new(ELU::default()), &[-0.9179150013761013, -0.3934693402873666, 0.0, 0.75, 1.0, 3.5]),
        ("SELU", Box::new(SELU::new()), &[-1.6137857588732425, -0.6917581878028713, 0.0, 0.7880257405166103, 1.0507009873554805, 3.677453455744182]),
        ("SiLU", Box::new(SiLU::new()), &[-0.18964545005310887, -0.1887703343990727, 0.0, 0.5093840243815447, 0.7310585786300049, 3.3974071923702525]),
        ("Mish", Box::new(Mish::new()), &[-0.19681620390653337, -0.22074377465173, 0.0, 0.6100183352182934, 0.8650983882673103, 3.4939907151175196]),
        ("Softplus", Box::new(Softplus::default()), &[0.07888973429254963, 0.4740769841801067, 0.6931471805599453, 1.1368710061148999, 1.3132616875182228, 3.5297504182726205]),
        ("Softplus", Box::new(Softplus::new(3.0, 2.0).unwrap()), &[0.00018431049178693214, 0.06713775932758413, 0.23104906018664842, 0.75, 1.0, 3.5]),
        ("Hardtanh", Box::new(Hardtanh::default()), &[-1.0, -0.5, 0.0, 0.75, 1.0, 1.0]),
        ("Hardtanh", Box::new(Hardtanh::new(-0.5, 2.0).unwrap()), &[-0.5, -0.5, 0.0, 0.75, 1.0, 2.0]),
        ("Hardswish", Box::new(Hardswish::new()), &[-0.20833333333333334, -0.20833333333333334, 0.0, 0.46875, 0.6666666666666666, 3.5]),
        ("Hardsigmoid", Box::new(Hardsigmoid::new()), &[0.08333333333333333, 0.4166666666666667, 0.5, 0.625, 0.6666666666666666, 1.0]),
        ("LogSigmoid", Box::new(LogSigmoid::new()), &[-2.5788897342925496, -0.9740769841801067, -0.6931471805599453, -0.38687100611489994, -0.31326168751822286, -0.029750418272620566]),
        ("Softmax", Box::new(Softmax::new(1)), &[0.04861082403130226, 0.3591881057825386, 0.5922010701861591, 0.05578284803554197, 0.07162659469286574, 0.8725905572715923]),
        ("Softmax", Box::new(Softmax::new(0)), &[0.037326887344129464, 0.18242552380635632, 0.029312230751356316, 0.9626731126558706, 0.8175744761936437, 0.9706877692486436]),
        ("LogSoftmax", Box::new(LogSoftmax::new(-1)), &[-3.0239090561799076, -1.0239090561799078, -0.5239090561799078, -2.886288839722263, -2.636288839722263, -0.136288839722263]),
        ("LeakyReLU", Box::new(LeakyReLU::new(0.3).unwrap()), &[-0.75, -0.15, 0.0, 0.75, 1.0, 3.5]),
        ("ELU", Box::new(ELU::new(2.0).unwrap()), &[-1.8358300027522025, -0.7869386805747332, 0.0, 0.75, 1.0, 3.5]),
    ];
    for (name, mut m, want) in cases {
        assert_eq!(m.type_name(), name);
        assert!(m.parameters().is_empty());
        let y = m.forward(&x).unwrap();
        assert_eq!(y.shape(), vec![2, 3]);
        for (i, (&g, &w)) in y.value().as_slice().iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-15 + 1e-14 * w.abs(),
                "{name} element {i}: {g} vs torch {w}"
            );
        }
    }
}

#[test]
fn defaults_are_pytorchs() {
    assert_eq!(LeakyReLU::default().negative_slope(), 0.01);
    assert_eq!(ELU::default().alpha(), 1.0);
    let sp = Softplus::default();
    assert_eq!((sp.beta(), sp.threshold()), (1.0, 20.0));
    let ht = Hardtanh::default();
    assert_eq!((ht.min_val(), ht.max_val()), (-1.0, 1.0));
    assert_eq!(GELU::default().approximate(), GeluApproximate::None);
}

#[test]
fn bad_parameters_are_typed_errors() {
    let config = |r: Result<(), NnError>, module: &str, param: &str| match r {
        Err(NnError::InvalidConfig {
            module: m,
            param: p,
            ..
        }) => assert_eq!((m, p), (module, param)),
        other => panic!("{module}.{param}: {other:?}"),
    };
    config(Hardtanh::new(1.0, -1.0).map(|_| ()), "Hardtanh", "max_val");
    config(Hardtanh::new(0.0, 0.0).map(|_| ()), "Hardtanh", "max_val");
    config(GELU::from_name("erf").map(|_| ()), "GELU", "approximate");
    config(Softplus::new(0.0, 20.0).map(|_| ()), "Softplus", "beta");
    config(
        Softplus::new(1.0, f64::NAN).map(|_| ()),
        "Softplus",
        "threshold",
    );
    config(
        LeakyReLU::new(f64::NAN).map(|_| ()),
        "LeakyReLU",
        "negative_slope",
    );
    config(ELU::new(f64::INFINITY).map(|_| ()), "ELU", "alpha");
    let msg = Hardtanh::new(1.0, -1.0).unwrap_err().to_string();
    assert!(
        msg.contains("max_val (-1) must be greater than min_val (1)"),
        "{msg}"
    );
}

#[test]
fn softmax_dim_out_of_range_is_an_error() {
    let x = Var::constant(Tensor::<f64>::zeros(&[2, 3]));
    for dim in [2, -3, 100] {
        let err = Module::<f64>::forward(&mut Softmax::new(dim), &x).unwrap_err();
        assert!(
            matches!(
                err,
                NnError::BadInput {
                    module: "Softmax",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("[-2, 1]"), "{err}");
        let err = Module::<f64>::forward(&mut LogSoftmax::new(dim), &x).unwrap_err();
        assert!(matches!(
            err,
            NnError::BadInput {
                module: "LogSoftmax",
                ..
            }
        ));
    }
    // A 0-d input is one lane, as torch.softmax(torch.tensor(3.), 0) == 1.
    let s = Var::constant(Tensor::scalar(3.0f64));
    let y = Module::<f64>::forward(&mut Softmax::new(-1), &s).unwrap();
    assert_eq!((y.shape(), y.value().to_vec()), (vec![], vec![1.0]));
    let y = Module::<f64>::forward(&mut LogSoftmax::new(0), &s).unwrap();
    assert_eq!(y.value().to_vec(), vec![0.0]);
    assert!(Module::<f64>::forward(&mut Softmax::new(1), &s).is_err());
}

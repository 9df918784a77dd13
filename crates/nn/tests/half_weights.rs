//! Half-precision state dicts against PyTorch (`tests/data/half_weights`,
//! made by `make_half_weights.py` there): F16 and BF16 files load exactly
//! into f32 and f64 models, handgrad writes the bits PyTorch's `.half()` /
//! `.bfloat16()` give, out-of-range values are typed errors, and integer
//! dtypes load as integers.

use std::path::PathBuf;

use autograd::Var;
use core_tensor::{Float, Rng, Tensor};
use nn::{
    BatchNorm1d, Linear, Module, NnError, SaveDtype, Sequential, StateDict, StateTensor,
    from_safetensors_bytes, load_safetensors, to_safetensors_bytes_as,
};
use safetensors::SafeTensors;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/half_weights")
        .join(name)
}

fn reference() -> StateDict<f64> {
    load_safetensors(data("reference.safetensors")).unwrap()
}

fn model<F: Float>() -> Sequential<F> {
    let mut rng = Rng::new(3);
    Sequential::new()
        .push(Linear::new(4, 3, true, &mut rng).unwrap())
        .push(BatchNorm1d::new(3).unwrap())
}

/// The raw little-endian bytes of tensor `name` in a safetensors buffer.
fn raw<'a>(st: &'a SafeTensors<'a>, name: &str) -> (safetensors::Dtype, &'a [u8]) {
    let v = st.tensor(name).unwrap();
    (v.dtype(), v.data())
}

const KEYS: [&str; 7] = [
    "0.weight",
    "0.bias",
    "1.weight",
    "1.bias",
    "1.running_mean",
    "1.running_var",
    "1.num_batches_tracked",
];

#[test]
fn f16_and_bf16_files_load_exactly_into_f64_and_f32() {
    let r = reference();
    for tag in ["f16", "bf16"] {
        let path = data(&format!("model_{tag}.safetensors"));
        let sd64 = load_safetensors::<f64>(&path).unwrap();
        let sd32 = load_safetensors::<f32>(&path).unwrap();
        assert_eq!(
            sd64.keys().collect::<Vec<_>>(),
            KEYS,
            "{tag}: keys in order"
        );
        for key in KEYS {
            let want = r.get(&format!("{tag}.{key}")).unwrap();
            match want {
                StateTensor::Float(w) => {
                    let got64 = sd64.get_float(key).unwrap();
                    let got32 = sd32.get_float(key).unwrap();
                    assert_eq!(got64.shape(), w.shape(), "{tag}.{key}");
                    for ((a, b), c) in got64
                        .as_slice()
                        .iter()
                        .zip(got32.as_slice())
                        .zip(w.as_slice())
                    {
                        assert_eq!(a.to_bits(), c.to_bits(), "{tag}.{key} in f64");
                        assert_eq!(f64::from(*b).to_bits(), c.to_bits(), "{tag}.{key} in f32");
                    }
                }
                StateTensor::Int(w) => {
                    assert_eq!(sd64.get(key).and_then(StateTensor::as_int), Some(w));
                    assert_eq!(w.as_slice(), [2], "two training batches");
                }
            }
        }
    }
}

#[test]
fn half_weights_give_pytorchs_outputs() {
    let r = reference();
    let x = r.get_float("x").unwrap().clone();
    for tag in ["f16", "bf16"] {
        let path = data(&format!("model_{tag}.safetensors"));
        let want = r.get_float(&format!("y_{tag}")).unwrap();

        let mut m64 = model::<f64>();
        m64.load_state_dict(&load_safetensors(&path).unwrap(), true)
            .unwrap();
        m64.eval();
        let y = m64.forward(&Var::constant(x.clone())).unwrap().value();
        let worst = y
            .as_slice()
            .iter()
            .zip(want.as_slice())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(worst <= 1e-12, "{tag} f64: worst {worst:e}");

        let mut m32 = model::<f32>();
        m32.load_state_dict(&load_safetensors(&path).unwrap(), true)
            .unwrap();
        m32.eval();
        let y = m32
            .forward(&Var::constant(x.map(|v| *v as f32)))
            .unwrap()
            .value();
        let worst = y
            .as_slice()
            .iter()
            .zip(want.as_slice())
            .map(|(a, b)| (f64::from(*a) - b).abs() / (1.0 + b.abs()))
            .fold(0.0, f64::max);
        assert!(worst <= 1e-5, "{tag} f32: worst relative {worst:e}");
    }
}

#[test]
fn saving_as_f16_and_bf16_writes_pytorchs_bytes() {
    for (tag, dtype) in [("f16", SaveDtype::F16), ("bf16", SaveDtype::BF16)] {
        let torch_bytes = std::fs::read(data(&format!("model_{tag}.safetensors"))).unwrap();
        let torch = SafeTensors::deserialize(&torch_bytes).unwrap();
        // Loaded (exactly) into f64 and f32, then saved back in the same dtype.
        let ours64 = to_safetensors_bytes_as(
            &from_safetensors_bytes::<f64>(&torch_bytes).unwrap(),
            dtype,
            None,
        )
        .unwrap();
        let ours32 = to_safetensors_bytes_as(
            &from_safetensors_bytes::<f32>(&torch_bytes).unwrap(),
            dtype,
            None,
        )
        .unwrap();
        for ours in [&ours64, &ours32] {
            let ours = SafeTensors::deserialize(ours).unwrap();
            for key in KEYS {
                assert_eq!(raw(&ours, key), raw(&torch, key), "{tag}: {key}");
            }
        }
    }
}

#[test]
fn rounding_matches_pytorch_casts() {
    let bytes = std::fs::read(data("reference.safetensors")).unwrap();
    let torch = SafeTensors::deserialize(&bytes).unwrap();
    let r = reference();
    let src = r.get_float("src32").unwrap().clone();
    let mut sd64 = StateDict::<f64>::new();
    sd64.insert("src32", StateTensor::Float(src.clone()));
    let mut sd32 = StateDict::<f32>::new();
    sd32.insert("src32", StateTensor::Float(src.map(|v| *v as f32)));
    for (tag, dtype) in [("f16", SaveDtype::F16), ("bf16", SaveDtype::BF16)] {
        let want = raw(&torch, &format!("src32.{tag}"));
        for ours in [
            to_safetensors_bytes_as(&sd64, dtype, None).unwrap(),
            to_safetensors_bytes_as(&sd32, dtype, None).unwrap(),
        ] {
            let ours = SafeTensors::deserialize(&ours).unwrap();
            assert_eq!(raw(&ours, "src32"), want, "{tag}");
        }
    }
}

#[test]
fn values_out_of_range_are_errors_naming_the_tensor() {
    let one = |v: f64| {
        let mut sd = StateDict::<f64>::new();
        sd.insert(
            "ok",
            StateTensor::Float(Tensor::from_vec(&[1], vec![1.0]).unwrap()),
        );
        sd.insert(
            "layer.scale",
            StateTensor::Float(Tensor::from_vec(&[2], vec![0.5, v]).unwrap()),
        );
        sd
    };
    // 65519 rounds to 65504, 65520 to infinity in F16.
    assert!(to_safetensors_bytes_as(&one(65519.0), SaveDtype::F16, None).is_ok());
    let err = to_safetensors_bytes_as(&one(-65520.0), SaveDtype::F16, None).unwrap_err();
    match &err {
        NnError::OutOfRange {
            tensor,
            dtype,
            value,
            max,
        } => {
            assert_eq!((tensor.as_str(), *dtype), ("layer.scale", "F16"));
            assert_eq!((*value, *max), (-65520.0, 65504.0));
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("layer.scale"), "{err}");
    // BF16 has f32's exponent range, but f32::MAX rounds past its largest value.
    assert!(to_safetensors_bytes_as(&one(1e38), SaveDtype::BF16, None).is_ok());
    assert!(matches!(
        to_safetensors_bytes_as(&one(f64::from(f32::MAX)), SaveDtype::BF16, None),
        Err(NnError::OutOfRange { dtype: "BF16", .. })
    ));
    assert!(matches!(
        to_safetensors_bytes_as(&one(1e300), SaveDtype::F32, None),
        Err(NnError::OutOfRange { dtype: "F32", .. })
    ));
    // Infinities and NaN are kept, as PyTorch's casts keep them.
    let bytes = to_safetensors_bytes_as(&one(f64::NEG_INFINITY), SaveDtype::F16, None).unwrap();
    let back = from_safetensors_bytes::<f64>(&bytes).unwrap();
    assert_eq!(
        back.get_float("layer.scale").unwrap().as_slice(),
        [0.5, f64::NEG_INFINITY]
    );
    // An F64 file with a value beyond f32 loads into f64 but not into f32.
    let wide = to_safetensors_bytes_as(&one(1e300), SaveDtype::F64, None).unwrap();
    assert!(from_safetensors_bytes::<f64>(&wide).is_ok());
    assert!(matches!(
        from_safetensors_bytes::<f32>(&wide),
        Err(NnError::OutOfRange { ref tensor, .. }) if tensor == "layer.scale"
    ));
}

#[test]
fn integer_dtypes_load_as_integers() {
    let r = reference();
    let int = |k: &str| r.get(k).and_then(StateTensor::as_int).unwrap().clone();
    let mask = int("mask_u8");
    assert_eq!(mask.shape(), [2, 3]);
    assert_eq!(mask.as_slice(), [0, 1, 255, 7, 0, 128]);
    assert_eq!(
        int("index_i32").as_slice(),
        [-2147483648, -1, 0, 5, 2147483647]
    );
    let count = int("count_i64");
    assert_eq!(count.shape(), [] as [usize; 0]);
    assert_eq!(count.as_slice(), [9007199254740993]);
}

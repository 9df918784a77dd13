//! Property tests of core-tensor: window views, padding and window output
//! sizes against brute-force enumeration, and tensor round trips.

use core_tensor::shape::{ravel_index, unravel_index};
use core_tensor::testing::assert_close;
use core_tensor::window::{WindowAxis, output_shape, pad_constant, window_view};
use core_tensor::{Tensor, TensorError};
use ndarray::{ArrayD, Axis, Dimension, IxDyn};
use proptest::prelude::*;

/// A shape with `lead` leading axes of size 1..=3 followed by `spatial` sizes.
fn shapes(
    max_lead: usize,
    spatial: usize,
    max_len: usize,
) -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    (
        prop::collection::vec(1usize..=3, 0..=max_lead),
        prop::collection::vec(1usize..=max_len, spatial),
    )
}

/// Element `idx` of `x` computed from its flat row-major position.
fn iota(shape: &[usize]) -> ArrayD<f64> {
    ArrayD::from_shape_fn(IxDyn(shape), |ix| {
        ravel_index(ix.slice(), shape).unwrap() as f64
    })
}

/// `x` as an array of the same logical content but another memory layout:
/// 0 = standard, 1 = last axis reversed in memory, 2 = fully transposed
/// storage (column-major).
fn with_layout(x: &ArrayD<f64>, layout: u8) -> ArrayD<f64> {
    match layout {
        0 => x.clone(),
        1 => {
            let last = Axis(x.ndim() - 1);
            let mut flipped = x.clone();
            flipped.invert_axis(last);
            let mut stored = flipped.as_standard_layout().into_owned();
            stored.invert_axis(last); // back to x's content, negative stride
            stored
        }
        _ => {
            let t = x.clone().reversed_axes().as_standard_layout().into_owned();
            t.reversed_axes()
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every element of the window view is the input element that the
    /// window formula addresses, whatever the input's memory layout.
    #[test]
    fn window_view_matches_brute_force_indexing(
        d in 1usize..=3,
        seed in any::<u64>(),
        layout in 0u8..3,
        lead in prop::collection::vec(1usize..=2, 0..=2),
    ) {
        let mut rng = core_tensor::Rng::new(seed);
        let spatial: Vec<usize> = (0..d).map(|_| 1 + rng.below(6)).collect();
        let kernel: Vec<usize> = (0..d).map(|_| 1 + rng.below(3)).collect();
        let stride: Vec<usize> = (0..d).map(|_| 1 + rng.below(3)).collect();
        let dilation: Vec<usize> = (0..d).map(|_| 1 + rng.below(2)).collect();
        let mut shape = lead.clone();
        shape.extend(&spatial);
        let base = iota(&shape);
        let x = with_layout(&base, layout);
        prop_assert_eq!(&x, &base);
        let fits = (0..d).all(|i| dilation[i] * (kernel[i] - 1) < spatial[i]);
        let w = window_view(x.view(), &kernel, &stride, &dilation);
        prop_assert_eq!(w.is_ok(), fits);
        let Ok(w) = w else { return Ok(()) };
        let nl = lead.len();
        for (pos, &v) in w.indexed_iter() {
            let pos = pos.slice().to_vec();
            let mut src: Vec<usize> = pos[..nl].to_vec();
            for i in 0..d {
                src.push(pos[nl + i] * stride[i] + pos[nl + d + i] * dilation[i]);
            }
            prop_assert_eq!(v, base[IxDyn(&src)]);
        }
        // The output sizes are the floor-mode sizes without padding.
        for i in 0..d {
            let want = (spatial[i] - dilation[i] * (kernel[i] - 1) - 1) / stride[i] + 1;
            prop_assert_eq!(w.shape()[nl + i], want);
            prop_assert_eq!(w.shape()[nl + d + i], kernel[i]);
        }
    }

    /// Padding places the input at offset `before` on each padded axis and
    /// `value` everywhere else.
    #[test]
    fn pad_constant_matches_brute_force((lead, spatial) in shapes(2, 2, 4), pads in prop::collection::vec((0usize..3, 0usize..3), 1..=2), layout in 0u8..3) {
        let mut shape = lead.clone();
        shape.extend(&spatial);
        let k = pads.len().min(shape.len());
        let pads: Vec<[usize; 2]> = pads[..k].iter().map(|&(a, b)| [a, b]).collect();
        let base = iota(&shape);
        let x = with_layout(&base, layout);
        let p = pad_constant(x.view(), &pads, -1.0).unwrap();
        let lead_n = shape.len() - k;
        for (i, &d) in shape.iter().enumerate() {
            let extra = if i >= lead_n { pads[i - lead_n][0] + pads[i - lead_n][1] } else { 0 };
            prop_assert_eq!(p.shape()[i], d + extra);
        }
        for (pos, &v) in p.indexed_iter() {
            let pos = pos.slice().to_vec();
            let mut src = Vec::with_capacity(pos.len());
            let mut inside = true;
            for (i, &q) in pos.iter().enumerate() {
                let before = if i >= lead_n { pads[i - lead_n][0] } else { 0 };
                match q.checked_sub(before) {
                    Some(s) if s < shape[i] => src.push(s),
                    _ => inside = false,
                }
            }
            let want = if inside { base[IxDyn(&src)] } else { -1.0 };
            prop_assert_eq!(v, want);
        }
    }

    /// `output_shape` over several axes agrees with counting window starts
    /// on each axis (PyTorch's rule: floor mode needs the whole window in
    /// the padded input; ceil mode allows an overhang below one stride but
    /// the window must start inside the input or the left padding).
    #[test]
    fn output_shape_matches_enumeration(
        axes in prop::collection::vec((1usize..10, 1usize..5, 1usize..4, 1usize..3, 0usize..3, 0usize..3), 1..=3),
        ceil in any::<bool>(),
    ) {
        let mut spatial = Vec::new();
        let mut windows = Vec::new();
        let mut want = Vec::new();
        for &(len, k, s, d, pb, pa) in &axes {
            let eff = d * (k - 1) + 1;
            // PyTorch only accepts padding up to half the kernel; below the
            // effective kernel at most the ceil-mode window starts in padding.
            let (pb, pa) = (pb.min(eff - 1), pa.min(eff - 1));
            let padded = len + pb + pa;
            let count = (0..64usize)
                .map(|o| o * s)
                .take_while(|&st| if ceil { st + eff < padded + s && st < len + pb } else { st + eff <= padded })
                .count();
            spatial.push(len);
            windows.push(WindowAxis { kernel: k, stride: s, dilation: d, pad_before: pb, pad_after: pa });
            want.push(count);
        }
        match output_shape("prop", &spatial, &windows, ceil) {
            Ok(got) => prop_assert_eq!(got, want),
            Err(TensorError::EmptyOutput { axis, .. }) => prop_assert_eq!(want[axis], 0),
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }

    /// `from_vec`/`to_vec`, `reshape`, `into_array`/`from_array`,
    /// `from_fn` and `cast` preserve the elements.
    #[test]
    fn tensor_round_trips(shape in prop::collection::vec(0usize..4, 0..4), seed in any::<u64>()) {
        let n: usize = shape.iter().product();
        let mut rng = core_tensor::Rng::new(seed);
        let data = rng.uniform_vec(n, -10.0, 10.0);
        let t = Tensor::from_vec(&shape, data.clone()).unwrap();
        prop_assert_eq!(t.shape(), shape.as_slice());
        prop_assert_eq!(t.to_vec(), data.clone());
        prop_assert_eq!(t.len(), n);
        let flat = t.reshape(&[n]).unwrap();
        prop_assert!(flat.shares_storage_with(&t) || n == 0);
        prop_assert_eq!(flat.reshape(&shape).unwrap(), t.clone());
        prop_assert_eq!(Tensor::from_array(t.clone().into_array()), t.clone());
        let f = Tensor::from_fn(&shape, |idx| data[ravel_index(idx, &shape).unwrap()]).unwrap();
        prop_assert_eq!(&f, &t);
        for (flat_i, &want) in data.iter().enumerate() {
            prop_assert_eq!(t.view()[IxDyn(&unravel_index(flat_i, &shape))], want);
        }
        let narrow = t.cast::<f32>();
        assert_close(narrow.as_slice(), t.as_slice(), f32::EPSILON as f64, 0.0);
        prop_assert_eq!(narrow.cast::<f64>().cast::<f32>(), narrow);
        prop_assert_eq!(Tensor::<f64>::from_f64s(&shape, &data).unwrap().to_f64_vec(), data);
    }

    /// A transposed (non-standard-layout) array is stored row-major by
    /// `from_array` and `from_view` with the same logical elements.
    #[test]
    fn non_standard_layouts_are_normalized((lead, spatial) in shapes(2, 2, 4), layout in 1u8..3) {
        let mut shape = lead;
        shape.extend(&spatial);
        let base = iota(&shape);
        let x = with_layout(&base, layout);
        let a = Tensor::from_view(x.view());
        let b = Tensor::from_array(x);
        let want: Vec<f64> = (0..base.len()).map(|i| i as f64).collect();
        prop_assert_eq!(a.as_slice(), want.as_slice());
        prop_assert_eq!(b.as_slice(), want.as_slice());
    }
}

#[test]
fn from_fn_and_errors() {
    let t = Tensor::from_fn(&[2, 2], |i| i[0] as f32 - i[1] as f32).unwrap();
    assert_eq!(t.as_slice(), &[0.0, -1.0, 1.0, 0.0]);
    let e = Tensor::from_fn(&[usize::MAX, 2], |_| 0.0f64).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "Tensor::from_fn: the element count of shape [{}, 2] overflows usize",
            usize::MAX
        )
    );
    let e = Tensor::<f64>::zeros(&[2, 3]).reshape(&[4]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Tensor::reshape: expected shape [2, 3], got [4]"
    );
    let e = window_view(
        ndarray::ArrayD::<f64>::zeros(IxDyn(&[3])).view(),
        &[2, 2],
        &[1, 1],
        &[1, 1],
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "window_view: expected at least rank 2, got a tensor of rank 1 (shape [3])"
    );
    let e = window_view(
        ndarray::ArrayD::<f64>::zeros(IxDyn(&[3])).view(),
        &[2],
        &[1, 1],
        &[1],
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "window_view: stride has 2 entries, expected 1 (one per spatial axis)"
    );
    let e = WindowAxis::new(4)
        .output_len("pool", 0, 3, false)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "pool: on spatial axis 0 the input of size 3 padded by [0, 0] is smaller than the effective kernel 4; \
         the output size would be 0, which must be at least 1"
    );
}

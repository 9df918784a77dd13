//! `Conv1d`, `Conv2d` and `Conv3d`: cross-correlation with stride, padding
//! (explicit or PyTorch's `'same'`; zeros, reflect, replicate or circular),
//! dilation and groups, on the kernels of `ops-conv`.

use autograd::{PadMode, Var};
use core_tensor::{Float, Rng};

use ops_conv::ConvParams;

use super::module_parts::{training_flag, weight_and_bias};
use crate::init::default_weight_and_bias;
use crate::module::Module;
use crate::{NnError, Result};

/// How a convolution layer fills its padding: PyTorch's `padding_mode`
/// (`'zeros'`, `'reflect'`, `'replicate'`, `'circular'`). Every mode but
/// `Zeros` pads the input with [`Var::pad_with`] and convolves the result
/// without padding, as PyTorch does; the limits of [`PadMode`] apply (a
/// reflect pad smaller than the input axis, a circular one at most its size).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PaddingMode {
    /// Zeros (the default), folded into the convolution itself.
    #[default]
    Zeros,
    /// The input mirrored about its edge.
    Reflect,
    /// The edge element repeated.
    Replicate,
    /// The input wrapped around.
    Circular,
}

impl PaddingMode {
    /// The [`PadMode`] that fills the border, `None` for zeros.
    fn pad_mode(self) -> Option<PadMode> {
        match self {
            PaddingMode::Zeros => None,
            PaddingMode::Reflect => Some(PadMode::Reflect),
            PaddingMode::Replicate => Some(PadMode::Replicate),
            PaddingMode::Circular => Some(PadMode::Circular),
        }
    }
}

/// Hyper-parameters of a convolution besides the channel counts and the
/// kernel size; the defaults are PyTorch's (`stride=1, padding=0,
/// dilation=1, groups=1, bias=True`). Padding is zeros on both sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvOptions<const D: usize> {
    /// Step between output positions, per spatial axis.
    pub stride: [usize; D],
    /// Zeros added on both sides, per spatial axis (unused with
    /// [`padding_same`](Self::padding_same)).
    pub padding: [usize; D],
    /// PyTorch's `padding='same'`: pad so that the output has the input's
    /// size, `dilation·(kernel−1)` zeros per axis, half before and the rest
    /// after (see [`same_padding`]). Stride 1 only.
    pub padding_same: bool,
    /// How the padding is filled (`padding_mode`, default zeros); applies
    /// to `padding` and to `padding_same` alike.
    pub padding_mode: PaddingMode,
    /// Spacing between kernel taps, per spatial axis.
    pub dilation: [usize; D],
    /// Number of blocked connections from input to output channels.
    pub groups: usize,
    /// Whether the layer has a learnable bias.
    pub bias: bool,
}

impl<const D: usize> Default for ConvOptions<D> {
    fn default() -> Self {
        Self {
            stride: [1; D],
            padding: [0; D],
            padding_same: false,
            padding_mode: PaddingMode::Zeros,
            dilation: [1; D],
            groups: 1,
            bias: true,
        }
    }
}

impl<const D: usize> ConvOptions<D> {
    /// The same stride on every axis.
    pub fn stride(mut self, s: usize) -> Self {
        self.stride = [s; D];
        self
    }

    /// The same padding on every axis.
    pub fn padding(mut self, p: usize) -> Self {
        self.padding = [p; D];
        self
    }

    /// PyTorch's `padding='same'` (see [`ConvOptions::padding_same`]).
    pub fn padding_same(mut self) -> Self {
        self.padding_same = true;
        self
    }

    /// How the padding is filled (PyTorch's `padding_mode`).
    pub fn padding_mode(mut self, mode: PaddingMode) -> Self {
        self.padding_mode = mode;
        self
    }

    /// The same dilation on every axis.
    pub fn dilation(mut self, d: usize) -> Self {
        self.dilation = [d; D];
        self
    }

    /// The number of groups.
    pub fn groups(mut self, g: usize) -> Self {
        self.groups = g;
        self
    }

    /// Whether to learn a bias.
    pub fn bias(mut self, b: bool) -> Self {
        self.bias = b;
        self
    }
}

/// An `D`-dimensional convolution layer (`torch.nn.Conv1d` for `D = 1`,
/// `torch.nn.Conv2d` for `D = 2`):
///
/// `y[n, o, p] = b[o] + Σ_{c in group(o)} Σ_k w[o, c, k] · x_pad[n, c, p·s + k·d]`
///
/// Input `(N, C_in, *spatial)` or unbatched `(C_in, *spatial)`; `weight`
/// `(C_out, C_in / groups, *kernel)`, `bias` `(C_out)`, both initialized
/// as in PyTorch (`U(-1/sqrt(fan_in), 1/sqrt(fan_in))` with
/// `fan_in = C_in / groups · Π kernel`).
///
/// The layer checks its input and pads it for non-zero padding modes; the
/// convolution itself is [`ops_conv::conv`] (matrix products over the
/// unfolded input, tile by tile, and their transposes in the backward
/// pass, with gradients of every order).
pub struct ConvNd<F: Float, const D: usize> {
    in_channels: usize,
    out_channels: usize,
    kernel: [usize; D],
    options: ConvOptions<D>,
    weight: Var<F>,
    bias: Option<Var<F>>,
    training: bool,
}

/// `torch.nn.Conv1d`: input `(N, C, L)` or `(C, L)`.
pub type Conv1d<F> = ConvNd<F, 1>;
/// `torch.nn.Conv2d`: input `(N, C, H, W)` or `(C, H, W)`.
pub type Conv2d<F> = ConvNd<F, 2>;
/// `torch.nn.Conv3d`: input `(N, C, D, H, W)` or `(C, D, H, W)`.
pub type Conv3d<F> = ConvNd<F, 3>;

fn name_of(d: usize) -> &'static str {
    match d {
        1 => "Conv1d",
        2 => "Conv2d",
        3 => "Conv3d",
        _ => "ConvNd",
    }
}

impl<F: Float, const D: usize> ConvNd<F, D> {
    /// A layer with default options (stride 1, no padding, bias).
    ///
    /// # Errors
    /// As [`ConvNd::with_options`].
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: [usize; D],
        rng: &mut Rng,
    ) -> Result<Self> {
        Self::with_options(
            in_channels,
            out_channels,
            kernel,
            ConvOptions::default(),
            rng,
        )
    }

    /// A layer with the given options, initialized from `rng`.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] when a channel count, kernel size, stride,
    /// dilation or `groups` is 0, when `groups` does not divide both
    /// channel counts, or for `padding_same` with a stride other than 1.
    pub fn with_options(
        in_channels: usize,
        out_channels: usize,
        kernel: [usize; D],
        options: ConvOptions<D>,
        rng: &mut Rng,
    ) -> Result<Self> {
        let name = name_of(D);
        if in_channels == 0 || out_channels == 0 {
            return Err(NnError::config(
                name,
                "channels",
                format!(
                    "in_channels ({in_channels}) and out_channels ({out_channels}) must be at least 1"
                ),
            ));
        }
        if options.groups == 0 {
            return Err(NnError::config(
                name,
                "groups",
                "groups must be a positive integer",
            ));
        }
        if !in_channels.is_multiple_of(options.groups)
            || !out_channels.is_multiple_of(options.groups)
        {
            return Err(NnError::config(
                name,
                "groups",
                format!(
                    "in_channels ({in_channels}) and out_channels ({out_channels}) must both be divisible by groups ({})",
                    options.groups
                ),
            ));
        }
        for (param, v) in [
            ("kernel_size", &kernel),
            ("stride", &options.stride),
            ("dilation", &options.dilation),
        ] {
            if v.contains(&0) {
                return Err(NnError::config(
                    name,
                    param,
                    format!("{param} {v:?} must be at least 1 on every axis"),
                ));
            }
        }
        if options.padding_same && options.stride.iter().any(|&s| s != 1) {
            return Err(NnError::config(
                name,
                "padding",
                format!(
                    "padding='same' is not supported for strided convolutions (stride {:?}); it needs stride 1 on every axis",
                    options.stride
                ),
            ));
        }
        let cg = in_channels / options.groups;
        let fan_in = kernel
            .iter()
            .try_fold(cg, |acc, &k| acc.checked_mul(k))
            .ok_or_else(|| {
                NnError::config(name, "kernel_size", "the weight size overflows usize")
            })?;
        let mut wshape = vec![out_channels, cg];
        wshape.extend_from_slice(&kernel);
        let (w, b) =
            default_weight_and_bias(&wshape, options.bias.then_some(out_channels), fan_in, rng)?;
        Ok(Self {
            in_channels,
            out_channels,
            kernel,
            options,
            weight: Var::leaf(w),
            bias: b.map(Var::leaf),
            training: true,
        })
    }

    /// The weight, `(C_out, C_in / groups, *kernel)`.
    pub fn weight(&self) -> &Var<F> {
        &self.weight
    }

    /// The bias, if any.
    pub fn bias(&self) -> Option<&Var<F>> {
        self.bias.as_ref()
    }

    /// The options the layer was built with.
    pub fn options(&self) -> &ConvOptions<D> {
        &self.options
    }
}

/// The functional convolution `F.conv1d/conv2d(x, weight, bias, stride,
/// padding, dilation, groups)` on a batched input `(N, C, *spatial)` with
/// `D = spatial.len()` axes; `weight` is `(C_out, C / groups, *kernel)`.
///
/// # Errors
/// [`NnError::BadInput`] when the ranks or channel counts disagree,
/// [`NnError::Tensor`] when the padded input is smaller than the dilated
/// kernel, [`NnError::InvalidConfig`] for a zero `groups`.
pub fn conv_nd<F: Float>(
    x: &Var<F>,
    weight: &Var<F>,
    bias: Option<&Var<F>>,
    stride: &[usize],
    padding: &[usize],
    dilation: &[usize],
    groups: usize,
) -> Result<Var<F>> {
    let pads: Vec<[usize; 2]> = padding.iter().map(|&p| [p, p]).collect();
    conv_padded(x, weight, bias, stride, &pads, dilation, groups)
}

/// The zeros `[before, after]` that PyTorch's `padding='same'` adds on each
/// axis for a stride-1 convolution with `kernel` and `dilation`:
/// `total = dilation·(kernel−1)`, `before = total / 2` (rounded down),
/// `after = total − before`, so that the output has the input's size.
///
/// ```
/// assert_eq!(nn::same_padding(&[3, 4], &[1, 2]), vec![[1, 1], [3, 3]]);
/// assert_eq!(nn::same_padding(&[2], &[1]), vec![[0, 1]]);
/// ```
pub fn same_padding(kernel: &[usize], dilation: &[usize]) -> Vec<[usize; 2]> {
    kernel
        .iter()
        .zip(dilation)
        .map(|(&k, &d)| {
            let total = d * k.saturating_sub(1);
            [total / 2, total - total / 2]
        })
        .collect()
}

/// [`conv_nd`] with PyTorch's `padding='same'` (`F.conv2d(x, weight, bias,
/// stride=1, padding='same', dilation, groups)`): stride 1 and the zeros of
/// [`same_padding`] (more after than before on an axis whose
/// `dilation·(kernel−1)` is odd), so the output has the input's spatial size.
///
/// # Errors
/// As [`conv_nd`].
pub fn conv_nd_same<F: Float>(
    x: &Var<F>,
    weight: &Var<F>,
    bias: Option<&Var<F>>,
    dilation: &[usize],
    groups: usize,
) -> Result<Var<F>> {
    let d = dilation.len();
    let ws = weight.shape();
    if ws.len() != d + 2 {
        return Err(NnError::config(
            name_of(d),
            "weight",
            format!(
                "dilation needs one entry per spatial axis and the weight rank {} (got {:?})",
                d + 2,
                ws
            ),
        ));
    }
    let pads = same_padding(&ws[2..], dilation);
    conv_padded(x, weight, bias, &vec![1; d], &pads, dilation, groups)
}

/// [`conv_nd`] with `[before, after]` zeros per axis: [`ops_conv::conv`].
fn conv_padded<F: Float>(
    x: &Var<F>,
    weight: &Var<F>,
    bias: Option<&Var<F>>,
    stride: &[usize],
    padding: &[[usize; 2]],
    dilation: &[usize],
    groups: usize,
) -> Result<Var<F>> {
    let params = ConvParams {
        stride: stride.to_vec(),
        padding: padding.to_vec(),
        dilation: dilation.to_vec(),
        groups,
    };
    Ok(ops_conv::conv(x, weight, bias, &params)?)
}

impl<F: Float, const D: usize> Module<F> for ConvNd<F, D> {
    fn type_name(&self) -> &'static str {
        name_of(D)
    }

    fn forward(&mut self, x: &Var<F>) -> Result<Var<F>> {
        let name = name_of(D);
        let xs = x.shape();
        let unbatched = xs.len() == D + 1;
        if xs.len() != D + 2 && !unbatched {
            return Err(NnError::input(
                name,
                format!("of rank {} (batched) or {} (unbatched)", D + 2, D + 1),
                &xs,
            ));
        }
        let c_axis = if unbatched { 0 } else { 1 };
        if xs[c_axis] != self.in_channels {
            return Err(NnError::input(
                name,
                format!("with {} channels on axis {c_axis}", self.in_channels),
                &xs,
            ));
        }
        let xb = if unbatched {
            x.unsqueeze(0)?
        } else {
            x.clone()
        };
        let o = &self.options;
        let pads = if o.padding_same {
            same_padding(&self.kernel, &o.dilation)
        } else {
            o.padding.iter().map(|&p| [p, p]).collect()
        };
        let (w, b) = (&self.weight, self.bias.as_ref());
        let y = match o.padding_mode.pad_mode() {
            None => conv_padded(&xb, w, b, &o.stride, &pads, &o.dilation, o.groups)?,
            Some(mode) => {
                let unpadded = [[0, 0]; D];
                let xp = xb.pad_with(&pads, mode)?;
                conv_padded(&xp, w, b, &o.stride, &unpadded, &o.dilation, o.groups)?
            }
        };
        if unbatched {
            let mut s = y.shape();
            s.remove(0);
            Ok(y.reshape(&s)?)
        } else {
            Ok(y)
        }
    }

    training_flag!();

    fn own_parameters(&self) -> Vec<(&'static str, Var<F>)> {
        weight_and_bias(Some(&self.weight), self.bias.as_ref())
    }
}

impl<F: Float, const D: usize> ConvNd<F, D> {
    /// `(in_channels, out_channels, kernel)`.
    pub fn dims(&self) -> (usize, usize, [usize; D]) {
        (self.in_channels, self.out_channels, self.kernel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core_tensor::Tensor;

    /// Direct (naive) 2-d convolution for comparison.
    #[allow(clippy::too_many_arguments)]
    fn naive(
        x: &[f64],
        xs: [usize; 4],
        w: &[f64],
        ws: [usize; 4],
        b: &[f64],
        s: [usize; 2],
        p: [usize; 2],
        dl: [usize; 2],
        g: usize,
    ) -> (Vec<f64>, [usize; 4]) {
        let [n, c, h, wd] = xs;
        let [co, cg, kh, kw] = ws;
        let oh = (h + 2 * p[0] - dl[0] * (kh - 1) - 1) / s[0] + 1;
        let ow = (wd + 2 * p[1] - dl[1] * (kw - 1) - 1) / s[1] + 1;
        let mut y = vec![0.0; n * co * oh * ow];
        let cog = co / g;
        for bn in 0..n {
            for o in 0..co {
                let grp = o / cog;
                for i in 0..oh {
                    for j in 0..ow {
                        let mut acc = b[o];
                        for ci in 0..cg {
                            let cc = grp * cg + ci;
                            for a in 0..kh {
                                for e in 0..kw {
                                    let yy = (i * s[0] + a * dl[0]) as isize - p[0] as isize;
                                    let xx = (j * s[1] + e * dl[1]) as isize - p[1] as isize;
                                    if yy < 0 || xx < 0 || yy >= h as isize || xx >= wd as isize {
                                        continue;
                                    }
                                    acc += w[((o * cg + ci) * kh + a) * kw + e]
                                        * x[((bn * c + cc) * h + yy as usize) * wd + xx as usize];
                                }
                            }
                        }
                        y[((bn * co + o) * oh + i) * ow + j] = acc;
                    }
                }
            }
        }
        (y, [n, co, oh, ow])
    }

    #[test]
    fn conv2d_matches_naive_with_all_options() {
        let mut rng = Rng::new(5);
        let opts = ConvOptions {
            stride: [2, 1],
            padding: [1, 2],
            padding_same: false,
            padding_mode: PaddingMode::Zeros,
            dilation: [1, 2],
            groups: 2,
            bias: true,
        };
        let mut conv = Conv2d::<f64>::with_options(4, 6, [3, 2], opts, &mut rng).unwrap();
        let xs = [2, 4, 7, 6];
        let xv = rng.uniform_vec(2 * 4 * 7 * 6, -1.0, 1.0);
        let x = Var::constant(Tensor::from_vec(&xs, xv.clone()).unwrap());
        let y = conv.forward(&x).unwrap();
        let (expect, es) = naive(
            &xv,
            xs,
            &conv.weight().value().to_vec(),
            [6, 2, 3, 2],
            &conv.bias().unwrap().value().to_vec(),
            [2, 1],
            [1, 2],
            [1, 2],
            2,
        );
        assert_eq!(y.shape(), es.to_vec());
        for (a, b) in y.value().as_slice().iter().zip(&expect) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
    }

    #[test]
    fn conv1d_unbatched_and_errors() {
        let mut rng = Rng::new(1);
        let mut conv =
            Conv1d::<f64>::with_options(2, 3, [3], ConvOptions::default().padding(1), &mut rng)
                .unwrap();
        let y = conv
            .forward(&Var::constant(Tensor::zeros(&[2, 5])))
            .unwrap();
        assert_eq!(y.shape(), vec![3, 5]);
        let err = conv
            .forward(&Var::constant(Tensor::zeros(&[1, 3, 5])))
            .unwrap_err();
        assert!(err.to_string().contains("with 2 channels"), "{err}");
        let err = conv
            .forward(&Var::constant(Tensor::zeros(&[1, 1, 2, 5])))
            .unwrap_err();
        assert!(
            matches!(
                err,
                NnError::BadInput {
                    module: "Conv1d",
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            Conv1d::<f64>::with_options(3, 4, [3], ConvOptions::default().groups(2), &mut rng)
                .is_err()
        );
        assert!(Conv1d::<f64>::new(3, 4, [0], &mut rng).is_err());
        // Kernel larger than the padded input.
        let err = conv
            .forward(&Var::constant(Tensor::zeros(&[1, 2, 0])))
            .unwrap_err();
        assert!(
            matches!(err, NnError::Conv(ops_conv::ConvError::Tensor(_))),
            "{err}"
        );
    }

    fn close(a: &[f64], b: &[f64], tol: f64) {
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= tol, "element {i}: {x} vs {y}");
        }
    }

    #[test]
    fn padding_same_matches_pytorch() {
        // torch 2.15, float64: F.conv1d(x, w, b, stride=1, padding='same',
        // dilation=d, groups=2) with x[i] = sin(0.37 i) (1, 2, 5),
        // w[i] = 0.3 cos(0.11 i) (4, 1, 4), b = [0.1, -0.2, 0.3, 0.05], then
        // (y * r).sum().backward() with r[i] = (i % 7)·0.1 − 0.3. The kernel
        // is even, so dilation 1 pads [1, 2] and dilation 2 pads [3, 3].
        // (dilation, y, dL/dx, dL/dw)
        type Case = (usize, [f64; 20], [f64; 10], [f64; 16]);
        let cases: [Case; 2] = [
            (
                1,
                [
                    0.3972413481468231,
                    0.6594503801455704,
                    0.9544250572814785,
                    0.8609351974639358,
                    0.66566815718395,
                    0.030925560456823,
                    0.24519996354708762,
                    0.49737028915358744,
                    0.4481219002405482,
                    0.297819314989188,
                    0.6221276356451092,
                    0.7053010381708787,
                    0.5432608606585599,
                    0.40440919800675357,
                    0.30369013076993184,
                    0.08538855558517922,
                    0.15565861166452002,
                    0.13748231680649958,
                    0.09488936884963693,
                    0.0555608598349653,
                ],
                [
                    -0.016876927802735635,
                    -0.13476904513175553,
                    -0.19035470658322584,
                    -0.14082082588156852,
                    -0.13614981718376262,
                    0.003249374425582034,
                    0.048632328749012396,
                    0.11514165136103605,
                    0.05131893573533173,
                    0.0219663676723971,
                ],
                [
                    0.053408325371508636,
                    -0.04016379310204278,
                    -0.33291208048312226,
                    -0.48101419507821697,
                    -0.3329120804831223,
                    -0.37252956548872834,
                    -0.19327631473010626,
                    0.10480293466835144,
                    0.35847503688266036,
                    0.2948326949922048,
                    0.03233528868470329,
                    -0.019399305919157308,
                    -0.007603832549955711,
                    -0.2913108937378259,
                    -0.23044699497023527,
                    -0.12286849512687852,
                ],
            ),
            (
                2,
                [
                    0.46008053841677193,
                    0.5800543903341357,
                    0.4700619779322259,
                    0.592627047268832,
                    0.4755701807585332,
                    0.0786115075744266,
                    0.17429070878006359,
                    0.10476430802647262,
                    0.20847553308191719,
                    0.12723317723050445,
                    0.42752189850668704,
                    0.5097083363909793,
                    0.45569554936982504,
                    0.5445177837892881,
                    0.481987182935024,
                    0.05307154277416762,
                    0.0997556909140718,
                    0.08520324034227968,
                    0.1419013447086942,
                    0.11690940803792052,
                ],
                [
                    -0.037195258685244044,
                    -0.14411967637056788,
                    -0.03860601744864376,
                    -0.13820244777866347,
                    -0.03955011423656018,
                    0.07703961416948896,
                    -0.011379171788782543,
                    0.06627617549803834,
                    -0.0089991704876,
                    0.05471160340155788,
                ],
                [
                    0.03616154319649621,
                    0.053408325371508636,
                    -0.33291208048312226,
                    -0.46788577461154224,
                    -0.03616154319649619,
                    -0.3329120804831223,
                    -0.19327631473010626,
                    0.4779039904973016,
                    0.04941291922176405,
                    0.35847503688266036,
                    0.03233528868470329,
                    -0.018729466354290313,
                    0.2554406147447474,
                    -0.007603832549955711,
                    -0.23044699497023527,
                    -0.017389787224556266,
                ],
            ),
        ];
        for (dil, y_ref, gx_ref, gw_ref) in cases {
            let leaf =
                |shape: &[usize], v: Vec<f64>| Var::leaf(Tensor::from_vec(shape, v).unwrap());
            let x = leaf(
                &[1, 2, 5],
                (0..10).map(|i| (0.37 * i as f64).sin()).collect(),
            );
            let w = leaf(
                &[4, 1, 4],
                (0..16).map(|i| 0.3 * (0.11 * i as f64).cos()).collect(),
            );
            let b = leaf(&[4], vec![0.1, -0.2, 0.3, 0.05]);
            let y = conv_nd_same(&x, &w, Some(&b), &[dil], 2).unwrap();
            assert_eq!(y.shape(), vec![1, 4, 5]);
            close(&y.value().to_vec(), &y_ref, 1e-14);
            let r = Var::constant(
                Tensor::from_vec(
                    &[1, 4, 5],
                    (0..20).map(|i| (i % 7) as f64 * 0.1 - 0.3).collect(),
                )
                .unwrap(),
            );
            y.mul(&r).unwrap().sum_all().backward().unwrap();
            close(&x.grad().unwrap().to_vec(), &gx_ref, 1e-14);
            close(&w.grad().unwrap().to_vec(), &gw_ref, 1e-14);
            close(
                &b.grad().unwrap().to_vec(),
                &[
                    -0.49999999999999983,
                    -0.09999999999999984,
                    0.3000000000000002,
                    0.0,
                ],
                1e-14,
            );
        }
    }

    #[test]
    fn conv2d_padding_same_equals_explicit_asymmetric_padding() {
        // Kernel (2, 3), dilation (3, 1): [0, 3] zeros on H, [1, 1] on W.
        assert_eq!(same_padding(&[2, 3], &[3, 1]), vec![[1, 2], [1, 1]]);
        let mut rng = Rng::new(9);
        let opts = ConvOptions {
            dilation: [3, 1],
            ..ConvOptions::default()
        }
        .padding_same();
        let mut conv = Conv2d::<f64>::with_options(2, 3, [2, 3], opts, &mut rng).unwrap();
        let xs = [2, 2, 6, 5];
        let xv = rng.uniform_vec(2 * 2 * 6 * 5, -1.0, 1.0);
        let y = conv
            .forward(&Var::constant(Tensor::from_vec(&xs, xv.clone()).unwrap()))
            .unwrap();
        assert_eq!(y.shape(), vec![2, 3, 6, 5]);
        // The same convolution on the input padded by hand (1 row before,
        // 2 after, 1 column on each side), without padding.
        let (hp, wp) = (6 + 3, 5 + 2);
        let mut padded = vec![0.0; 2 * 2 * hp * wp];
        for (p, plane) in xv.chunks(30).enumerate() {
            for (r, row) in plane.chunks(5).enumerate() {
                let at = p * hp * wp + (r + 1) * wp + 1;
                padded[at..at + 5].copy_from_slice(row);
            }
        }
        let expect = conv_nd(
            &Var::constant(Tensor::from_vec(&[2, 2, hp, wp], padded).unwrap()),
            conv.weight(),
            conv.bias(),
            &[1, 1],
            &[0, 0],
            &[3, 1],
            1,
        )
        .unwrap();
        close(&y.value().to_vec(), &expect.value().to_vec(), 1e-15);
        // Strided convolutions cannot pad 'same', as in PyTorch.
        let strided = ConvOptions::default().stride(2).padding_same();
        let Err(err) = Conv2d::<f64>::with_options(2, 3, [3, 3], strided, &mut rng) else {
            panic!("padding='same' with stride 2 was accepted");
        };
        assert!(
            err.to_string()
                .contains("not supported for strided convolutions"),
            "{err}"
        );
    }
}

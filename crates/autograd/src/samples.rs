//! Gradcheck samples of the basic ops, gathered by `cargo xtask gradcheck`.
//!
//! Every op gets `per_op` seeded random cases (shapes, axes, parameters and
//! values drawn from a generator seeded by `seed` and the op's name, so
//! adding an op never changes another op's samples). Ops with distinct
//! code paths get `per_op` cases for each variant (keepdim or not, 2-d or
//! batched matmul, ...). Shapes stay small (at most a few dozen elements)
//! so the whole audit runs in well under a second.
//!
//! Inputs are kept away from the points where an op is not differentiable,
//! by more than the finite-difference step (`eps = 1e-6`):
//!
//! - `relu` and `abs`: magnitudes in `[0.05, 1]` with a random sign, so
//!   every input is at least `5e-2` from the kink at 0;
//! - `log`, `sqrt` and `pow` (any exponent, including fractional and
//!   negative ones): inputs in `[0.5, 2]`, positive and away from 0;
//! - `div`: divisors with magnitude in `[0.5, 1.5]`;
//! - the kinked activations (`leaky_relu`, `elu`, `selu`, `hardtanh`,
//!   `hardswish`, `hardsigmoid`, and `softplus` at its threshold): inputs
//!   moved at least `5e-2` away from every kink;
//! - `max_axis`: a shuffled arithmetic progression with step `0.1`
//!   ([`Rng::distinct_vec`]), so no two elements of a lane are within `eps`
//!   of each other and the argmax cannot flip under a perturbation.
//!
//! Every basic op's backward is written with differentiable ops, so every
//! case also runs `gradgradcheck` (`second_order: true`). For `relu`,
//! `abs` and `max_axis` the second derivative is zero away from the kinks,
//! and the check confirms that, and that the gradient is linear in the
//! output gradient with the right coefficients.

use core_tensor::{Rng, Tensor};

use crate::gradcheck::single;
use crate::{GeluApproximate, GradcheckCase, GradcheckOptions, PadMode, Var};

/// The registered cases of the basic ops: `per_op` random cases per op
/// (and per variant), first and second order.
///
/// ```
/// let cases = autograd::samples::gradcheck_cases(0, 1);
/// assert!(cases.iter().any(|c| c.op == "matmul"));
/// let log = cases.iter().find(|c| c.op == "log").unwrap();
/// let outcome = log.run()?;
/// assert!(outcome.passed(), "{}", outcome.first);
/// # Ok::<(), autograd::AutogradError>(())
/// ```
pub fn gradcheck_cases(seed: u64, per_op: usize) -> Vec<GradcheckCase> {
    let mut cases = Vec::new();
    for &(op, build) in BUILDERS {
        let mut g = Gen::new(seed, op);
        for c in 0..per_op {
            build(&mut g, c, &mut cases);
        }
    }
    cases
}

type Builder = fn(&mut Gen, usize, &mut Vec<GradcheckCase>);

const BUILDERS: &[(&str, Builder)] = &[
    ("add", |g, _, out| binary(g, "add", out, |a, b| a.add(b))),
    ("sub", |g, _, out| binary(g, "sub", out, |a, b| a.sub(b))),
    ("mul", |g, _, out| binary(g, "mul", out, |a, b| a.mul(b))),
    ("div", div_case),
    ("mul_scalar", |g, _, out| {
        let s = g.rng.uniform_in(-2.0, 2.0);
        unary(
            g,
            "mul_scalar",
            format!("s={s:.3}"),
            (-1.0, 1.0),
            false,
            out,
            move |x| Ok(x.mul_scalar(s)),
        );
    }),
    ("add_scalar", |g, _, out| {
        let s = g.rng.uniform_in(-2.0, 2.0);
        unary(
            g,
            "add_scalar",
            format!("s={s:.3}"),
            (-1.0, 1.0),
            false,
            out,
            move |x| Ok(x.add_scalar(s)),
        );
    }),
    ("neg", |g, _, out| {
        unary(g, "neg", String::new(), (-1.0, 1.0), false, out, |x| {
            Ok(x.neg())
        })
    }),
    ("exp", |g, _, out| {
        unary(g, "exp", String::new(), (-1.0, 1.0), false, out, |x| {
            Ok(x.exp())
        })
    }),
    ("log", |g, _, out| {
        unary(g, "log", String::new(), (0.5, 2.0), false, out, |x| {
            Ok(x.log())
        })
    }),
    ("pow", |g, c, out| {
        const EXPONENTS: [f64; 6] = [2.0, 3.0, 0.5, -1.5, 2.5, 1.0];
        let p = EXPONENTS[(c + g.rng.below(EXPONENTS.len())) % EXPONENTS.len()];
        unary(
            g,
            "pow",
            format!("p={p}"),
            (0.5, 2.0),
            false,
            out,
            move |x| Ok(x.pow(p)),
        );
    }),
    ("sqrt", |g, _, out| {
        unary(g, "sqrt", String::new(), (0.5, 2.0), false, out, |x| {
            Ok(x.sqrt())
        })
    }),
    ("abs", |g, _, out| {
        unary(g, "abs", String::new(), (0.05, 1.0), true, out, |x| {
            Ok(x.abs())
        })
    }),
    ("relu", |g, _, out| {
        unary(g, "relu", String::new(), (0.05, 1.0), true, out, |x| {
            Ok(x.relu())
        })
    }),
    ("sigmoid", |g, _, out| {
        unary(g, "sigmoid", String::new(), (-2.0, 2.0), false, out, |x| {
            Ok(x.sigmoid())
        })
    }),
    ("tanh", |g, _, out| {
        unary(g, "tanh", String::new(), (-2.0, 2.0), false, out, |x| {
            Ok(x.tanh())
        })
    }),
    ("sum", |g, _, out| reduce_case(g, "sum", out)),
    ("mean", |g, _, out| reduce_case(g, "mean", out)),
    ("sum_all", |g, _, out| {
        unary(g, "sum_all", String::new(), (-1.0, 1.0), false, out, |x| {
            Ok(x.sum_all())
        })
    }),
    ("mean_all", |g, _, out| {
        unary(g, "mean_all", String::new(), (-1.0, 1.0), false, out, |x| {
            Ok(x.mean_all())
        })
    }),
    ("max_axis", max_case),
    ("sum_to", sum_to_case),
    ("reshape", reshape_case),
    ("flatten_from", |g, _, out| {
        let shape = g.shape(1, 3, 3);
        let start = g.rng.below(shape.len() + 1);
        push(
            g,
            out,
            "flatten_from",
            format!("x{shape:?} start={start}"),
            &[&shape],
            (-1.0, 1.0),
            move |v| v[0].flatten_from(start),
        );
    }),
    ("unsqueeze", |g, _, out| {
        let shape = g.shape(0, 3, 3);
        let axis = g.rng.below(shape.len() + 1);
        push(
            g,
            out,
            "unsqueeze",
            format!("x{shape:?} axis={axis}"),
            &[&shape],
            (-1.0, 1.0),
            move |v| v[0].unsqueeze(axis),
        );
    }),
    ("permute", permute_case),
    ("transpose", |g, _, out| {
        let shape = g.shape(2, 4, 3);
        let n = shape.len() as isize;
        let a = g.rng.below(shape.len()) as isize - if g.rng.below(2) == 0 { n } else { 0 };
        let b = g.rng.below(shape.len()) as isize - if g.rng.below(2) == 0 { n } else { 0 };
        push(
            g,
            out,
            "transpose",
            format!("x{shape:?} ({a}, {b})"),
            &[&shape],
            (-1.0, 1.0),
            move |v| v[0].transpose(a, b),
        );
    }),
    ("broadcast_to", broadcast_case),
    ("narrow", narrow_case),
    ("pad", pad_case),
    ("pad_with", pad_with_case),
    ("concat", concat_case),
    ("matmul", matmul_case),
    ("log_softmax", |g, _, out| {
        softmax_case(g, "log_softmax", out)
    }),
    ("softmax", |g, _, out| softmax_case(g, "softmax", out)),
    ("erf", |g, _, out| {
        unary(g, "erf", String::new(), (-2.0, 2.0), false, out, |x| {
            Ok(x.erf())
        })
    }),
    ("gelu", |g, _, out| {
        unary(g, "gelu", String::new(), (-3.0, 3.0), false, out, |x| {
            Ok(x.gelu(GeluApproximate::None))
        })
    }),
    ("gelu_tanh", |g, _, out| {
        unary(
            g,
            "gelu_tanh",
            String::new(),
            (-3.0, 3.0),
            false,
            out,
            |x| Ok(x.gelu(GeluApproximate::Tanh)),
        )
    }),
    ("leaky_relu", |g, _, out| {
        let slope = g.rng.uniform_in(0.0, 0.5);
        kinked(
            g,
            "leaky_relu",
            format!("negative_slope={slope:.3}"),
            (-2.0, 2.0),
            &[0.0],
            out,
            move |x| Ok(x.leaky_relu(slope)),
        );
    }),
    ("elu", |g, _, out| {
        let alpha = g.rng.uniform_in(0.5, 2.0);
        kinked(
            g,
            "elu",
            format!("alpha={alpha:.3}"),
            (-2.0, 2.0),
            &[0.0],
            out,
            move |x| Ok(x.elu(alpha)),
        );
    }),
    ("selu", |g, _, out| {
        kinked(g, "selu", String::new(), (-2.0, 2.0), &[0.0], out, |x| {
            Ok(x.selu())
        });
    }),
    ("silu", |g, _, out| {
        unary(g, "silu", String::new(), (-3.0, 3.0), false, out, |x| {
            Ok(x.silu())
        })
    }),
    ("mish", |g, _, out| {
        unary(g, "mish", String::new(), (-3.0, 3.0), false, out, |x| {
            Ok(x.mish())
        })
    }),
    ("softplus", |g, c, out| {
        // Every other case puts the threshold inside the inputs' range.
        let beta = [1.0, 2.0, 0.5][g.rng.below(3)];
        let threshold = if c % 2 == 0 { 20.0 } else { 0.5 };
        kinked(
            g,
            "softplus",
            format!("beta={beta} threshold={threshold}"),
            (-2.0, 2.0),
            &[threshold / beta],
            out,
            move |x| Ok(x.softplus(beta, threshold)),
        );
    }),
    ("log_sigmoid", |g, _, out| {
        unary(
            g,
            "log_sigmoid",
            String::new(),
            (-3.0, 3.0),
            false,
            out,
            |x| Ok(x.log_sigmoid()),
        )
    }),
    ("hardtanh", |g, _, out| {
        let lo = g.rng.uniform_in(-1.5, -0.5);
        let hi = g.rng.uniform_in(0.0, 1.5);
        kinked(
            g,
            "hardtanh",
            format!("min_val={lo:.3} max_val={hi:.3}"),
            (-2.0, 2.0),
            &[lo, hi],
            out,
            move |x| x.hardtanh(lo, hi),
        );
    }),
    ("hardswish", |g, _, out| {
        kinked(
            g,
            "hardswish",
            String::new(),
            (-4.0, 4.0),
            &[-3.0, 3.0],
            out,
            |x| Ok(x.hardswish()),
        );
    }),
    ("hardsigmoid", |g, _, out| {
        kinked(
            g,
            "hardsigmoid",
            String::new(),
            (-4.0, 4.0),
            &[-3.0, 3.0],
            out,
            |x| Ok(x.hardsigmoid()),
        );
    }),
];

/// Distance every sample of a kinked activation keeps from its kinks.
const KINK_MARGIN: f64 = 0.05;

/// A unary case whose inputs are uniform in `range` and then moved at least
/// [`KINK_MARGIN`] away from every kink (to the side they were on).
#[allow(clippy::too_many_arguments)]
fn kinked(
    g: &mut Gen,
    op: &'static str,
    params: String,
    range: (f64, f64),
    kinks: &[f64],
    out: &mut Vec<GradcheckCase>,
    f: impl Fn(&Var<f64>) -> crate::Result<Var<f64>> + Send + Sync + 'static,
) {
    let shape = g.shape(0, 3, 3);
    let mut x = g.values(&shape, range, false).to_vec();
    for v in &mut x {
        for &k in kinks {
            if (*v - k).abs() < KINK_MARGIN {
                *v = if *v < k {
                    k - KINK_MARGIN
                } else {
                    k + KINK_MARGIN
                };
            }
        }
    }
    let x = Tensor::from_vec(&shape, x).expect("length matches the shape");
    let label = format!("x{shape:?} {params}").trim_end().to_string();
    out.push(case(op, label, vec![x], move |v| f(&v[0])));
}

/// A random generator for one op's samples.
struct Gen {
    rng: Rng,
}

impl Gen {
    fn new(seed: u64, op: &str) -> Self {
        // FNV-1a of the op name, mixed with the seed.
        let h = op.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        });
        Self {
            rng: Rng::new(seed ^ h),
        }
    }

    /// A shape of rank `min_rank..=max_rank` with sizes `1..=max_dim`.
    fn shape(&mut self, min_rank: usize, max_rank: usize, max_dim: usize) -> Vec<usize> {
        let rank = min_rank + self.rng.below(max_rank - min_rank + 1);
        (0..rank).map(|_| 1 + self.rng.below(max_dim)).collect()
    }

    /// A shape that broadcasts to `shape`: some leading axes dropped, some
    /// sizes replaced by 1.
    fn broadcast_partner(&mut self, shape: &[usize]) -> Vec<usize> {
        let drop = self.rng.below(shape.len() + 1);
        shape[drop..]
            .iter()
            .map(|&d| if self.rng.below(3) == 0 { 1 } else { d })
            .collect()
    }

    /// Values uniform in `[low, high)`; with `signed`, each value gets a
    /// random sign (so magnitudes stay in `[low, high)`).
    fn values(&mut self, shape: &[usize], (low, high): (f64, f64), signed: bool) -> Tensor<f64> {
        let n = shape.iter().product();
        let mut v = self.rng.uniform_vec(n, low, high);
        if signed {
            for x in &mut v {
                if self.rng.below(2) == 0 {
                    *x = -*x;
                }
            }
        }
        Tensor::from_vec(shape, v).expect("length matches the shape")
    }
}

fn case(
    op: &'static str,
    label: String,
    inputs: Vec<Tensor<f64>>,
    f: impl Fn(&[Var<f64>]) -> crate::Result<Var<f64>> + Send + Sync + 'static,
) -> GradcheckCase {
    GradcheckCase {
        op,
        label,
        inputs,
        func: Box::new(single(f)),
        second_order: true,
        options: GradcheckOptions::default(),
    }
}

/// Unsigned uniform inputs of the given shapes.
fn push(
    g: &mut Gen,
    out: &mut Vec<GradcheckCase>,
    op: &'static str,
    label: String,
    shapes: &[&[usize]],
    range: (f64, f64),
    f: impl Fn(&[Var<f64>]) -> crate::Result<Var<f64>> + Send + Sync + 'static,
) {
    let inputs = shapes.iter().map(|s| g.values(s, range, false)).collect();
    out.push(case(op, label, inputs, f));
}

fn unary(
    g: &mut Gen,
    op: &'static str,
    params: String,
    range: (f64, f64),
    signed: bool,
    out: &mut Vec<GradcheckCase>,
    f: impl Fn(&Var<f64>) -> crate::Result<Var<f64>> + Send + Sync + 'static,
) {
    let shape = g.shape(0, 3, 3);
    let x = g.values(&shape, range, signed);
    let label = format!("x{shape:?} {params}").trim_end().to_string();
    out.push(case(op, label, vec![x], move |v| f(&v[0])));
}

fn binary(
    g: &mut Gen,
    op: &'static str,
    out: &mut Vec<GradcheckCase>,
    f: fn(&Var<f64>, &Var<f64>) -> crate::Result<Var<f64>>,
) {
    let full = g.shape(1, 3, 3);
    let (a, b) = if g.rng.below(2) == 0 {
        (full.clone(), g.broadcast_partner(&full))
    } else {
        (g.broadcast_partner(&full), full.clone())
    };
    let label = format!("a{a:?} b{b:?}");
    push(g, out, op, label, &[&a, &b], (-1.0, 1.0), move |v| {
        f(&v[0], &v[1])
    });
}

fn div_case(g: &mut Gen, _: usize, out: &mut Vec<GradcheckCase>) {
    let full = g.shape(1, 3, 3);
    let b_shape = g.broadcast_partner(&full);
    let a = g.values(&full, (-1.0, 1.0), false);
    let b = g.values(&b_shape, (0.5, 1.5), true);
    out.push(case(
        "div",
        format!("a{full:?} b{b_shape:?}"),
        vec![a, b],
        |v| v[0].div(&v[1]),
    ));
}

fn reduce_case(g: &mut Gen, op: &'static str, out: &mut Vec<GradcheckCase>) {
    for keepdim in [false, true] {
        let shape = g.shape(1, 3, 3);
        let n = shape.len();
        // A random non-empty subset of the axes, some written negatively.
        let mut axes: Vec<isize> = (0..n)
            .filter(|_| g.rng.below(2) == 0)
            .map(|a| a as isize)
            .collect();
        if axes.is_empty() {
            axes.push(g.rng.below(n) as isize);
        }
        for a in &mut axes {
            if g.rng.below(2) == 0 {
                *a -= n as isize;
            }
        }
        let label = format!("x{shape:?} axes={axes:?} keepdim={keepdim}");
        push(g, out, op, label, &[&shape], (-1.0, 1.0), move |v| {
            if op == "sum" {
                v[0].sum(&axes, keepdim)
            } else {
                v[0].mean(&axes, keepdim)
            }
        });
    }
}

fn max_case(g: &mut Gen, _: usize, out: &mut Vec<GradcheckCase>) {
    for keepdim in [false, true] {
        let shape = g.shape(1, 3, 4);
        let axis = g.rng.below(shape.len()) as isize
            - if g.rng.below(2) == 0 {
                shape.len() as isize
            } else {
                0
            };
        let n = shape.iter().product();
        // Tie-free: a shuffled progression with gaps of 0.1 >> eps.
        let x = Tensor::from_vec(&shape, g.rng.distinct_vec(n, -1.0, 0.1)).expect("length matches");
        let label = format!("x{shape:?} axis={axis} keepdim={keepdim}");
        out.push(case("max_axis", label, vec![x], move |v| {
            v[0].max_axis(axis, keepdim)
        }));
    }
}

fn sum_to_case(g: &mut Gen, _: usize, out: &mut Vec<GradcheckCase>) {
    let shape = g.shape(1, 3, 3);
    let target = g.broadcast_partner(&shape);
    let label = format!("x{shape:?} to {target:?}");
    push(g, out, "sum_to", label, &[&shape], (-1.0, 1.0), move |v| {
        v[0].sum_to(&target)
    });
}

fn reshape_case(g: &mut Gen, _: usize, out: &mut Vec<GradcheckCase>) {
    let shape = g.shape(1, 3, 4);
    // The new shape: the prime factors of the element count, shuffled and
    // regrouped at random.
    let mut n: usize = shape.iter().product();
    let mut factors = Vec::new();
    let mut p = 2;
    while n > 1 {
        while n.is_multiple_of(p) {
            factors.push(p);
            n /= p;
        }
        p += 1;
    }
    g.rng.shuffle(&mut factors);
    let mut target: Vec<usize> = Vec::new();
    for f in factors {
        match target.last_mut() {
            Some(last) if g.rng.below(2) == 0 => *last *= f,
            _ => target.push(f),
        }
    }
    if g.rng.below(2) == 0 {
        target.insert(g.rng.below(target.len() + 1), 1);
    }
    let label = format!("x{shape:?} to {target:?}");
    push(g, out, "reshape", label, &[&shape], (-1.0, 1.0), move |v| {
        v[0].reshape(&target)
    });
}

fn permute_case(g: &mut Gen, _: usize, out: &mut Vec<GradcheckCase>) {
    let shape = g.shape(1, 4, 3);
    let mut axes: Vec<usize> = (0..shape.len()).collect();
    g.rng.shuffle(&mut axes);
    let label = format!("x{shape:?} axes={axes:?}");
    push(g, out, "permute", label, &[&shape], (-1.0, 1.0), move |v| {
        v[0].permute(&axes)
    });
}

fn broadcast_case(g: &mut Gen, _: usize, out: &mut Vec<GradcheckCase>) {
    let target = g.shape(1, 3, 3);
    let shape = g.broadcast_partner(&target);
    let label = format!("x{shape:?} to {target:?}");
    push(
        g,
        out,
        "broadcast_to",
        label,
        &[&shape],
        (-1.0, 1.0),
        move |v| v[0].broadcast_to(&target),
    );
}

fn narrow_case(g: &mut Gen, _: usize, out: &mut Vec<GradcheckCase>) {
    let shape = g.shape(1, 3, 4);
    let ax = g.rng.below(shape.len());
    let start = g.rng.below(shape[ax]);
    let len = 1 + g.rng.below(shape[ax] - start);
    let axis = ax as isize
        - if g.rng.below(2) == 0 {
            shape.len() as isize
        } else {
            0
        };
    let label = format!("x{shape:?} axis={axis} start={start} len={len}");
    push(g, out, "narrow", label, &[&shape], (-1.0, 1.0), move |v| {
        v[0].narrow(axis, start, len)
    });
}

fn pad_case(g: &mut Gen, _: usize, out: &mut Vec<GradcheckCase>) {
    let shape = g.shape(1, 3, 3);
    let k = 1 + g.rng.below(shape.len());
    let pads: Vec<[usize; 2]> = (0..k).map(|_| [g.rng.below(3), g.rng.below(3)]).collect();
    let value = g.rng.uniform_in(-1.0, 1.0);
    let label = format!("x{shape:?} pads={pads:?} value={value:.3}");
    push(g, out, "pad", label, &[&shape], (-1.0, 1.0), move |v| {
        v[0].pad(&pads, value)
    });
}

/// One case per non-constant mode, each within PyTorch's layout: 1 to 3
/// padded axes after one or two leading axes, sizes 2 to 4, pads up to the
/// mode's limit (reflect `n − 1`, circular `n`, replicate 3).
fn pad_with_case(g: &mut Gen, _: usize, out: &mut Vec<GradcheckCase>) {
    for mode in [PadMode::Reflect, PadMode::Replicate, PadMode::Circular] {
        let k = 1 + g.rng.below(3);
        let lead = 1 + g.rng.below(2);
        let mut shape: Vec<usize> = (0..lead).map(|_| 1 + g.rng.below(2)).collect();
        shape.extend((0..k).map(|_| 2 + g.rng.below(3)));
        let pads: Vec<[usize; 2]> = shape[lead..]
            .iter()
            .map(|&n| {
                let most = match mode {
                    PadMode::Reflect => n - 1,
                    PadMode::Circular => n,
                    _ => 3,
                };
                [g.rng.below(most + 1), g.rng.below(most + 1)]
            })
            .collect();
        let label = format!("x{shape:?} pads={pads:?} {}", mode.name());
        push(
            g,
            out,
            "pad_with",
            label,
            &[&shape],
            (-1.0, 1.0),
            move |v| v[0].pad_with(&pads, mode),
        );
    }
}

fn concat_case(g: &mut Gen, _: usize, out: &mut Vec<GradcheckCase>) {
    let base = g.shape(1, 3, 3);
    let ax = g.rng.below(base.len());
    let count = 1 + g.rng.below(3);
    let shapes: Vec<Vec<usize>> = (0..count)
        .map(|_| {
            let mut s = base.clone();
            s[ax] = 1 + g.rng.below(3);
            s
        })
        .collect();
    let axis = ax as isize
        - if g.rng.below(2) == 0 {
            base.len() as isize
        } else {
            0
        };
    let label = format!("inputs {shapes:?} axis={axis}");
    let refs: Vec<&[usize]> = shapes.iter().map(Vec::as_slice).collect();
    push(g, out, "concat", label, &refs, (-1.0, 1.0), move |v| {
        Var::concat(v, axis)
    });
}

fn matmul_case(g: &mut Gen, _: usize, out: &mut Vec<GradcheckCase>) {
    let (n, k, m) = (1 + g.rng.below(3), 1 + g.rng.below(3), 1 + g.rng.below(3));
    push(
        g,
        out,
        "matmul",
        format!("2-d a[{n}, {k}] b[{k}, {m}]"),
        &[&[n, k], &[k, m]],
        (-1.0, 1.0),
        |v| v[0].matmul(&v[1]),
    );
    // Batched, with batch axes that broadcast against each other.
    let batch = g.shape(1, 2, 2);
    let mut a = g.broadcast_partner(&batch);
    let mut b = g.broadcast_partner(&batch);
    if g.rng.below(2) == 0 {
        std::mem::swap(&mut a, &mut b);
    }
    a.extend([n, k]);
    b.extend([k, m]);
    let label = format!("batched a{a:?} b{b:?}");
    push(g, out, "matmul", label, &[&a, &b], (-1.0, 1.0), |v| {
        v[0].matmul(&v[1])
    });
}

fn softmax_case(g: &mut Gen, op: &'static str, out: &mut Vec<GradcheckCase>) {
    let shape = g.shape(1, 3, 4);
    let axis = g.rng.below(shape.len()) as isize
        - if g.rng.below(2) == 0 {
            shape.len() as isize
        } else {
            0
        };
    let label = format!("x{shape:?} axis={axis}");
    push(g, out, op, label, &[&shape], (-2.0, 2.0), move |v| {
        if op == "softmax" {
            v[0].softmax(axis)
        } else {
            v[0].log_softmax(axis)
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_passes_first_and_second_order() {
        let cases = gradcheck_cases(1, 2);
        assert!(cases.len() >= 2 * BUILDERS.len());
        for c in &cases {
            let outcome = c
                .run()
                .unwrap_or_else(|e| panic!("{} {}: {e}", c.op, c.label));
            assert!(
                outcome.passed(),
                "{} {}: first {} second {:?}",
                c.op,
                c.label,
                outcome.first,
                outcome.second
            );
            assert!(outcome.first.compared > 0, "{} {}", c.op, c.label);
        }
    }

    #[test]
    fn samples_are_reproducible_per_seed() {
        let a = gradcheck_cases(5, 1);
        let b = gradcheck_cases(5, 1);
        let c = gradcheck_cases(6, 1);
        let labels = |v: &[GradcheckCase]| v.iter().map(|c| c.label.clone()).collect::<Vec<_>>();
        assert_eq!(labels(&a), labels(&b));
        assert_eq!(
            a.iter().map(|c| c.inputs.clone()).collect::<Vec<_>>(),
            b.iter().map(|c| c.inputs.clone()).collect::<Vec<_>>()
        );
        assert_ne!(labels(&a), labels(&c));
    }

    #[test]
    fn every_listed_op_is_registered() {
        let cases = gradcheck_cases(0, 1);
        for op in [
            "add",
            "sub",
            "mul",
            "div",
            "mul_scalar",
            "add_scalar",
            "neg",
            "exp",
            "log",
            "pow",
            "sqrt",
            "abs",
            "relu",
            "sigmoid",
            "tanh",
            "sum",
            "mean",
            "sum_all",
            "mean_all",
            "max_axis",
            "sum_to",
            "reshape",
            "flatten_from",
            "unsqueeze",
            "permute",
            "transpose",
            "broadcast_to",
            "narrow",
            "pad",
            "pad_with",
            "concat",
            "matmul",
            "log_softmax",
            "softmax",
            "erf",
            "gelu",
            "gelu_tanh",
            "leaky_relu",
            "elu",
            "selu",
            "silu",
            "mish",
            "softplus",
            "log_sigmoid",
            "hardtanh",
            "hardswish",
            "hardsigmoid",
        ] {
            assert!(cases.iter().any(|c| c.op == op), "{op} has no case");
        }
        assert!(
            cases
                .iter()
                .any(|c| c.op == "matmul" && c.label.starts_with("batched"))
        );
        assert!(cases.iter().all(|c| c.second_order));
    }

    #[test]
    fn kink_avoidance_holds() {
        for c in gradcheck_cases(3, 8) {
            let v = c.inputs[0].to_vec();
            match c.op {
                "relu" | "abs" => assert!(v.iter().all(|x| x.abs() >= 0.05), "{v:?}"),
                "leaky_relu" | "elu" | "selu" => {
                    assert!(v.iter().all(|x| x.abs() >= 0.0499), "{v:?}")
                }
                "hardswish" | "hardsigmoid" => {
                    assert!(v.iter().all(|x| (x.abs() - 3.0).abs() >= 0.0499), "{v:?}")
                }
                "log" | "sqrt" | "pow" => assert!(v.iter().all(|&x| x >= 0.5), "{v:?}"),
                "div" => assert!(c.inputs[1].as_slice().iter().all(|x| x.abs() >= 0.5)),
                "max_axis" => {
                    let mut s = v.clone();
                    s.sort_by(f64::total_cmp);
                    assert!(s.windows(2).all(|w| w[1] - w[0] > 0.05), "{s:?}");
                }
                _ => {}
            }
        }
    }
}

//! Property tests of the convolution: agreement with a direct loop over
//! random shapes and parameters, 1-d as the `H = 1` case of 2-d, and f64
//! gradient checks (first and second order) of random configurations.

use autograd::gradcheck::single;
use autograd::{GradcheckOptions, Var, gradcheck, gradgradcheck};
use core_tensor::{Rng, Tensor};
use nn::conv_nd;
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct Cfg {
    n: usize,
    groups: usize,
    cin_g: usize,
    cout_g: usize,
    h: usize,
    w: usize,
    k: [usize; 2],
    s: [usize; 2],
    p: [usize; 2],
    d: [usize; 2],
    seed: u64,
}

impl Cfg {
    fn out(&self) -> Option<[usize; 2]> {
        let o = |l: usize, i: usize| {
            let span = self.d[i] * (self.k[i] - 1) + 1;
            (l + 2 * self.p[i])
                .checked_sub(span)
                .map(|v| v / self.s[i] + 1)
        };
        Some([o(self.h, 0)?, o(self.w, 1)?])
    }
}

fn cfg() -> impl Strategy<Value = Cfg> {
    (
        (1usize..3, 1usize..3, 1usize..3, 1usize..3),
        (1usize..7, 1usize..7),
        (
            [1usize..4, 1usize..4],
            [1usize..3, 1usize..3],
            [0usize..3, 0usize..3],
            [1usize..3, 1usize..3],
        ),
        any::<u64>(),
    )
        .prop_map(
            |((n, groups, cin_g, cout_g), (h, w), (k, s, p, d), seed)| Cfg {
                n,
                groups,
                cin_g,
                cout_g,
                h,
                w,
                k,
                s,
                p,
                d,
                seed,
            },
        )
        .prop_filter("the kernel must fit the padded input", |c| {
            c.out().is_some()
        })
}

fn naive(c: &Cfg, x: &[f64], w: &[f64], b: &[f64]) -> Vec<f64> {
    let [oh, ow] = c.out().unwrap();
    let (cin, cout) = (c.groups * c.cin_g, c.groups * c.cout_g);
    let mut y = vec![0.0; c.n * cout * oh * ow];
    for n in 0..c.n {
        for o in 0..cout {
            let g = o / c.cout_g;
            for i in 0..oh {
                for j in 0..ow {
                    let mut acc = b[o];
                    for ci in 0..c.cin_g {
                        for a in 0..c.k[0] {
                            for e in 0..c.k[1] {
                                let yy = (i * c.s[0] + a * c.d[0]) as isize - c.p[0] as isize;
                                let xx = (j * c.s[1] + e * c.d[1]) as isize - c.p[1] as isize;
                                if yy < 0 || xx < 0 || yy >= c.h as isize || xx >= c.w as isize {
                                    continue;
                                }
                                let xi = ((n * cin + g * c.cin_g + ci) * c.h + yy as usize) * c.w
                                    + xx as usize;
                                acc += w[((o * c.cin_g + ci) * c.k[0] + a) * c.k[1] + e] * x[xi];
                            }
                        }
                    }
                    y[((n * cout + o) * oh + i) * ow + j] = acc;
                }
            }
        }
    }
    y
}

fn tensors(c: &Cfg) -> (Tensor<f64>, Tensor<f64>, Tensor<f64>) {
    let mut rng = Rng::new(c.seed);
    let (cin, cout) = (c.groups * c.cin_g, c.groups * c.cout_g);
    let xs = [c.n, cin, c.h, c.w];
    let ws = [cout, c.cin_g, c.k[0], c.k[1]];
    let x = Tensor::from_vec(&xs, rng.uniform_vec(xs.iter().product(), -1.0, 1.0)).unwrap();
    let w = Tensor::from_vec(&ws, rng.uniform_vec(ws.iter().product(), -1.0, 1.0)).unwrap();
    let b = Tensor::from_vec(&[cout], rng.uniform_vec(cout, -1.0, 1.0)).unwrap();
    (x, w, b)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn conv2d_matches_the_direct_loop(c in cfg()) {
        let (x, w, b) = tensors(&c);
        let y = conv_nd(&Var::constant(x.clone()), &Var::constant(w.clone()), Some(&Var::constant(b.clone())), &c.s, &c.p, &c.d, c.groups).unwrap();
        let [oh, ow] = c.out().unwrap();
        prop_assert_eq!(y.shape(), vec![c.n, c.groups * c.cout_g, oh, ow]);
        let want = naive(&c, x.as_slice(), w.as_slice(), b.as_slice());
        for (i, (a, e)) in y.value().as_slice().iter().zip(&want).enumerate() {
            prop_assert!((a - e).abs() < 1e-12, "element {}: {} vs {}", i, a, e);
        }
    }

    #[test]
    fn conv3d_with_unit_depth_is_conv2d(c in cfg()) {
        let (x, w, b) = tensors(&c);
        let y2 = conv_nd(&Var::constant(x.clone()), &Var::constant(w.clone()), Some(&Var::constant(b.clone())), &c.s, &c.p, &c.d, c.groups).unwrap();
        let (xs, ws) = (x.shape().to_vec(), w.shape().to_vec());
        let x3 = x.reshape(&[xs[0], xs[1], 1, xs[2], xs[3]]).unwrap();
        let w3 = w.reshape(&[ws[0], ws[1], 1, ws[2], ws[3]]).unwrap();
        let y3 = conv_nd(&Var::constant(x3), &Var::constant(w3), Some(&Var::constant(b)), &[1, c.s[0], c.s[1]], &[0, c.p[0], c.p[1]], &[1, c.d[0], c.d[1]], c.groups).unwrap();
        prop_assert_eq!(y3.shape()[2], 1);
        prop_assert_eq!(y3.value().to_vec(), y2.value().to_vec());
    }

    #[test]
    fn conv1d_is_conv2d_with_unit_height(c in cfg()) {
        let c = Cfg { h: 1, k: [1, c.k[1]], s: [1, c.s[1]], p: [0, c.p[1]], d: [1, c.d[1]], ..c };
        prop_assume!(c.out().is_some());
        let (x, w, b) = tensors(&c);
        let y2 = conv_nd(&Var::constant(x.clone()), &Var::constant(w.clone()), Some(&Var::constant(b.clone())), &c.s, &c.p, &c.d, c.groups).unwrap();
        let x1 = x.reshape(&[x.shape()[0], x.shape()[1], c.w]).unwrap();
        let w1 = w.reshape(&[w.shape()[0], w.shape()[1], c.k[1]]).unwrap();
        let y1 = conv_nd(&Var::constant(x1), &Var::constant(w1), Some(&Var::constant(b)), &c.s[1..], &c.p[1..], &c.d[1..], c.groups).unwrap();
        prop_assert_eq!(y1.value().to_vec(), y2.value().to_vec());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn conv2d_gradients_pass_gradcheck(c in cfg().prop_filter("small", |c| c.n * c.groups * c.cin_g * c.h * c.w <= 48)) {
        let (x, w, b) = tensors(&c);
        let (s, p, d, g) = (c.s, c.p, c.d, c.groups);
        let f = single(move |v: &[Var<f64>]| {
            conv_nd(&v[0], &v[1], Some(&v[2]), &s, &p, &d, g).map_err(|e| autograd::AutogradError::op("conv2d", e))
        });
        let opts = GradcheckOptions { seed: c.seed, ..GradcheckOptions::default() };
        let inputs = [x, w, b];
        let first = gradcheck(&f, &inputs, &opts).unwrap();
        prop_assert!(first.passed, "{:?}", first);
        let second = gradgradcheck(&f, &inputs, &opts).unwrap();
        prop_assert!(second.passed, "{:?}", second);
    }
}

#[test]
fn conv3d_gradients_pass_gradcheck() {
    let mut rng = Rng::new(8);
    let mut t =
        |s: &[usize]| Tensor::from_vec(s, rng.uniform_vec(s.iter().product(), -1.0, 1.0)).unwrap();
    let inputs = [t(&[1, 2, 3, 3, 4]), t(&[2, 1, 2, 2, 2]), t(&[2])];
    let f = single(|v: &[Var<f64>]| {
        conv_nd(
            &v[0],
            &v[1],
            Some(&v[2]),
            &[1, 2, 1],
            &[1, 0, 1],
            &[1, 1, 2],
            2,
        )
        .map_err(|e| autograd::AutogradError::op("conv3d", e))
    });
    let opts = GradcheckOptions::default();
    let first = gradcheck(&f, &inputs, &opts).unwrap();
    assert!(first.passed, "{first:?}");
    let second = gradgradcheck(&f, &inputs, &opts).unwrap();
    assert!(second.passed, "{second:?}");
}

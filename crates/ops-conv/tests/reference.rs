//! The convolution kernels against a naive reference (plain loops over the
//! definition), in f64 to 1e-12 and f32 against f64, for random shapes with
//! groups, strides, dilations and uneven zero padding on 1 to 3 axes; the
//! sequential and parallel kernels bitwise equal, on pools of 1 to 4 threads.

use core_tensor::{Float, Par, Rng};
use ops_conv::kernels::{
    conv_backward_bias, conv_backward_input, conv_backward_weight, conv_forward,
};
use ops_conv::{ConvGeom, ConvParams};
use proptest::prelude::*;

/// A case: input shape, weight shape, parameters.
#[derive(Clone, Debug)]
struct Case {
    x: Vec<usize>,
    w: Vec<usize>,
    p: ConvParams,
}

/// Geometry lifted to three axes: (input, output, kernel, stride, before, dilation).
fn lift(g: &ConvGeom) -> [[usize; 3]; 6] {
    let l = |v: &[usize], f: usize| {
        let mut a = [f; 3];
        a[3 - v.len()..].copy_from_slice(v);
        a
    };
    let before: Vec<usize> = g.padding.iter().map(|p| p[0]).collect();
    [
        l(&g.input, 1),
        l(&g.output, 1),
        l(&g.kernel, 1),
        l(&g.stride, 1),
        l(&before, 0),
        l(&g.dilation, 1),
    ]
}

/// Calls `f(n, o, p, ci_global, ci_in_group, t, i)` for every term of the
/// definition `y[n, o, p] += w[o, ci, t] · x[n, c, i]` whose input index `i`
/// (flat, in the plane) lies inside the input.
fn for_each_term(g: &ConvGeom, mut f: impl FnMut(usize, usize, usize, usize, usize, usize, usize)) {
    let [inp, out, ker, st, pad, dil] = lift(g);
    let (cg, cog) = (g.cg(), g.cog());
    for n in 0..g.n {
        for o in 0..g.cout {
            let grp = o / cog;
            for (pz, py, px) in itertools(out) {
                let p = (pz * out[1] + py) * out[2] + px;
                for ci in 0..cg {
                    for (kz, ky, kx) in itertools(ker) {
                        let t = (kz * ker[1] + ky) * ker[2] + kx;
                        let at = |o: usize, k: usize, a: usize| {
                            let i = (o * st[a] + k * dil[a]) as isize - pad[a] as isize;
                            (0..inp[a] as isize).contains(&i).then_some(i as usize)
                        };
                        if let (Some(iz), Some(iy), Some(ix)) =
                            (at(pz, kz, 0), at(py, ky, 1), at(px, kx, 2))
                        {
                            f(
                                n,
                                o,
                                p,
                                grp * cg + ci,
                                ci,
                                t,
                                (iz * inp[1] + iy) * inp[2] + ix,
                            );
                        }
                    }
                }
            }
        }
    }
}

fn itertools(d: [usize; 3]) -> impl Iterator<Item = (usize, usize, usize)> {
    (0..d[0]).flat_map(move |a| (0..d[1]).flat_map(move |b| (0..d[2]).map(move |c| (a, b, c))))
}

/// Forward, dx, dw, db by the definition, for output gradient `dy`.
fn naive(g: &ConvGeom, x: &[f64], w: &[f64], b: &[f64], dy: &[f64]) -> [Vec<f64>; 4] {
    let (l, plane, taps, cg) = (g.positions(), g.plane(), g.taps(), g.cg());
    let mut y: Vec<f64> = (0..g.n * g.cout * l).map(|i| b[(i / l) % g.cout]).collect();
    let mut dx = vec![0.0; x.len()];
    let mut dw = vec![0.0; w.len()];
    let mut db = vec![0.0; g.cout];
    for_each_term(g, |n, o, p, c, ci, t, i| {
        let (yi, wi, xi) = (
            (n * g.cout + o) * l + p,
            (o * cg + ci) * taps + t,
            (n * g.c + c) * plane + i,
        );
        y[yi] += w[wi] * x[xi];
        dx[xi] += w[wi] * dy[yi];
        dw[wi] += x[xi] * dy[yi];
    });
    for (i, v) in dy.iter().enumerate() {
        db[(i / l) % g.cout] += v;
    }
    [y, dx, dw, db]
}

fn close(got: &[f64], want: &[f64], rtol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(
            (a - b).abs() <= rtol * scale,
            "{what}[{i}]: {a} vs {b} (scale {scale})"
        );
    }
}

fn random(n: usize, rng: &mut Rng) -> Vec<f64> {
    rng.uniform_vec(n, -1.0, 1.0)
}

/// Every kernel in `F` with `par`.
fn kernels<F: Float>(
    g: &ConvGeom,
    x: &[f64],
    w: &[f64],
    b: &[f64],
    dy: &[f64],
    par: Par,
) -> [Vec<F>; 4] {
    let c = |v: &[f64]| v.iter().map(|&a| F::cast(a)).collect::<Vec<F>>();
    let (x, w, b, dy) = (c(x), c(w), c(b), c(dy));
    [
        conv_forward(&x, &w, Some(&b), g, par),
        conv_backward_input(&dy, &w, g, par),
        conv_backward_weight(&dy, &x, g, par),
        conv_backward_bias(&dy, g, par),
    ]
}

fn check(case: &Case, seed: u64) {
    let g = ConvGeom::new(&case.x, &case.w, &case.p).expect("valid case");
    let mut rng = Rng::new(seed);
    let x = random(case.x.iter().product(), &mut rng);
    let w = random(case.w.iter().product(), &mut rng);
    let b = random(g.cout, &mut rng);
    let dy = random(g.output_shape().iter().product(), &mut rng);
    let want = naive(&g, &x, &w, &b, &dy);
    let names = ["y", "dx", "dw", "db"];
    let seq = kernels::<f64>(&g, &x, &w, &b, &dy, Par::Seq);
    let par = kernels::<f64>(&g, &x, &w, &b, &dy, Par::Rayon);
    let single = kernels::<f32>(&g, &x, &w, &b, &dy, Par::Rayon);
    for k in 0..4 {
        close(&seq[k], &want[k], 1e-12, names[k]);
        assert_eq!(seq[k], par[k], "{}: Seq and Rayon differ", names[k]);
        let widened: Vec<f64> = single[k].iter().map(|v| v.widen()).collect();
        close(&widened, &want[k], 1e-4, names[k]);
    }
}

fn case(
    x: &[usize],
    w: &[usize],
    stride: &[usize],
    padding: &[[usize; 2]],
    dilation: &[usize],
    groups: usize,
) -> Case {
    Case {
        x: x.to_vec(),
        w: w.to_vec(),
        p: ConvParams {
            stride: stride.to_vec(),
            padding: padding.to_vec(),
            dilation: dilation.to_vec(),
            groups,
        },
    }
}

#[test]
fn named_geometries_match_the_definition() {
    let cases = [
        // The examples' layers (smaller batch).
        case(
            &[3, 1, 28, 28],
            &[16, 1, 3, 3],
            &[1, 1],
            &[[1, 1], [1, 1]],
            &[1, 1],
            1,
        ),
        case(
            &[2, 16, 14, 14],
            &[32, 16, 3, 3],
            &[1, 1],
            &[[1, 1], [1, 1]],
            &[1, 1],
            1,
        ),
        // Pointwise, grouped pointwise, depthwise.
        case(
            &[2, 6, 5, 7],
            &[4, 6, 1, 1],
            &[1, 1],
            &[[0, 0], [0, 0]],
            &[1, 1],
            1,
        ),
        case(&[2, 6, 9], &[9, 2, 1], &[1], &[[0, 0]], &[1], 3),
        case(
            &[2, 4, 6, 6],
            &[8, 1, 3, 3],
            &[2, 1],
            &[[1, 0], [2, 2]],
            &[1, 2],
            4,
        ),
        // Strided 1-x-1 (not pointwise) and a kernel as large as the input.
        case(
            &[1, 3, 7, 7],
            &[2, 3, 1, 1],
            &[2, 3],
            &[[0, 0], [1, 1]],
            &[1, 1],
            1,
        ),
        case(
            &[2, 2, 4, 5],
            &[3, 2, 4, 5],
            &[1, 1],
            &[[0, 0], [0, 0]],
            &[1, 1],
            1,
        ),
        // Zeros only after the input ('same' padding of an even kernel).
        case(&[2, 3, 9], &[4, 3, 4], &[1], &[[1, 2]], &[1], 1),
        case(&[2, 3, 9], &[4, 3, 3], &[2], &[[0, 2]], &[1], 1),
        // Uneven padding, dilation, 1-d and 3-d.
        case(&[2, 4, 11], &[6, 2, 4], &[3], &[[5, 1]], &[2], 2),
        case(
            &[1, 2, 5, 4, 6],
            &[3, 2, 2, 3, 2],
            &[1, 2, 1],
            &[[1, 0], [1, 1], [0, 3]],
            &[2, 1, 3],
            1,
        ),
        // Several samples per tile, the last block shorter, with groups.
        case(
            &[11, 2, 10, 10],
            &[3, 2, 3, 3],
            &[1, 1],
            &[[1, 1], [1, 1]],
            &[1, 1],
            1,
        ),
        case(
            &[9, 4, 6, 6],
            &[6, 2, 3, 3],
            &[1, 2],
            &[[0, 1], [1, 1]],
            &[2, 1],
            2,
        ),
        // Several tiles per sample (144 unfolded rows: tiles of 896, 896
        // and 323 of the 2115 positions) and several partial sums of dw.
        case(
            &[3, 16, 47, 45],
            &[4, 16, 3, 3],
            &[1, 1],
            &[[1, 1], [1, 1]],
            &[1, 1],
            1,
        ),
        case(&[2, 3, 300], &[5, 3, 7], &[2], &[[3, 3]], &[1], 1),
    ];
    for (i, c) in cases.iter().enumerate() {
        check(c, i as u64);
    }
}

#[test]
fn results_are_bitwise_equal_on_any_number_of_threads() {
    // Unfolded products (36 rows), and the direct forward (9 rows).
    let unfolded = case(
        &[6, 8, 30, 30],
        &[12, 4, 3, 3],
        &[1, 1],
        &[[1, 1], [1, 1]],
        &[1, 1],
        2,
    );
    let direct = case(
        &[9, 1, 28, 28],
        &[16, 1, 3, 3],
        &[1, 1],
        &[[1, 1], [1, 1]],
        &[1, 1],
        1,
    );
    for c in [unfolded, direct] {
        bitwise_equal_on_1_to_4_threads(&c);
    }
}

fn bitwise_equal_on_1_to_4_threads(c: &Case) {
    let g = ConvGeom::new(&c.x, &c.w, &c.p).unwrap();
    let mut rng = Rng::new(9);
    let (x, w, b) = (
        random(g.plane() * g.n * g.c, &mut rng),
        random(c.w.iter().product(), &mut rng),
        random(g.cout, &mut rng),
    );
    let dy = random(g.output_shape().iter().product(), &mut rng);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| kernels::<f32>(&g, &x, &w, &b, &dy, Par::Rayon))
    };
    let one = run(1);
    for threads in [2, 3, 4] {
        assert_eq!(one, run(threads), "{threads} threads");
    }
}

/// Valid random cases: d in 1..=3, small sizes.
fn cases() -> impl Strategy<Value = Case> {
    (1usize..=3, 1usize..=3, 1usize..=3, 1usize..=3, 1usize..=2)
        .prop_flat_map(|(d, groups, cg, cog, n)| {
            let axis = (
                1usize..=4,
                1usize..=3,
                1usize..=2,
                0usize..=2,
                0usize..=2,
                0usize..=6,
            );
            (
                Just((d, groups, cg, cog, n)),
                proptest::collection::vec(axis, d),
            )
        })
        .prop_map(|((d, groups, cg, cog, n), axes)| {
            let mut x = vec![n, groups * cg];
            let mut w = vec![groups * cog, cg];
            let mut p = ConvParams::new(d).groups(groups);
            for (i, &(k, s, dil, before, after, extra)) in axes.iter().enumerate() {
                // Input large enough for one window: (k-1)·dil + 1 - pads.
                let need = ((k - 1) * dil + 1).saturating_sub(before + after).max(1);
                x.push(need + extra);
                w.push(k);
                p.stride[i] = s;
                p.dilation[i] = dil;
                p.padding[i] = [before, after];
            }
            Case { x, w, p }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn random_geometries_match_the_definition(c in cases(), seed in 0u64..1000) {
        check(&c, seed);
    }

    #[test]
    fn arbitrary_arguments_never_panic(
        x in proptest::collection::vec(0usize..6, 0..6),
        w in proptest::collection::vec(0usize..6, 0..6),
        stride in proptest::collection::vec(0usize..3, 0..4),
        pad in proptest::collection::vec((0usize..3, 0usize..3), 0..4),
        dilation in proptest::collection::vec(0usize..3, 0..4),
        groups in 0usize..4,
    ) {
        use autograd::Var;
        use core_tensor::Tensor;
        let p = ConvParams { stride, padding: pad.iter().map(|&(a, b)| [a, b]).collect(), dilation, groups };
        let xv = Var::leaf(Tensor::<f64>::zeros(&x));
        let wv = Var::leaf(Tensor::<f64>::ones(&w));
        if let Ok(y) = ops_conv::conv(&xv, &wv, None, &p) {
            // A valid call runs forward and backward.
            y.sum_all().backward().unwrap();
            let gw = wv.grad().unwrap();
            prop_assert_eq!(gw.shape(), &w[..]);
        }
    }
}

//! The vendored conformance suites run through the library runner, plus unit
//! tests of the comparison helper and of the runner's handling of bad input.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::OnceLock;

use core_tensor::Tensor;
use xtask::conformance::case::{Case, CaseError, CaseTensor, Produced};
use xtask::conformance::compare::{CompareError, Tolerance, compare_floats, compare_tensors};
use xtask::conformance::runner::{self, RunnerError, Summary, TensorFailureKind, Verdict};

/// Every op the suites use (FORMAT.md's table).
const ALL_OPS: &[&str] = &[
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool3d",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "batch_norm",
    "group_norm",
    "instance_norm",
    "layer_norm",
    "lp_pool1d",
    "lp_pool2d",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "max_unpool1d",
    "max_unpool2d",
    "max_unpool3d",
];

/// The ops the workspace adapters (`xtask/src/conformance/{pool,norm}.rs`)
/// are expected to support. Keep it equal to what they support (it was a
/// list of ops while the adapters were being written; now every op is
/// supported). Whenever it covers every op in [`ALL_OPS`], the tests below
/// assert that every case of both suites passes.
const EXPECTED_SUPPORTED: &[&str] = ALL_OPS;

/// Case counts per suite (conformance/README.md).
const TORCH_CASES: usize = 479;
const ONNX_CASES: usize = 70;

fn suites() -> Vec<PathBuf> {
    let dir = xtask::conformance_dir();
    vec![dir.join("torch"), dir.join("onnx")]
}

/// Both suites through the workspace adapters, run once per test binary.
fn summary() -> &'static Summary {
    static SUMMARY: OnceLock<Summary> = OnceLock::new();
    SUMMARY.get_or_init(|| {
        runner::run_folders(&suites(), None, &runner::workspace_adapter)
            .expect("suite folders exist")
    })
}

fn supported_ops(summary: &Summary) -> BTreeSet<String> {
    summary
        .results
        .iter()
        .filter(|r| r.verdict != Verdict::UnsupportedOp)
        .filter_map(|r| r.op.clone())
        .collect()
}

#[test]
fn every_case_file_loads_and_is_well_formed() {
    let dir = xtask::conformance_dir();
    for (suite, expected) in [("torch", TORCH_CASES), ("onnx", ONNX_CASES)] {
        let files = runner::find_case_files(&[dir.join(suite)]).unwrap();
        assert_eq!(files.len(), expected, "case files in conformance/{suite}");
        for path in files {
            let case = Case::load(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(
                ALL_OPS.contains(&case.op.as_str()),
                "{}: unknown op {}",
                case.name,
                case.op
            );
            assert!(case.tensors.contains_key("in.x"), "{}: no in.x", case.name);
            assert!(
                case.tensors.contains_key("out.y"),
                "{}: no out.y",
                case.name
            );
            assert!(
                case.rtol > 0.0 && case.atol > 0.0,
                "{}: tolerances {} {}",
                case.name,
                case.rtol,
                case.atol
            );
            assert!(
                case.params.is_object(),
                "{}: params {}",
                case.name,
                case.params
            );
            let has_grad_in = case.tensors.keys().any(|k| k.starts_with("grad_in."));
            assert_eq!(
                case.has_backward(),
                has_grad_in,
                "{}: grad_out.y and grad_in.* go together",
                case.name
            );
            if has_grad_in {
                assert!(
                    case.grad_rtol.is_some() && case.grad_atol.is_some(),
                    "{}: gradient tolerances",
                    case.name
                );
            }
        }
    }
}

#[test]
fn supported_ops_are_the_expected_ones() {
    let supported = supported_ops(summary());
    let expected: BTreeSet<String> = EXPECTED_SUPPORTED.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        supported, expected,
        "the adapters support a different set of ops than EXPECTED_SUPPORTED in xtask/tests/conformance.rs; update the list"
    );
}

#[test]
fn every_case_of_a_supported_op_passes() {
    let s = summary();
    assert_eq!(s.results.len(), TORCH_CASES + ONNX_CASES);
    let failures: Vec<String> = s
        .results
        .iter()
        .filter(|r| r.verdict != Verdict::UnsupportedOp && !r.passed())
        .map(|r| r.to_string())
        .collect();
    assert!(
        failures.is_empty(),
        "{} failing cases of supported ops:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn unsupported_cases_are_exactly_those_of_unlisted_ops() {
    let s = summary();
    let unlisted: usize = s
        .results
        .iter()
        .filter(|r| !EXPECTED_SUPPORTED.contains(&r.op.as_deref().unwrap_or_default()))
        .count();
    assert_eq!(s.failed(), unlisted, "{}", s.report());
    if ALL_OPS.iter().all(|op| EXPECTED_SUPPORTED.contains(op)) {
        assert_eq!(
            s.failed(),
            0,
            "every op is supported, so every case must pass:\n{}",
            s.report()
        );
        assert_eq!(s.passed(), TORCH_CASES + ONNX_CASES);
    }
    assert!(
        s.report()
            .ends_with(&format!("{} passed, {} failed\n", s.passed(), s.failed()))
    );
}

/// An adapter that returns the case's own expected tensors, optionally
/// transformed: checks the runner end to end on every real case.
fn echo(
    case: &Case,
    edit: impl Fn(&str, &CaseTensor) -> Option<CaseTensor>,
) -> Option<Result<Produced, CaseError>> {
    let mut p = Produced::default();
    for (name, t) in &case.tensors {
        let t = match edit(name, t) {
            Some(t) => t,
            None => continue,
        };
        if let Some(n) = name.strip_prefix("out.") {
            p.outputs.insert(n.to_string(), t);
        } else if let Some(n) = name.strip_prefix("grad_in.") {
            p.grads.insert(n.to_string(), t);
        }
    }
    Some(Ok(p))
}

/// Moves element 0 far outside any tolerance the suites use (NaN and
/// infinities become 0, finite `v` becomes `v + 1 + 2|v|`).
fn perturb_first(t: &CaseTensor) -> CaseTensor {
    fn bump(v: f64) -> f64 {
        if v.is_finite() {
            v + 1.0 + 2.0 * v.abs()
        } else {
            0.0
        }
    }
    match t {
        CaseTensor::F32(t) => {
            let mut v = t.to_vec();
            v[0] = bump(f64::from(v[0])) as f32;
            CaseTensor::F32(Tensor::from_vec(t.shape(), v).unwrap())
        }
        CaseTensor::F64(t) => {
            let mut v = t.to_vec();
            v[0] = bump(v[0]);
            CaseTensor::F64(Tensor::from_vec(t.shape(), v).unwrap())
        }
        CaseTensor::I64(t) => {
            let mut v = t.to_vec();
            v[0] += 1;
            CaseTensor::I64(Tensor::from_vec(t.shape(), v).unwrap())
        }
    }
}

#[test]
fn an_adapter_echoing_the_expectations_passes_every_case() {
    let s = runner::run_folders(&suites(), None, &|c| echo(c, |_, t| Some(t.clone()))).unwrap();
    assert_eq!(
        (s.passed(), s.failed()),
        (TORCH_CASES + ONNX_CASES, 0),
        "{}",
        s.report()
    );
}

/// An echo adapter with `tensor` moved out of tolerance by [`perturb_first`].
fn perturbing(tensor: &'static str) -> impl Fn(&Case) -> Option<Result<Produced, CaseError>> {
    move |c: &Case| {
        echo(c, |name, t| {
            Some(if name == tensor {
                perturb_first(t)
            } else {
                t.clone()
            })
        })
    }
}

/// How many cases of a run hold `tensor`.
fn holding(s: &Summary, tensor: &str) -> usize {
    s.results
        .iter()
        .filter(|r| Case::load(&r.path).unwrap().tensors.contains_key(tensor))
        .count()
}

#[test]
fn a_wrong_output_fails_every_case_and_names_the_element() {
    let s = runner::run_folders(&suites(), None, &perturbing("out.y")).unwrap();
    assert_eq!(s.passed(), 0, "{}", s.report());
    for r in &s.results {
        let Verdict::Mismatch(fails) = &r.verdict else {
            panic!("{r}")
        };
        assert_eq!(fails.len(), 1, "{r}");
        assert_eq!(fails[0].tensor, "out.y");
        let TensorFailureKind::Values { comparison, .. } = &fails[0].kind else {
            panic!("{r}")
        };
        let worst = comparison.worst.as_ref().unwrap();
        assert_eq!(worst.flat, 0, "{r}");
        assert!(worst.index.iter().all(|&i| i == 0), "{r}");
        assert!(r.to_string().contains("out.y at [0"), "{r}");
    }
}

#[test]
fn wrong_gradients_and_indices_fail_and_missing_outputs_fail() {
    let s = runner::run_folders(&suites(), None, &perturbing("grad_in.x")).unwrap();
    let with_grad = holding(&s, "grad_in.x");
    assert!(with_grad > 300, "{with_grad} cases check grad_in.x");
    assert_eq!(s.failed(), with_grad);

    let s = runner::run_folders(&suites(), Some("max_pool2d"), &perturbing("out.indices")).unwrap();
    let with_idx = holding(&s, "out.indices");
    assert!(with_idx > 10);
    assert_eq!(s.failed(), with_idx);
    assert!(
        s.results
            .iter()
            .all(|r| r.op.as_deref() == Some("max_pool2d"))
    );

    let missing = |c: &Case| echo(c, |name, t| (name != "out.y").then(|| t.clone()));
    let s = runner::run_folders(&suites(), Some("batch_norm"), &missing).unwrap();
    assert_eq!(s.results.len(), 64 + 4);
    assert_eq!(s.passed(), 0);
    assert!(
        s.report().contains("out.y expected but not produced"),
        "{}",
        s.report()
    );
}

#[test]
fn unsupported_ops_and_adapter_errors_are_failures_with_a_line() {
    let s = runner::run_folders(&suites(), Some("lp_pool2d"), &|_| None).unwrap();
    assert_eq!((s.passed(), s.failed()), (0, 12 + 4));
    let report = s.report();
    assert_eq!(
        report,
        "FAIL lp_pool2d: unsupported op (16 cases)\n0 passed, 16 failed\n"
    );

    let s = runner::run_folders(&suites(), Some("lp_pool1d"), &|_| {
        Some(Err(CaseError::Failed("kernel said no".into())))
    })
    .unwrap();
    assert_eq!(s.failed(), 12);
    assert!(
        s.report()
            .lines()
            .next()
            .unwrap()
            .ends_with("(lp_pool1d): error: kernel said no"),
        "{}",
        s.report()
    );
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xtask-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn bad_files_are_failed_cases_and_bad_folders_are_errors() {
    let dir = temp_dir("bad-files");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(
        dir.join("sub/garbage.safetensors"),
        b"not a safetensors file",
    )
    .unwrap();
    std::fs::write(dir.join("ignored.txt"), b"not a case").unwrap();
    // A valid file without the `op` metadata.
    let t = vec![0u8; 8];
    let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F64, vec![1], &t).unwrap();
    let meta = std::collections::HashMap::from([("params".to_string(), "{}".to_string())]);
    safetensors::serialize_to_file([("in.x", view)], Some(meta), &dir.join("no_op.safetensors"))
        .unwrap();
    // A complete header but a dtype cases never use.
    let half = safetensors::tensor::TensorView::new(safetensors::Dtype::F16, vec![4], &t).unwrap();
    let meta = std::collections::HashMap::from([
        ("params".to_string(), "{}".to_string()),
        ("op".to_string(), "max_pool1d".to_string()),
    ]);
    safetensors::serialize_to_file([("in.x", half)], Some(meta), &dir.join("f16.safetensors"))
        .unwrap();

    let s =
        runner::run_folders(std::slice::from_ref(&dir), None, &runner::workspace_adapter).unwrap();
    assert_eq!(s.results.len(), 3);
    assert_eq!(s.failed(), 3);
    assert!(
        s.results
            .iter()
            .all(|r| matches!(r.verdict, Verdict::LoadFailed(_)))
    );
    let report = s.report();
    assert!(
        report.contains("no_op.safetensors: cannot load: metadata key `op` is missing"),
        "{report}"
    );
    assert!(
        report.contains("garbage.safetensors: cannot load:"),
        "{report}"
    );
    assert!(
        report.contains(
            "f16.safetensors: cannot load: tensor `in.x` has dtype F16; cases use F32, F64 or I64"
        ),
        "{report}"
    );
    assert!(report.ends_with("0 passed, 3 failed\n"));

    let missing = dir.join("does-not-exist");
    assert!(matches!(
        runner::run_folders(&[missing], None, &runner::workspace_adapter),
        Err(RunnerError::NotAFolder { .. })
    ));
    let file = dir.join("ignored.txt");
    assert!(matches!(
        runner::find_case_files(&[file]),
        Err(RunnerError::NotAFolder { .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_case_with_gradients_but_no_gradient_tolerance_is_an_error() {
    let path = xtask::conformance_dir().join("torch/max_pool2d_basic_f64_00.safetensors");
    let mut case = Case::load(&path).unwrap();
    assert!(case.has_backward());
    let produced = echo(&case, |_, t| Some(t.clone())).unwrap().unwrap();
    assert_eq!(runner::judge(&case, &produced), Verdict::Passed);
    case.grad_atol = None;
    assert!(
        matches!(runner::judge(&case, &produced), Verdict::Error(e) if e.contains("grad_rtol"))
    );
}

#[test]
fn sync_mirrors_the_suites_and_reports_changes() {
    use xtask::conformance::sync::{SyncError, sync};
    let from = temp_dir("sync-from");
    let to = temp_dir("sync-to");
    for (p, b) in [
        ("torch/a.safetensors", "a"),
        ("torch/sub/b.safetensors", "b"),
        ("onnx/README.md", "r"),
        ("FORMAT.md", "f"),
    ] {
        std::fs::create_dir_all(from.join(p).parent().unwrap()).unwrap();
        std::fs::write(from.join(p), b).unwrap();
    }
    std::fs::write(to.join("README.md"), "ours").unwrap();
    let r = sync(&from, &to, false).unwrap();
    assert_eq!(
        (r.added.len(), r.changed.len(), r.removed.len(), r.unchanged),
        (4, 0, 0, 0)
    );
    assert_eq!(
        std::fs::read_to_string(to.join("torch/sub/b.safetensors")).unwrap(),
        "b"
    );

    std::fs::write(from.join("torch/a.safetensors"), "a2").unwrap();
    std::fs::remove_file(from.join("torch/sub/b.safetensors")).unwrap();
    let dry = sync(&from, &to, true).unwrap();
    assert_eq!(dry.changed, vec![PathBuf::from("torch/a.safetensors")]);
    assert_eq!(dry.removed, vec![PathBuf::from("torch/sub/b.safetensors")]);
    assert_eq!(
        std::fs::read_to_string(to.join("torch/a.safetensors")).unwrap(),
        "a",
        "dry run writes nothing"
    );
    let r = sync(&from, &to, false).unwrap();
    assert_eq!(r, dry);
    assert!(!to.join("torch/sub/b.safetensors").exists());
    assert_eq!(
        std::fs::read_to_string(to.join("README.md")).unwrap(),
        "ours",
        "our README is kept"
    );
    assert_eq!(
        r.to_string().lines().last().unwrap(),
        "0 added, 1 changed, 1 removed, 2 unchanged"
    );

    std::fs::remove_file(from.join("FORMAT.md")).unwrap();
    assert!(matches!(
        sync(&from, &to, false),
        Err(SyncError::MissingSource { .. })
    ));
    for d in [from, to] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn the_vendored_copy_matches_the_shared_one_when_present() {
    let shared = xtask::repo_root().join("../shared/conformance");
    if shared.is_dir() {
        let r = xtask::conformance::sync::sync(&shared, &xtask::conformance_dir(), true).unwrap();
        assert!(
            r.added.is_empty() && r.changed.is_empty() && r.removed.is_empty(),
            "{r}"
        );
    }
}

mod compare_helper {
    use super::*;

    fn tol(rtol: f64, atol: f64) -> Tolerance {
        Tolerance::new(rtol, atol)
    }

    #[test]
    fn tolerance_edge_is_inclusive() {
        // bound = 0.5 + 0.25 * |2| = 1.0: a diff of exactly 1 passes (binary-exact values).
        let c = compare_floats(&[3.0, 1.0], &[2], &[2.0, 2.0], &[2], tol(0.25, 0.5)).unwrap();
        assert!(c.passed());
        assert_eq!(c.worst, None);
        let c = compare_floats(&[3.0625, 1.0], &[2], &[2.0, 2.0], &[2], tol(0.25, 0.5)).unwrap();
        assert_eq!(c.mismatches, 1);
        let w = c.worst.unwrap();
        assert_eq!((w.index, w.got, w.want), (vec![0], 3.0625, 2.0));
        // rtol scales with the expected value, not the computed one.
        let c = compare_floats(&[0.0], &[1], &[10.0], &[1], tol(0.5, 0.0)).unwrap();
        assert_eq!(c.mismatches, 1);
        let c = compare_floats(&[10.0], &[1], &[0.0], &[1], tol(0.5, 0.0)).unwrap();
        assert_eq!(c.mismatches, 1);
        let c = compare_floats(&[5.0], &[1], &[10.0], &[1], tol(0.5, 0.0)).unwrap();
        assert!(c.passed());
    }

    #[test]
    fn worst_element_is_the_furthest_outside_with_its_index() {
        let want = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let got = [1.0, 2.1, 3.0, 4.0, 5.0, 5.0];
        let c = compare_floats(&got, &[2, 3], &want, &[2, 3], tol(0.0, 0.01)).unwrap();
        assert_eq!((c.compared, c.mismatches), (6, 2));
        let w = c.worst.unwrap();
        assert_eq!(
            (w.flat, w.index.clone(), w.got, w.want),
            (5, vec![1, 2], 5.0, 6.0)
        );
        assert_eq!(w.to_string(), "at [1, 2]: got 5, want 6");
    }

    #[test]
    fn nan_must_be_nan_at_the_same_position() {
        let nan = f64::NAN;
        let c = compare_floats(&[1.0, nan], &[2], &[1.0, nan], &[2], tol(1e-5, 1e-6)).unwrap();
        assert!(c.passed());
        let c = compare_floats(&[nan, 1.0], &[2], &[1.0, nan], &[2], tol(1e-5, 1e-6)).unwrap();
        assert_eq!(c.mismatches, 2);
        let w = c.worst.unwrap();
        assert_eq!(w.flat, 0);
        assert!(w.got.is_nan() && w.want == 1.0);
        // A NaN is never within tolerance of a number, however loose.
        let c = compare_floats(&[nan], &[1], &[0.0], &[1], tol(1e9, 1e9)).unwrap();
        assert_eq!(c.mismatches, 1);
        let c = compare_floats(&[0.0], &[1], &[nan], &[1], tol(1e9, 1e9)).unwrap();
        assert_eq!(c.mismatches, 1);
    }

    #[test]
    fn infinities_must_match_exactly_with_sign() {
        let inf = f64::INFINITY;
        let c = compare_floats(&[inf, -inf], &[2], &[inf, -inf], &[2], tol(1e-5, 1e-6)).unwrap();
        assert!(c.passed());
        for (got, want) in [
            (-inf, inf),
            (1e308, inf),
            (inf, 1e308),
            (f64::NAN, inf),
            (inf, f64::NAN),
        ] {
            let c = compare_floats(&[got], &[1], &[want], &[1], tol(1.0, 1e300)).unwrap();
            assert_eq!(c.mismatches, 1, "got {got} want {want}");
        }
    }

    #[test]
    fn shapes_must_match_even_with_equal_element_counts() {
        let e =
            compare_floats(&[1.0; 6], &[2, 3], &[1.0; 6], &[3, 2], Tolerance::EXACT).unwrap_err();
        assert_eq!(
            e,
            CompareError::Shape {
                got: vec![2, 3],
                want: vec![3, 2]
            }
        );
        assert_eq!(e.to_string(), "shape mismatch: got [2, 3], want [3, 2]");
        let e =
            compare_floats(&[1.0; 5], &[2, 3], &[1.0; 6], &[2, 3], Tolerance::EXACT).unwrap_err();
        assert!(matches!(
            e,
            CompareError::Length {
                which: "got",
                len: 5,
                needed: 6,
                ..
            }
        ));
    }

    #[test]
    fn indices_are_exact_and_dtypes_must_agree() {
        let idx = |v: Vec<i64>| CaseTensor::I64(Tensor::from_vec(&[2, 2], v).unwrap());
        // Even a loose tolerance does not excuse an index off by one.
        let c = compare_tensors(
            &idx(vec![0, 1, 2, 4]),
            &idx(vec![0, 1, 2, 3]),
            tol(1.0, 10.0),
        )
        .unwrap();
        assert_eq!(c.mismatches, 1);
        let w = c.worst.unwrap();
        assert_eq!((w.index, w.got, w.want), (vec![1, 1], 4.0, 3.0));
        assert!(
            compare_tensors(
                &idx(vec![0, 1, 2, 3]),
                &idx(vec![0, 1, 2, 3]),
                Tolerance::EXACT
            )
            .unwrap()
            .passed()
        );
        let f = CaseTensor::F64(Tensor::from_vec(&[2, 2], vec![0.0, 1.0, 2.0, 3.0]).unwrap());
        let e = compare_tensors(&f, &idx(vec![0, 1, 2, 3]), Tolerance::EXACT).unwrap_err();
        assert_eq!(
            e,
            CompareError::Dtype {
                got: "F64",
                want: "I64"
            }
        );
        let f32t = CaseTensor::F32(Tensor::from_vec(&[2, 2], vec![0.0f32, 1.0, 2.0, 3.0]).unwrap());
        assert!(matches!(
            compare_tensors(&f32t, &f, Tolerance::EXACT),
            Err(CompareError::Dtype { .. })
        ));
    }

    #[test]
    fn f32_values_are_compared_after_exact_widening() {
        // 0.1f32 widened is 0.100000001490116..., not 0.1: an exact f32 match passes at zero tolerance.
        let t = |v: f32| CaseTensor::F32(Tensor::from_vec(&[1], vec![v]).unwrap());
        assert!(
            compare_tensors(&t(0.1), &t(0.1), Tolerance::EXACT)
                .unwrap()
                .passed()
        );
        let next = f32::from_bits(0.1f32.to_bits() + 1);
        let c = compare_tensors(&t(next), &t(0.1), Tolerance::EXACT).unwrap();
        assert_eq!(c.mismatches, 1);
        let w = c.worst.unwrap();
        assert_eq!((w.got, w.want), (f64::from(next), f64::from(0.1f32)));
        assert!(w.got - w.want < 1e-8);
    }

    #[test]
    fn runner_compares_indices_exactly_whatever_the_case_tolerance() {
        let path = xtask::conformance_dir().join("torch/max_pool2d_basic_f64_00.safetensors");
        let case = Case::load(&path).unwrap();
        assert!(case.tensors.contains_key("out.indices"));
        let mut produced = echo(&case, |_, t| Some(t.clone())).unwrap().unwrap();
        let bumped = perturb_first(&produced.outputs["indices"]);
        produced.outputs.insert("indices".into(), bumped);
        // Extra outputs the case does not hold are ignored.
        produced.outputs.insert(
            "running_mean".into(),
            CaseTensor::F64(Tensor::from_vec(&[1], vec![7.0]).unwrap()),
        );
        let Verdict::Mismatch(f) = runner::judge(&case, &produced) else {
            panic!("indices off by one must fail")
        };
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].tensor, "out.indices");
        let TensorFailureKind::Values { tolerance, .. } = &f[0].kind else {
            panic!()
        };
        assert_eq!(*tolerance, Tolerance::EXACT);
    }
}

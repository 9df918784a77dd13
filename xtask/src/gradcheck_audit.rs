//! `cargo xtask gradcheck`: the finite-difference audit of every registered
//! differentiable op.
//!
//! Each crate exposes `gradcheck_cases(seed, per_op)`; [`registered_cases`]
//! gathers them, [`run`] runs each case's first-order check (and the
//! second-order one where the case asks for it) and [`AuditSummary`]
//! tabulates the worst absolute and relative errors per op.
//!
//! ```
//! use xtask::gradcheck_audit::{run, AuditOptions};
//! let summary = run(autograd::samples::gradcheck_cases(0, 1), &AuditOptions::default());
//! assert_eq!(summary.failed(), 0, "{}", summary.report());
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;

use autograd::GradcheckCase;
use autograd::gradcheck::{CaseOutcome, GradcheckReport};

/// Every case the workspace registers: the basic ops of `autograd`, then
/// `ops-pool`, `ops-norm` and `nn`, each with `per_op` samples per op drawn
/// from `seed`.
pub fn registered_cases(seed: u64, per_op: usize) -> Vec<GradcheckCase> {
    let mut cases = autograd::samples::gradcheck_cases(seed, per_op);
    cases.extend(ops_pool::gradcheck_cases(seed, per_op));
    cases.extend(ops_norm::gradcheck_cases(seed, per_op));
    cases.extend(nn::gradcheck_cases(seed, per_op));
    cases
}

/// How to run the audit.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditOptions {
    /// Only cases whose op has this name.
    pub op: Option<String>,
    /// Run `gradgradcheck` for the cases that ask for it.
    pub second_order: bool,
}

impl Default for AuditOptions {
    fn default() -> Self {
        Self {
            op: None,
            second_order: true,
        }
    }
}

/// One case's outcome.
#[derive(Clone, Debug)]
pub struct CaseRecord {
    /// The op.
    pub op: &'static str,
    /// The case's label (shape, parameters).
    pub label: String,
    /// The reports, or the error the function or a backward pass returned.
    pub outcome: Result<CaseOutcome, String>,
}

impl CaseRecord {
    /// Whether every requested order passed without error.
    pub fn passed(&self) -> bool {
        self.outcome.as_ref().is_ok_and(CaseOutcome::passed)
    }
}

/// Worst errors of one order over several cases.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Worst {
    /// Largest `|analytic - numeric|`.
    pub abs: f64,
    /// Largest relative error.
    pub rel: f64,
}

impl Worst {
    fn absorb(&mut self, r: &GradcheckReport) {
        self.abs = self.abs.max(r.max_abs_err);
        self.rel = self.rel.max(r.max_rel_err);
    }
}

/// One row of the table: an op's cases together.
#[derive(Clone, Debug, PartialEq)]
pub struct OpRow {
    /// The op.
    pub op: &'static str,
    /// Cases run.
    pub cases: usize,
    /// Cases failed (wrong gradient or error).
    pub failed: usize,
    /// Worst first-order errors.
    pub first: Worst,
    /// Worst second-order errors, when any case ran a second-order check.
    pub second: Option<Worst>,
}

/// The audit's results.
#[derive(Clone, Debug, Default)]
pub struct AuditSummary {
    /// Every case run, in registration order.
    pub records: Vec<CaseRecord>,
}

impl AuditSummary {
    /// Cases passed.
    pub fn passed(&self) -> usize {
        self.records.iter().filter(|r| r.passed()).count()
    }

    /// Cases failed.
    pub fn failed(&self) -> usize {
        self.records.len() - self.passed()
    }

    /// One row per op, sorted by op name.
    pub fn rows(&self) -> Vec<OpRow> {
        let mut rows: BTreeMap<&'static str, OpRow> = BTreeMap::new();
        for r in &self.records {
            let row = rows.entry(r.op).or_insert(OpRow {
                op: r.op,
                cases: 0,
                failed: 0,
                first: Worst::default(),
                second: None,
            });
            row.cases += 1;
            row.failed += usize::from(!r.passed());
            if let Ok(o) = &r.outcome {
                row.first.absorb(&o.first);
                if let Some(s) = &o.second {
                    row.second.get_or_insert_with(Worst::default).absorb(s);
                }
            }
        }
        rows.into_values().collect()
    }

    /// The printed report: the table, one line per failed case with its
    /// worst element, then `N passed, N failed` alone on the last line.
    pub fn report(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<28} {:>5}  {:>10} {:>10}  {:>10} {:>10}  result",
            "op", "cases", "1st abs", "1st rel", "2nd abs", "2nd rel"
        );
        for row in self.rows() {
            let (a2, r2) = match row.second {
                Some(w) => (format!("{:.2e}", w.abs), format!("{:.2e}", w.rel)),
                None => ("-".into(), "-".into()),
            };
            let result = if row.failed == 0 {
                "pass".to_string()
            } else {
                format!("FAIL ({} failed)", row.failed)
            };
            let _ = writeln!(
                out,
                "{:<28} {:>5}  {:>10.2e} {:>10.2e}  {:>10} {:>10}  {result}",
                row.op, row.cases, row.first.abs, row.first.rel, a2, r2
            );
        }
        for r in self.records.iter().filter(|r| !r.passed()) {
            let _ = match &r.outcome {
                Err(e) => writeln!(out, "FAIL {} [{}]: error: {e}", r.op, r.label),
                Ok(o) => {
                    let mut line = format!("FAIL {} [{}]:", r.op, r.label);
                    if !o.first.passed {
                        let _ = write!(line, " 1st order {}", o.first);
                    }
                    if let Some(s) = o.second.as_ref().filter(|s| !s.passed) {
                        let _ = write!(line, " 2nd order {s}");
                    }
                    writeln!(out, "{line}")
                }
            };
        }
        let _ = writeln!(out, "{} passed, {} failed", self.passed(), self.failed());
        out
    }
}

/// Runs the audit on `cases` (filtered by `options.op`). A case whose
/// function or backward returns an error, or panics, is a failed case.
pub fn run(cases: Vec<GradcheckCase>, options: &AuditOptions) -> AuditSummary {
    let records = cases
        .into_iter()
        .filter(|c| options.op.as_deref().is_none_or(|op| op == c.op))
        .map(|mut case| {
            case.second_order &= options.second_order;
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| case.run()))
                .map_err(|_| "panicked".to_string())
                .and_then(|r| r.map_err(|e| e.to_string()));
            CaseRecord {
                op: case.op,
                label: case.label,
                outcome,
            }
        })
        .collect();
    AuditSummary { records }
}

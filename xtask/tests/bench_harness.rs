//! The benchmark harness's arithmetic and table (no timing assertions: speed
//! goals live in `cargo xtask bench`, never in tests).

use std::cell::Cell;
use std::rc::Rc;

use std::cell::RefCell;
use xtask::bench::BenchCase;
use xtask::bench::harness::{
    BenchOptions, BenchRow, PoolSetup, Timing, footer, format_row, header, run_cases, time,
    time_interleaved, time_pair,
};

#[test]
fn time_runs_warmup_plus_iters_and_orders_median_and_min() {
    let calls = Cell::new(0);
    let t = time(
        || calls.set(calls.get() + 1),
        BenchOptions {
            warmup: 3,
            iters: 5,
            back_to_back: false,
        },
    );
    assert_eq!(calls.get(), 8);
    assert!(t.min_ms >= 0.0 && t.min_ms <= t.median_ms, "{t:?}");
    let calls = Cell::new(0);
    time(
        || calls.set(calls.get() + 1),
        BenchOptions {
            warmup: 0,
            iters: 0,
            back_to_back: false,
        },
    );
    assert_eq!(calls.get(), 1, "at least one timed iteration");
}

#[test]
fn interleaved_timing_alternates_the_two_closures() {
    let order = RefCell::new(String::new());
    let (a, b) = time_interleaved(
        || order.borrow_mut().push('a'),
        || order.borrow_mut().push('b'),
        BenchOptions {
            warmup: 1,
            iters: 3,
            back_to_back: false,
        },
    );
    assert_eq!(order.into_inner(), "abababab");
    assert!(a.min_ms <= a.median_ms && b.min_ms <= b.median_ms);
}

#[test]
fn back_to_back_timing_runs_each_closure_in_a_row() {
    let order = RefCell::new(String::new());
    let opts = BenchOptions {
        warmup: 1,
        iters: 2,
        back_to_back: true,
    };
    time_pair(
        || order.borrow_mut().push('a'),
        || order.borrow_mut().push('b'),
        opts,
    );
    assert_eq!(order.borrow().as_str(), "aaabbb");
    order.borrow_mut().clear();
    time_pair(
        || order.borrow_mut().push('a'),
        || order.borrow_mut().push('b'),
        BenchOptions {
            back_to_back: false,
            ..opts
        },
    );
    assert_eq!(order.into_inner(), "ababab");
}

#[test]
fn rows_derive_bandwidth_ratio_target_and_speedup() {
    let row = BenchRow {
        id: "P1 fwd",
        description: "max_pool2d k=2 s=2 (32,64,56,56) f32".into(),
        kernel: Timing {
            median_ms: 4.0,
            min_ms: 3.5,
        },
        copy: Timing {
            median_ms: 2.0,
            min_ms: 1.9,
        },
        ideal_bytes: 80_000_000,
        target_copy_ratio: 1.5,
        pytorch_ms: Some(6.0),
    };
    assert_eq!(row.gb_per_s(), 20.0);
    assert_eq!(row.ratio(), 2.0);
    assert!(!row.meets_target());
    assert_eq!(row.speedup_vs_pytorch(), Some(1.5));
    let line = format_row(&row);
    assert!(line.starts_with("P1 fwd"), "{line}");
    for part in [
        "4.000",
        "3.500",
        "20.00",
        "2.000",
        "2.00",
        "1.50",
        "FAIL",
        "6.00",
        "1.50x",
        "max_pool2d k=2",
    ] {
        assert!(line.contains(part), "`{part}` in {line}");
    }
    let ok = BenchRow {
        target_copy_ratio: 2.0,
        pytorch_ms: None,
        ..row
    };
    assert!(ok.meets_target());
    let line = format_row(&ok);
    assert!(line.contains("pass") && !line.contains("FAIL"), "{line}");
    assert_eq!(header().split_whitespace().next(), Some("id"));
}

#[test]
fn run_cases_runs_each_case_and_reports_progress() {
    let runs = Rc::new(Cell::new(0));
    let counter = Rc::clone(&runs);
    let data: Vec<f32> = (0..1000).map(|i| i as f32).collect();
    let case = BenchCase {
        id: "T1",
        description: "sum of 1000 f32".into(),
        ideal_bytes: 4000,
        input_bytes: 4000,
        target_copy_ratio: 1e9,
        pytorch_ms: None,
        run: Box::new(move || {
            counter.set(counter.get() + 1);
            std::hint::black_box(data.iter().sum::<f32>());
        }),
    };
    let mut seen = Vec::new();
    let rows = run_cases(
        vec![case],
        BenchOptions {
            warmup: 1,
            iters: 4,
            back_to_back: false,
        },
        |r| seen.push(r.id),
    );
    assert_eq!(runs.get(), 5);
    assert_eq!(seen, vec!["T1"]);
    assert_eq!(rows.len(), 1);
    assert!(rows[0].copy.median_ms > 0.0 && rows[0].meets_target());
}

#[test]
fn the_copy_baseline_really_copies() {
    let mut copy = xtask::bench::harness::CopyBaseline::new(300_000);
    copy.run();
    assert!(copy.is_copied());
}

#[test]
fn the_footer_names_the_pool_setup_and_counts_the_cases_that_pass() {
    let row = |ratio: f64| BenchRow {
        id: "T",
        description: "test".into(),
        kernel: Timing {
            median_ms: ratio,
            min_ms: ratio,
        },
        copy: Timing {
            median_ms: 1.0,
            min_ms: 1.0,
        },
        ideal_bytes: 1,
        target_copy_ratio: 2.0,
        pytorch_ms: None,
    };
    let rows = [row(1.5), row(2.5)];
    let caller = footer(&rows, BenchOptions::default(), PoolSetup::CallerInPool);
    assert!(caller.contains("init_global_pool"), "{caller}");
    assert!(caller.contains("1 of 2 cases meet"), "{caller}");
    let workers = footer(&rows, BenchOptions::default(), PoolSetup::Workers);
    assert!(workers.contains("rayon's default pool"), "{workers}");
    assert!(!workers.contains("init_global_pool"), "{workers}");
    assert_eq!(PoolSetup::default(), PoolSetup::Workers);
}

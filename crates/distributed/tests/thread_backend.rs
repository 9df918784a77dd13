//! The thread backend: collective results, agreement checks and failure
//! handling (no hang when a rank errors, panics or leaves early).

use distributed::prelude::*;
use distributed::{CollectiveOp, ThreadComm};
use proptest::prelude::*;

fn ok_all<T: std::fmt::Debug>(out: Vec<Result<T, DistError>>) -> Vec<T> {
    out.into_iter().map(|r| r.unwrap()).collect()
}

#[test]
fn all_reduce_sums_in_rank_order_on_every_rank() {
    // 1e16 + 1 + (-1e16): rank order gives (1e16 + 1) - 1e16 = 0 in f64,
    // (1e16 - 1e16) + 1 would give 1. Every rank must see the same bits.
    let vals = [1e16f64, 1.0, -1e16];
    let out = ThreadWorld::run(3, |comm| {
        let mut v = [vals[comm.rank()], comm.rank() as f64];
        comm.all_reduce_sum(&mut v)?;
        Ok(v)
    })
    .unwrap();
    for v in ok_all(out) {
        assert_eq!(v, [(1e16 + 1.0) - 1e16, 3.0]);
    }
}

#[test]
fn all_reduce_f32() {
    let out = ThreadWorld::run(4, |comm| {
        let mut v: Vec<f32> = (0..5).map(|i| (i * (comm.rank() + 1)) as f32).collect();
        comm.all_reduce_sum(&mut v)?;
        Ok(v)
    })
    .unwrap();
    for v in ok_all(out) {
        assert_eq!(v, vec![0.0, 10.0, 20.0, 30.0, 40.0]);
    }
}

#[test]
fn broadcast_copies_the_roots_buffer() {
    let out = ThreadWorld::run(3, |comm| {
        let mut v = vec![comm.rank() as f32 * 10.0; 3];
        comm.broadcast(&mut v, 2)?;
        Ok(v)
    })
    .unwrap();
    for v in ok_all(out) {
        assert_eq!(v, vec![20.0; 3]);
    }
}

#[test]
fn all_gather_concatenates_in_rank_order() {
    let out = ThreadWorld::run(3, |comm| {
        let r = comm.rank() as f64;
        comm.all_gather(&[r, r + 0.5])
    })
    .unwrap();
    for v in ok_all(out) {
        assert_eq!(v, vec![0.0, 0.5, 1.0, 1.5, 2.0, 2.5]);
    }
}

#[test]
fn barrier_and_many_rounds() {
    let out = ThreadWorld::run(3, |comm| {
        let mut total = 0.0f64;
        for i in 0..200 {
            comm.barrier()?;
            let mut v = [i as f64 + comm.rank() as f64];
            comm.all_reduce_sum(&mut v)?;
            total += v[0];
        }
        Ok(total)
    })
    .unwrap();
    // Σ_i (3i + 3) = 3·(199·200/2) + 600
    for t in ok_all(out) {
        assert_eq!(t, 3.0 * 19900.0 + 600.0);
    }
}

#[test]
fn empty_world_is_an_error() {
    let r = ThreadWorld::run(0, |_comm: ThreadComm| Ok::<_, DistError>(()));
    assert!(matches!(r, Err(DistError::EmptyWorld { size: 0, .. })));
}

#[test]
fn invalid_root_is_an_error_without_a_collective() {
    let out = ThreadWorld::run(2, |comm| comm.broadcast(&mut [1.0f32], 2)).unwrap();
    for r in out {
        assert!(matches!(
            r,
            Err(DistError::InvalidRoot {
                root: 2,
                size: 2,
                ..
            })
        ));
    }
}

#[test]
fn gather_length_is_checked() {
    let out = ThreadWorld::run(2, |comm| {
        let mut recv = [0.0f64; 3];
        comm.all_gather_buf(
            distributed::Buf::F64(&[1.0, 2.0]),
            distributed::BufMut::F64(&mut recv),
        )
    })
    .unwrap();
    for r in out {
        assert!(matches!(
            r,
            Err(DistError::GatherLength {
                per_rank: 2,
                size: 2,
                expected: 4,
                got: 3
            })
        ));
    }
}

#[test]
fn different_lengths_fail_on_every_rank() {
    let out = ThreadWorld::run(3, |comm| {
        let mut v = vec![1.0f64; if comm.rank() == 1 { 4 } else { 3 }];
        comm.all_reduce_sum(&mut v)
    })
    .unwrap();
    for (rank, r) in out.into_iter().enumerate() {
        match r {
            Err(DistError::Mismatch {
                call,
                rank: me,
                mine,
                theirs,
                other_rank,
            }) => {
                assert_eq!((call, me), (0, rank));
                assert_eq!(mine.len, if rank == 1 { 4 } else { 3 });
                assert_ne!(mine, theirs);
                assert_ne!(other_rank, rank);
            }
            other => panic!("rank {rank}: expected a mismatch, got {other:?}"),
        }
    }
}

#[test]
fn different_ops_and_dtypes_fail_on_every_rank() {
    let out = ThreadWorld::run(2, |comm| {
        if comm.rank() == 0 {
            comm.all_reduce_sum(&mut [1.0f32])
        } else {
            comm.broadcast(&mut [1.0f32], 0)
        }
    })
    .unwrap();
    for r in out {
        let e = r.unwrap_err();
        assert!(matches!(e, DistError::Mismatch { .. }), "{e}");
        assert!(e.to_string().contains("all_reduce_sum(1 x f32)"), "{e}");
    }
    let out = ThreadWorld::run(2, |comm| {
        if comm.rank() == 0 {
            comm.all_reduce_sum(&mut [1.0f32])
        } else {
            comm.all_reduce_sum(&mut [1.0f64])
        }
    })
    .unwrap();
    for r in out {
        assert!(matches!(r, Err(DistError::Mismatch { .. })));
    }
}

#[test]
fn world_stays_usable_after_a_mismatch() {
    let out = ThreadWorld::run(2, |comm| {
        let bad = comm.all_reduce_sum(&mut vec![0.0f64; comm.rank() + 1]);
        assert!(matches!(bad, Err(DistError::Mismatch { call: 0, .. })));
        let mut v = [1.0f64];
        comm.all_reduce_sum(&mut v)?;
        Ok(v[0])
    })
    .unwrap();
    assert_eq!(ok_all(out), vec![2.0, 2.0]);
}

#[test]
fn a_failing_rank_releases_the_others() {
    let out = ThreadWorld::run(3, |comm| {
        if comm.rank() == 1 {
            return Err(DistError::InvalidArgument {
                op: "test",
                param: "x",
                reason: "rank 1 fails before the collective".into(),
            });
        }
        comm.all_reduce_sum(&mut [1.0f64])
    })
    .unwrap();
    assert!(matches!(out[1], Err(DistError::InvalidArgument { .. })));
    for r in [&out[0], &out[2]] {
        assert!(
            matches!(
                r,
                Err(DistError::PeerFailed {
                    op: CollectiveOp::AllReduceSum,
                    failed_rank: 1
                })
            ),
            "{r:?}"
        );
    }
}

#[test]
fn a_rank_that_leaves_early_releases_the_others() {
    let out = ThreadWorld::run(2, |comm| {
        if comm.rank() == 0 {
            return Ok(());
        }
        comm.barrier()
    })
    .unwrap();
    assert!(out[0].is_ok());
    assert!(matches!(
        out[1],
        Err(DistError::PeerExited {
            op: CollectiveOp::Barrier,
            exited_rank: 0
        })
    ));
}

#[test]
fn a_panicking_rank_is_reported_and_releases_the_others() {
    let r = ThreadWorld::run(2, |comm| {
        if comm.rank() == 1 {
            panic!("boom");
        }
        comm.barrier()
    });
    match r {
        Err(DistError::RankPanicked { rank: 1, message }) => assert_eq!(message, "boom"),
        other => panic!("expected RankPanicked, got {other:?}"),
    }
}

#[test]
fn single_comm_is_the_identity() {
    let c = SingleComm;
    let mut v = [1.5f32, 2.5];
    c.all_reduce_sum(&mut v).unwrap();
    c.broadcast(&mut v, 0).unwrap();
    assert_eq!(v, [1.5, 2.5]);
    assert_eq!(c.all_gather(&[3.0f64]).unwrap(), vec![3.0]);
    assert!(matches!(
        c.broadcast(&mut v, 1),
        Err(DistError::InvalidRoot { .. })
    ));
    c.barrier().unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// All-reduce equals the rank-order sum computed here, on every rank.
    #[test]
    fn all_reduce_matches_a_serial_sum(size in 1usize..5, len in 0usize..40, seed in 0u64..1000) {
        let value = |r: usize, i: usize| (((seed as usize + 7 * r + 13 * i) % 97) as f64 - 48.0) / 7.0;
        let out = ThreadWorld::run(size, |comm| {
            let mut v: Vec<f64> = (0..len).map(|i| value(comm.rank(), i)).collect();
            comm.all_reduce_sum(&mut v)?;
            Ok(v)
        }).unwrap();
        let want: Vec<f64> = (0..len)
            .map(|i| (1..size).fold(value(0, i), |a, r| a + value(r, i)))
            .collect();
        for v in ok_all(out) {
            prop_assert_eq!(&v, &want);
        }
    }

    /// Arbitrary (mis)matched calls never hang or panic: either every rank
    /// succeeds or every rank gets an error.
    #[test]
    fn arbitrary_calls_never_hang(size in 1usize..4, lens in proptest::collection::vec(0usize..4, 3), ops in proptest::collection::vec(0u8..4, 3), root in 0usize..4) {
        let out = ThreadWorld::run(size, |comm| {
            let r = comm.rank();
            let mut v = vec![1.0f64; lens[r]];
            match ops[r] {
                0 => comm.barrier(),
                1 => comm.broadcast(&mut v, root),
                2 => comm.all_reduce_sum(&mut v),
                _ => comm.all_gather(&v).map(|_| ()),
            }
        }).unwrap();
        let oks = out.iter().filter(|r| r.is_ok()).count();
        prop_assert!(oks == 0 || oks == size, "{:?}", out);
    }
}

//! One rank per thread in one process: the test and fallback backend.
//!
//! All ranks meet at a rendezvous guarded by a mutex and a condition
//! variable (no spinning). Each call deposits its [`CallDescription`] and a
//! copy of its data; the last rank to arrive completes the round, and every
//! rank then checks the descriptions and computes its own result from the
//! deposited copies, adding in rank order, so all ranks get the same bits.
//! A rank whose closure returns or panics is marked as gone: ranks waiting
//! for it (now or later) get [`DistError::PeerFailed`] or
//! [`DistError::PeerExited`] instead of waiting forever.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::communicator::{
    Buf, BufMut, CollectiveOp, Communicator, check_gather_len, check_root, describe, verdict,
};
use crate::error::{CallDescription, DistError, Result};

/// A copy of one rank's data for one call.
#[derive(Debug)]
enum Payload {
    Empty,
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl Payload {
    fn of(buf: Buf<'_>) -> Self {
        match buf {
            Buf::F32(b) => Payload::F32(b.to_vec()),
            Buf::F64(b) => Payload::F64(b.to_vec()),
        }
    }
}

/// A completed round: every rank's description, whether its local
/// arguments were valid, and its payload.
#[derive(Debug)]
struct Round {
    descriptions: Vec<CallDescription>,
    valid: Vec<bool>,
    payloads: Vec<Payload>,
}

/// One rank's deposit for a round.
#[derive(Debug)]
struct Contribution {
    description: CallDescription,
    valid: bool,
    payload: Payload,
}

#[derive(Debug)]
struct State {
    /// Index of the round being gathered.
    call: u64,
    /// Contributions to the round being gathered.
    slots: Vec<Option<Contribution>>,
    arrived: usize,
    /// The last completed round (index `call - 1`).
    done: Option<Arc<Round>>,
    /// The first rank that failed (returned an error or panicked).
    failed: Option<usize>,
    /// Ranks whose closure has returned.
    exited: Vec<bool>,
}

#[derive(Debug)]
struct Shared {
    size: usize,
    state: Mutex<State>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A rank that panics never does so while holding the lock (no user
        // code runs under it), but recover the guard rather than panic.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn leave(&self, rank: usize, failed: bool) {
        let mut st = self.lock();
        st.exited[rank] = true;
        if failed && st.failed.is_none() {
            st.failed = Some(rank);
        }
        drop(st);
        self.wake.notify_all();
    }
}

/// Why a round cannot complete, if it cannot.
fn blocked(st: &State, op: CollectiveOp) -> Option<DistError> {
    if let Some(failed_rank) = st.failed {
        return Some(DistError::PeerFailed { op, failed_rank });
    }
    (0..st.exited.len())
        .find(|&r| st.exited[r] && st.slots[r].is_none())
        .map(|exited_rank| DistError::PeerExited { op, exited_rank })
}

/// Runs closures as the ranks of a world of threads.
///
/// ```
/// use distributed::{Communicator, CommunicatorExt, ThreadWorld};
///
/// let sums = ThreadWorld::run(3, |comm| {
///     let mut v = [comm.rank() as f64, 1.0];
///     comm.all_reduce_sum(&mut v)?;
///     Ok::<_, distributed::DistError>(v)
/// })?;
/// for s in sums {
///     assert_eq!(s?, [3.0, 3.0]);
/// }
/// # Ok::<(), distributed::DistError>(())
/// ```
#[derive(Debug)]
pub struct ThreadWorld;

impl ThreadWorld {
    /// Runs `f` on `size` threads, each with the [`ThreadComm`] of one rank,
    /// and returns each rank's result in rank order.
    ///
    /// A rank whose `f` returns `Err` or panics is marked failed: the other
    /// ranks' collectives then fail with [`DistError::PeerFailed`] (or
    /// [`DistError::PeerExited`] for a rank that returned `Ok` without
    /// entering a collective the others are in) instead of hanging.
    ///
    /// # Errors
    /// [`DistError::EmptyWorld`] for `size == 0`;
    /// [`DistError::RankPanicked`] for the lowest rank that panicked.
    pub fn run<T, E, F>(size: usize, f: F) -> Result<Vec<Result<T, E>>>
    where
        F: Fn(ThreadComm) -> Result<T, E> + Sync,
        T: Send,
        E: Send,
    {
        if size == 0 {
            return Err(DistError::EmptyWorld {
                op: "ThreadWorld::run",
                size,
            });
        }
        let shared = Arc::new(Shared {
            size,
            state: Mutex::new(State {
                call: 0,
                slots: (0..size).map(|_| None).collect(),
                arrived: 0,
                done: None,
                failed: None,
                exited: vec![false; size],
            }),
            wake: Condvar::new(),
        });
        let f = &f;
        let outcomes: Vec<std::thread::Result<Result<T, E>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..size)
                .map(|rank| {
                    let shared = Arc::clone(&shared);
                    scope.spawn(move || {
                        let comm = ThreadComm {
                            shared: Arc::clone(&shared),
                            rank,
                            calls: AtomicU64::new(0),
                        };
                        let out = catch_unwind(AssertUnwindSafe(|| f(comm)));
                        shared.leave(rank, !matches!(out, Ok(Ok(_))));
                        out
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(Err))
                .collect()
        });
        outcomes
            .into_iter()
            .enumerate()
            .map(|(rank, out)| {
                out.map_err(|payload| DistError::RankPanicked {
                    rank,
                    message: payload
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| payload.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "non-string panic payload".to_string()),
                })
            })
            .collect()
    }
}

/// One rank's handle on a [`ThreadWorld`].
#[derive(Debug)]
pub struct ThreadComm {
    shared: Arc<Shared>,
    rank: usize,
    /// Collective calls made so far by this rank.
    calls: AtomicU64,
}

impl ThreadComm {
    /// Deposits this rank's contribution and waits for the round to
    /// complete; checks that every rank described the same call and that
    /// every rank's local arguments were valid (`local`).
    fn rendezvous(
        &self,
        mine: CallDescription,
        local: Result<()>,
        payload: Payload,
    ) -> Result<Arc<Round>> {
        let call = self.calls.fetch_add(1, Ordering::Relaxed);
        let op = mine.op;
        let mut st = self.shared.lock();
        if let Some(e) = blocked(&st, op) {
            return Err(e);
        }
        st.slots[self.rank] = Some(Contribution {
            description: mine,
            valid: local.is_ok(),
            payload,
        });
        st.arrived += 1;
        let round = if st.arrived == self.shared.size {
            let mut round = Round {
                descriptions: Vec::with_capacity(self.shared.size),
                valid: Vec::with_capacity(self.shared.size),
                payloads: Vec::with_capacity(self.shared.size),
            };
            for slot in st.slots.iter_mut() {
                let c = slot.take().unwrap_or(Contribution {
                    description: mine,
                    valid: false,
                    payload: Payload::Empty,
                });
                round.descriptions.push(c.description);
                round.valid.push(c.valid);
                round.payloads.push(c.payload);
            }
            let round = Arc::new(round);
            st.done = Some(Arc::clone(&round));
            st.arrived = 0;
            st.call += 1;
            drop(st);
            self.shared.wake.notify_all();
            round
        } else {
            let gathering = st.call;
            loop {
                st = self.shared.wake.wait(st).unwrap_or_else(|e| e.into_inner());
                if st.call != gathering {
                    // The next round needs this rank, so `done` is ours.
                    break st.done.clone().ok_or(DistError::PeerFailed {
                        op,
                        failed_rank: self.rank,
                    })?;
                }
                if let Some(e) = blocked(&st, op) {
                    return Err(e);
                }
            }
        };
        verdict(
            call,
            self.rank,
            mine,
            local,
            &round.descriptions,
            &round.valid,
        )?;
        Ok(round)
    }
}

/// Copies a payload into a buffer of the same dtype and length.
fn copy_payload(src: &Payload, dst: &mut BufMut<'_>, op: CollectiveOp) -> Result<()> {
    match (src, dst) {
        (Payload::F32(s), BufMut::F32(d)) if s.len() == d.len() => d.copy_from_slice(s),
        (Payload::F64(s), BufMut::F64(d)) if s.len() == d.len() => d.copy_from_slice(s),
        _ => {
            return Err(DistError::Transport {
                op,
                message: "internal: a deposited buffer does not match the agreed description"
                    .to_string(),
            });
        }
    }
    Ok(())
}

/// The local checks of an all-gather: equal dtypes, `recv` of
/// `size · send.len()` elements.
pub(crate) fn check_gather(send: Buf<'_>, recv: &BufMut<'_>, size: usize) -> Result<()> {
    if send.dtype() != recv.dtype() {
        return Err(DistError::DTypeMismatch {
            op: CollectiveOp::AllGather,
            send: send.dtype(),
            recv: recv.dtype(),
        });
    }
    check_gather_len(send.len(), size, recv.len())
}

/// Copies `send` into `recv` (equal lengths checked by the caller).
pub(crate) fn copy_into(send: Buf<'_>, recv: BufMut<'_>, op: CollectiveOp) -> Result<()> {
    match (send, recv) {
        (Buf::F32(s), BufMut::F32(d)) => d.copy_from_slice(s),
        (Buf::F64(s), BufMut::F64(d)) => d.copy_from_slice(s),
        (s, d) => {
            return Err(DistError::DTypeMismatch {
                op,
                send: s.dtype(),
                recv: d.dtype(),
            });
        }
    }
    Ok(())
}

/// `dst = p_0 + p_1 + ...`, added in rank order.
fn sum_in_rank_order<T: Copy + std::ops::Add<Output = T>>(dst: &mut [T], parts: &[&[T]]) {
    let Some((first, rest)) = parts.split_first() else {
        return;
    };
    dst.copy_from_slice(first);
    for part in rest {
        for (d, &p) in dst.iter_mut().zip(part.iter()) {
            *d = *d + p;
        }
    }
}

impl Communicator for ThreadComm {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.shared.size
    }

    fn barrier(&self) -> Result<()> {
        self.rendezvous(
            describe(CollectiveOp::Barrier, None, 0, 0),
            Ok(()),
            Payload::Empty,
        )
        .map(|_| ())
    }

    fn broadcast_buf(&self, mut buf: BufMut<'_>, root: usize) -> Result<()> {
        let op = CollectiveOp::Broadcast;
        let mine = describe(op, Some(buf.dtype()), buf.len(), root);
        let local = check_root(op, root, self.size());
        let payload = if self.rank == root {
            match &buf {
                BufMut::F32(b) => Payload::F32(b.to_vec()),
                BufMut::F64(b) => Payload::F64(b.to_vec()),
            }
        } else {
            Payload::Empty
        };
        let round = self.rendezvous(mine, local, payload)?;
        if self.rank != root {
            copy_payload(&round.payloads[root], &mut buf, op)?;
        }
        Ok(())
    }

    fn all_reduce_sum_buf(&self, buf: BufMut<'_>) -> Result<()> {
        let op = CollectiveOp::AllReduceSum;
        let mine = describe(op, Some(buf.dtype()), buf.len(), 0);
        let payload = match &buf {
            BufMut::F32(b) => Payload::F32(b.to_vec()),
            BufMut::F64(b) => Payload::F64(b.to_vec()),
        };
        let round = self.rendezvous(mine, Ok(()), payload)?;
        let internal = || DistError::Transport {
            op,
            message: "internal: a deposited buffer does not match the agreed description"
                .to_string(),
        };
        match buf {
            BufMut::F32(d) => {
                let parts = round
                    .payloads
                    .iter()
                    .map(|p| match p {
                        Payload::F32(v) if v.len() == d.len() => Ok(v.as_slice()),
                        _ => Err(internal()),
                    })
                    .collect::<Result<Vec<_>>>()?;
                sum_in_rank_order(d, &parts);
            }
            BufMut::F64(d) => {
                let parts = round
                    .payloads
                    .iter()
                    .map(|p| match p {
                        Payload::F64(v) if v.len() == d.len() => Ok(v.as_slice()),
                        _ => Err(internal()),
                    })
                    .collect::<Result<Vec<_>>>()?;
                sum_in_rank_order(d, &parts);
            }
        }
        Ok(())
    }

    fn all_gather_buf(&self, send: Buf<'_>, mut recv: BufMut<'_>) -> Result<()> {
        let op = CollectiveOp::AllGather;
        let n = send.len();
        let mine = describe(op, Some(send.dtype()), n, 0);
        let local = check_gather(send, &recv, self.size());
        let round = self.rendezvous(mine, local, Payload::of(send))?;
        for (r, p) in round.payloads.iter().enumerate() {
            let range = r * n..(r + 1) * n;
            let mut block = match &mut recv {
                BufMut::F32(d) => BufMut::F32(&mut d[range]),
                BufMut::F64(d) => BufMut::F64(&mut d[range]),
            };
            copy_payload(p, &mut block, op)?;
        }
        Ok(())
    }
}

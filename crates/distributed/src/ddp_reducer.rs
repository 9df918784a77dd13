//! The gradient reducer behind
//! [`DistributedDataParallel`](crate::DistributedDataParallel): tracks which
//! parameters' gradients are ready in the current backward pass and
//! all-reduces each bucket as soon as it (and every bucket before it) is
//! complete.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use autograd::Var;
use core_tensor::Tensor;

use crate::communicator::{CommFloat, Communicator, CommunicatorExt};
use crate::ddp_bucket::BucketLayout;
use crate::error::{DistError, Result};

/// Progress of one iteration's reduction.
struct IterState {
    /// `ready[i]`: parameter `i`'s gradient was accumulated in this pass.
    ready: Vec<bool>,
    /// Parameters of each bucket still waiting for their gradient.
    pending: Vec<usize>,
    /// The next bucket to reduce: buckets go out strictly in order, so every
    /// rank makes the same sequence of collective calls.
    next: usize,
    /// How many parameters were marked ready in this iteration.
    marked: usize,
    /// Bucket all-reduces made since construction.
    reductions: u64,
}

pub(crate) struct Reducer<F: CommFloat> {
    comm: Arc<dyn Communicator>,
    params: Vec<Var<F>>,
    names: Vec<String>,
    buckets: Vec<BucketLayout>,
    /// Parameter index -> its bucket.
    bucket_of: Vec<usize>,
    /// False inside `no_sync`: gradients then only accumulate locally.
    sync: AtomicBool,
    state: Mutex<IterState>,
}

impl<F: CommFloat> Reducer<F> {
    pub(crate) fn new(
        comm: Arc<dyn Communicator>,
        params: Vec<Var<F>>,
        names: Vec<String>,
        buckets: Vec<BucketLayout>,
    ) -> Self {
        let mut bucket_of = vec![0; params.len()];
        for (b, bucket) in buckets.iter().enumerate() {
            for &p in &bucket.params {
                bucket_of[p] = b;
            }
        }
        let pending = buckets.iter().map(|b| b.params.len()).collect();
        let n = params.len();
        Self {
            comm,
            params,
            names,
            buckets,
            bucket_of,
            sync: AtomicBool::new(true),
            state: Mutex::new(IterState {
                ready: vec![false; n],
                pending,
                next: 0,
                marked: 0,
                reductions: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, IterState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn buckets(&self) -> &[BucketLayout] {
        &self.buckets
    }

    pub(crate) fn names(&self) -> &[String] {
        &self.names
    }

    /// Sets whether backward passes reduce; returns the previous setting.
    pub(crate) fn set_sync(&self, on: bool) -> bool {
        self.sync.swap(on, Ordering::AcqRel)
    }

    pub(crate) fn reductions(&self) -> u64 {
        self.lock().reductions
    }

    /// Called by parameter `i`'s post-accumulate hook: its `.grad` is final
    /// for this pass. Reduces every bucket that became complete.
    pub(crate) fn mark_ready(&self, i: usize) -> Result<()> {
        if !self.sync.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut st = self.lock();
        if st.ready[i] {
            return Err(DistError::InvalidArgument {
                op: "DistributedDataParallel",
                param: "backward",
                reason: format!(
                    "the gradient of `{}` became ready twice in one iteration (two backward passes \
                     through one forward?); each forward allows one backward",
                    self.names[i]
                ),
            });
        }
        st.ready[i] = true;
        st.marked += 1;
        st.pending[self.bucket_of[i]] -= 1;
        while st.next < self.buckets.len() && st.pending[st.next] == 0 {
            let b = st.next;
            self.reduce_bucket(&mut st, b)?;
            st.next += 1;
        }
        if st.next == self.buckets.len() {
            self.reset(&mut st);
        }
        Ok(())
    }

    /// Reduces the buckets not reduced yet in this iteration (parameters
    /// without a gradient count as zeros) and starts a new iteration. Does
    /// nothing when no gradient was marked since the last completed
    /// reduction.
    pub(crate) fn finish(&self) -> Result<()> {
        let mut st = self.lock();
        if st.marked == 0 {
            return Ok(());
        }
        while st.next < self.buckets.len() {
            let b = st.next;
            self.reduce_bucket(&mut st, b)?;
            st.next += 1;
        }
        self.reset(&mut st);
        Ok(())
    }

    /// The names of the parameters whose gradients are still awaited, when
    /// an iteration's reduction was started and not finished.
    pub(crate) fn unfinished(&self) -> Option<Vec<String>> {
        let st = self.lock();
        (st.marked > 0).then(|| {
            st.ready
                .iter()
                .zip(&self.names)
                .filter(|(r, _)| !**r)
                .map(|(_, n)| n.clone())
                .collect()
        })
    }

    fn reset(&self, st: &mut IterState) {
        st.ready.iter_mut().for_each(|r| *r = false);
        for (p, b) in st.pending.iter_mut().zip(&self.buckets) {
            *p = b.params.len();
        }
        st.next = 0;
        st.marked = 0;
    }

    /// Copies the bucket's gradients into the flat buffer, sums it over the
    /// ranks, divides by the world size and writes the averages back as the
    /// parameters' gradients.
    fn reduce_bucket(&self, st: &mut IterState, b: usize) -> Result<()> {
        let bucket = &self.buckets[b];
        let mut flat: Vec<F> = vec![F::zero(); bucket.len];
        for (&p, &off) in bucket.params.iter().zip(&bucket.offsets) {
            let param = &self.params[p];
            if let Some(g) = param.grad() {
                flat[off..off + g.len()].copy_from_slice(g.as_slice());
            }
        }
        self.comm.all_reduce_sum(&mut flat)?;
        let world = F::from_usize(self.comm.size());
        for v in &mut flat {
            *v /= world;
        }
        for (&p, &off) in bucket.params.iter().zip(&bucket.offsets) {
            let param = &self.params[p];
            let shape = param.shape();
            let n = param.len();
            let g = Tensor::from_vec(&shape, flat[off..off + n].to_vec())?;
            param.set_grad(Some(g))?;
        }
        st.reductions += 1;
        Ok(())
    }
}

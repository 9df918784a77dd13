//! [`DistributedSampler`]: which samples of a data set each rank reads in an
//! epoch (PyTorch's `torch.utils.data.distributed.DistributedSampler`).

use core_tensor::Rng;

use crate::error::{DistError, Result};

/// Splits the indices `0..len` of a data set between `num_replicas` ranks,
/// like `torch.utils.data.distributed.DistributedSampler(dataset,
/// num_replicas, rank, shuffle=True, seed=0, drop_last=False)`.
///
/// Each epoch:
/// 1. the order is `0..len`, or with `shuffle` a permutation drawn from a
///    generator seeded with `seed + epoch` (the same on every rank, so the
///    ranks agree without communicating; the permutation comes from this
///    project's [`Rng`], not PyTorch's generator);
/// 2. without `drop_last` the order is padded to `total_size =
///    num_samples * num_replicas` by repeating its beginning (cyclically if
///    more than `len` are missing), `num_samples = ceil(len / num_replicas)`;
///    with `drop_last` and `len` not divisible by `num_replicas`, it is cut
///    to `total_size` with `num_samples = ceil((len - num_replicas) /
///    num_replicas)`;
/// 3. rank `r` takes `order[r..total_size]` with step `num_replicas`.
///
/// Every rank thus gets `num_samples` indices, and together they cover the
/// (padded or cut) epoch exactly once. Call [`DistributedSampler::set_epoch`]
/// before each epoch for a new order, as in PyTorch.
///
/// ```
/// use distributed::DistributedSampler;
/// let s0 = DistributedSampler::new(10, 3, 0)?.shuffle(false);
/// let s2 = DistributedSampler::new(10, 3, 2)?.shuffle(false);
/// assert_eq!(s0.indices(), vec![0, 3, 6, 9]);
/// assert_eq!(s2.indices(), vec![2, 5, 8, 1]);     // padded with index 1
/// let d = DistributedSampler::new(10, 3, 2)?.shuffle(false).drop_last(true);
/// assert_eq!(d.indices(), vec![2, 5, 8]);
/// # Ok::<(), distributed::DistError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistributedSampler {
    len: usize,
    num_replicas: usize,
    rank: usize,
    shuffle: bool,
    seed: u64,
    drop_last: bool,
    epoch: u64,
}

impl DistributedSampler {
    /// A sampler over a data set of `len` samples for rank `rank` of
    /// `num_replicas`, with PyTorch's defaults: shuffled, seed 0, padded
    /// (`drop_last = false`), epoch 0.
    ///
    /// # Errors
    /// [`DistError::InvalidArgument`] when `num_replicas` is 0 or `rank` is
    /// not in `0..num_replicas`.
    pub fn new(len: usize, num_replicas: usize, rank: usize) -> Result<Self> {
        if num_replicas == 0 {
            return Err(DistError::InvalidArgument {
                op: "DistributedSampler",
                param: "num_replicas",
                reason: "must be at least 1".into(),
            });
        }
        if rank >= num_replicas {
            return Err(DistError::InvalidArgument {
                op: "DistributedSampler",
                param: "rank",
                reason: format!("{rank} is out of range; allowed 0..{num_replicas}"),
            });
        }
        Ok(Self {
            len,
            num_replicas,
            rank,
            shuffle: true,
            seed: 0,
            drop_last: false,
            epoch: 0,
        })
    }

    /// Whether each epoch's order is a random permutation (default `true`).
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// The seed of the permutations (default 0); it must be the same on
    /// every rank.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Whether to cut the epoch to a multiple of `num_replicas` instead of
    /// padding it (default `false`).
    pub fn drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    /// Sets the epoch, which with the seed determines the order
    /// (`sampler.set_epoch(epoch)`).
    pub fn set_epoch(&mut self, epoch: u64) {
        self.epoch = epoch;
    }

    /// The current epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// This rank's number of samples per epoch (`len(sampler)`).
    pub fn num_samples(&self) -> usize {
        let n = self.num_replicas;
        if self.drop_last && !self.len.is_multiple_of(n) {
            // ceil((len - n) / n) = floor(len / n) when len % n != 0.
            self.len / n
        } else {
            self.len.div_ceil(n)
        }
    }

    /// The number of indices over all ranks per epoch,
    /// `num_samples * num_replicas`.
    pub fn total_size(&self) -> usize {
        self.num_samples() * self.num_replicas
    }

    /// The whole epoch's order before it is split between the ranks: padded
    /// or cut to [`total_size`](Self::total_size).
    pub fn epoch_order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.len).collect();
        if self.shuffle {
            Rng::new(self.seed.wrapping_add(self.epoch)).shuffle(&mut order);
        }
        let total = self.total_size();
        if total <= order.len() {
            order.truncate(total);
        } else if !order.is_empty() {
            let missing = total - order.len();
            let head: Vec<usize> = order.iter().copied().cycle().take(missing).collect();
            order.extend(head);
        }
        order
    }

    /// This rank's indices for the current epoch, in the order to read them.
    pub fn indices(&self) -> Vec<usize> {
        self.epoch_order()
            .into_iter()
            .skip(self.rank)
            .step_by(self.num_replicas)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // PyTorch 2.x, shuffle=False:
    // >>> from torch.utils.data.distributed import DistributedSampler as S
    // >>> [list(S(range(10), 4, r, shuffle=False)) for r in range(4)]
    // [[0, 4, 8], [1, 5, 9], [2, 6, 0], [3, 7, 1]]
    // >>> [list(S(range(10), 4, r, shuffle=False, drop_last=True)) for r in range(4)]
    // [[0, 4], [1, 5], [2, 6], [3, 7]]
    // >>> [list(S(range(2), 5, r, shuffle=False)) for r in range(5)]
    // [[0], [1], [0], [1], [0]]
    // >>> [list(S(range(3), 5, r, shuffle=False, drop_last=True)) for r in range(5)]
    // [[], [], [], [], []]
    #[test]
    fn unshuffled_shards_match_pytorch() {
        let shards = |len, n, drop| -> Vec<Vec<usize>> {
            (0..n)
                .map(|r| {
                    DistributedSampler::new(len, n, r)
                        .unwrap()
                        .shuffle(false)
                        .drop_last(drop)
                        .indices()
                })
                .collect()
        };
        assert_eq!(
            shards(10, 4, false),
            vec![vec![0, 4, 8], vec![1, 5, 9], vec![2, 6, 0], vec![3, 7, 1]]
        );
        assert_eq!(
            shards(10, 4, true),
            vec![vec![0, 4], vec![1, 5], vec![2, 6], vec![3, 7]]
        );
        assert_eq!(
            shards(2, 5, false),
            vec![vec![0], vec![1], vec![0], vec![1], vec![0]]
        );
        assert_eq!(shards(3, 5, true), vec![Vec::<usize>::new(); 5]);
        assert_eq!(shards(0, 2, false), vec![Vec::<usize>::new(); 2]);
    }

    #[test]
    fn invalid_rank_and_world_are_errors() {
        assert!(matches!(
            DistributedSampler::new(5, 0, 0),
            Err(DistError::InvalidArgument {
                param: "num_replicas",
                ..
            })
        ));
        let err = DistributedSampler::new(5, 2, 2).unwrap_err();
        assert!(err.to_string().contains("allowed 0..2"), "{err}");
    }

    #[test]
    fn shuffled_order_depends_on_seed_plus_epoch_only() {
        let mut a = DistributedSampler::new(50, 2, 0).unwrap().seed(3);
        let b = DistributedSampler::new(50, 2, 0).unwrap().seed(4);
        a.set_epoch(1);
        assert_eq!(a.indices(), b.indices());
        let first = a.indices();
        a.set_epoch(2);
        assert_ne!(a.indices(), first);
    }
}

//! `DistributedSampler` properties over random sizes: equal shard lengths,
//! the shards together are the padded (or cut) epoch order exactly once,
//! the order is a permutation with its beginning repeated, every rank
//! agrees, and no argument panics.

use distributed::{DistError, DistributedSampler};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn shards_partition_the_padded_or_cut_epoch(
        len in 0usize..60,
        n in 1usize..7,
        drop_last: bool,
        shuffle: bool,
        seed in 0u64..5,
        epoch in 0u64..5,
    ) {
        let samplers: Vec<DistributedSampler> = (0..n)
            .map(|r| {
                let mut s = DistributedSampler::new(len, n, r)
                    .unwrap()
                    .shuffle(shuffle)
                    .seed(seed)
                    .drop_last(drop_last);
                s.set_epoch(epoch);
                s
            })
            .collect();
        let per_rank = samplers[0].num_samples();
        // PyTorch's lengths.
        let want = if drop_last && len % n != 0 {
            // ceil((len - n) / n), which is 0 when len < n.
            len.saturating_sub(n).div_ceil(n)
        } else {
            len.div_ceil(n)
        };
        prop_assert_eq!(per_rank, want);
        let order = samplers[0].epoch_order();
        prop_assert_eq!(order.len(), per_rank * n);
        for (r, s) in samplers.iter().enumerate() {
            prop_assert_eq!(s.epoch_order(), order.clone(), "rank {} disagrees", r);
            let idx = s.indices();
            prop_assert_eq!(idx.len(), per_rank);
            for (k, &i) in idx.iter().enumerate() {
                prop_assert_eq!(i, order[r + k * n]);
            }
        }
        // The first min(len, total) entries are distinct and in range; the
        // padding repeats the order from its start.
        let distinct = order.len().min(len);
        let mut seen = vec![false; len];
        for &i in &order[..distinct] {
            prop_assert!(i < len);
            prop_assert!(!seen[i], "index {} twice before the padding", i);
            seen[i] = true;
        }
        for (k, &i) in order.iter().enumerate().skip(distinct) {
            prop_assert_eq!(i, order[k % len.max(1)]);
        }
        if !shuffle {
            prop_assert!(order[..distinct].iter().enumerate().all(|(k, &i)| k == i));
        }
    }

    #[test]
    fn never_panics_and_rejects_bad_ranks(len in 0usize..1000, n in 0usize..9, rank in 0usize..12) {
        match DistributedSampler::new(len, n, rank) {
            Ok(s) => {
                prop_assert!(n > 0 && rank < n);
                let _ = s.drop_last(true).indices();
            }
            Err(e) => {
                prop_assert!(n == 0 || rank >= n);
                prop_assert!(matches!(e, DistError::InvalidArgument { .. }), "{}", e);
            }
        }
    }
}

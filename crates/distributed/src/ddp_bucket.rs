//! How [`DistributedDataParallel`](crate::DistributedDataParallel) groups
//! gradients into buckets, each reduced by one all-reduce.

/// PyTorch's default bucket capacity, `bucket_cap_mb = 25` (MiB).
pub const DEFAULT_BUCKET_CAP_BYTES: usize = 25 * 1024 * 1024;

/// One bucket: which parameters it holds and where each one's gradient
/// sits in the bucket's flat buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BucketLayout {
    /// Indices into the wrapper's parameter list, in bucket order.
    pub(crate) params: Vec<usize>,
    /// Start of each parameter's gradient in the flat buffer.
    pub(crate) offsets: Vec<usize>,
    /// Elements of the flat buffer.
    pub(crate) len: usize,
}

/// Assigns parameters (given by their element counts, in registration
/// order) to buckets the way PyTorch's `compute_bucket_assignment_by_size`
/// does for one dtype: in reverse registration order (gradients of the last
/// layers are ready first in the backward pass), each parameter appended to
/// the open bucket, which is closed as soon as it holds at least
/// `cap_bytes`. A parameter larger than the cap gets a bucket of its own;
/// the last bucket may be smaller. PyTorch's smaller first bucket
/// (`_DEFAULT_FIRST_BUCKET_BYTES`) is not reproduced: every bucket has the
/// same cap.
pub(crate) fn assign_buckets(
    numels: &[usize],
    elem_bytes: usize,
    cap_bytes: usize,
) -> Vec<BucketLayout> {
    let mut buckets = Vec::new();
    let mut open = BucketLayout {
        params: Vec::new(),
        offsets: Vec::new(),
        len: 0,
    };
    for (i, &n) in numels.iter().enumerate().rev() {
        open.params.push(i);
        open.offsets.push(open.len);
        open.len += n;
        if open.len.saturating_mul(elem_bytes) >= cap_bytes {
            buckets.push(std::mem::replace(
                &mut open,
                BucketLayout {
                    params: Vec::new(),
                    offsets: Vec::new(),
                    len: 0,
                },
            ));
        }
    }
    if !open.params.is_empty() {
        buckets.push(open);
    }
    buckets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_order_and_closing_at_the_cap() {
        // Sizes 10, 20, 30, 40 elements of 4 bytes, cap 100 bytes (25
        // elements): 40 alone (160 B), 30 alone (120 B), then 20 + 10.
        let b = assign_buckets(&[10, 20, 30, 40], 4, 100);
        let params: Vec<Vec<usize>> = b.iter().map(|b| b.params.clone()).collect();
        assert_eq!(params, vec![vec![3], vec![2], vec![1, 0]]);
        assert_eq!(b[2].offsets, vec![0, 20]);
        assert_eq!(b[2].len, 30);
    }

    #[test]
    fn everything_in_one_bucket_under_the_default_cap() {
        let b = assign_buckets(&[144, 16, 4608, 32, 15680, 10], 8, DEFAULT_BUCKET_CAP_BYTES);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].params, vec![5, 4, 3, 2, 1, 0]);
        assert_eq!(b[0].offsets, vec![0, 10, 15690, 15722, 20330, 20346]);
        assert_eq!(b[0].len, 20490);
    }

    #[test]
    fn no_parameters_no_buckets() {
        assert!(assign_buckets(&[], 4, 100).is_empty());
    }
}

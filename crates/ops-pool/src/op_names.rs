//! The names of the pooling ops, as PyTorch spells them: the one list the
//! errors, the recorded ops, the gradcheck samples and `xtask` use.

/// Every op of the crate with its dimensionality, in the order the
/// gradcheck samples cover them.
#[cfg_attr(not(feature = "gradcheck-samples"), allow(unreachable_pub))]
pub const OPS: [&str; 20] = [
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "lp_pool1d",
    "lp_pool2d",
    "lp_pool3d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool3d",
    "max_unpool1d",
    "max_unpool2d",
    "max_unpool3d",
    "fractional_max_pool2d",
    "fractional_max_pool3d",
];

/// The name of op `family` (`"max_pool"`, `"adaptive_avg_pool"`, ...) over
/// `dims` spatial axes: `"{family}{dims}d"` from [`OPS`], or `family`
/// itself for a dimensionality PyTorch has no function for (the error
/// then says which ranks are allowed).
pub(crate) fn op_name(family: &'static str, dims: usize) -> &'static str {
    let suffix = |name: &str| name.strip_prefix(family)?.strip_suffix('d')?.parse().ok();
    OPS.iter()
        .find(|name| suffix(name) == Some(dims))
        .copied()
        .unwrap_or(family)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_pytorch() {
        assert_eq!(op_name("max_pool", 2), "max_pool2d");
        assert_eq!(op_name("adaptive_max_pool", 3), "adaptive_max_pool3d");
        assert_eq!(op_name("max_unpool", 1), "max_unpool1d");
        assert_eq!(op_name("fractional_max_pool", 2), "fractional_max_pool2d");
        assert_eq!(op_name("max_pool", 4), "max_pool");
        assert_eq!(op_name("fractional_max_pool", 1), "fractional_max_pool");
        assert_eq!(op_name("avg_pool", 0), "avg_pool");
    }
}

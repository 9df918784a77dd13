//! The pooling kernels: pure functions over contiguous slices with an
//! explicit [`Par`](core_tensor::Par), no graph. The ops of the crate
//! (`max_pool.rs`, `avg_pool.rs`, ...) validate their arguments, call these
//! and record the result; the kernels can be tested and timed alone.

pub mod avg;
pub mod fractional;
pub mod lp;
pub mod max;
pub mod unpool;

//! `cargo xtask bench`: kernels timed against a plain copy of the same
//! bytes in the same process (the harness is filled by the xtask work).

pub mod dist;
pub mod dist_ddp;
pub mod harness;
pub mod norm;
pub mod pool;
pub mod train;

/// One benchmark case. The closure runs one iteration; all setup
/// (allocating inputs, building parameters) happens before it is made.
pub struct BenchCase {
    /// Short id from the issue, e.g. `"P1 fwd"` or `"N4 fwd+bwd"`.
    pub id: &'static str,
    /// Shape, dtype and op, e.g. `"max_pool2d k=2 s=2 (32,64,56,56) f32"`.
    pub description: String,
    /// Bytes an ideal kernel reads plus writes in one iteration.
    pub ideal_bytes: usize,
    /// Bytes of the input; the copy baseline copies this many bytes once.
    pub input_bytes: usize,
    /// The target: iteration time / copy time must be at most this.
    pub target_copy_ratio: f64,
    /// PyTorch 2.15's median in ms quoted in the issue, if any.
    pub pytorch_ms: Option<f64>,
    /// One iteration.
    pub run: Box<dyn FnMut()>,
}

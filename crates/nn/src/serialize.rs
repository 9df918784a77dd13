//! Saving and loading state dicts as `.safetensors`, with PyTorch's names
//! and dtypes, so files written by `safetensors.torch.save_file(
//! model.state_dict(), path)` load here and the other way round.

use std::collections::HashMap;
use std::path::Path;

use core_tensor::{DType, Float, Tensor};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use crate::half_convert::{self, HalfFormat};
use crate::state_dict::{StateDict, StateTensor};
use crate::{NnError, Result};

fn st_err(reason: impl Into<String>) -> NnError {
    NnError::Safetensors {
        reason: reason.into(),
    }
}

/// The dtype in which float tensors are written to a `.safetensors` file
/// (integer tensors are always written as `I64`, PyTorch's `torch.long`).
///
/// Narrowing rounds each value once, to the nearest representable one with
/// ties to even (PyTorch's `tensor.half()`, `.bfloat16()`, `.float()`); a
/// finite value that would become infinite is an error
/// ([`NnError::OutOfRange`]), NaN and infinities are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SaveDtype {
    /// IEEE half precision (`torch.float16`), largest finite 65504.
    F16,
    /// bfloat16 (`torch.bfloat16`): `f32`'s exponent range, 8 bits of precision.
    BF16,
    /// Single precision (`torch.float32`).
    F32,
    /// Double precision (`torch.float64`).
    F64,
}

impl SaveDtype {
    /// The dtype of the model's own precision `F`.
    pub fn of<F: Float>() -> Self {
        match F::DTYPE {
            DType::F32 => SaveDtype::F32,
            _ => SaveDtype::F64,
        }
    }
}

fn out_of_range(name: &str, dtype: &'static str, value: f64, max: f64) -> NnError {
    NnError::OutOfRange {
        tensor: name.to_string(),
        dtype,
        value,
        max,
    }
}

fn half_bytes<F: Float>(name: &str, t: &Tensor<F>, fmt: HalfFormat) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(2 * t.len());
    for v in t.as_slice() {
        let v = v.widen();
        let bits = fmt
            .round_f64(v)
            .ok_or_else(|| out_of_range(name, fmt.name, v, fmt.max_finite()))?;
        out.extend_from_slice(&bits.to_le_bytes());
    }
    Ok(out)
}

fn float_bytes<F: Float>(name: &str, t: &Tensor<F>, dtype: SaveDtype) -> Result<(Dtype, Vec<u8>)> {
    Ok(match dtype {
        SaveDtype::F16 => (Dtype::F16, half_bytes(name, t, half_convert::F16)?),
        SaveDtype::BF16 => (Dtype::BF16, half_bytes(name, t, half_convert::BF16)?),
        SaveDtype::F32 => {
            let mut out = Vec::with_capacity(4 * t.len());
            for v in t.as_slice() {
                let w = v.widen();
                let n = w as f32;
                if n.is_infinite() && w.is_finite() {
                    return Err(out_of_range(name, "F32", w, f64::from(f32::MAX)));
                }
                out.extend_from_slice(&n.to_le_bytes());
            }
            (Dtype::F32, out)
        }
        SaveDtype::F64 => (
            Dtype::F64,
            t.as_slice()
                .iter()
                .flat_map(|v| v.widen().to_le_bytes())
                .collect(),
        ),
    })
}

/// Serializes a state dict into `.safetensors` bytes: float tensors in the
/// dtype `F` (F32 or F64), integer tensors as I64, plus optional string
/// metadata.
///
/// # Errors
/// [`NnError::Safetensors`] if the serializer rejects the data.
pub fn to_safetensors_bytes<F: Float>(
    state: &StateDict<F>,
    metadata: Option<HashMap<String, String>>,
) -> Result<Vec<u8>> {
    to_safetensors_bytes_as(state, SaveDtype::of::<F>(), metadata)
}

/// Serializes a state dict with its float tensors in `float_dtype`, like
/// `safetensors.torch.save_file({k: v.half() ...})` for
/// [`SaveDtype::F16`]; integer tensors are written as I64.
///
/// ```
/// use core_tensor::{Rng, Tensor};
/// use nn::{Linear, Module, SaveDtype, from_safetensors_bytes, to_safetensors_bytes_as};
///
/// let lin = Linear::<f32>::new(3, 2, true, &mut Rng::new(0))?;
/// let bytes = to_safetensors_bytes_as(&lin.state_dict(), SaveDtype::BF16, None)?;
/// // Loading widens exactly: every weight is now its bfloat16 rounding.
/// let back = from_safetensors_bytes::<f32>(&bytes)?;
/// let w = back.get_float("weight").unwrap();
/// assert!(w.as_slice().iter().all(|v| v.to_bits() & 0xffff == 0));
///
/// let mut big = nn::StateDict::<f64>::new();
/// big.insert("scale", nn::StateTensor::Float(Tensor::from_vec(&[1], vec![1e6])?));
/// assert!(matches!(
///     to_safetensors_bytes_as(&big, SaveDtype::F16, None),
///     Err(nn::NnError::OutOfRange { .. })
/// ));
/// # Ok::<(), nn::NnError>(())
/// ```
///
/// # Errors
/// [`NnError::OutOfRange`] naming the tensor when a finite value exceeds
/// the range of `float_dtype` (65504 for F16); [`NnError::Safetensors`] if the
/// serializer rejects the data.
pub fn to_safetensors_bytes_as<F: Float>(
    state: &StateDict<F>,
    float_dtype: SaveDtype,
    metadata: Option<HashMap<String, String>>,
) -> Result<Vec<u8>> {
    let mut buffers: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, t) in state.iter() {
        let (dtype, bytes) = match t {
            StateTensor::Float(f) => float_bytes(name, f, float_dtype)?,
            StateTensor::Int(i) => (
                Dtype::I64,
                i.as_slice().iter().flat_map(|v| v.to_le_bytes()).collect(),
            ),
        };
        buffers.push((name.to_string(), dtype, t.shape().to_vec(), bytes));
    }
    let views = buffers
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            TensorView::new(*dtype, shape.clone(), bytes)
                .map(|v| (name.clone(), v))
                .map_err(|e| st_err(format!("tensor `{name}`: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, metadata).map_err(|e| st_err(e.to_string()))
}

/// Writes a state dict to a `.safetensors` file with its float tensors in
/// `dtype` (see [`to_safetensors_bytes_as`]).
///
/// # Errors
/// [`NnError::Io`] when the file cannot be written, and the errors of
/// [`to_safetensors_bytes_as`].
pub fn save_safetensors_as<F: Float>(
    state: &StateDict<F>,
    path: impl AsRef<Path>,
    dtype: SaveDtype,
    metadata: Option<HashMap<String, String>>,
) -> Result<()> {
    let bytes = to_safetensors_bytes_as(state, dtype, metadata)?;
    std::fs::write(path.as_ref(), bytes).map_err(|source| NnError::Io {
        path: path.as_ref().to_path_buf(),
        source,
    })
}

/// Writes a state dict to a `.safetensors` file (see
/// [`to_safetensors_bytes`]).
///
/// # Errors
/// [`NnError::Io`] when the file cannot be written, [`NnError::Safetensors`]
/// from serialization.
pub fn save_safetensors<F: Float>(
    state: &StateDict<F>,
    path: impl AsRef<Path>,
    metadata: Option<HashMap<String, String>>,
) -> Result<()> {
    let bytes = to_safetensors_bytes(state, metadata)?;
    std::fs::write(path.as_ref(), bytes).map_err(|source| NnError::Io {
        path: path.as_ref().to_path_buf(),
        source,
    })
}

fn read_le<const N: usize, T>(data: &[u8], conv: impl Fn([u8; N]) -> T) -> Vec<T> {
    data.chunks_exact(N)
        .map(|c| {
            let mut b = [0u8; N];
            b.copy_from_slice(c);
            conv(b)
        })
        .collect()
}

fn float_values<F: Float>(
    name: &str,
    values: impl Iterator<Item = f64>,
    dtype: &'static str,
) -> Result<Vec<F>> {
    values
        .map(|v| {
            let c = F::cast(v);
            if c.is_infinite() && v.is_finite() {
                Err(out_of_range(name, dtype, v, F::max_value().widen()))
            } else {
                Ok(c)
            }
        })
        .collect()
}

/// Parses `.safetensors` bytes into a state dict in precision `F`.
///
/// - `F16`, `BF16` and `F32` tensors widen exactly (every such value is an
///   `f32` and an `f64`); `F64` tensors are rounded into `F`.
/// - Integer tensors (`BOOL`, `U8`, `I8`, `I16`, `U16`, `I32`, `U32`,
///   `I64`, as PyTorch stores e.g. `num_batches_tracked` or masks) become
///   [`StateTensor::Int`].
///
/// Keys keep the file's order.
///
/// # Errors
/// [`NnError::Safetensors`] for a malformed file or another dtype (`U64`,
/// 8-bit floats, ...); [`NnError::OutOfRange`] naming the tensor when a
/// finite `F64` value is too large for `f32`.
pub fn from_safetensors_bytes<F: Float>(bytes: &[u8]) -> Result<StateDict<F>> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| st_err(e.to_string()))?;
    let mut entries: Vec<(String, TensorView<'_>)> = st.tensors();
    // Keep a deterministic order: by position in the file.
    entries.sort_by_key(|(_, v)| v.data().as_ptr() as usize);
    let mut sd = StateDict::new();
    for (name, view) in entries {
        let shape = view.shape().to_vec();
        let data = view.data();
        let float = |values: Vec<F>| -> Result<StateTensor<F>> {
            Ok(StateTensor::Float(Tensor::from_vec(&shape, values)?))
        };
        let int = |values: Vec<i64>| -> Result<StateTensor<F>> {
            Ok(StateTensor::Int(Tensor::from_vec(&shape, values)?))
        };
        let half = |fmt: HalfFormat| -> Vec<F> {
            read_le(data, |b| F::cast(fmt.to_f64(u16::from_le_bytes(b))))
        };
        let value = match view.dtype() {
            Dtype::F16 => float(half(half_convert::F16))?,
            Dtype::BF16 => float(half(half_convert::BF16))?,
            Dtype::F32 => float(read_le(data, |b| F::cast(f64::from(f32::from_le_bytes(b)))))?,
            Dtype::F64 => float(float_values(
                &name,
                read_le(data, f64::from_le_bytes).into_iter(),
                "F32",
            )?)?,
            Dtype::BOOL | Dtype::U8 => int(data.iter().map(|&b| i64::from(b)).collect())?,
            Dtype::I8 => int(data.iter().map(|&b| i64::from(b as i8)).collect())?,
            Dtype::I16 => int(read_le(data, |b| i64::from(i16::from_le_bytes(b))))?,
            Dtype::U16 => int(read_le(data, |b| i64::from(u16::from_le_bytes(b))))?,
            Dtype::I32 => int(read_le(data, |b| i64::from(i32::from_le_bytes(b))))?,
            Dtype::U32 => int(read_le(data, |b| i64::from(u32::from_le_bytes(b))))?,
            Dtype::I64 => int(read_le(data, i64::from_le_bytes))?,
            other => {
                return Err(st_err(format!(
                    "tensor `{name}` has dtype {other:?}; supported are F16, BF16, F32, F64, \
                     BOOL, U8, I8, I16, U16, I32, U32 and I64"
                )));
            }
        };
        sd.insert(name, value);
    }
    Ok(sd)
}

/// Reads a `.safetensors` file into a state dict (see
/// [`from_safetensors_bytes`]).
///
/// # Errors
/// [`NnError::Io`] when the file cannot be read, [`NnError::Safetensors`]
/// when it is malformed.
pub fn load_safetensors<F: Float>(path: impl AsRef<Path>) -> Result<StateDict<F>> {
    let bytes = std::fs::read(path.as_ref()).map_err(|source| NnError::Io {
        path: path.as_ref().to_path_buf(),
        source,
    })?;
    from_safetensors_bytes(&bytes)
}

/// The string metadata of a `.safetensors` buffer (`__metadata__`), if any.
///
/// # Errors
/// [`NnError::Safetensors`] for a malformed header.
pub fn safetensors_metadata(bytes: &[u8]) -> Result<Option<HashMap<String, String>>> {
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| st_err(e.to_string()))?;
    Ok(meta.metadata().clone())
}

//! Saving and loading state dicts as `.safetensors`, with PyTorch's names
//! and dtypes, so files written by `safetensors.torch.save_file(
//! model.state_dict(), path)` load here and the other way round.

use std::collections::HashMap;
use std::path::Path;

use core_tensor::{DType, Float, Tensor};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use crate::state_dict::{StateDict, StateTensor};
use crate::{NnError, Result};

fn st_err(reason: impl Into<String>) -> NnError {
    NnError::Safetensors {
        reason: reason.into(),
    }
}

fn float_bytes<F: Float>(t: &Tensor<F>) -> (Dtype, Vec<u8>) {
    match F::DTYPE {
        DType::F32 => (
            Dtype::F32,
            t.as_slice()
                .iter()
                .flat_map(|v| (v.widen() as f32).to_le_bytes())
                .collect(),
        ),
        _ => (
            Dtype::F64,
            t.as_slice()
                .iter()
                .flat_map(|v| v.widen().to_le_bytes())
                .collect(),
        ),
    }
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
    let mut buffers: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, t) in state.iter() {
        let (dtype, bytes) = match t {
            StateTensor::Float(f) => float_bytes(f),
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

/// Parses `.safetensors` bytes into a state dict in precision `F`: F32 and
/// F64 tensors are rounded into `F`, I64 tensors stay integers. Keys keep
/// the file's order.
///
/// # Errors
/// [`NnError::Safetensors`] for a malformed file or a dtype other than
/// F32, F64 and I64.
pub fn from_safetensors_bytes<F: Float>(bytes: &[u8]) -> Result<StateDict<F>> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| st_err(e.to_string()))?;
    let mut entries: Vec<(String, TensorView<'_>)> = st.tensors();
    // Keep a deterministic order: by position in the file.
    entries.sort_by_key(|(_, v)| v.data().as_ptr() as usize);
    let mut sd = StateDict::new();
    for (name, view) in entries {
        let shape = view.shape().to_vec();
        let data = view.data();
        let value = match view.dtype() {
            Dtype::F32 => StateTensor::Float(Tensor::from_vec(
                &shape,
                read_le(data, |b| F::cast(f32::from_le_bytes(b) as f64)),
            )?),
            Dtype::F64 => StateTensor::Float(Tensor::from_vec(
                &shape,
                read_le(data, |b| F::cast(f64::from_le_bytes(b))),
            )?),
            Dtype::I64 => {
                StateTensor::Int(Tensor::from_vec(&shape, read_le(data, i64::from_le_bytes))?)
            }
            other => {
                return Err(st_err(format!(
                    "tensor `{name}` has dtype {other:?}; supported are F32, F64 and I64"
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

//! Conformance adapters for the pool ops (owned by the ops-pool work).
//!
//! Every case runs through the public functional API of `ops-pool` on
//! `autograd::Var`; backward cases seed `y.backward_with(grad_out.y)` so
//! the autograd glue is exercised, not only the kernels.

use autograd::{BackwardOptions, Var};
use core_tensor::{Float, Tensor};
use ops_pool::{AvgPoolParams, LpPoolParams, MaxPoolParams, MaxUnpoolParams, Padding, PoolError};

use super::case::{Case, CaseError, CaseTensor, Produced};

/// Runs `case` if its op belongs to ops-pool; `None` for other ops.
pub fn run(case: &Case) -> Option<Result<Produced, CaseError>> {
    // The op names are ops-pool's own list (the gradcheck samples cover
    // the same ops).
    if !ops_pool::OPS.contains(&case.op.as_str()) {
        return None;
    }
    Some(match case.tensors.get("in.x") {
        Some(CaseTensor::F32(x)) => run_typed(case, x.clone(), CaseTensor::F32, |t| match t {
            CaseTensor::F32(t) => Some(t.clone()),
            _ => None,
        }),
        Some(CaseTensor::F64(x)) => run_typed(case, x.clone(), CaseTensor::F64, |t| match t {
            CaseTensor::F64(t) => Some(t.clone()),
            _ => None,
        }),
        Some(other) => Err(CaseError::Failed(format!(
            "in.x has dtype {}, expected F32 or F64",
            other.dtype_name()
        ))),
        None => Err(CaseError::Failed("case has no tensor `in.x`".into())),
    })
}

fn failed(e: PoolError) -> CaseError {
    CaseError::Failed(e.to_string())
}

fn opt_usize_list(case: &Case, key: &str) -> Result<Vec<Option<usize>>, CaseError> {
    let v = case.param(key)?;
    v.as_array()
        .and_then(|a| {
            a.iter()
                .map(|x| {
                    if x.is_null() {
                        Some(None)
                    } else {
                        x.as_u64().map(|n| Some(n as usize))
                    }
                })
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| {
            CaseError::Failed(format!(
                "params `{key}` = {v} is not a list of sizes or nulls"
            ))
        })
}

fn stride(case: &Case) -> Result<Option<Vec<usize>>, CaseError> {
    match case.param_opt("stride") {
        None => Ok(None),
        Some(_) => Ok(Some(case.usize_list("stride")?)),
    }
}

fn padding(case: &Case) -> Result<Padding, CaseError> {
    match case.param_opt("padding") {
        None => Ok(Padding::Valid),
        Some(_) => Ok(Padding::Explicit(case.pad_pairs("padding")?)),
    }
}

fn run_typed<F: Float>(
    case: &Case,
    x: Tensor<F>,
    wrap: fn(Tensor<F>) -> CaseTensor,
    unwrap: fn(&CaseTensor) -> Option<Tensor<F>>,
) -> Result<Produced, CaseError> {
    let backward = case.has_backward();
    let xv = if backward {
        Var::leaf(x)
    } else {
        Var::constant(x)
    };
    let op = case.op.as_str();
    let mut produced = Produced::default();
    let (y, indices) = if op.starts_with("max_pool") {
        let p = MaxPoolParams {
            kernel_size: case.usize_list("kernel_size")?,
            stride: stride(case)?,
            padding: padding(case)?,
            dilation: match case.param_opt("dilation") {
                Some(_) => case.usize_list("dilation")?,
                None => vec![1],
            },
            ceil_mode: case.param_opt("ceil_mode").is_some() && case.bool_param("ceil_mode")?,
        };
        let (y, i) = ops_pool::max_pool_with_indices(&xv, &p).map_err(failed)?;
        (y, Some(i))
    } else if op.starts_with("avg_pool") {
        let divisor_override = match case.param_opt("divisor_override") {
            None => None,
            Some(v) => Some(v.as_i64().ok_or_else(|| {
                CaseError::Failed(format!("params `divisor_override` = {v} is not an integer"))
            })?),
        };
        let p = AvgPoolParams {
            kernel_size: case.usize_list("kernel_size")?,
            stride: stride(case)?,
            padding: padding(case)?,
            ceil_mode: case.param_opt("ceil_mode").is_some() && case.bool_param("ceil_mode")?,
            count_include_pad: case.param_opt("count_include_pad").is_none()
                || case.bool_param("count_include_pad")?,
            divisor_override,
        };
        (ops_pool::avg_pool(&xv, &p).map_err(failed)?, None)
    } else if op.starts_with("lp_pool") {
        let p = LpPoolParams {
            norm_type: case.f64_param("norm_type")?,
            kernel_size: case.usize_list("kernel_size")?,
            stride: stride(case)?,
            padding: padding(case)?,
            ceil_mode: case.param_opt("ceil_mode").is_some() && case.bool_param("ceil_mode")?,
        };
        (ops_pool::lp_pool(&xv, &p).map_err(failed)?, None)
    } else if op.starts_with("adaptive_avg_pool") {
        let out = opt_usize_list(case, "output_size")?;
        (
            ops_pool::adaptive_avg_pool(&xv, &out).map_err(failed)?,
            None,
        )
    } else if op.starts_with("adaptive_max_pool") {
        let out = opt_usize_list(case, "output_size")?;
        let (y, i) = ops_pool::adaptive_max_pool_with_indices(&xv, &out).map_err(failed)?;
        (y, Some(i))
    } else if op.starts_with("max_unpool") {
        let idx = match case.tensor("in.indices")? {
            CaseTensor::I64(t) => t.clone(),
            other => {
                return Err(CaseError::Failed(format!(
                    "in.indices has dtype {}",
                    other.dtype_name()
                )));
            }
        };
        let p = MaxUnpoolParams {
            kernel_size: case.usize_list("kernel_size")?,
            stride: stride(case)?,
            padding: match case.param_opt("padding") {
                Some(_) => case.pad_pairs("padding")?,
                None => Vec::new(),
            },
            output_size: match case.param_opt("output_size") {
                Some(_) => Some(case.usize_list("output_size")?),
                None => None,
            },
        };
        (ops_pool::max_unpool(&xv, &idx, &p).map_err(failed)?, None)
    } else {
        return Err(CaseError::Failed(format!(
            "{op}: the conformance adapter runs max, avg, lp, adaptive and unpool \
             ops; a fractional max pool draws random samples a case cannot give"
        )));
    };
    produced.outputs.insert("y".into(), wrap(y.value()));
    if let Some(i) = indices {
        produced
            .outputs
            .insert("indices".into(), CaseTensor::I64(i));
    }
    if backward {
        let g = unwrap(case.tensor("grad_out.y")?)
            .ok_or_else(|| CaseError::Failed("grad_out.y has another dtype than in.x".into()))?;
        y.backward_with(&g, BackwardOptions::default())
            .map_err(|e| CaseError::Failed(e.to_string()))?;
        let gx = xv.grad().unwrap_or_else(|| Tensor::zeros(&xv.shape()));
        produced.grads.insert("x".into(), wrap(gx));
    }
    Ok(produced)
}

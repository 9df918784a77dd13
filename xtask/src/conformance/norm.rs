//! Conformance adapters for the norm ops (owned by the ops-norm work).
//!
//! Every case runs through the public functional API of `ops-norm` on
//! `autograd::Var`; backward cases seed `y.backward_with(grad_out.y)` so the
//! autograd glue is exercised, not only the kernels. Running statistics are
//! reported as `running_mean` / `running_var` outputs when the case passes
//! them in.

use autograd::{BackwardOptions, Var};
use core_tensor::{Float, Tensor};
use ops_norm::{BatchNormConfig, InstanceNormConfig, NormError, RunningStats};

use super::case::{Case, CaseError, CaseTensor, Produced};

/// The ops this adapter handles.
const OPS: [&str; 4] = ["batch_norm", "layer_norm", "group_norm", "instance_norm"];

/// Runs `case` if its op belongs to ops-norm; `None` for other ops.
pub fn run(case: &Case) -> Option<Result<Produced, CaseError>> {
    if !OPS.contains(&case.op.as_str()) {
        return None;
    }
    Some(match case.tensors.get("in.x") {
        Some(CaseTensor::F32(_)) => run_typed::<f32>(case),
        Some(CaseTensor::F64(_)) => run_typed::<f64>(case),
        Some(other) => Err(CaseError::Failed(format!(
            "in.x has dtype {}, expected F32 or F64",
            other.dtype_name()
        ))),
        None => Err(CaseError::Failed("case has no tensor `in.x`".into())),
    })
}

/// The float types a case can hold, with their `CaseTensor` wrapping.
trait CaseFloat: Float {
    fn unwrap(t: &CaseTensor) -> Option<Tensor<Self>>;
    fn wrap(t: Tensor<Self>) -> CaseTensor;
}

impl CaseFloat for f32 {
    fn unwrap(t: &CaseTensor) -> Option<Tensor<f32>> {
        match t {
            CaseTensor::F32(t) => Some(t.clone()),
            _ => None,
        }
    }
    fn wrap(t: Tensor<f32>) -> CaseTensor {
        CaseTensor::F32(t)
    }
}

impl CaseFloat for f64 {
    fn unwrap(t: &CaseTensor) -> Option<Tensor<f64>> {
        match t {
            CaseTensor::F64(t) => Some(t.clone()),
            _ => None,
        }
    }
    fn wrap(t: Tensor<f64>) -> CaseTensor {
        CaseTensor::F64(t)
    }
}

fn failed(e: NormError) -> CaseError {
    CaseError::Failed(e.to_string())
}

/// An optional input tensor in the case's dtype.
fn input<F: CaseFloat>(case: &Case, name: &str) -> Result<Option<Tensor<F>>, CaseError> {
    match case.tensors.get(&format!("in.{name}")) {
        None => Ok(None),
        Some(t) => F::unwrap(t).map(Some).ok_or_else(|| {
            CaseError::Failed(format!(
                "in.{name} has dtype {}, unlike in.x",
                t.dtype_name()
            ))
        }),
    }
}

fn run_typed<F: CaseFloat>(case: &Case) -> Result<Produced, CaseError> {
    let x = Var::leaf(
        input::<F>(case, "x")?.ok_or_else(|| CaseError::Failed("case has no in.x".into()))?,
    );
    let weight = input::<F>(case, "weight")?.map(Var::leaf);
    let bias = input::<F>(case, "bias")?.map(Var::leaf);
    let eps = case.f64_param("eps")?;
    let mut produced = Produced::default();
    let y = match case.op.as_str() {
        "batch_norm" => {
            let momentum = case
                .param_opt("momentum")
                .map(|_| case.f64_param("momentum"))
                .transpose()?;
            let config = BatchNormConfig {
                training: case.bool_param("training")?,
                momentum,
                eps,
            };
            let rm = input::<F>(case, "running_mean")?;
            let rv = input::<F>(case, "running_var")?;
            let mut running = match (rm, rv) {
                (Some(m), Some(v)) => {
                    let count = match case.param_opt("num_batches_tracked") {
                        Some(c) => c.as_i64().ok_or_else(|| {
                            CaseError::Failed(format!(
                                "params `num_batches_tracked` = {c} is not an integer"
                            ))
                        })?,
                        None => 0,
                    };
                    Some(RunningStats::from_parts(m, v, count))
                }
                (None, None) => None,
                _ => {
                    return Err(CaseError::Failed(
                        "running_mean and running_var must both be given or neither".into(),
                    ));
                }
            };
            let y = ops_norm::batch_norm(
                &x,
                weight.as_ref(),
                bias.as_ref(),
                running.as_mut(),
                &config,
            )
            .map_err(failed)?;
            if let Some(r) = running {
                produced
                    .outputs
                    .insert("running_mean".into(), F::wrap(r.mean));
                produced
                    .outputs
                    .insert("running_var".into(), F::wrap(r.var));
            }
            y
        }
        "layer_norm" => {
            let ns = case.usize_list("normalized_shape")?;
            ops_norm::layer_norm(&x, &ns, weight.as_ref(), bias.as_ref(), eps).map_err(failed)?
        }
        "group_norm" => {
            let groups = case.param("num_groups")?.as_u64().ok_or_else(|| {
                CaseError::Failed("params `num_groups` is not a non-negative integer".into())
            })?;
            let groups = usize::try_from(groups).map_err(|e| CaseError::Failed(e.to_string()))?;
            ops_norm::group_norm(&x, groups, weight.as_ref(), bias.as_ref(), eps).map_err(failed)?
        }
        "instance_norm" => {
            let config = InstanceNormConfig {
                eps,
                ..InstanceNormConfig::default()
            };
            ops_norm::instance_norm(&x, weight.as_ref(), bias.as_ref(), None, &config)
                .map_err(failed)?
        }
        other => return Err(CaseError::Unsupported(format!("op {other}"))),
    };
    produced.outputs.insert("y".into(), F::wrap(y.value()));
    if let Some(g) = case.tensors.get("grad_out.y") {
        let g = F::unwrap(g)
            .ok_or_else(|| CaseError::Failed("grad_out.y has another dtype than in.x".into()))?;
        y.backward_with(&g, BackwardOptions::default())
            .map_err(|e| CaseError::Failed(e.to_string()))?;
        for (name, v) in [
            ("x", Some(&x)),
            ("weight", weight.as_ref()),
            ("bias", bias.as_ref()),
        ] {
            if let Some(grad) = v.and_then(Var::grad) {
                produced.grads.insert(name.into(), F::wrap(grad));
            }
        }
    }
    Ok(produced)
}

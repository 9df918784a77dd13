//! `convert_sync_batchnorm`: every `BatchNorm*d` of a model becomes a
//! [`SyncBatchNorm`].

use std::sync::Arc;

use nn::Module;

use crate::communicator::{CommFloat, Communicator};
use crate::sync_batch_norm_module::SyncBatchNorm;

/// Replaces every `BatchNorm1d/2d/3d` in `module` (itself, or anywhere in
/// its tree of containers) by a [`SyncBatchNorm`] over `comm`, keeping the
/// parameters (the same [`Var`](autograd::Var)s), the buffers, the options,
/// the training flags and so the state-dict names
/// (`torch.nn.SyncBatchNorm.convert_sync_batchnorm(module)`).
///
/// # Errors
/// [`nn::NnError::InvalidConfig`] when a container that holds a batch norm
/// does not implement [`Module::replace_children`] (`Sequential` does).
///
/// ```
/// use std::sync::Arc;
/// use distributed::{convert_sync_batchnorm, Communicator, SingleComm};
/// use nn::{BatchNorm2d, Module, ReLU, Sequential};
///
/// let model = Sequential::<f32>::new().push(BatchNorm2d::new(3)?).push(ReLU::new());
/// let before = model.state_dict();
/// let comm: Arc<dyn Communicator> = Arc::new(SingleComm);
/// let model = convert_sync_batchnorm(Box::new(model), &comm)?;
/// assert_eq!(model.children()[0].1.type_name(), "SyncBatchNorm");
/// assert_eq!(model.state_dict().keys().collect::<Vec<_>>(), before.keys().collect::<Vec<_>>());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn convert_sync_batchnorm<F: CommFloat>(
    module: Box<dyn Module<F>>,
    comm: &Arc<dyn Communicator>,
) -> nn::Result<Box<dyn Module<F>>> {
    if let Some(parts) = module.batch_norm_parts() {
        return Ok(Box::new(SyncBatchNorm::from_batch_norm(
            parts,
            Arc::clone(comm),
        )));
    }
    let mut module = module;
    convert_sync_batchnorm_in_place(module.as_mut(), comm)?;
    Ok(module)
}

/// [`convert_sync_batchnorm`] for the descendants of a module held in
/// place (a `Sequential` owned by value): every `BatchNorm*d` below
/// `module` is replaced; `module` itself is left as it is.
///
/// # Errors
/// As [`convert_sync_batchnorm`].
pub fn convert_sync_batchnorm_in_place<F: CommFloat>(
    module: &mut dyn Module<F>,
    comm: &Arc<dyn Communicator>,
) -> nn::Result<()> {
    let has_direct = module
        .children()
        .iter()
        .any(|(_, c)| c.batch_norm_parts().is_some());
    if has_direct {
        module.replace_children(&mut |_, child| match child.batch_norm_parts() {
            Some(parts) => Ok(Box::new(SyncBatchNorm::from_batch_norm(
                parts,
                Arc::clone(comm),
            ))),
            None => Ok(child),
        })?;
    }
    for (_, child) in module.children_mut() {
        convert_sync_batchnorm_in_place(child, comm)?;
    }
    Ok(())
}

//! Per-parameter optimizer state: a step counter and a few named buffers the shape of the
//! parameter, kept by [`ParamId`] during training and exported by parameter name for
//! checkpoints.

use super::groups::{Hyper, ParamGroups};
use crate::checkpoint::CheckpointError;
use crate::context::Grads;
use crate::module::Module;
use crate::parameter::ParamId;
use engram_tensor::team::for_each_mut;
use engram_tensor::{Float, Tensor};
use indexmap::IndexMap;
use std::collections::HashMap;

/// One parameter's state.
#[derive(Clone, Debug)]
pub(crate) struct Slots<T> {
    /// Updates applied so far.
    pub step: u64,
    /// The buffers, in the order of [`State::names`], each with the parameter's length.
    pub buffers: Vec<Vec<T>>,
}

/// A run of one parameter's state, as an update rule sees it: the step counter and the
/// same run of each buffer as of the values and gradient it is handed.
pub(crate) struct SlotsRun<'a, T> {
    /// Updates applied so far, this one included.
    pub step: u64,
    /// The buffers, in the order of [`State::names`], each as long as the run.
    pub buffers: Vec<&'a mut [T]>,
}

/// Elements per run of a parameter that [`State::update`] hands to its rule at once; fixed,
/// so that the runs (and a rule's numbers, which are elementwise) never depend on the
/// number of threads.
const RUN: usize = 1 << 14;

/// An optimizer's state for every parameter it has updated.
#[derive(Clone, Debug)]
pub(crate) struct State<T> {
    /// The buffer names (PyTorch's state keys: `exp_avg`, `momentum_buffer`, ...).
    names: Vec<&'static str>,
    by_id: HashMap<ParamId, Slots<T>>,
}

impl<T: Float> State<T> {
    /// No state yet; each parameter will hold one buffer per name.
    pub fn new(names: Vec<&'static str>) -> State<T> {
        State {
            names,
            by_id: HashMap::new(),
        }
    }

    /// Runs `update` on every trainable parameter of `model` that has a gradient: with its
    /// group's settings, its state (buffers of zeros on its first step; the step counter
    /// already counts this step), its values (in place) and its gradient, in runs of
    /// [`RUN`] elements (on every core when there are several): `update` must treat each
    /// element on its own.
    pub fn update(
        &mut self,
        model: &mut dyn Module<T>,
        grads: &Grads<T>,
        groups: &ParamGroups,
        update: impl Fn(Hyper, &mut SlotsRun<'_, T>, &mut [T], &[T]) + Sync,
    ) {
        for (name, parameter) in model.named_parameters_mut() {
            let Some(grad) = grads.get(parameter) else {
                continue;
            };
            if !parameter.is_trainable() {
                continue;
            }
            if grad.shape() != parameter.shape() {
                panic!(
                    "engram: optimizer step: gradient of shape {:?} for parameter `{name}` of shape {:?}",
                    grad.shape(),
                    parameter.shape()
                );
            }
            let grad = grad.contiguous_data();
            let slots = self.by_id.entry(parameter.id()).or_insert_with(|| Slots {
                step: 0,
                // One zeroed buffer per name, made one by one: `vec![elem; n]` builds
                // `elem` even for n = 0, a parameter-sized allocation that plain SGD
                // (no buffers) would make and free at once, on its first step.
                buffers: (0..self.names.len())
                    .map(|_| vec![T::zero(); grad.len()])
                    .collect(),
            });
            slots.step += 1;
            let (hyper, step) = (groups.hyper(&name), slots.step);
            // Every rule is elementwise, so a large parameter is updated in runs on every
            // core: serial, plain SGD's update was a third of the calling thread's time
            // in the two-thread MLP step, time in which the other cores waited.
            let values = parameter.value_mut().as_mut_slice();
            // The runs of every buffer, run by run: `runs[i]` holds run `i` of each.
            let mut runs: Vec<SlotsRun<'_, T>> = (0..values.len().div_ceil(RUN).max(1))
                .map(|_| SlotsRun {
                    step,
                    buffers: Vec::with_capacity(slots.buffers.len()),
                })
                .collect();
            for buffer in &mut slots.buffers {
                if buffer.is_empty() {
                    runs[0].buffers.push(buffer);
                    continue;
                }
                for (run, part) in runs.iter_mut().zip(buffer.chunks_mut(RUN)) {
                    run.buffers.push(part);
                }
            }
            if runs.len() == 1 {
                update(hyper, &mut runs[0], values, &grad);
            } else {
                let mut work: Vec<_> = values
                    .chunks_mut(RUN)
                    .zip(grad.chunks(RUN))
                    .zip(runs)
                    .collect();
                for_each_mut(&mut work, |_, ((values, grad), run)| {
                    update(hyper, run, values, grad)
                });
            }
        }
    }

    /// The state by name: `<buffer>.<parameter>` and `step.<parameter>`, parameters in
    /// model order.
    pub fn export(&self, model: &dyn Module<T>) -> IndexMap<String, Tensor<T>> {
        let mut out = IndexMap::new();
        for (name, parameter) in model.named_parameters() {
            let Some(slots) = self.by_id.get(&parameter.id()) else {
                continue;
            };
            out.insert(
                format!("step.{name}"),
                Tensor::scalar(T::of(slots.step as f64)),
            );
            for (buffer, values) in self.names.iter().zip(&slots.buffers) {
                out.insert(
                    format!("{buffer}.{name}"),
                    Tensor::from_vec(values.clone(), parameter.shape()),
                );
            }
        }
        out
    }

    /// Replaces the state with `map` (as [`State::export`] writes it), after checking every
    /// name and shape against `model`.
    pub fn import(
        &mut self,
        model: &dyn Module<T>,
        map: &IndexMap<String, Tensor<T>>,
    ) -> Result<(), CheckpointError> {
        let mut by_id = HashMap::new();
        let mut used = 0;
        let mut missing = Vec::new();
        for (name, parameter) in model.named_parameters() {
            let step_key = format!("step.{name}");
            let keys: Vec<String> = self.names.iter().map(|b| format!("{b}.{name}")).collect();
            let present = std::iter::once(&step_key)
                .chain(&keys)
                .filter(|k| map.contains_key(*k))
                .count();
            if present == 0 {
                continue;
            }
            used += present;
            if present < keys.len() + 1 {
                missing.extend(
                    std::iter::once(step_key)
                        .chain(keys)
                        .filter(|k| !map.contains_key(k)),
                );
                continue;
            }
            let step = &map[&step_key];
            check_shape(&step_key, &[], step.shape())?;
            let step = step.item().as_f64();
            if !(step >= 0.0 && step.fract() == 0.0) {
                return Err(CheckpointError::Corrupt {
                    path: None,
                    reason: format!("`{step_key}` is {step}, not a step count"),
                });
            }
            let mut buffers = Vec::with_capacity(keys.len());
            for key in &keys {
                let tensor = &map[key];
                check_shape(key, parameter.shape(), tensor.shape())?;
                buffers.push(tensor.to_vec());
            }
            by_id.insert(
                parameter.id(),
                Slots {
                    step: step as u64,
                    buffers,
                },
            );
        }
        if !missing.is_empty() {
            return Err(CheckpointError::MissingNames(missing));
        }
        if used < map.len() {
            let model_names: Vec<String> = model
                .named_parameters()
                .into_iter()
                .map(|(n, _)| n)
                .collect();
            let unexpected = map
                .keys()
                .filter(|k| {
                    !model_names.iter().any(|n| {
                        k.strip_suffix(n.as_str())
                            .and_then(|head| head.strip_suffix('.'))
                            .is_some_and(|buffer| buffer == "step" || self.names.contains(&buffer))
                    })
                })
                .cloned()
                .collect();
            return Err(CheckpointError::UnexpectedNames(unexpected));
        }
        self.by_id = by_id;
        Ok(())
    }
}

fn check_shape(name: &str, expected: &[usize], found: &[usize]) -> Result<(), CheckpointError> {
    if expected != found {
        return Err(CheckpointError::ShapeMismatch {
            name: name.to_string(),
            expected: expected.to_vec(),
            found: found.to_vec(),
        });
    }
    Ok(())
}

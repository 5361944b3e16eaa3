//! The one-line change to a training loop: wrap the optimizer, and each step averages the
//! gradients over the ranks (optionally over several micro-batches first) before the
//! wrapped optimizer updates the parameters — so every rank takes the same step.

use crate::buckets::{GradientAverager, DEFAULT_BUCKET_BYTES};
use crate::world::{Reducible, World};
use engram_nn::checkpoint::CheckpointError;
use engram_nn::optim::{Optimizer, ParamGroups};
use engram_nn::{Grads, Module};
use engram_tensor::{Float, Tensor};
use indexmap::IndexMap;

/// An optimizer whose steps use the gradients averaged over every rank, as Horovod's
/// `DistributedOptimizer`. It implements [`Optimizer`], so `Model::compile` and the
/// explicit loop take it unchanged.
///
/// With per-rank batches of `B` on `N` ranks and a loss that is a mean over the batch,
/// each step equals one single-process step on the `N·B` examples together.
///
/// ```
/// use engram_distributed::{DistributedOptimizer, World};
/// use engram_nn::optim::{Optimizer, Sgd, SgdOptions};
/// use engram_nn::{Context, Parameter};
/// use engram_tensor::Tensor;
///
/// let world = World::init()?;
/// let mut w = Parameter::new(Tensor::<f32>::from_vec(vec![1.0, 2.0], &[2]));
/// world.broadcast_parameters(&mut w)?;
/// let mut optimizer = DistributedOptimizer::new(world, Sgd::new(SgdOptions::new(0.5)));
/// let cx = Context::train(0);
/// let grads = cx.backward(cx.param(&w).square().sum());
/// optimizer.step(&mut w, &grads);
/// assert_eq!(w.value().to_vec(), vec![0.0, 0.0]);
/// # Ok::<(), engram_distributed::DistributedError>(())
/// ```
pub struct DistributedOptimizer<O, T: Float = f32> {
    inner: O,
    averager: GradientAverager<T>,
    accumulation: usize,
    pending: Grads<T>,
    micro_batches: usize,
}

impl<O: Optimizer<T>, T: Reducible> DistributedOptimizer<O, T> {
    /// Wraps `inner`; gradients are averaged in buckets of [`DEFAULT_BUCKET_BYTES`].
    pub fn new(world: World, inner: O) -> DistributedOptimizer<O, T> {
        DistributedOptimizer {
            inner,
            averager: GradientAverager::new(world, DEFAULT_BUCKET_BYTES),
            accumulation: 1,
            pending: Grads::empty(),
            micro_batches: 0,
        }
    }

    /// Buckets of at most `bytes` bytes (a parameter larger than that travels alone).
    #[track_caller]
    pub fn bucket_bytes(mut self, bytes: usize) -> Self {
        self.averager = GradientAverager::new(self.averager.world().clone(), bytes);
        self
    }

    /// Gradient accumulation: `step` collects `micro_batches` calls' gradients, and only
    /// the last of each group averages them (locally, then over the ranks, one all-reduce)
    /// and updates the parameters; the calls between change nothing. With mean losses
    /// this equals one step on a batch `micro_batches` times larger.
    #[track_caller]
    pub fn accumulate(mut self, micro_batches: usize) -> Self {
        if micro_batches == 0 {
            panic!(
                "engram: `DistributedOptimizer::accumulate`: needs at least 1 micro-batch per step"
            );
        }
        self.accumulation = micro_batches;
        self
    }

    /// The world the gradients are averaged over.
    pub fn world(&self) -> &World {
        self.averager.world()
    }

    /// The wrapped optimizer.
    pub fn inner(&self) -> &O {
        &self.inner
    }
}

impl<O: Optimizer<T>, T: Reducible> Optimizer<T> for DistributedOptimizer<O, T> {
    fn step(&mut self, model: &mut dyn Module<T>, grads: &Grads<T>) {
        let averaged = if self.accumulation == 1 {
            self.averager.average(model, grads)
        } else {
            self.pending.accumulate(grads.clone());
            self.micro_batches += 1;
            if self.micro_batches < self.accumulation {
                return;
            }
            let local = std::mem::replace(&mut self.pending, Grads::empty());
            self.micro_batches = 0;
            let mean_of_micro_batches = T::one() / T::of(self.accumulation as f64);
            self.averager
                .average_scaled(model, &local, mean_of_micro_batches)
        };
        self.inner.step(model, &averaged);
    }

    fn param_groups(&self) -> &ParamGroups {
        self.inner.param_groups()
    }

    fn param_groups_mut(&mut self) -> &mut ParamGroups {
        self.inner.param_groups_mut()
    }

    fn state_dict(&self, model: &dyn Module<T>) -> IndexMap<String, Tensor<T>> {
        self.inner.state_dict(model)
    }

    fn load_state_dict(
        &mut self,
        model: &dyn Module<T>,
        state: &IndexMap<String, Tensor<T>>,
    ) -> Result<(), CheckpointError> {
        self.inner.load_state_dict(model, state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engram_nn::optim::{Sgd, SgdOptions};
    use engram_nn::{Context, Parameter};

    /// Gradient of `(w·x)²/2`-style losses on scalars: easy to follow by hand.
    fn grads_for(w: &Parameter<f64>, x: f64) -> Grads<f64> {
        let cx = Context::train(0);
        cx.backward(cx.param(w) * cx.input(Tensor::scalar(x)))
    }

    #[test]
    fn accumulation_steps_once_per_group_with_the_mean_gradient() {
        let mut w = Parameter::new(Tensor::<f64>::scalar(1.0));
        let mut opt = DistributedOptimizer::new(World::single(), Sgd::new(SgdOptions::new(1.0)))
            .accumulate(2);
        let g = grads_for(&w, 2.0);
        opt.step(&mut w, &g);
        assert_eq!(w.value().item(), 1.0, "the first micro-batch must not step");
        let g = grads_for(&w, 4.0);
        opt.step(&mut w, &g);
        assert_eq!(w.value().item(), 1.0 - 3.0);
        let g = grads_for(&w, 6.0);
        opt.step(&mut w, &g);
        assert_eq!(w.value().item(), -2.0, "a new group starts empty");
    }

    #[test]
    fn groups_and_state_come_from_the_wrapped_optimizer() {
        let mut w = Parameter::new(Tensor::<f64>::scalar(1.0));
        let inner = Sgd::new(SgdOptions {
            momentum: 0.9,
            ..SgdOptions::new(0.1)
        });
        let mut opt = DistributedOptimizer::new(World::single(), inner);
        opt.set_learning_rate(0.25);
        assert_eq!(opt.inner().learning_rate(), 0.25);
        let g = grads_for(&w, 1.0);
        opt.step(&mut w, &g);
        assert_eq!(w.value().item(), 0.75);
        assert!(opt
            .state_dict(&w)
            .keys()
            .any(|k| k.starts_with("momentum_buffer")));
    }

    #[test]
    fn fit_trains_unchanged_through_the_wrapped_optimizer() {
        use engram_nn::optim::{Adam, AdamOptions};
        use engram_nn::train::{FitOptions, Loss, Metric, Model, Verbosity};
        use engram_nn::{Linear, ReLU, Sequential, Sigmoid};
        let mut rng = engram_tensor::seeded_rng(0);
        let net = Sequential::<f32>::new()
            .add(Linear::new(2, 8, &mut rng))
            .add(ReLU)
            .add(Linear::new(8, 1, &mut rng))
            .add(Sigmoid);
        let adam = Adam::new(AdamOptions {
            lr: 0.05,
            ..Default::default()
        });
        let mut model = Model::new(net).compile(
            DistributedOptimizer::new(World::single(), adam),
            Loss::binary_cross_entropy(),
            &[Metric::Accuracy],
        );
        let x = Tensor::from_vec(vec![0., 0., 0., 1., 1., 0., 1., 1.], &[4, 2]);
        let y = Tensor::from_vec(vec![0., 1., 1., 0.], &[4, 1]);
        let options = FitOptions::new(300, 4).with_verbosity(Verbosity::Quiet);
        let history = model.fit(&x, &y, options);
        assert_eq!(history.last("accuracy"), Some(1.0));
    }

    #[test]
    #[should_panic(expected = "at least 1 micro-batch")]
    fn accumulating_zero_micro_batches_is_refused() {
        let _ =
            DistributedOptimizer::<_, f64>::new(World::single(), Sgd::new(SgdOptions::new(1.0)))
                .accumulate(0);
    }
}

//! Gradient averaging in a few large messages: gradients are packed by parameter name, in
//! the model's visiting order (the same on every rank, as the start-up check ensures),
//! into buckets of a fixed byte size, each summed across ranks by one all-reduce.
//!
//! One message per tensor would pay MPI's per-message latency hundreds of times a step
//! for a deep model; one message for everything would need a second full-size buffer and
//! leave no room to overlap later. PyTorch's DDP settled on 25 MiB buckets; so do we.

use crate::world::{Reducible, World};
use engram_nn::{Grads, Module, Parameter};
use engram_tensor::Tensor;

/// PyTorch DDP's default bucket size: 25 MiB.
pub const DEFAULT_BUCKET_BYTES: usize = 25 << 20;

/// Where one parameter's gradient sits in its bucket.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    name: String,
    numel: usize,
    offset: usize,
}

/// One message: the gradients of consecutive parameters, then one presence count per
/// parameter (1 where this rank has a gradient), so that after the sum every rank knows
/// whether any rank had one and all treat the parameter alike.
#[derive(Debug, Clone, PartialEq)]
struct Bucket {
    entries: Vec<Entry>,
    values: usize,
}

impl Bucket {
    fn len(&self) -> usize {
        self.values + self.entries.len()
    }
}

/// The buckets for one model's trainable parameters.
#[derive(Debug, Clone, PartialEq)]
struct BucketPlan {
    buckets: Vec<Bucket>,
}

impl BucketPlan {
    /// Fills buckets of at most `capacity` elements in order; a parameter larger than
    /// a bucket gets one of its own.
    fn new(parameters: &[(String, usize)], capacity: usize) -> BucketPlan {
        let mut buckets: Vec<Bucket> = Vec::new();
        for (name, numel) in parameters {
            // The parameter's values and its presence count.
            let fits = buckets.last().is_some_and(|b| b.len() + numel < capacity);
            if !fits {
                buckets.push(Bucket {
                    entries: Vec::new(),
                    values: 0,
                });
            }
            let bucket = buckets.last_mut().expect("a bucket was just pushed");
            bucket.entries.push(Entry {
                name: name.clone(),
                numel: *numel,
                offset: bucket.values,
            });
            bucket.values += numel;
        }
        BucketPlan { buckets }
    }

    /// True when the plan was made for exactly these parameters.
    fn fits(&self, parameters: &[(String, usize)]) -> bool {
        let entries = self.buckets.iter().flat_map(|b| &b.entries);
        entries.clone().count() == parameters.len()
            && entries
                .zip(parameters)
                .all(|(e, (name, numel))| &e.name == name && e.numel == *numel)
    }
}

/// Averages gradients across the ranks of a world, bucket by bucket: what
/// [`DistributedOptimizer`](crate::DistributedOptimizer) does each step, for loops that
/// want the averaged gradients themselves (to clip them, say, before their own step).
/// Keeps its buffers between steps so a step allocates only the averaged tensors.
pub struct GradientAverager<T> {
    world: World,
    bucket_bytes: usize,
    plan: Option<BucketPlan>,
    send: Vec<T>,
    receive: Vec<T>,
}

impl<T: Reducible> GradientAverager<T> {
    /// Averages over `world` in buckets of at most `bucket_bytes` bytes (a parameter
    /// larger than that travels alone); panics when `bucket_bytes` is 0.
    #[track_caller]
    pub fn new(world: World, bucket_bytes: usize) -> GradientAverager<T> {
        if bucket_bytes == 0 {
            panic!("engram: `GradientAverager::new`: a bucket must hold at least one byte");
        }
        GradientAverager {
            world,
            bucket_bytes,
            plan: None,
            send: Vec::new(),
            receive: Vec::new(),
        }
    }

    /// The world the gradients are averaged over.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The mean over ranks of each trainable parameter's gradient, on every rank. A rank
    /// without a gradient for a parameter (the loss did not use it there) contributes
    /// zeros; a parameter no rank has a gradient for gets none, on every rank. Every rank
    /// must call this with the same model (panics when its trainable parameters change
    /// between calls).
    #[track_caller]
    pub fn average(&mut self, model: &dyn Module<T>, grads: &Grads<T>) -> Grads<T> {
        let parameters: Vec<(String, &Parameter<T>)> = model
            .named_parameters()
            .into_iter()
            .filter(|(_, p)| p.is_trainable())
            .collect();
        let sizes: Vec<(String, usize)> = parameters
            .iter()
            .map(|(name, p)| (name.clone(), p.numel()))
            .collect();
        let capacity = (self.bucket_bytes / std::mem::size_of::<T>()).max(1);
        let plan = self
            .plan
            .get_or_insert_with(|| BucketPlan::new(&sizes, capacity));
        if !plan.fits(&sizes) {
            panic!(
                "engram: `DistributedOptimizer::step`: the model's trainable parameters changed \
                 since the first step (now {} of them); every rank must keep the same set",
                sizes.len()
            );
        }
        let scale = T::one() / T::of(self.world.size() as f64);
        let mut averaged = Grads::empty();
        let mut next = 0;
        for bucket in &plan.buckets {
            let members = &parameters[next..next + bucket.entries.len()];
            next += bucket.entries.len();
            self.send.clear();
            for (_, p) in members {
                match grads.get(p) {
                    Some(g) => self.send.extend_from_slice(&g.contiguous_data()),
                    None => self.send.resize(self.send.len() + p.numel(), T::zero()),
                }
            }
            self.send.extend(members.iter().map(|(_, p)| {
                if grads.get(p).is_some() {
                    T::one()
                } else {
                    T::zero()
                }
            }));
            self.receive.resize(bucket.len(), T::zero());
            self.world
                .all_reduce_sum(&self.send, &mut self.receive[..bucket.len()]);
            for (i, (entry, (_, p))) in bucket.entries.iter().zip(members).enumerate() {
                if self.receive[bucket.values + i] == T::zero() {
                    continue;
                }
                let sum = &self.receive[entry.offset..entry.offset + entry.numel];
                let mean = sum.iter().map(|&v| v * scale).collect();
                averaged.set(p, Tensor::from_vec(mean, p.shape()));
            }
        }
        averaged
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engram_nn::Context;

    fn sizes(list: &[(&str, usize)]) -> Vec<(String, usize)> {
        list.iter().map(|(n, s)| (n.to_string(), *s)).collect()
    }

    #[test]
    fn parameters_fill_buckets_in_order_and_a_large_one_stands_alone() {
        let params = sizes(&[("a", 3), ("b", 4), ("big", 50), ("c", 2)]);
        let plan = BucketPlan::new(&params, 10);
        let names: Vec<Vec<&str>> = plan
            .buckets
            .iter()
            .map(|b| b.entries.iter().map(|e| e.name.as_str()).collect())
            .collect();
        assert_eq!(names, [vec!["a", "b"], vec!["big"], vec!["c"]]);
        assert_eq!(plan.buckets[0].len(), 3 + 4 + 2);
        assert_eq!(plan.buckets[0].entries[1].offset, 3);
        assert!(plan.fits(&params));
        assert!(!plan.fits(&sizes(&[("a", 3), ("b", 4), ("big", 50), ("d", 2)])));
        assert!(!plan.fits(&params[..3]));
    }

    #[derive(engram_nn::Module)]
    struct Two {
        used: Parameter<f64>,
        unused: Parameter<f64>,
        frozen: Parameter<f64>,
    }

    #[test]
    fn a_world_of_one_averages_to_the_same_gradients_and_keeps_absent_ones_absent() {
        let mut model = Two {
            used: Parameter::new(Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3])),
            unused: Parameter::new(Tensor::ones(&[2])),
            frozen: Parameter::new(Tensor::ones(&[1])),
        };
        model.frozen.set_trainable(false);
        let cx = Context::train(0);
        let grads =
            cx.backward(cx.param(&model.used).square().sum() * cx.param(&model.frozen).sum());
        // Buckets of two elements: every parameter in its own message.
        let mut averager = GradientAverager::new(World::single(), 2 * std::mem::size_of::<f64>());
        let averaged = averager.average(&model, &grads);
        assert_eq!(averaged[&model.used].to_vec(), vec![2.0, 4.0, 6.0]);
        assert!(averaged.get(&model.unused).is_none());
        assert!(averaged.get(&model.frozen).is_none());
        assert_eq!(averaged.len(), 1);
    }

    #[test]
    #[should_panic(expected = "trainable parameters changed since the first step")]
    fn a_model_that_changes_its_parameters_between_steps_is_refused() {
        let mut model = Two {
            used: Parameter::new(Tensor::ones(&[3])),
            unused: Parameter::new(Tensor::ones(&[2])),
            frozen: Parameter::new(Tensor::ones(&[1])),
        };
        let mut averager = GradientAverager::new(World::single(), DEFAULT_BUCKET_BYTES);
        averager.average(&model, &Grads::empty());
        model.unused.set_trainable(false);
        averager.average(&model, &Grads::empty());
    }
}

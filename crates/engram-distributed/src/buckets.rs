//! Gradient averaging in a few large messages: gradients are packed by parameter name, in
//! the model's visiting order (the same on every rank, as the start-up check ensures),
//! into buckets of a fixed byte size, each summed across ranks by one all-reduce.
//!
//! One message per tensor would pay MPI's per-message latency hundreds of times a step
//! for a deep model; one message for everything would need a second full-size buffer and
//! leave no room to overlap later. PyTorch's DDP settled on 25 MiB buckets; so do we.
//!
//! Between local ranks MPI moves data at memory speed, so every pass Engram adds over the
//! gradients shows: a step makes one, packing each gradient into its bucket already
//! multiplied by 1/N (so the sum is the mean), and MPI sums the bucket in place. The
//! averaged gradients are views into the bucket, which the next step refills.

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

    /// Writes this rank's share of the mean into `buffer`: each member's gradient times
    /// `scale` (zeros where it has none), then the presence counts. Scaling on the way in
    /// makes the sum the mean, with no pass over the result afterwards.
    fn pack<T: Reducible>(
        &self,
        members: &[(String, &Parameter<T>)],
        grads: &Grads<T>,
        scale: T,
        buffer: &mut [T],
    ) {
        let (values, presence) = buffer.split_at_mut(self.values);
        for ((entry, (_, p)), present) in self.entries.iter().zip(members).zip(presence) {
            let slot = &mut values[entry.offset..entry.offset + entry.numel];
            *present = match grads.get(p) {
                Some(g) => {
                    for (out, &v) in slot.iter_mut().zip(g.contiguous_data().iter()) {
                        *out = v * scale;
                    }
                    T::one()
                }
                None => {
                    slot.fill(T::zero());
                    T::zero()
                }
            };
        }
    }

    /// Sets each member some rank had a gradient for to its mean: a view into the summed
    /// `buffer`, so the result costs no copy.
    fn unpack<T: Reducible>(
        &self,
        members: &[(String, &Parameter<T>)],
        buffer: &Tensor<T>,
        averaged: &mut Grads<T>,
    ) {
        let presence = &buffer
            .as_slice()
            .expect("a bucket buffer is one contiguous vector")[self.values..];
        for ((entry, (_, p)), &present) in self.entries.iter().zip(members).zip(presence) {
            if present != T::zero() {
                let mean = buffer.narrow(0, entry.offset, entry.numel);
                averaged.set(p, mean.reshape(p.shape()));
            }
        }
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
///
/// A step allocates nothing once the averaged gradients of the step before are dropped:
/// each bucket is one buffer, summed in place (`MPI_IN_PLACE`), and the averaged
/// gradients are views into it, which the next step refills. While any averaged gradient
/// of a step is kept alive, its bucket's buffer is too (so it never changes under its
/// holder), and the next step allocates a new one for that bucket. So a loop that keeps
/// one small averaged gradient every step keeps a whole bucket (up to the bucket size)
/// every step: keep a copy instead (`Tensor::from_vec(g.to_vec(), g.shape())`). Writing
/// into an averaged gradient is safe: the shared buffer is copied first.
pub struct GradientAverager<T> {
    world: World,
    bucket_bytes: usize,
    plan: Option<BucketPlan>,
    /// One flat buffer per bucket of the plan.
    buffers: Vec<Tensor<T>>,
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
            buffers: Vec::new(),
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
        self.average_scaled(model, grads, T::one())
    }

    /// [`GradientAverager::average`] of `grads` times `factor`, the factor applied in the
    /// same pass: how the optimizer takes the mean of accumulated micro-batches.
    #[track_caller]
    pub(crate) fn average_scaled(
        &mut self,
        model: &dyn Module<T>,
        grads: &Grads<T>,
        factor: T,
    ) -> Grads<T> {
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
        if self.buffers.is_empty() {
            self.buffers = plan
                .buckets
                .iter()
                .map(|b| Tensor::zeros(&[b.len()]))
                .collect();
        }
        let scale = factor / T::of(self.world.size() as f64);
        let mut averaged = Grads::empty();
        let mut rest = parameters.as_slice();
        for (bucket, buffer) in plan.buckets.iter().zip(&mut self.buffers) {
            let (members, after) = rest.split_at(bucket.entries.len());
            rest = after;
            let values = writable(buffer);
            bucket.pack(members, grads, scale, values);
            self.world.all_reduce_sum_in_place(values);
            bucket.unpack(members, buffer, &mut averaged);
        }
        averaged
    }
}

/// The buffer to fill this step: the same one as last step when none of its averaged
/// gradients is still alive, else a new one (those gradients must not change under
/// their holder).
fn writable<T: Reducible>(buffer: &mut Tensor<T>) -> &mut [T] {
    if buffer.try_as_mut_slice().is_none() {
        *buffer = Tensor::zeros(buffer.shape());
    }
    buffer
        .try_as_mut_slice()
        .expect("a new buffer shares its storage with nothing")
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

    #[derive(engram_nn::Module)]
    struct Pair {
        a: Parameter<f64>,
        b: Parameter<f64>,
    }

    /// Gradients `k·2a` for `a` and `k` for each element of `b`.
    fn pair_grads(model: &Pair, k: f64) -> Grads<f64> {
        let cx = Context::train(0);
        let loss = (cx.param(&model.a).square().sum() + cx.param(&model.b).sum()) * k;
        cx.backward(loss)
    }

    #[test]
    fn a_kept_result_never_changes_and_a_dropped_one_has_its_buffer_reused() {
        let model = Pair {
            a: Parameter::new(Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3])),
            b: Parameter::new(Tensor::from_vec(vec![4.0, 5.0], &[2])),
        };
        let mut averager = GradientAverager::new(World::single(), DEFAULT_BUCKET_BYTES);
        let first = averager.average(&model, &pair_grads(&model, 1.0));
        assert_eq!(first[&model.a].to_vec(), vec![2.0, 4.0, 6.0]);
        assert_eq!(first[&model.b].to_vec(), vec![1.0, 1.0]);
        assert!(
            first[&model.a].shares_storage_with(&first[&model.b]),
            "one bucket, one buffer, no copies out of it"
        );
        let second = averager.average(&model, &pair_grads(&model, 3.0));
        assert_eq!(
            first[&model.a].to_vec(),
            vec![2.0, 4.0, 6.0],
            "kept, unchanged"
        );
        assert_eq!(second[&model.a].to_vec(), vec![6.0, 12.0, 18.0]);
        assert!(!second[&model.a].shares_storage_with(&first[&model.a]));
        let buffer = second[&model.a].as_slice().unwrap().as_ptr();
        drop((first, second));
        let third = averager.average(&model, &pair_grads(&model, 1.0));
        assert_eq!(
            third[&model.a].as_slice().unwrap().as_ptr(),
            buffer,
            "reused"
        );
        assert_eq!(third[&model.a].to_vec(), vec![2.0, 4.0, 6.0]);
        assert_eq!(third[&model.b].to_vec(), vec![1.0, 1.0]);
    }

    #[test]
    fn a_factor_scales_the_mean_in_the_same_pass() {
        let model = Pair {
            a: Parameter::new(Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3])),
            b: Parameter::new(Tensor::ones(&[2])),
        };
        let mut averager = GradientAverager::new(World::single(), DEFAULT_BUCKET_BYTES);
        let averaged = averager.average_scaled(&model, &pair_grads(&model, 1.0), 0.25);
        assert_eq!(averaged[&model.a].to_vec(), vec![0.5, 1.0, 1.5]);
        assert_eq!(averaged[&model.b].to_vec(), vec![0.25, 0.25]);
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

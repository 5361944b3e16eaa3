//! Sharding the data: each rank sees a disjoint, seeded slice of the dataset each epoch,
//! with the same semantics as PyTorch's `DistributedSampler`.

use crate::world::World;
use engram_nn::data::{Dataset, Subset};
use engram_tensor::{Element, Tensor};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Which examples one rank trains on in each epoch.
///
/// Every epoch the indices `0..len` are shuffled with the same seed on every rank (a
/// ChaCha8 stream per epoch, as [`DataLoader::shuffle`](engram_nn::data::DataLoader::shuffle)
/// draws), made a multiple of the number of ranks, and dealt out like cards: rank `r`
/// takes positions `r, r + N, r + 2N, …`. Every rank gets the same number of examples, so
/// every rank runs the same number of steps — a rank with one step more would wait for
/// ever in its last all-reduce. As in PyTorch, the count is evened out by **padding**
/// (repeating the first indices of the shuffled order) by default, so a few examples are
/// seen twice in an epoch, or by **dropping** the tail with
/// [`drop_last`](DistributedSampler::drop_last).
///
/// ```
/// use engram_distributed::DistributedSampler;
///
/// // 10 examples over 4 ranks: padded to 12, three each.
/// let shards: Vec<Vec<usize>> =
///     (0..4).map(|rank| DistributedSampler::for_rank(10, 4, rank).indices(0)).collect();
/// assert!(shards.iter().all(|s| s.len() == 3));
/// let mut seen: Vec<usize> = shards.concat();
/// seen.sort();
/// seen.dedup();
/// assert_eq!(seen, (0..10).collect::<Vec<_>>());
/// assert_eq!(DistributedSampler::for_rank(10, 4, 0).drop_last(true).num_samples(), 2);
/// ```
#[derive(Clone, Debug)]
pub struct DistributedSampler {
    len: usize,
    replicas: usize,
    rank: usize,
    seed: Option<u64>,
    drop_last: bool,
}

impl DistributedSampler {
    /// This rank's shard of a dataset of `len` examples, shuffled with seed 0 and padded,
    /// as PyTorch's defaults.
    pub fn new(world: &World, len: usize) -> DistributedSampler {
        DistributedSampler::for_rank(len, world.size(), world.rank())
    }

    /// The shard of rank `rank` out of `replicas`, without a world: for tests and for
    /// tools that plan the shards of every rank.
    #[track_caller]
    pub fn for_rank(len: usize, replicas: usize, rank: usize) -> DistributedSampler {
        if rank >= replicas {
            panic!("engram: `DistributedSampler::for_rank`: rank {rank} out of range for {replicas} ranks");
        }
        DistributedSampler {
            len,
            replicas,
            rank,
            seed: Some(0),
            drop_last: false,
        }
    }

    /// Shuffles every epoch from `seed` (the same on every rank).
    pub fn shuffle(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Keeps the dataset's order: rank `r` takes examples `r, r + N, …`.
    pub fn without_shuffle(mut self) -> Self {
        self.seed = None;
        self
    }

    /// Drops the tail of the (shuffled) order instead of padding, so no example is seen
    /// twice in an epoch and up to `N − 1` are not seen at all.
    pub fn drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    /// The number of examples this rank (and every rank) gets per epoch.
    pub fn num_samples(&self) -> usize {
        if self.drop_last {
            self.len / self.replicas
        } else {
            self.len.div_ceil(self.replicas)
        }
    }

    /// This rank's indices into the dataset for `epoch`.
    pub fn indices(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.len).collect();
        if let Some(seed) = self.seed {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(epoch);
            order.shuffle(&mut rng);
        }
        let total = self.num_samples() * self.replicas;
        if total <= order.len() {
            order.truncate(total);
        } else {
            let padding: Vec<usize> = order
                .iter()
                .cycle()
                .take(total - order.len())
                .copied()
                .collect();
            order.extend(padding);
        }
        order
            .into_iter()
            .skip(self.rank)
            .step_by(self.replicas)
            .collect()
    }

    /// This rank's examples of `dataset` for `epoch`, to hand to a
    /// [`DataLoader`](engram_nn::data::DataLoader) (unshuffled: the order is already
    /// drawn): `DataLoader::new(sampler.shard(&train, epoch), 64)`.
    #[track_caller]
    pub fn shard<D: Dataset>(&self, dataset: D, epoch: u64) -> Subset<D> {
        self.check_len("shard", dataset.len());
        Subset::new(dataset, self.indices(epoch))
    }

    /// This rank's rows (axis 0) of `tensor` for `epoch`: the inputs and targets to give
    /// `Model::fit` on this rank.
    #[track_caller]
    pub fn shard_rows<T: Element>(&self, tensor: &Tensor<T>, epoch: u64) -> Tensor<T> {
        self.check_len("shard_rows", tensor.shape().first().copied().unwrap_or(0));
        tensor.index_select(0, &self.indices(epoch))
    }

    #[track_caller]
    fn check_len(&self, op: &str, len: usize) {
        if len != self.len {
            panic!(
                "engram: `DistributedSampler::{op}`: the sampler was made for {} examples, this data has {len}",
                self.len
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shards(
        len: usize,
        replicas: usize,
        f: impl Fn(DistributedSampler) -> DistributedSampler,
    ) -> Vec<Vec<usize>> {
        (0..replicas)
            .map(|r| f(DistributedSampler::for_rank(len, replicas, r)).indices(3))
            .collect()
    }

    #[test]
    fn shards_are_disjoint_and_cover_the_data_when_the_size_divides() {
        let s = shards(12, 3, |s| s.shuffle(7));
        let mut all = s.concat();
        all.sort();
        assert_eq!(all, (0..12).collect::<Vec<_>>());
    }

    #[test]
    fn padding_repeats_the_first_shuffled_indices() {
        let s = shards(10, 4, |s| s);
        let order = DistributedSampler::for_rank(10, 1, 0).indices(3);
        // Rank 2 gets positions 2, 6, 10: position 10 is the first index again.
        assert_eq!(s[2], vec![order[2], order[6], order[0]]);
        assert!(s.iter().all(|x| x.len() == 3));
    }

    #[test]
    fn dropping_keeps_shards_disjoint_and_equal() {
        let s = shards(10, 4, |s| s.drop_last(true));
        let mut all = s.concat();
        assert_eq!(all.len(), 8);
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 8);
    }

    #[test]
    fn unshuffled_shards_deal_in_order_and_epochs_reshuffle() {
        assert_eq!(shards(6, 2, |s| s.without_shuffle())[1], vec![1, 3, 5]);
        let a = DistributedSampler::for_rank(100, 2, 0);
        assert_ne!(a.indices(0), a.indices(1));
        assert_eq!(a.indices(1), a.clone().indices(1));
    }

    #[test]
    fn more_ranks_than_examples_still_gives_every_rank_a_sample() {
        let s = shards(2, 4, |s| s);
        assert!(s.iter().all(|x| x.len() == 1));
        assert!(shards(0, 4, |s| s).iter().all(|x| x.is_empty()));
    }

    #[test]
    fn shard_rows_selects_this_ranks_rows() {
        let x = Tensor::<f32>::from_vec((0..8).map(|v| v as f32).collect(), &[4, 2]);
        let rows = DistributedSampler::for_rank(4, 2, 1)
            .without_shuffle()
            .shard_rows(&x, 0);
        assert_eq!(rows.to_vec(), vec![2.0, 3.0, 6.0, 7.0]);
    }

    #[test]
    #[should_panic(expected = "made for 5 examples, this data has 4")]
    fn a_sampler_for_another_length_is_refused() {
        let x = Tensor::<f32>::zeros(&[4, 2]);
        DistributedSampler::for_rank(5, 2, 0).shard_rows(&x, 0);
    }
}

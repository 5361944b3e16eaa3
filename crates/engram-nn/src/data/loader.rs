//! Mini-batches from a dataset: the `DataLoader`, its seeded per-epoch shuffle and its
//! collate step.

use super::dataset::Dataset;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::cell::Cell;

/// How a [`DataLoader`] turns the indices of one batch into the batch.
pub trait Collate<D: Dataset> {
    /// The batch.
    type Output;
    /// Builds the batch of `dataset`'s examples at `indices`.
    fn collate(&self, dataset: &D, indices: &[usize]) -> Self::Output;
}

/// The default collate step: the dataset's own [`Dataset::get_batch`] (for a
/// [`TensorDataset`](super::TensorDataset), one gather per tensor).
#[derive(Debug, Clone, Copy, Default)]
pub struct GetBatch;

impl<D: Dataset> Collate<D> for GetBatch {
    type Output = D::Batch;
    fn collate(&self, dataset: &D, indices: &[usize]) -> D::Batch {
        dataset.get_batch(indices)
    }
}

/// A function of the batch's examples (from [`Dataset::get`], in batch order) is a
/// collate step, as PyTorch's `collate_fn`: padding sequences of different lengths, say.
impl<D: Dataset, F, B> Collate<D> for F
where
    F: Fn(Vec<D::Item>) -> B,
{
    type Output = B;
    fn collate(&self, dataset: &D, indices: &[usize]) -> B {
        self(indices.iter().map(|&i| dataset.get(i)).collect())
    }
}

/// Iterates over a dataset in mini-batches, as PyTorch's `DataLoader`.
///
/// Unshuffled by default (as in PyTorch); [`shuffle`](DataLoader::shuffle) draws a new
/// order every epoch from a ChaCha8 generator keyed by the seed and the epoch number, so a
/// run is reproducible and one resumed at epoch `e` (after
/// [`set_epoch`](DataLoader::set_epoch)) sees the same batches as one that never stopped.
/// Each iteration over the loader is one epoch and advances the epoch number.
///
/// ```
/// use engram_nn::data::{DataLoader, TensorDataset};
/// use engram_tensor::Tensor;
///
/// let x = Tensor::<f32>::from_vec((0..20).map(|v| v as f32).collect(), &[10, 2]);
/// let y = Tensor::from_vec((0..10).collect(), &[10]);
/// let loader = DataLoader::new(TensorDataset::new(x, y), 4).shuffle(7);
/// assert_eq!(loader.len(), 3); // 4 + 4 + 2
/// for epoch in 0..2 {
///     for (xb, yb) in &loader {
///         assert_eq!(xb.shape()[1], 2);
///         assert!(yb.dim(0) == 4 || yb.dim(0) == 2);
///     }
/// }
/// assert_eq!(loader.epoch(), 2);
/// ```
pub struct DataLoader<D, C = GetBatch> {
    dataset: D,
    batch_size: usize,
    seed: Option<u64>,
    drop_last: bool,
    collate: C,
    epoch: Cell<u64>,
}

impl<D: Dataset> DataLoader<D> {
    /// Batches of `batch_size` examples, in order, the last one smaller if the size does
    /// not divide the dataset; panics when `batch_size` is 0.
    #[track_caller]
    pub fn new(dataset: D, batch_size: usize) -> Self {
        if batch_size == 0 {
            engram_tensor::shape_error("DataLoader::new", "batch_size must be at least 1");
        }
        DataLoader {
            dataset,
            batch_size,
            seed: None,
            drop_last: false,
            collate: GetBatch,
            epoch: Cell::new(0),
        }
    }
}

impl<D: Dataset, C: Collate<D>> DataLoader<D, C> {
    /// Shuffles every epoch, the order drawn from `seed` and the epoch number.
    pub fn shuffle(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Leaves out the last batch when it would be smaller than the batch size (for
    /// batch norm, or a fixed batch shape).
    pub fn drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    /// Builds each batch with `collate` instead of the dataset's `get_batch`: a function
    /// of the examples, or any [`Collate`].
    pub fn collate<C2: Collate<D>>(self, collate: C2) -> DataLoader<D, C2> {
        DataLoader {
            dataset: self.dataset,
            batch_size: self.batch_size,
            seed: self.seed,
            drop_last: self.drop_last,
            collate,
            epoch: self.epoch,
        }
    }

    /// Sets the epoch the next iteration runs (and shuffles for), as PyTorch's
    /// `DistributedSampler.set_epoch`: to resume a run where it stopped.
    pub fn set_epoch(&self, epoch: u64) {
        self.epoch.set(epoch);
    }

    /// The epoch the next iteration runs.
    pub fn epoch(&self) -> u64 {
        self.epoch.get()
    }

    /// The number of batches in an epoch.
    pub fn len(&self) -> usize {
        let n = self.dataset.len();
        if self.drop_last {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        }
    }

    /// True when an epoch has no batches.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The batch size.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The dataset.
    pub fn dataset(&self) -> &D {
        &self.dataset
    }

    /// The order in which epoch `epoch` visits the examples: a permutation of
    /// `0..dataset.len()` when shuffling, the identity otherwise.
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.dataset.len()).collect();
        if let Some(seed) = self.seed {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            // One independent stream per epoch: epoch e's order does not depend on
            // how many draws earlier epochs made.
            rng.set_stream(epoch);
            order.shuffle(&mut rng);
        }
        order
    }

    /// The batches of the next epoch; advances the epoch number.
    pub fn iter(&self) -> Batches<'_, D, C> {
        let epoch = self.epoch.get();
        self.epoch.set(epoch + 1);
        Batches {
            loader: self,
            order: self.order(epoch),
            next: 0,
            remaining: self.len(),
        }
    }
}

impl<'a, D: Dataset, C: Collate<D>> IntoIterator for &'a DataLoader<D, C> {
    type Item = C::Output;
    type IntoIter = Batches<'a, D, C>;
    fn into_iter(self) -> Batches<'a, D, C> {
        self.iter()
    }
}

/// One epoch's batches, from [`DataLoader::iter`].
pub struct Batches<'a, D, C> {
    loader: &'a DataLoader<D, C>,
    order: Vec<usize>,
    next: usize,
    remaining: usize,
}

impl<D: Dataset, C: Collate<D>> Iterator for Batches<'_, D, C> {
    type Item = C::Output;

    fn next(&mut self) -> Option<C::Output> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let end = (self.next + self.loader.batch_size).min(self.order.len());
        let indices = &self.order[self.next..end];
        self.next = end;
        Some(self.loader.collate.collate(&self.loader.dataset, indices))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<D: Dataset, C: Collate<D>> ExactSizeIterator for Batches<'_, D, C> {}

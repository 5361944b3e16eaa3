//! What a training loop iterates over: the `Dataset` trait, the in-memory
//! `TensorDataset`, and `Subset`s made by `random_split`.

use engram_tensor::{shape_error, Element, Tensor};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// A collection of examples with a length and random access, as PyTorch's map-style
/// `Dataset`.
///
/// `get` returns one example; `get_batch` returns many at once in the form a model takes
/// (for [`TensorDataset`], features stacked along a new first axis and targets likewise),
/// so that a dataset held in tensors can gather a batch with one copy instead of one per
/// example. A [`DataLoader`](super::DataLoader) calls `get_batch` unless given its own
/// collate function over `get`'s examples.
pub trait Dataset {
    /// One example.
    type Item;
    /// A batch of examples, as a model takes it.
    type Batch;

    /// The number of examples.
    fn len(&self) -> usize;

    /// The example at `index`; panics when `index >= len()`.
    fn get(&self, index: usize) -> Self::Item;

    /// The examples at `indices`, in that order, as one batch; panics when an index is
    /// out of range.
    fn get_batch(&self, indices: &[usize]) -> Self::Batch;

    /// True when there are no examples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every example, in order, as one batch: a whole split as tensors, for fitting a
    /// [`StandardScaler`](super::StandardScaler) or evaluating in one pass.
    fn to_batch(&self) -> Self::Batch {
        let all: Vec<usize> = (0..self.len()).collect();
        self.get_batch(&all)
    }
}

impl<D: Dataset + ?Sized> Dataset for &D {
    type Item = D::Item;
    type Batch = D::Batch;
    fn len(&self) -> usize {
        (**self).len()
    }
    fn get(&self, index: usize) -> D::Item {
        (**self).get(index)
    }
    fn get_batch(&self, indices: &[usize]) -> D::Batch {
        (**self).get_batch(indices)
    }
}

impl<D: Dataset + ?Sized> Dataset for Arc<D> {
    type Item = D::Item;
    type Batch = D::Batch;
    fn len(&self) -> usize {
        (**self).len()
    }
    fn get(&self, index: usize) -> D::Item {
        (**self).get(index)
    }
    fn get_batch(&self, indices: &[usize]) -> D::Batch {
        (**self).get_batch(indices)
    }
}

/// Examples held in two tensors whose first axis runs over the examples, as PyTorch's
/// `TensorDataset`: features `[N, ...]` and targets `[N, ...]` — class ids
/// (`Tensor<usize>`, the default) or values (`Tensor<f32>` for regression or binary
/// targets).
///
/// An example is a view into the tensors (no copy); a batch is one `index_select` along
/// the first axis, or a view when its indices are consecutive (an unshuffled loader).
///
/// ```
/// use engram_nn::data::{Dataset, TensorDataset};
/// use engram_tensor::Tensor;
///
/// let x = Tensor::<f32>::from_vec((0..12).map(|v| v as f32).collect(), &[4, 3]);
/// let y = Tensor::from_vec(vec![0usize, 1, 1, 0], &[4]);
/// let data = TensorDataset::new(x, y);
/// let (features, label) = data.get(2);
/// assert_eq!(features.to_vec(), vec![6.0, 7.0, 8.0]);
/// assert_eq!(label.item(), 1);
/// let (xb, yb) = data.get_batch(&[3, 0]);
/// assert_eq!(xb.shape(), &[2, 3]);
/// assert_eq!(yb.to_vec(), vec![0, 0]);
/// ```
#[derive(Clone)]
pub struct TensorDataset<T: Element = f32, Y: Element = usize> {
    features: Tensor<T>,
    targets: Tensor<Y>,
}

impl<T: Element, Y: Element> TensorDataset<T, Y> {
    /// Pairs features `[N, ...]` with targets `[N, ...]`; panics when their first
    /// dimensions differ or either is a scalar.
    #[track_caller]
    pub fn new(features: Tensor<T>, targets: Tensor<Y>) -> Self {
        if features.rank() == 0 || targets.rank() == 0 || features.dim(0) != targets.dim(0) {
            shape_error(
                "TensorDataset::new",
                format!(
                    "features {:?} and targets {:?} need the same first dimension, the number \
                     of examples",
                    features.shape(),
                    targets.shape()
                ),
            );
        }
        TensorDataset { features, targets }
    }

    /// The features, `[N, ...]`.
    pub fn features(&self) -> &Tensor<T> {
        &self.features
    }

    /// The targets, `[N, ...]`.
    pub fn targets(&self) -> &Tensor<Y> {
        &self.targets
    }

    /// The features and the targets.
    pub fn into_tensors(self) -> (Tensor<T>, Tensor<Y>) {
        (self.features, self.targets)
    }

    /// The same examples with features transformed by `f` — reshaped, scaled or
    /// standardised — keeping the targets.
    #[track_caller]
    pub fn map_features<U: Element>(
        self,
        f: impl FnOnce(Tensor<T>) -> Tensor<U>,
    ) -> TensorDataset<U, Y> {
        TensorDataset::new(f(self.features), self.targets)
    }

    /// The same examples with targets transformed by `f` (class ids to floats for a
    /// binary cross-entropy, say), keeping the features.
    #[track_caller]
    pub fn map_targets<Z: Element>(
        self,
        f: impl FnOnce(Tensor<Y>) -> Tensor<Z>,
    ) -> TensorDataset<T, Z> {
        TensorDataset::new(self.features, f(self.targets))
    }

    #[track_caller]
    fn check_index(&self, index: usize) {
        if index >= self.len() {
            shape_error(
                "TensorDataset::get",
                format!("index {index} is out of range for {} examples", self.len()),
            );
        }
    }
}

/// Shapes and types only: the data may be megabytes.
impl<T: Element, Y: Element> std::fmt::Debug for TensorDataset<T, Y> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TensorDataset {{ features: {:?} {}, targets: {:?} {} }}",
            self.features.shape(),
            T::DTYPE,
            self.targets.shape(),
            Y::DTYPE
        )
    }
}

/// Rows `indices` of `t` along axis 0: a view when they are consecutive and increasing.
fn rows<E: Element>(t: &Tensor<E>, indices: &[usize]) -> Tensor<E> {
    let consecutive = indices.windows(2).all(|w| w[1] == w[0] + 1);
    match indices.first() {
        Some(&start) if consecutive && start + indices.len() <= t.dim(0) => {
            t.narrow(0, start, indices.len())
        }
        _ => t.index_select(0, indices),
    }
}

impl<T: Element, Y: Element> Dataset for TensorDataset<T, Y> {
    /// Features `[...]` and target `[...]` of one example: views, no copy.
    type Item = (Tensor<T>, Tensor<Y>);
    /// Features `[B, ...]` and targets `[B, ...]`.
    type Batch = (Tensor<T>, Tensor<Y>);

    fn len(&self) -> usize {
        self.features.dim(0)
    }

    #[track_caller]
    fn get(&self, index: usize) -> Self::Item {
        self.check_index(index);
        (
            self.features.narrow(0, index, 1).squeeze(0),
            self.targets.narrow(0, index, 1).squeeze(0),
        )
    }

    #[track_caller]
    fn get_batch(&self, indices: &[usize]) -> Self::Batch {
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.len()) {
            self.check_index(bad);
        }
        (rows(&self.features, indices), rows(&self.targets, indices))
    }
}

/// The examples of a dataset at some of its indices, as PyTorch's `Subset`: what
/// [`random_split`] returns. Holds the dataset by value: give it a `TensorDataset`
/// (cheap to clone, its tensors are shared), an `Arc`, or a reference.
#[derive(Clone, Debug)]
pub struct Subset<D> {
    dataset: D,
    indices: Arc<[usize]>,
}

impl<D: Dataset> Subset<D> {
    /// The examples of `dataset` at `indices`, in that order; panics when one is out of
    /// range.
    #[track_caller]
    pub fn new(dataset: D, indices: Vec<usize>) -> Self {
        if let Some(&bad) = indices.iter().find(|&&i| i >= dataset.len()) {
            shape_error(
                "Subset::new",
                format!("index {bad} is out of range for {} examples", dataset.len()),
            );
        }
        Subset {
            dataset,
            indices: indices.into(),
        }
    }

    /// The indices into the underlying dataset.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }

    /// The underlying dataset.
    pub fn dataset(&self) -> &D {
        &self.dataset
    }
}

impl<D: Dataset> Dataset for Subset<D> {
    type Item = D::Item;
    type Batch = D::Batch;

    fn len(&self) -> usize {
        self.indices.len()
    }

    #[track_caller]
    fn get(&self, index: usize) -> D::Item {
        self.dataset.get(self.indices[index])
    }

    #[track_caller]
    fn get_batch(&self, indices: &[usize]) -> D::Batch {
        let mapped: Vec<usize> = indices.iter().map(|&i| self.indices[i]).collect();
        self.dataset.get_batch(&mapped)
    }
}

/// How to cut a dataset in [`random_split`]: counts that add up to its length, or
/// fractions that add up to 1 (each split gets the floor of its share and the remainder
/// goes one by one to the first splits, as PyTorch does).
pub trait SplitLengths {
    /// The counts for a dataset of `n` examples; panics when they cannot add up to `n`.
    #[track_caller]
    fn lengths(&self, n: usize) -> Vec<usize>;
}

impl SplitLengths for [usize] {
    #[track_caller]
    fn lengths(&self, n: usize) -> Vec<usize> {
        if self.iter().sum::<usize>() != n {
            shape_error(
                "random_split",
                format!(
                    "lengths {self:?} add up to {}, not the dataset's {n} examples",
                    self.iter().sum::<usize>()
                ),
            );
        }
        self.to_vec()
    }
}

impl SplitLengths for [f64] {
    #[track_caller]
    fn lengths(&self, n: usize) -> Vec<usize> {
        let total: f64 = self.iter().sum();
        if (total - 1.0).abs() > 1e-9 || self.iter().any(|&f| !(0.0..=1.0).contains(&f)) {
            shape_error(
                "random_split",
                format!("fractions {self:?} must each lie in 0..=1 and add up to 1 (they add up to {total})"),
            );
        }
        let mut lengths: Vec<usize> = self
            .iter()
            .map(|&f| (f * n as f64).floor() as usize)
            .collect();
        let remainder = n - lengths.iter().sum::<usize>();
        let count = lengths.len();
        for i in 0..remainder {
            lengths[i % count] += 1;
        }
        lengths
    }
}

impl<const K: usize> SplitLengths for [usize; K] {
    #[track_caller]
    fn lengths(&self, n: usize) -> Vec<usize> {
        self[..].lengths(n)
    }
}

impl<const K: usize> SplitLengths for [f64; K] {
    #[track_caller]
    fn lengths(&self, n: usize) -> Vec<usize> {
        self[..].lengths(n)
    }
}

impl<L: SplitLengths + ?Sized> SplitLengths for &L {
    #[track_caller]
    fn lengths(&self, n: usize) -> Vec<usize> {
        (**self).lengths(n)
    }
}

impl SplitLengths for Vec<usize> {
    #[track_caller]
    fn lengths(&self, n: usize) -> Vec<usize> {
        self[..].lengths(n)
    }
}

impl SplitLengths for Vec<f64> {
    #[track_caller]
    fn lengths(&self, n: usize) -> Vec<usize> {
        self[..].lengths(n)
    }
}

/// Splits a dataset at random into non-overlapping subsets that together cover it, as
/// PyTorch's `random_split`: `lengths` gives counts (`[800, 200]`) or fractions
/// (`[0.8, 0.2]`), and `seed` fixes the permutation (a ChaCha8 generator), so the same
/// seed gives the same split on every machine.
///
/// ```
/// use engram_nn::data::{random_split, Dataset, TensorDataset};
/// use engram_tensor::Tensor;
///
/// let data = TensorDataset::new(Tensor::<f32>::zeros(&[10, 2]), Tensor::from_vec(vec![0usize; 10], &[10]));
/// let parts = random_split(data, [0.8, 0.2], 42);
/// assert_eq!((parts[0].len(), parts[1].len()), (8, 2));
/// ```
#[track_caller]
pub fn random_split<D: Dataset + Clone>(
    dataset: D,
    lengths: impl SplitLengths,
    seed: u64,
) -> Vec<Subset<D>> {
    let lengths = lengths.lengths(dataset.len());
    let mut order: Vec<usize> = (0..dataset.len()).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut start = 0;
    lengths
        .iter()
        .map(|&len| {
            let part = order[start..start + len].to_vec();
            start += len;
            Subset::new(dataset.clone(), part)
        })
        .collect()
}

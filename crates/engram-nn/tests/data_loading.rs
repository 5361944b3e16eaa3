//! DataLoader, random_split, StandardScaler and the bundled data sets.

use engram_nn::data::{
    datasets, random_split, DataError, DataLoader, Dataset, NextTokenDataset, StandardScaler,
    TensorDataset, Vocabulary,
};
use engram_tensor::Tensor;
use std::collections::BTreeSet;

/// Ten examples whose single feature and label are both their index.
fn iota(n: usize) -> TensorDataset<f32, usize> {
    TensorDataset::new(
        Tensor::from_vec((0..n).map(|i| i as f32).collect(), &[n, 1]),
        Tensor::from_vec((0..n).collect(), &[n]),
    )
}

/// The labels of every batch of one epoch, in order.
fn epoch_labels<C>(loader: &DataLoader<TensorDataset<f32, usize>, C>) -> Vec<Vec<usize>>
where
    C: engram_nn::data::Collate<TensorDataset<f32, usize>, Output = (Tensor<f32>, Tensor<usize>)>,
{
    loader.iter().map(|(_, y)| y.to_vec()).collect()
}

#[test]
fn loader_covers_every_example_exactly_once_per_epoch() {
    let loader = DataLoader::new(iota(10), 3).shuffle(1);
    for _ in 0..3 {
        let batches = epoch_labels(&loader);
        assert_eq!(
            batches.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![3, 3, 3, 1]
        );
        let mut seen: Vec<usize> = batches.concat();
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
    }
}

#[test]
fn loader_shuffles_reproducibly_by_seed_and_differently_by_epoch() {
    let a = DataLoader::new(iota(50), 8).shuffle(7);
    let b = DataLoader::new(iota(50), 8).shuffle(7);
    let c = DataLoader::new(iota(50), 8).shuffle(8);
    let (a0, a1) = (epoch_labels(&a), epoch_labels(&a));
    assert_eq!(a0, epoch_labels(&b));
    assert_eq!(a1, epoch_labels(&b));
    assert_ne!(a0, a1, "each epoch draws a new order");
    assert_ne!(a0, epoch_labels(&c), "another seed, another order");
    assert_ne!(a0.concat(), (0..50).collect::<Vec<_>>(), "shuffled at all");
}

#[test]
fn loader_resumed_at_an_epoch_sees_the_same_batches() {
    let uninterrupted = DataLoader::new(iota(20), 4).shuffle(3);
    let epochs: Vec<_> = (0..4).map(|_| epoch_labels(&uninterrupted)).collect();
    let resumed = DataLoader::new(iota(20), 4).shuffle(3);
    resumed.set_epoch(2);
    assert_eq!(epoch_labels(&resumed), epochs[2]);
    assert_eq!(epoch_labels(&resumed), epochs[3]);
    assert_eq!(resumed.order(2).len(), 20);
}

#[test]
fn loader_honours_drop_last() {
    let keep = DataLoader::new(iota(10), 4);
    let drop = DataLoader::new(iota(10), 4).drop_last(true);
    assert_eq!((keep.len(), drop.len()), (3, 2));
    assert_eq!(epoch_labels(&keep).len(), 3);
    let dropped = epoch_labels(&drop);
    assert_eq!(dropped, vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7]]);
    assert_eq!(drop.iter().len(), 2);
    assert!(DataLoader::new(iota(3), 4).drop_last(true).is_empty());
}

#[test]
fn unshuffled_batches_are_views_of_the_dataset() {
    let data = iota(10);
    let loader = DataLoader::new(data.clone(), 4);
    let (x, _) = loader.iter().next().unwrap();
    assert!(
        x.shares_storage_with(data.features()),
        "consecutive rows need no copy"
    );
    let (one, label) = data.get(5);
    assert!(one.shares_storage_with(data.features()));
    assert_eq!((one.to_vec(), label.item()), (vec![5.0], 5));
}

#[test]
fn loader_takes_a_collate_function_over_examples() {
    // Pads variable-length sequences to the longest in the batch, as a collate_fn would.
    struct Ragged;
    impl Dataset for Ragged {
        type Item = Vec<usize>;
        type Batch = Vec<Vec<usize>>;
        fn len(&self) -> usize {
            4
        }
        fn get(&self, i: usize) -> Vec<usize> {
            vec![i; i + 1]
        }
        fn get_batch(&self, indices: &[usize]) -> Vec<Vec<usize>> {
            indices.iter().map(|&i| self.get(i)).collect()
        }
    }
    let loader = DataLoader::new(Ragged, 2).collate(|items: Vec<Vec<usize>>| {
        let width = items.iter().map(Vec::len).max().unwrap_or(0);
        let padded: Vec<usize> = items
            .iter()
            .flat_map(|s| s.iter().copied().chain(std::iter::repeat(0)).take(width))
            .collect();
        Tensor::from_vec(padded, &[items.len(), width])
    });
    let batches: Vec<Tensor<usize>> = loader.iter().collect();
    assert_eq!(batches[1].shape(), &[2, 4]);
    assert_eq!(batches[1].to_vec(), vec![2, 2, 2, 0, 3, 3, 3, 3]);
}

#[test]
fn random_split_is_disjoint_complete_and_seeded() {
    let parts = random_split(iota(103), [0.7, 0.2, 0.1], 5);
    let sizes: Vec<usize> = parts.iter().map(|p| p.len()).collect();
    assert_eq!(sizes, vec![73, 20, 10]); // floors 72, 20, 10 -> 102; one more to the first
    let mut all = BTreeSet::new();
    for part in &parts {
        for &i in part.indices() {
            assert!(all.insert(i), "index {i} in two splits");
        }
    }
    assert_eq!(all.len(), 103);
    let again = random_split(iota(103), [73, 20, 10], 5);
    assert_eq!(again[1].indices(), parts[1].indices());
    assert_ne!(
        random_split(iota(103), [73, 20, 10], 6)[1].indices(),
        parts[1].indices()
    );
    // A subset's batch is the underlying examples at its indices.
    let (_, y) = parts[2].get_batch(&[0, 1]);
    assert_eq!(y.to_vec(), parts[2].indices()[..2].to_vec());
}

#[test]
#[should_panic(expected = "add up to 9, not the dataset's 10")]
fn random_split_panics_on_lengths_that_do_not_add_up() {
    random_split(iota(10), [5usize, 4], 0);
}

#[test]
fn scaler_fitted_on_train_standardises_train_exactly() {
    let x = Tensor::<f64>::from_vec(vec![1.0, 5.0, 2.0, 5.0, 6.0, 5.0], &[3, 2]);
    let scaler = StandardScaler::fit(&x);
    let z = scaler.transform(&x);
    let mean = z.mean_axes(&[0]).to_vec();
    let var = z.var_axes(&[0], 0).to_vec();
    assert!(mean[0].abs() < 1e-12 && (var[0] - 1.0).abs() < 1e-12);
    assert_eq!(
        (mean[1], var[1]),
        (0.0, 0.0),
        "a constant feature is centred, not divided by 0"
    );
    let back = scaler.inverse_transform(&z);
    for (a, b) in back.to_vec().iter().zip(x.to_vec()) {
        assert!((a - b).abs() < 1e-12);
    }
}

#[test]
#[should_panic(expected = "StandardScaler::transform")]
fn scaler_panics_on_another_feature_count() {
    let scaler = StandardScaler::fit(&Tensor::<f32>::zeros(&[4, 3]));
    scaler.transform(&Tensor::zeros(&[4, 2]));
}

#[test]
fn next_token_windows_shift_by_one() {
    let data = NextTokenDataset::new((0..11).collect(), 4, 2);
    assert_eq!(data.len(), 4); // starts 0, 2, 4, 6 (6..10 and 7..11 fit)
    let (x, y) = data.get(3);
    assert_eq!(
        (x.to_vec(), y.to_vec()),
        (vec![6, 7, 8, 9], vec![7, 8, 9, 10])
    );
    assert_eq!(NextTokenDataset::new(vec![1, 2], 2, 1).len(), 0);
}

// ---- bundled data ----

fn labels_in_range(labels: &Tensor<usize>, classes: usize) -> BTreeSet<usize> {
    let seen: BTreeSet<usize> = labels.to_vec().into_iter().collect();
    assert_eq!(
        seen,
        (0..classes).collect(),
        "every class present, nothing else"
    );
    seen
}

#[test]
fn bundled_digits_have_1797_images_of_64_pixels() {
    let digits = datasets::digits::<f32>(datasets::data_dir()).unwrap();
    assert_eq!(digits.features().shape(), &[1797, 64]);
    let pixels = digits.features().to_vec();
    assert!(pixels.iter().all(|&p| (0.0..=16.0).contains(&p)));
    labels_in_range(digits.targets(), 10);
}

#[test]
fn bundled_breast_cancer_has_569_rows_of_30_features() {
    let data = datasets::breast_cancer::<f64>(datasets::data_dir()).unwrap();
    assert_eq!(data.features().shape(), &[569, 30]);
    labels_in_range(data.targets(), 2);
    // scikit-learn's counts: 212 malignant, 357 benign.
    assert_eq!(data.targets().to_vec().iter().sum::<usize>(), 357);
}

#[test]
fn bundled_mnist10k_has_10000_scaled_images() {
    let data = datasets::mnist10k::<f32>(datasets::data_dir()).unwrap();
    assert_eq!(data.features().shape(), &[10000, 1, 28, 28]);
    let labels = data.targets().to_vec();
    labels_in_range(data.targets(), 10);
    assert_eq!(labels.iter().filter(|&&l| l == 5).count(), 863);
    let (max, min) = (data.features().max().item(), data.features().min().item());
    assert_eq!((min, max), (0.0, 1.0));
}

#[test]
fn bundled_shakespeare_is_a_megabyte_of_ascii() {
    let text = datasets::shakespeare(datasets::data_dir()).unwrap();
    assert_eq!(text.len(), 1_074_202);
    assert!(text.starts_with("ALL'S WELL THAT ENDS WELL"));
    let vocab = Vocabulary::characters(&text);
    assert!(
        vocab.len() > 60 && vocab.len() < 100,
        "{} characters",
        vocab.len()
    );
}

#[test]
fn missing_bundled_data_says_where_to_get_it() {
    let dir = tempfile::tempdir().unwrap();
    let err = datasets::digits::<f32>(dir.path()).unwrap_err();
    assert!(
        matches!(&err, DataError::NotFound { path, .. } if path.ends_with("sklearn/digits.csv.gz"))
    );
    assert!(err.to_string().contains("ENGRAM_DATA"), "{err}");
    let err = datasets::fashion_mnist::<f32>(dir.path(), datasets::Split::Train).unwrap_err();
    assert!(
        err.to_string()
            .contains("apt-get install dataset-fashion-mnist"),
        "{err}"
    );
}

#[test]
fn fashion_mnist_test_split_reads_when_present() {
    // The packaged set's test split, as the Debian package installs it; the full set if
    // installed, else the copy in the project's shared data folder. Skipped when neither
    // is on this machine.
    let candidates = [
        std::path::PathBuf::from(datasets::FASHION_MNIST_DIR),
        datasets::data_dir().join("../../shared/data/fashion-mnist"),
    ];
    let Some(dir) = candidates
        .iter()
        .find(|d| d.join("t10k-labels-idx1-ubyte.gz").is_file())
    else {
        eprintln!(
            "skipped: no Fashion-MNIST on this machine (apt-get install dataset-fashion-mnist)"
        );
        return;
    };
    let data = datasets::fashion_mnist::<f32>(dir, datasets::Split::Test).unwrap();
    assert_eq!(data.features().shape(), &[10000, 1, 28, 28]);
    let labels = data.targets().to_vec();
    for class in 0..10 {
        assert_eq!(labels.iter().filter(|&&l| l == class).count(), 1000);
    }
}

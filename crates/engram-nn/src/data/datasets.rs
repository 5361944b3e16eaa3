//! Real data sets, ready to train on: the ones bundled in the repository's `data/`
//! folder (UCI digits, Wisconsin breast cancer, 10,000 MNIST digits, a megabyte of
//! Shakespeare) and Fashion-MNIST from Debian's `dataset-fashion-mnist` package.
//!
//! Each loader takes the folder to read from — [`data_dir`] for the bundled sets,
//! [`FASHION_MNIST_DIR`] for Fashion-MNIST — and returns a [`DataError::NotFound`] that
//! says how to get a missing file. `data/README.md` gives each set's source and license.
//!
//! ```
//! use engram_nn::data::{datasets, Dataset};
//!
//! let digits = datasets::digits::<f32>(datasets::data_dir())?;
//! assert_eq!(digits.features().shape(), &[1797, 64]);
//! # Ok::<(), engram_nn::data::DataError>(())
//! ```

use super::csv::CsvReader;
use super::dataset::TensorDataset;
use super::error::DataError;
use super::idx::read_idx_dataset;
use super::text::read_text;
use engram_tensor::Float;
use std::path::{Path, PathBuf};

/// Where Debian's `dataset-fashion-mnist` package installs the four Fashion-MNIST files.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Fashion-MNIST's class names, by label.
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// The breast-cancer set's class names, by label (scikit-learn's order).
pub const BREAST_CANCER_CLASSES: [&str; 2] = ["malignant", "benign"];

/// The repository's bundled `data/` folder: `$ENGRAM_DATA` when set, else the `data/`
/// folder of the workspace this crate was built from — which is where it is for
/// `cargo run --example` and `cargo test` in a clone.
pub fn data_dir() -> PathBuf {
    match std::env::var_os("ENGRAM_DATA") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .nth(2)
            .expect("engram-nn lives at crates/engram-nn in the workspace")
            .join("data"),
    }
}

/// `dir/name`, or a [`DataError::NotFound`] saying how to get it.
fn locate(dir: &Path, name: &str, hint: &str) -> Result<PathBuf, DataError> {
    let path = dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(DataError::NotFound {
            path,
            hint: hint.to_string(),
        })
    }
}

/// The hint for a missing bundled file.
const BUNDLED: &str = "the bundled data sets are in the repository's data/ folder: pass that \
                       folder, or set ENGRAM_DATA to it";

/// The UCI optical digits (scikit-learn's `load_digits`): features `[1797, 64]`, the
/// pixels of an 8×8 image row by row with values 0..=16, and labels 0..=9.
pub fn digits<T: Float>(dir: impl AsRef<Path>) -> Result<TensorDataset<T, usize>, DataError> {
    let path = locate(dir.as_ref(), "sklearn/digits.csv.gz", BUNDLED)?;
    CsvReader::new().classes(10).read_classification(path)
}

/// The Wisconsin diagnostic breast-cancer set (scikit-learn's `load_breast_cancer`):
/// features `[569, 30]`, unscaled (standardise them), and labels 0 (malignant) or 1
/// (benign), as [`BREAST_CANCER_CLASSES`].
pub fn breast_cancer<T: Float>(
    dir: impl AsRef<Path>,
) -> Result<TensorDataset<T, usize>, DataError> {
    let path = locate(dir.as_ref(), "sklearn/breast_cancer.csv", BUNDLED)?;
    // The first line is scikit-learn's metadata (`569,30,malignant,benign`), not names.
    CsvReader::new()
        .skip_lines(1)
        .classes(2)
        .read_classification(path)
}

/// 10,000 real MNIST digits: images `[10000, 1, 28, 28]` scaled to `[0, 1]` (as
/// torchvision's `ToTensor`) and labels 0..=9. The images are grouped by class — all 0s,
/// then all 1s — so split them with a seeded shuffle (`random_split`).
pub fn mnist10k<T: Float>(dir: impl AsRef<Path>) -> Result<TensorDataset<T, usize>, DataError> {
    let dir = dir.as_ref();
    let images = locate(dir, "mnist10k/mnist10k-images-idx3-ubyte.gz", BUNDLED)?;
    let labels = locate(dir, "mnist10k/mnist10k-labels-idx1-ubyte.gz", BUNDLED)?;
    images_28x28(&images, &labels)
}

/// About a megabyte of Shakespeare (eight plays, public domain), for character-level
/// language models.
pub fn shakespeare(dir: impl AsRef<Path>) -> Result<String, DataError> {
    read_text(locate(
        dir.as_ref(),
        "shakespeare/shakespeare.txt",
        BUNDLED,
    )?)
}

/// Which part of a data set that comes split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// The training part.
    Train,
    /// The test part.
    Test,
}

/// Fashion-MNIST (Zalando): images `[N, 1, 28, 28]` scaled to `[0, 1]` and labels 0..=9
/// (names in [`FASHION_MNIST_CLASSES`]); 60,000 for training, 10,000 for testing. Reads
/// the official file names (`train-images-idx3-ubyte.gz`, `t10k-labels-idx1-ubyte.gz`,
/// ...) from `dir`, usually [`FASHION_MNIST_DIR`].
pub fn fashion_mnist<T: Float>(
    dir: impl AsRef<Path>,
    split: Split,
) -> Result<TensorDataset<T, usize>, DataError> {
    let prefix = match split {
        Split::Train => "train",
        Split::Test => "t10k",
    };
    let hint = "install Debian's package: apt-get install dataset-fashion-mnist \
                (it puts the files in /usr/share/datasets/fashion-mnist)";
    let dir = dir.as_ref();
    let images = locate(dir, &format!("{prefix}-images-idx3-ubyte.gz"), hint)?;
    let labels = locate(dir, &format!("{prefix}-labels-idx1-ubyte.gz"), hint)?;
    images_28x28(&images, &labels)
}

/// An MNIST-style pair of IDX files as `[N, 1, 28, 28]` images in `[0, 1]` and labels
/// 0..=9.
fn images_28x28<T: Float>(
    images: &Path,
    labels: &Path,
) -> Result<TensorDataset<T, usize>, DataError> {
    let data = read_idx_dataset::<T>(images, labels, Some(10))?;
    let shape = data.features().shape().to_vec();
    if shape.len() != 3 || shape[1..] != [28, 28] {
        return Err(DataError::Shape {
            path: images.to_path_buf(),
            expected: "MNIST-style images are [N, 28, 28]".to_string(),
            found: format!("it holds {shape:?}"),
        });
    }
    Ok(data.map_features(|x| (x / T::of(255.0)).reshape(&[shape[0], 1, 28, 28])))
}

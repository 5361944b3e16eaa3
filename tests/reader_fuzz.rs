//! The dataset readers under attack (issue 15, item 5): random bytes and mutations of a
//! valid file give a typed `DataError` or a clean read, never a panic, and never an
//! allocation that a header claims but the file does not hold (a header claiming 2^32
//! images must fail fast rather than reserve terabytes).

use engram::nn::data::{read_idx, read_text, CsvReader};
use proptest::prelude::*;

fn with_file<R>(bytes: &[u8], name: &str, read: impl FnOnce(&std::path::Path) -> R) -> R {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    read(&path)
}

/// A valid IDX file: unsigned bytes, shape [3, 2, 2].
fn idx() -> Vec<u8> {
    let mut bytes = vec![0, 0, 0x08, 3];
    for d in [3u32, 2, 2] {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend(0..12u8);
    bytes
}

fn mutate(mut bytes: Vec<u8>, at: usize, x: u8, cut: usize) -> Vec<u8> {
    let n = bytes.len();
    bytes[at % n] ^= x;
    bytes.truncate(n - cut % n);
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn idx_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = with_file(&bytes, "x.idx", |p| read_idx(p));
    }

    #[test]
    fn mutated_idx_files_are_refused_or_read(at in any::<usize>(), x in any::<u8>(), cut in 0usize..8) {
        let bytes = mutate(idx(), at, x, cut);
        if let Ok(array) = with_file(&bytes, "m.idx", |p| read_idx(p)) {
            let n: usize = array.dims.iter().product();
            prop_assert!(n <= bytes.len(), "{n} elements from a {}-byte file", bytes.len());
        }
    }

    #[test]
    fn csv_reader_never_panics(text in "[0-9,.\\-e \\n]{0,80}") {
        let _ = with_file(text.as_bytes(), "x.csv", |p| CsvReader::new().label(0usize).classes(3).read_classification::<f32>(p));
        let _ = with_file(text.as_bytes(), "y.csv", |p| CsvReader::new().header(true).read_features::<f64>(p));
    }

    #[test]
    fn text_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = with_file(&bytes, "x.txt", |p| read_text(p));
    }
}

#[test]
fn the_valid_idx_file_reads() {
    let array = with_file(&idx(), "ok.idx", |p| read_idx(p)).unwrap();
    assert_eq!(array.dims, vec![3, 2, 2]);
}

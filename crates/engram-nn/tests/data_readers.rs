//! Each data reader on well-formed files, and each malformed input rejected with its
//! typed error naming the file and the place — on small files the tests write.

use engram_nn::data::{
    read_idx, read_idx_dataset, read_idx_labels, read_text, CsvReader, DataError, Dataset, IdxData,
    LabelColumn, Location, Vocabulary,
};
use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::Write;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

fn write(dir: &TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// An IDX file: header with type `code` and `dims`, then `payload`.
fn idx(code: u8, dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0, code, dims.len() as u8];
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(payload);
    bytes
}

fn assert_names(err: &DataError, path: &Path, place: &str) {
    let message = err.to_string();
    assert!(
        message.contains(&path.display().to_string()) && message.contains(place),
        "{message:?} should name {} and {place:?}",
        path.display()
    );
}

// ---- IDX ----

#[test]
fn idx_reads_bytes_plain_and_gzip_alike() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = idx(0x08, &[2, 3], &[0, 1, 2, 3, 4, 255]);
    for path in [
        write(&dir, "plain.idx", &bytes),
        write(&dir, "named-plain-but-gzip.idx", &gzip(&bytes)),
    ] {
        let array = read_idx(&path).unwrap();
        assert_eq!(array.dims, vec![2, 3]);
        assert_eq!(array.data, IdxData::U8(vec![0, 1, 2, 3, 4, 255]));
        assert_eq!(array.to_tensor::<f32>().to_vec()[5], 255.0);
    }
}

#[test]
fn idx_decodes_big_endian_wide_types() {
    let dir = tempfile::tempdir().unwrap();
    let mut payload = Vec::new();
    for v in [-1.5f32, 2.25] {
        payload.extend_from_slice(&v.to_be_bytes());
    }
    let path = write(&dir, "f.idx", &idx(0x0d, &[2], &payload));
    assert_eq!(
        read_idx(&path).unwrap().data,
        IdxData::F32(vec![-1.5, 2.25])
    );
    let path = write(&dir, "i.idx", &idx(0x0b, &[2], &[0xff, 0xfe, 0x01, 0x00]));
    assert_eq!(read_idx(&path).unwrap().data, IdxData::I16(vec![-2, 256]));
}

#[test]
fn idx_rejects_wrong_magic() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "x.idx", b"PK\x03\x04 a zip file");
    let err = read_idx(&path).unwrap_err();
    assert!(
        matches!(err, DataError::IdxMagic { found, .. } if found == *b"PK\x03\x04"),
        "{err}"
    );
    assert_names(&err, &path, "byte 0");
}

#[test]
fn idx_rejects_unknown_type_code() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "x.idx", &idx(0x07, &[1], &[0]));
    let err = read_idx(&path).unwrap_err();
    assert!(
        matches!(err, DataError::IdxType { code: 0x07, .. }),
        "{err}"
    );
    assert_names(&err, &path, "byte 2");
}

#[test]
fn idx_rejects_short_file_plain_and_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = idx(0x08, &[2, 3], &[1, 2, 3, 4]); // 6 promised, 4 there
    let plain = write(&dir, "short.idx", &bytes);
    let err = read_idx(&plain).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Truncated {
                offset: 16,
                expected: 18,
                ..
            }
        ),
        "{err}"
    );
    assert_names(&err, &plain, "byte 16");

    let gz = write(&dir, "short.idx.gz", &gzip(&bytes));
    let err = read_idx(&gz).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Truncated {
                offset: 16,
                expected: 18,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn idx_rejects_file_shorter_than_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "x.idx", &[0, 0, 8, 3, 0, 0]);
    let err = read_idx(&path).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Truncated {
                offset: 6,
                expected: 16,
                ..
            }
        ),
        "{err}"
    );
    let empty = write(&dir, "empty.idx", &[]);
    assert!(matches!(
        read_idx(&empty).unwrap_err(),
        DataError::Truncated { offset: 0, .. }
    ));
}

#[test]
fn idx_rejects_dims_that_do_not_match_the_file_length() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "long.idx", &idx(0x08, &[2, 2], &[1, 2, 3, 4, 5]));
    let err = read_idx(&path).unwrap_err();
    assert!(
        matches!(err, DataError::TrailingBytes { expected: 16, .. }),
        "{err}"
    );
    let gz = write(
        &dir,
        "long.idx.gz",
        &gzip(&idx(0x08, &[2, 2], &[1, 2, 3, 4, 5])),
    );
    assert!(matches!(
        read_idx(&gz).unwrap_err(),
        DataError::TrailingBytes { .. }
    ));
}

#[test]
fn idx_refuses_absurd_sizes_without_allocating_them() {
    let dir = tempfile::tempdir().unwrap();
    // 2^96 bytes: more than any u64.
    let overflow = write(
        &dir,
        "o.idx",
        &idx(0x08, &[u32::MAX, u32::MAX, u32::MAX], &[0; 8]),
    );
    let err = read_idx(&overflow).unwrap_err();
    assert!(
        matches!(err, DataError::TooLarge { bytes: None, .. }),
        "{err}"
    );
    // 8 TB of f64 claimed by a gzip file of a few dozen bytes.
    let gz = write(
        &dir,
        "t.idx.gz",
        &gzip(&idx(0x0e, &[1_000_000, 1_000_000], &[0; 8])),
    );
    let err = read_idx(&gz).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::TooLarge {
                bytes: Some(8_000_000_000_000),
                ..
            }
        ),
        "{err}"
    );
    // The same claim in a plain file: it is short, said before reading anything.
    let plain = write(&dir, "t.idx", &idx(0x0e, &[1_000_000, 1_000_000], &[0; 8]));
    assert!(matches!(
        read_idx(&plain).unwrap_err(),
        DataError::Truncated { .. }
    ));
}

#[test]
fn idx_rejects_corrupt_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = gzip(&idx(0x08, &[64], &[7; 64]));
    bytes.truncate(bytes.len() / 2);
    let path = write(&dir, "cut.idx.gz", &bytes);
    let err = read_idx(&path).unwrap_err();
    assert!(matches!(err, DataError::Gzip { .. }), "{err}");
    assert_names(&err, &path, "gzip");
}

#[test]
fn idx_missing_file_is_an_io_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.idx");
    let err = read_idx(&path).unwrap_err();
    assert!(
        matches!(&err, DataError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    );
    assert_names(&err, &path, "absent.idx");
}

#[test]
fn idx_labels_out_of_range_name_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "labels.idx", &idx(0x08, &[4], &[0, 9, 10, 3]));
    assert_eq!(
        read_idx_labels(&path, None).unwrap().to_vec(),
        vec![0, 9, 10, 3]
    );
    let err = read_idx_labels(&path, Some(10)).unwrap_err();
    assert!(
        matches!(&err, DataError::LabelOutOfRange { at: Location::Record(2), classes: Some(10), label, .. } if label == "10"),
        "{err}"
    );
    assert_names(&err, &path, "record 2");
    let negative = write(&dir, "neg.idx", &idx(0x09, &[1], &[0xff]));
    assert!(matches!(
        read_idx_labels(&negative, None).unwrap_err(),
        DataError::LabelOutOfRange { .. }
    ));
}

#[test]
fn idx_labels_must_be_one_dimensional_integers() {
    let dir = tempfile::tempdir().unwrap();
    let matrix = write(&dir, "m.idx", &idx(0x08, &[2, 2], &[0, 1, 2, 3]));
    assert!(matches!(
        read_idx_labels(&matrix, None).unwrap_err(),
        DataError::Shape { .. }
    ));
    let floats = write(&dir, "f.idx", &idx(0x0d, &[1], &[0; 4]));
    assert!(matches!(
        read_idx_labels(&floats, None).unwrap_err(),
        DataError::Shape { .. }
    ));
}

#[test]
fn idx_dataset_pairs_images_with_labels_and_checks_counts() {
    let dir = tempfile::tempdir().unwrap();
    let images = write(&dir, "images", &idx(0x08, &[3, 2, 2], &[0; 12]));
    let labels = write(&dir, "labels", &idx(0x08, &[3], &[1, 2, 0]));
    let data = read_idx_dataset::<f32>(&images, &labels, Some(3)).unwrap();
    assert_eq!(data.features().shape(), &[3, 2, 2]);
    assert_eq!(data.len(), 3);
    let two = write(&dir, "two", &idx(0x08, &[2], &[1, 2]));
    let err = read_idx_dataset::<f32>(&images, &two, None).unwrap_err();
    assert!(matches!(err, DataError::Shape { .. }), "{err}");
}

// ---- CSV ----

#[test]
fn csv_reads_header_label_by_name_quotes_and_crlf() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "a.csv",
        b"\"width, cm\",label,height\r\n1.5,1,2\r\n\r\n-3e2,0,\"4\"\r\n",
    );
    let data = CsvReader::new()
        .header(true)
        .label("label")
        .classes(2)
        .read_classification::<f64>(&path)
        .unwrap();
    assert_eq!(data.features().to_vec(), vec![1.5, 2.0, -300.0, 4.0]);
    assert_eq!(data.targets().to_vec(), vec![1, 0]);
}

#[test]
fn csv_label_by_index_regression_and_features_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "r.csv", b"0.5;1;2\n1.5;3;4\n");
    let data = CsvReader::new()
        .delimiter(';')
        .label(LabelColumn::Index(0))
        .read_regression::<f32>(&path)
        .unwrap();
    assert_eq!(data.targets().to_vec(), vec![0.5, 1.5]);
    assert_eq!(data.features().to_vec(), vec![1.0, 2.0, 3.0, 4.0]);
    let all = CsvReader::new()
        .delimiter(';')
        .read_features::<f32>(&path)
        .unwrap();
    assert_eq!(all.shape(), &[2, 3]);
}

#[test]
fn csv_reads_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "d.csv.gz", &gzip(b"1,2,0\n3,4,1\n"));
    let data = CsvReader::new().read_classification::<f32>(&path).unwrap();
    assert_eq!(data.features().shape(), &[2, 2]);
}

#[test]
fn csv_rejects_ragged_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "r.csv", b"1,2,0\n3,4,1\n5,1\n");
    let err = CsvReader::new()
        .read_classification::<f32>(&path)
        .unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Ragged {
                line: 3,
                found: 2,
                expected: 3,
                first_line: 1,
                ..
            }
        ),
        "{err}"
    );
    assert_names(&err, &path, "line 3");
}

#[test]
fn csv_rejects_non_numeric_field_naming_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "n.csv", b"a,b,y\n1,2,0\n3,x4,1\n");
    let err = CsvReader::new()
        .header(true)
        .read_classification::<f32>(&path)
        .unwrap_err();
    assert!(
        matches!(&err, DataError::NotNumeric { at: Location::Line { line: 3, column: Some(2) }, field, .. } if field == "x4"),
        "{err}"
    );
    assert_names(&err, &path, "line 3, column 2");
    let empty_field = write(&dir, "e.csv", b"1,,0\n");
    assert!(matches!(
        CsvReader::new()
            .read_classification::<f32>(&empty_field)
            .unwrap_err(),
        DataError::NotNumeric { .. }
    ));
}

#[test]
fn csv_rejects_empty_file_and_header_only() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write(&dir, "empty.csv", b"");
    let err = CsvReader::new().read_features::<f32>(&empty).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Empty {
                after_header: false,
                ..
            }
        ),
        "{err}"
    );
    assert_names(&err, &empty, "no data");
    let header_only = write(&dir, "h.csv", b"a,b\n\n");
    let err = CsvReader::new()
        .header(true)
        .read_features::<f32>(&header_only)
        .unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Empty {
                after_header: true,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn csv_rejects_label_out_of_range_or_not_a_class() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "l.csv", b"1,2,0\n3,4,3\n");
    let err = CsvReader::new()
        .classes(3)
        .read_classification::<f32>(&path)
        .unwrap_err();
    assert!(
        matches!(&err, DataError::LabelOutOfRange { at: Location::Line { line: 2, column: Some(3) }, classes: Some(3), label, .. } if label == "3"),
        "{err}"
    );
    assert_names(&err, &path, "line 2, column 3");
    for bad in ["1,2,-1\n", "1,2,0.5\n"] {
        let path = write(&dir, "bad.csv", bad.as_bytes());
        let err = CsvReader::new()
            .read_classification::<f32>(&path)
            .unwrap_err();
        assert!(
            matches!(err, DataError::LabelOutOfRange { classes: None, .. }),
            "{err}"
        );
    }
}

#[test]
fn csv_rejects_unknown_label_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "c.csv", b"a,b\n1,0\n");
    let err = CsvReader::new()
        .header(true)
        .label("target")
        .read_classification::<f32>(&path)
        .unwrap_err();
    assert!(
        matches!(&err, DataError::NoSuchColumn { header: Some(h), .. } if h == &["a", "b"]),
        "{err}"
    );
    let err = CsvReader::new()
        .skip_lines(1)
        .label(5)
        .read_classification::<f32>(&path)
        .unwrap_err();
    assert!(
        matches!(
            err,
            DataError::NoSuchColumn {
                columns: 2,
                header: None,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn csv_rejects_invalid_utf8_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "u.csv", b"1,2\n3,\xff\n");
    let err = CsvReader::new().read_features::<f32>(&path).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::NotUtf8 {
                at: Location::Line { line: 2, .. },
                ..
            }
        ),
        "{err}"
    );
}

// ---- text ----

#[test]
fn text_round_trips_through_a_character_vocabulary() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "t.txt.gz",
        &gzip("To be, or not to be — that is the question.\n".as_bytes()),
    );
    let text = read_text(&path).unwrap();
    let vocab = Vocabulary::characters(&text);
    let ids = vocab.encode(&text).unwrap();
    assert_eq!(ids.len(), text.chars().count());
    assert!(ids.iter().all(|&id| id < vocab.len()));
    assert_eq!(vocab.decode(&ids), text);
    assert_eq!(vocab.id("—"), Some(vocab.len() - 1)); // sorted: the only non-ASCII is last
}

#[test]
fn word_vocabulary_reports_unknown_words_with_their_offset() {
    let vocab = Vocabulary::words("the cat sat on the mat");
    assert_eq!(vocab.len(), 5);
    let err = vocab.encode("the dog sat").unwrap_err();
    assert_eq!((err.token.as_str(), err.offset), ("dog", 4));
}

#[test]
fn text_rejects_invalid_utf8_naming_the_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "bad.txt", b"caf\xe9 au lait");
    let err = read_text(&path).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::NotUtf8 {
                at: Location::Byte(3),
                ..
            }
        ),
        "{err}"
    );
    assert_names(&err, &path, "byte 3");
}

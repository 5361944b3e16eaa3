//! The one error type of the data readers: every way a file from outside can be wrong,
//! each naming the file and where in it.

use std::fmt;
use std::path::PathBuf;

/// Where in a file a problem was found.
///
/// Lines and columns count from 1, as editors and compilers show them; bytes and records
/// count from 0, as offsets and array indices do. In a gzip file, byte offsets count the
/// decompressed content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A byte offset.
    Byte(u64),
    /// A line, and the field in it when one is to blame.
    Line {
        /// The line number, from 1.
        line: usize,
        /// The field number, from 1.
        column: Option<usize>,
    },
    /// A record (an item along the first dimension of an IDX file), from 0.
    Record(usize),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Location::Byte(offset) => write!(f, "byte {offset}"),
            Location::Line { line, column: None } => write!(f, "line {line}"),
            Location::Line {
                line,
                column: Some(column),
            } => write!(f, "line {line}, column {column}"),
            Location::Record(record) => write!(f, "record {record}"),
        }
    }
}

/// What can be wrong with a data file. Every reader returns it instead of panicking; each
/// variant names the file, and where the content is to blame, the place in it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// A bundled or packaged data file is missing; the hint says how to get it.
    #[error("{}: not found; {hint}", path.display())]
    NotFound {
        /// The file looked for.
        path: PathBuf,
        /// How to get it.
        hint: String,
    },

    /// The file starts like gzip but its compressed stream is corrupt or cut short.
    #[error("{}: corrupt or truncated gzip stream: {source}", path.display())]
    Gzip {
        /// The file.
        path: PathBuf,
        /// What the decompressor said.
        #[source]
        source: std::io::Error,
    },

    /// The first four bytes are not an IDX header (`00 00 <type code> <rank>`).
    #[error(
        "{}: byte 0: not an IDX file: it starts {found:02x?}, but IDX files start 00 00, \
         a type code and the rank",
        path.display()
    )]
    IdxMagic {
        /// The file.
        path: PathBuf,
        /// Its first four bytes.
        found: [u8; 4],
    },

    /// The IDX element type code (the header's third byte) is none of those defined.
    #[error(
        "{}: byte 2: IDX type code 0x{code:02x} is none of 0x08 (u8), 0x09 (i8), 0x0b (i16), \
         0x0c (i32), 0x0d (f32), 0x0e (f64)",
        path.display()
    )]
    IdxType {
        /// The file.
        path: PathBuf,
        /// The code found.
        code: u8,
    },

    /// The file ends before the size its header promises.
    #[error(
        "{}: byte {offset}: the file ends here, but its header promises {expected} bytes",
        path.display()
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Where it ends.
        offset: u64,
        /// The length the header implies.
        expected: u64,
    },

    /// The file goes on past the size its header's dimensions account for: the
    /// dimensions do not match the file's length.
    #[error(
        "{}: byte {expected}: the header's dimensions {dims:?} account for {expected} bytes, \
         but the file goes on",
        path.display()
    )]
    TrailingBytes {
        /// The file.
        path: PathBuf,
        /// The header's dimensions.
        dims: Vec<u64>,
        /// The length they imply.
        expected: u64,
    },

    /// The header's dimensions imply more data than the file can possibly hold (or than
    /// memory can address): a corrupt header, refused before anything is allocated.
    #[error(
        "{}: the header's dimensions {dims:?} need {} bytes of data, more than a file of \
         {file_len} bytes can hold; the header is corrupt",
        path.display(),
        bytes.map_or_else(|| "more than 2^64".to_string(), |b| b.to_string())
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The header's dimensions.
        dims: Vec<u64>,
        /// The bytes they imply, when that fits in a u64.
        bytes: Option<u64>,
        /// The file's length on disk.
        file_len: u64,
    },

    /// The file's array has a shape or element type other than the reader needs (a
    /// labels file that is not one-dimensional, images and labels of different counts).
    #[error("{}: {found}, but {expected}", path.display())]
    Shape {
        /// The file.
        path: PathBuf,
        /// What the reader needs.
        expected: String,
        /// What the file holds.
        found: String,
    },

    /// The file holds no data (no rows after the header, or no bytes).
    #[error("{}: the file has no data{}", path.display(), after_header.then_some(" after its header").unwrap_or(""))]
    Empty {
        /// The file.
        path: PathBuf,
        /// Whether a header (or skipped lines) came before the missing data.
        after_header: bool,
    },

    /// A row has a different number of fields from the first row.
    #[error(
        "{}: line {line}: {found} fields, but line {first_line} has {expected}",
        path.display()
    )]
    Ragged {
        /// The file.
        path: PathBuf,
        /// The ragged row's line, from 1.
        line: usize,
        /// Its number of fields.
        found: usize,
        /// The number in the first row.
        expected: usize,
        /// The first row's line.
        first_line: usize,
    },

    /// A field that must be a number is not one.
    #[error("{}: {at}: {field:?} is not a number", path.display())]
    NotNumeric {
        /// The file.
        path: PathBuf,
        /// The line and column.
        at: Location,
        /// The field's text.
        field: String,
    },

    /// A class label is not an integer in `0..classes` (or, with no number of classes
    /// given, not a non-negative integer).
    #[error(
        "{}: {at}: label {label:?} is not a class id {}",
        path.display(),
        classes.map_or_else(|| "(a non-negative integer)".to_string(), |c| format!("in 0..{c}"))
    )]
    LabelOutOfRange {
        /// The file.
        path: PathBuf,
        /// The line and column (CSV) or record (IDX).
        at: Location,
        /// The label's text.
        label: String,
        /// The number of classes, when given.
        classes: Option<usize>,
    },

    /// The label column asked for is not in the file.
    #[error("{}: no column {column} {}", path.display(), match header {
        Some(names) => format!("in the header {names:?}"),
        None => format!("in rows of {columns} fields (a name needs a header line)"),
    })]
    NoSuchColumn {
        /// The file.
        path: PathBuf,
        /// The column asked for: a quoted name or an index.
        column: String,
        /// The header's names, when the file has a header.
        header: Option<Vec<String>>,
        /// The number of fields in a row.
        columns: usize,
    },

    /// Text that is not valid UTF-8.
    #[error("{}: {at}: not valid UTF-8", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// The line, or the byte offset, of the first invalid byte.
        at: Location,
    },
}

//! Opening a data file that may be gzip-compressed: the readers see plain bytes either
//! way, and read errors come back as `DataError`s naming the file.

use super::error::DataError;
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// The two bytes every gzip stream starts with (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// An open data file, decompressing on the fly when its first bytes say gzip — so a file
/// is read correctly whatever its name ends with.
pub(crate) struct Source {
    pub(crate) path: PathBuf,
    reader: Box<dyn Read>,
    /// Whether the content is decompressed from gzip.
    pub(crate) compressed: bool,
    /// The file's length on disk (compressed, for gzip).
    pub(crate) file_len: u64,
}

impl Source {
    /// Opens `path`, sniffing for gzip.
    pub(crate) fn open(path: &Path) -> Result<Source, DataError> {
        let io = |source| DataError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let file_len = file.metadata().map_err(io)?.len();
        let mut buffered = BufReader::new(file);
        let compressed = buffered.fill_buf().map_err(io)?.starts_with(&GZIP_MAGIC);
        let reader: Box<dyn Read> = if compressed {
            // Multi-member, as `gzip -c a b > ab.gz` and `zcat` allow.
            Box::new(MultiGzDecoder::new(buffered))
        } else {
            Box::new(buffered)
        };
        Ok(Source {
            path: path.to_path_buf(),
            reader,
            compressed,
            file_len,
        })
    }

    /// The error for a failed read: a gzip stream's failures say it is corrupt.
    fn read_error(&self, source: std::io::Error) -> DataError {
        let path = self.path.clone();
        if self.compressed {
            DataError::Gzip { path, source }
        } else {
            DataError::Io { path, source }
        }
    }

    /// Reads up to `limit` bytes, appending to `buf`; fewer only at the end of the content.
    /// The buffer grows as data arrives, so a corrupt length allocates no more than the
    /// file really holds.
    pub(crate) fn read_up_to(&mut self, limit: u64, buf: &mut Vec<u8>) -> Result<(), DataError> {
        match (&mut self.reader).take(limit).read_to_end(buf) {
            Ok(_) => Ok(()),
            Err(e) => Err(self.read_error(e)),
        }
    }

    /// Reads everything that is left.
    pub(crate) fn read_to_end(mut self) -> Result<Vec<u8>, DataError> {
        // A plain file's length is its content's: read it into one allocation.
        let capacity = if self.compressed { 0 } else { self.file_len };
        let mut buf = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
        self.read_up_to(u64::MAX, &mut buf)?;
        Ok(buf)
    }
}

//! Every file Engram writes (checkpoints, training curves and histories, the `engram`
//! tool's reports) goes through [`write_atomically`]: a crash or a failed write never
//! leaves a half-written file where a good one was, and a path that names a link, a FIFO
//! or a device is refused rather than replaced.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Writing, syncing or renaming failed.
    #[error("cannot write {}: {source}", .path.display())]
    Io {
        /// The file asked for.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The path names something other than a regular file, which is not replaced.
    #[error("{}: is a {kind}, not a regular file; refusing to replace it", .path.display())]
    NotARegularFile {
        /// The path.
        path: PathBuf,
        /// What is there ("symbolic link", "FIFO", "device", "directory", ...).
        kind: &'static str,
    },
}

/// What a path that is not a regular file names, for messages.
pub(crate) fn kind_of(file_type: &fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "FIFO";
        }
        if file_type.is_socket() {
            return "socket";
        }
        if file_type.is_block_device() || file_type.is_char_device() {
            return "device";
        }
    }
    if file_type.is_symlink() {
        "symbolic link"
    } else if file_type.is_dir() {
        "directory"
    } else {
        "special file"
    }
}

/// Writes `bytes` to `path` by way of a temporary file in the same directory (so the
/// rename cannot cross file systems), fsynced before the rename, with the directory fsynced
/// after it so the rename itself survives a crash. A write that fails half-way leaves the
/// previous file as it was. Refuses to replace anything but a regular file: a symbolic
/// link, a FIFO, a device or a directory at `path` is an error, not something to clobber.
///
/// ```
/// use engram_nn::files::{write_atomically, WriteError};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("report.txt");
/// write_atomically(&path, b"first").unwrap();
/// write_atomically(&path, b"second").unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"second");
/// assert!(matches!(
///     write_atomically(dir.path(), b"x"),
///     Err(WriteError::NotARegularFile { kind: "directory", .. })
/// ));
/// ```
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let io_error = |source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    };
    match fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_file() => {
            return Err(WriteError::NotARegularFile {
                path: path.to_path_buf(),
                kind: kind_of(&meta.file_type()),
            })
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error(e)),
    }
    let Some(file_name) = path.file_name() else {
        return Err(io_error(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the path names no file",
        )));
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let temporary = dir.join(format!(
        ".{}.{}-{}.tmp",
        file_name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temporary, path)
    })();
    if let Err(e) = written {
        // The temporary file is ours and useless now; failing to remove it changes nothing.
        let _ = fs::remove_file(&temporary);
        return Err(io_error(e));
    }
    sync_directory(dir).map_err(io_error)
}

#[cfg(unix)]
fn sync_directory(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_directory(_: &Path) -> io::Result<()> {
    // Only Unix lets a directory be opened and fsynced; elsewhere the rename is the end.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_write_that_fails_leaves_the_previous_file_and_no_temporary() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kept.bin");
        write_atomically(&path, b"previous").unwrap();
        // A read-only directory makes the temporary file impossible to create (unless
        // running as root, which may write anyway: then the write simply succeeds).
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o555)).unwrap();
        let result = write_atomically(&path, b"new");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        match result {
            Err(WriteError::Io { .. }) => assert_eq!(fs::read(&path).unwrap(), b"previous"),
            Ok(()) => assert_eq!(fs::read(&path).unwrap(), b"new"),
            Err(other) => panic!("unexpected error: {other}"),
        }
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }

    #[cfg(unix)]
    #[test]
    fn links_and_fifos_are_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target.txt");
        fs::write(&target, b"untouched").unwrap();
        let link = dir.path().join("link.txt");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = write_atomically(&link, b"x").unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(&target).unwrap(), b"untouched");

        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            let err = write_atomically(&fifo, b"x").unwrap_err();
            assert!(
                matches!(err, WriteError::NotARegularFile { kind: "FIFO", .. }),
                "{err}"
            );
        }
    }
}

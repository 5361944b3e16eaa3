//! What the programs in `examples/` share: the epoch budget CI cuts and the folder they
//! write curves and checkpoints to. Both are environment variables, so `cargo run
//! --example NAME` needs no arguments.

use std::path::PathBuf;

/// The number of epochs an example trains for: `ENGRAM_EXAMPLE_EPOCHS` when it is set to
/// a number (CI sets 1 so that every example runs in seconds), else `default`.
///
/// ```
/// std::env::remove_var("ENGRAM_EXAMPLE_EPOCHS");
/// assert_eq!(engram::examples::epochs(30), 30);
/// ```
pub fn epochs(default: usize) -> usize {
    std::env::var("ENGRAM_EXAMPLE_EPOCHS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// The folder an example writes its files to (created if missing): `ENGRAM_EXAMPLE_OUT`
/// when set, else `engram-examples-out/` in the working directory.
pub fn output_dir() -> std::io::Result<PathBuf> {
    let dir = std::env::var_os("ENGRAM_EXAMPLE_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("engram-examples-out"));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

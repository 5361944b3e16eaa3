//! What the programs in `examples/` share: the epoch budget CI cuts and the folder they
//! write curves and checkpoints to (both environment variables, so `cargo run --example
//! NAME` needs no arguments), and the character language models' batching, loss and
//! sampling ([`language_model`]).

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

/// What `char_lstm` and `tiny_transformer` share: windows of a character stream as
/// next-character batches, their loss, and drawing a character from logits.
pub mod language_model {
    use engram_autograd::Var;
    use engram_nn::loss::{cross_entropy, CrossEntropyOptions};
    use engram_tensor::{Rng, Tensor};

    /// A batch of `starts.len()` windows of `window` ids: `ids[start..start + window]` as
    /// input and the same window one character later as target, `[B, window]` each.
    ///
    /// ```
    /// let (input, target) = engram::examples::language_model::windows(&[5, 6, 7, 8], &[0, 1], 2);
    /// assert_eq!(input.to_vec(), vec![5, 6, 6, 7]);
    /// assert_eq!(target.to_vec(), vec![6, 7, 7, 8]);
    /// ```
    pub fn windows(
        ids: &[usize],
        starts: &[usize],
        window: usize,
    ) -> (Tensor<usize>, Tensor<usize>) {
        let input = starts.iter().flat_map(|&s| &ids[s..s + window]).copied();
        let target = starts
            .iter()
            .flat_map(|&s| &ids[s + 1..s + window + 1])
            .copied();
        let shape = [starts.len(), window];
        (
            Tensor::from_vec(input.collect(), &shape),
            Tensor::from_vec(target.collect(), &shape),
        )
    }

    /// Mean cross-entropy of `[B, T, V]` logits against `[B, T]` next-character targets.
    pub fn next_character_loss(logits: &Var, target: &Tensor<usize>) -> Var {
        let vocab = logits.shape()[2];
        let flat = target.reshape(&[target.numel()]);
        cross_entropy(
            &logits.reshape(&[flat.numel(), vocab]),
            &flat,
            &CrossEntropyOptions::default(),
        )
    }

    /// An id drawn from `softmax(logits / temperature)` (`logits` of one position, `[V]`).
    ///
    /// ```
    /// use engram::prelude::*;
    /// let certain = Tensor::from_vec(vec![0.0, 50.0, 0.0], &[3]);
    /// assert_eq!(engram::examples::language_model::sample(&certain, 1.0, &mut seeded_rng(0)), 1);
    /// ```
    pub fn sample(logits: &Tensor, temperature: f32, rng: &mut impl Rng) -> usize {
        let probabilities = logits.mul_scalar(1.0 / temperature).softmax(-1).to_vec();
        let mut u: f32 = rng.gen();
        for (id, p) in probabilities.iter().enumerate() {
            if u < *p {
                return id;
            }
            u -= p;
        }
        probabilities.len() - 1
    }
}

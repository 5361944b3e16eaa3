//! Checkpoints in a job of several processes: one writer (rank 0, since every rank holds
//! the same parameters), every rank a reader, and one outcome that all ranks agree on.

use crate::error::DistributedError;
use crate::world::World;
use engram_nn::checkpoint::{self, Checkpoint, Loaded};
use engram_nn::Module;
use engram_tensor::Float;
use std::path::Path;

impl World {
    /// Writes `checkpoint` from rank 0 only (ranks writing the same file at once would
    /// race) and returns when it is on disk, on every rank, with the same outcome: a
    /// failure on rank 0 is an error everywhere, so no rank goes on to load a file that
    /// was not written.
    ///
    /// ```
    /// use engram_distributed::World;
    /// use engram_nn::checkpoint::Checkpoint;
    /// use engram_nn::Parameter;
    /// use engram_tensor::Tensor;
    ///
    /// let world = World::init()?;
    /// let mut w = Parameter::new(Tensor::<f32>::ones(&[2]));
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("model.safetensors");
    /// world.save_checkpoint(&path, &Checkpoint::new(&w).epoch(3))?;
    /// let loaded = world.load_checkpoint(&path, &mut w)?;
    /// assert_eq!(loaded.epoch, Some(3));
    /// # Ok::<(), engram_distributed::DistributedError>(())
    /// ```
    pub fn save_checkpoint<T: Float>(
        &self,
        path: impl AsRef<Path>,
        checkpoint: &Checkpoint<'_, T>,
    ) -> Result<(), DistributedError> {
        let outcome = if self.is_root() {
            checkpoint.save(path)
        } else {
            Ok(())
        };
        // Rank 0's error message, empty when it saved: the others wait for it here.
        let message = self.broadcast_bytes(match &outcome {
            Err(e) => e.to_string().into_bytes(),
            Ok(()) => Vec::new(),
        });
        match outcome {
            Err(source) => Err(DistributedError::Checkpoint {
                rank: self.rank(),
                source,
            }),
            Ok(()) if message.is_empty() => Ok(()),
            Ok(()) => Err(DistributedError::PeerFailed {
                rank: self.rank(),
                op: "save_checkpoint",
                failed: vec![0],
                detail: Some(String::from_utf8_lossy(&message).into_owned()),
            }),
        }
    }

    /// Loads a checkpoint's parameters and buffers into `model` on every rank. When any
    /// rank fails, every rank returns an error (a rank that failed keeps its model
    /// unchanged, so the ranks would otherwise train from different values).
    pub fn load_checkpoint<T: Float>(
        &self,
        path: impl AsRef<Path>,
        model: &mut dyn Module<T>,
    ) -> Result<Loaded, DistributedError> {
        let outcome = checkpoint::load(path, model);
        let failed = self.failed_ranks(outcome.is_err());
        match outcome {
            Err(source) => Err(DistributedError::Checkpoint {
                rank: self.rank(),
                source,
            }),
            Ok(loaded) if failed.is_empty() => Ok(loaded),
            Ok(_) => Err(DistributedError::PeerFailed {
                rank: self.rank(),
                op: "load_checkpoint",
                failed,
                detail: None,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engram_nn::Parameter;
    use engram_tensor::Tensor;

    #[test]
    fn a_failed_save_is_an_error_that_names_the_rank() {
        let w = Parameter::new(Tensor::<f32>::ones(&[2]));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("model.safetensors");
        let err = World::single()
            .save_checkpoint(&path, &Checkpoint::new(&w))
            .unwrap_err();
        assert!(err.to_string().starts_with("rank 0: "), "{err}");
    }

    #[test]
    fn a_failed_load_leaves_the_model_unchanged() {
        let mut w = Parameter::new(Tensor::<f32>::ones(&[2]));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.safetensors");
        assert!(World::single().load_checkpoint(&path, &mut w).is_err());
        assert_eq!(w.value().to_vec(), vec![1.0, 1.0]);
    }
}

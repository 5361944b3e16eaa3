//! What can go wrong between processes: every collective failure is reported on every
//! rank, so that no rank waits for one that has given up.

use engram_nn::checkpoint::CheckpointError;

/// Why a distributed operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DistributedError {
    /// The program was started by `mpirun` with several processes but built without the
    /// `mpi` feature: each process would train alone, so this is refused.
    #[error(
        "launched as one of {size} processes, but engram-distributed was built without its `mpi` \
         feature; build with `--features mpi` (the facade's `distributed` feature turns it on)"
    )]
    MpiNotCompiled {
        /// The world size the launcher announced.
        size: usize,
    },
    /// MPI was initialised already in this process (by another library, or a `World` that
    /// has since been dropped, which finalised MPI: it cannot be started twice).
    #[error("MPI is already initialised (or was finalised) in this process; create one `World` and clone it")]
    AlreadyInitialized,
    /// The ranks do not hold the same parameters (names, shapes, element types,
    /// trainability, buffers): averaging their gradients would mix unrelated tensors.
    #[error(
        "rank {rank}: ranks {mismatched:?} hold a different parameter set from rank 0: {detail}"
    )]
    ParameterMismatch {
        /// The rank reporting.
        rank: usize,
        /// Every rank whose parameter set differs from rank 0's.
        mismatched: Vec<usize>,
        /// The first difference, as this rank sees it.
        detail: String,
    },
    /// Saving or loading a checkpoint failed on this rank.
    #[error("rank {rank}: {source}")]
    Checkpoint {
        /// The rank reporting.
        rank: usize,
        /// The checkpoint error.
        #[source]
        source: CheckpointError,
    },
    /// Another rank failed an operation this rank took part in.
    #[error("rank {rank}: `{op}` failed on ranks {failed:?}{}", message(.detail))]
    PeerFailed {
        /// The rank reporting.
        rank: usize,
        /// The operation.
        op: &'static str,
        /// The ranks where it failed.
        failed: Vec<usize>,
        /// What the failing rank said, when it was sent.
        detail: Option<String>,
    },
}

fn message(detail: &Option<String>) -> String {
    detail
        .as_ref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default()
}

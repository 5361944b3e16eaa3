//! The set of processes training together: who this one is, how many there are, and the
//! collectives the rest of the crate is built on.

use crate::error::DistributedError;
use engram_tensor::{Float, Tensor};
use std::rc::Rc;

#[cfg(feature = "mpi")]
use crate::comm_mpi::MpiComm;

/// An element type gradients can be summed in across processes: `f32` and `f64`.
#[cfg(feature = "mpi")]
pub trait Reducible: Float + mpi::traits::Equivalence {}
/// An element type gradients can be summed in across processes: `f32` and `f64`.
#[cfg(not(feature = "mpi"))]
pub trait Reducible: Float {}

impl Reducible for f32 {}
impl Reducible for f64 {}

/// The processes of one training job, as MPI's `MPI_COMM_WORLD`. Cheap to clone: clones
/// are handles on the same world, and MPI is finalised when the last one is dropped.
///
/// Not `Send`: MPI is initialised for one thread (`MPI_THREAD_SINGLE`), so the world stays
/// on the thread that made it — as a `Context` does; the kernels still use every core.
///
/// ```
/// use engram_distributed::World;
///
/// let world = World::init()?; // one process when not started by `mpirun`
/// assert!(world.rank() < world.size());
/// if world.is_root() {
///     println!("training on {} processes", world.size());
/// }
/// # Ok::<(), engram_distributed::DistributedError>(())
/// ```
#[derive(Clone)]
pub struct World {
    comm: Rc<Comm>,
}

/// How the world talks: to itself, or through MPI.
enum Comm {
    /// This process alone: every collective is the identity.
    Single,
    /// `MPI_COMM_WORLD`.
    #[cfg(feature = "mpi")]
    Mpi(MpiComm),
}

impl World {
    /// Joins the job `mpirun` started (rank and size from the MPI environment) and, when
    /// there are several processes, installs a panic hook that aborts every rank, so a
    /// failing rank never leaves the others waiting. A program started without `mpirun`
    /// is a world of one.
    ///
    /// Built without the `mpi` feature, this is a world of one, and an error when a
    /// launcher announced several processes (each would otherwise train alone, silently).
    pub fn init() -> Result<World, DistributedError> {
        #[cfg(feature = "mpi")]
        let comm = Comm::Mpi(MpiComm::init()?);
        #[cfg(not(feature = "mpi"))]
        let comm = match launcher_world_size() {
            Some(size) if size > 1 => return Err(DistributedError::MpiNotCompiled { size }),
            _ => Comm::Single,
        };
        Ok(World {
            comm: Rc::new(comm),
        })
    }

    /// A world of this process alone, without MPI even when it is compiled in: for tools
    /// and tests that run one process.
    pub fn single() -> World {
        World {
            comm: Rc::new(Comm::Single),
        }
    }

    /// This process's index, `0..size()`.
    pub fn rank(&self) -> usize {
        match &*self.comm {
            Comm::Single => 0,
            #[cfg(feature = "mpi")]
            Comm::Mpi(c) => c.rank(),
        }
    }

    /// The number of processes.
    pub fn size(&self) -> usize {
        match &*self.comm {
            Comm::Single => 1,
            #[cfg(feature = "mpi")]
            Comm::Mpi(c) => c.size(),
        }
    }

    /// True on rank 0, the rank that prints, writes checkpoints and whose parameters the
    /// others start from.
    pub fn is_root(&self) -> bool {
        self.rank() == 0
    }

    /// Waits until every rank has called it.
    pub fn barrier(&self) {
        match &*self.comm {
            Comm::Single => {}
            #[cfg(feature = "mpi")]
            Comm::Mpi(c) => c.barrier(),
        }
    }

    /// Element-wise sum over the ranks of `send`, into `receive` on every rank
    /// (`MPI_Allreduce` with `MPI_SUM`). Panics when the lengths differ.
    #[track_caller]
    pub fn all_reduce_sum<T: Reducible>(&self, send: &[T], receive: &mut [T]) {
        if send.len() != receive.len() {
            panic!(
                "engram: `World::all_reduce_sum`: send buffer of {} elements, receive buffer of {}",
                send.len(),
                receive.len()
            );
        }
        match &*self.comm {
            Comm::Single => receive.copy_from_slice(send),
            #[cfg(feature = "mpi")]
            Comm::Mpi(c) => c.all_reduce_sum(send, receive),
        }
    }

    /// Element-wise sum over the ranks of `values`, written back into `values` on every
    /// rank (`MPI_Allreduce` with `MPI_IN_PLACE`): no second buffer, and MPI does not
    /// first copy the input into the output as it does for [`World::all_reduce_sum`].
    pub fn all_reduce_sum_in_place<T: Reducible>(&self, values: &mut [T]) {
        match &*self.comm {
            // One rank: the sum is its own values.
            Comm::Single => {
                let _ = values;
            }
            #[cfg(feature = "mpi")]
            Comm::Mpi(c) => c.all_reduce_sum_in_place(values),
        }
    }

    /// Overwrites `values` on every rank with rank 0's (`MPI_Bcast` from rank 0).
    pub fn broadcast<T: Reducible>(&self, values: &mut [T]) {
        match &*self.comm {
            // One rank: its values are rank 0's already.
            Comm::Single => {
                let _ = values;
            }
            #[cfg(feature = "mpi")]
            Comm::Mpi(c) => c.broadcast(values),
        }
    }

    /// Overwrites `tensor` on every rank with rank 0's; the shapes must agree.
    pub fn broadcast_tensor<T: Reducible>(&self, tensor: &Tensor<T>) -> Tensor<T> {
        let mut values = tensor.to_vec();
        self.broadcast(&mut values);
        Tensor::from_vec(values, tensor.shape())
    }

    /// Rank 0's `bytes`, on every rank (length first, then the bytes).
    pub(crate) fn broadcast_bytes(&self, bytes: Vec<u8>) -> Vec<u8> {
        match &*self.comm {
            Comm::Single => bytes,
            #[cfg(feature = "mpi")]
            Comm::Mpi(c) => {
                let mut bytes = bytes;
                let mut len = [bytes.len() as u64];
                c.broadcast(&mut len);
                bytes.resize(len[0] as usize, 0);
                c.broadcast(&mut bytes[..]);
                bytes
            }
        }
    }

    /// Every rank's `value`, indexed by rank.
    pub(crate) fn all_gather_u64(&self, value: u64) -> Vec<u64> {
        match &*self.comm {
            Comm::Single => vec![value],
            #[cfg(feature = "mpi")]
            Comm::Mpi(c) => c.all_gather_u64(value),
        }
    }

    /// The ranks where `failed` is true, known to every rank: how a local failure becomes
    /// everyone's error instead of a rank that stops answering.
    pub(crate) fn failed_ranks(&self, failed: bool) -> Vec<usize> {
        self.all_gather_u64(u64::from(failed))
            .into_iter()
            .enumerate()
            .filter(|&(_, f)| f != 0)
            .map(|(rank, _)| rank)
            .collect()
    }
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "World(rank {} of {})", self.rank(), self.size())
    }
}

/// The world size a launcher (Open MPI's `mpirun`, or a PMI-based one such as MPICH's
/// Hydra or Slurm) announced to this process, if any.
#[cfg(not(feature = "mpi"))]
fn launcher_world_size() -> Option<usize> {
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"]
        .iter()
        .find_map(|var| std::env::var(var).ok()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_world_is_rank_zero_of_one_and_reduces_to_itself() {
        let world = World::single();
        assert_eq!((world.rank(), world.size(), world.is_root()), (0, 1, true));
        let mut out = [0.0f32; 3];
        world.all_reduce_sum(&[1.0, 2.0, 3.0], &mut out);
        assert_eq!(out, [1.0, 2.0, 3.0]);
        world.all_reduce_sum_in_place(&mut out);
        assert_eq!(out, [1.0, 2.0, 3.0]);
        assert_eq!(world.failed_ranks(true), vec![0]);
        assert!(world.failed_ranks(false).is_empty());
    }

    #[test]
    #[should_panic(expected = "send buffer of 2 elements, receive buffer of 3")]
    fn all_reduce_rejects_buffers_of_different_lengths() {
        World::single().all_reduce_sum(&[1.0f64, 2.0], &mut [0.0; 3]);
    }
}

//! The world of every process `mpirun` started, through rsmpi; and the panic hook that
//! takes them all down when one fails.

use crate::error::DistributedError;
use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{AsRaw, Communicator, CommunicatorCollectives, Equivalence, Root};
use std::ffi::c_void;

extern "C" {
    /// `MPI_IN_PLACE` of the MPI library linked (src/in_place.c).
    fn engram_mpi_in_place() -> *mut c_void;
}

/// `MPI_COMM_WORLD`; dropping the last handle finalises MPI.
pub(crate) struct MpiComm {
    // Dropped last: finalises MPI after every use of the communicator.
    _universe: Universe,
    comm: SimpleCommunicator,
}

impl MpiComm {
    /// Initialises MPI (once per process) and installs the panic hook.
    pub(crate) fn init() -> Result<MpiComm, DistributedError> {
        let universe = mpi::initialize().ok_or(DistributedError::AlreadyInitialized)?;
        let comm = universe.world();
        if comm.size() > 1 {
            install_abort_on_panic(comm.rank() as usize, comm.size() as usize);
        }
        Ok(MpiComm {
            _universe: universe,
            comm,
        })
    }

    pub(crate) fn rank(&self) -> usize {
        self.comm.rank() as usize
    }

    pub(crate) fn size(&self) -> usize {
        self.comm.size() as usize
    }

    pub(crate) fn barrier(&self) {
        self.comm.barrier();
    }

    /// As `broadcast`, an empty buffer is not sent.
    pub(crate) fn all_reduce_sum<T: Equivalence>(&self, send: &[T], receive: &mut [T]) {
        if send.is_empty() {
            return;
        }
        self.comm
            .all_reduce_into(send, receive, SystemOperation::sum());
    }

    /// As `all_reduce_sum`, with `values` both input and output (`MPI_IN_PLACE`), which
    /// rsmpi does not offer.
    #[track_caller]
    pub(crate) fn all_reduce_sum_in_place<T: Equivalence>(&self, values: &mut [T]) {
        if values.is_empty() {
            return;
        }
        let count = i32::try_from(values.len()).unwrap_or_else(|_| {
            panic!(
                "engram: `World::all_reduce_sum_in_place`: {} elements are more than one MPI \
                 message can count ({})",
                values.len(),
                i32::MAX
            )
        });
        // SAFETY: `values` is exclusively borrowed for the call and holds `count` elements
        // of the MPI datatype `T` declares as its equivalent; with `MPI_IN_PLACE` as the
        // send buffer MPI reads and writes only `values`, and returns only once the
        // reduction is complete, keeping no pointer to it. Errors abort the job (MPI's
        // default handler), as for every rsmpi call.
        unsafe {
            mpi::ffi::MPI_Allreduce(
                engram_mpi_in_place(),
                values.as_mut_ptr().cast(),
                count,
                T::equivalent_datatype().as_raw(),
                SystemOperation::sum().as_raw(),
                self.comm.as_raw(),
            );
        }
    }

    /// An empty slice's pointer is dangling, which MPI rejects even for no elements:
    /// nothing is sent then (every rank knows the length, so all skip alike).
    pub(crate) fn broadcast<T: Equivalence>(&self, values: &mut [T]) {
        if values.is_empty() {
            return;
        }
        self.comm.process_at_rank(0).broadcast_into(values);
    }

    pub(crate) fn all_gather_u64(&self, value: u64) -> Vec<u64> {
        let mut out = vec![0u64; self.size()];
        self.comm.all_gather_into(&value, &mut out[..]);
        out
    }
}

/// A rank that panics would leave the others blocked in their next collective for ever:
/// after the usual panic message, abort the whole job (`MPI_Abort` makes `mpirun` kill
/// every rank and exit non-zero).
fn install_abort_on_panic(rank: usize, size: usize) {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        eprintln!(
            "engram-distributed: rank {rank} of {size} panicked; aborting every rank (MPI_Abort)"
        );
        SimpleCommunicator::world().abort(101);
    }));
}

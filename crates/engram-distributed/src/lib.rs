//! Data-parallel training for Engram on MPI: the same training loop (or `Model::fit`) on
//! several processes or machines, each rank on its own shard of the data, all ranks
//! taking the same step with the gradient averaged over every rank's batch.
//!
//! Adopting it takes three lines, as with Horovod or PyTorch's DDP:
//!
//! ```
//! use engram_distributed::{DistributedOptimizer, DistributedSampler, World};
//! use engram_nn::data::{DataLoader, TensorDataset};
//! use engram_nn::optim::{Optimizer, Sgd, SgdOptions};
//! use engram_nn::{Context, Forward, Linear};
//! use engram_tensor::{seeded_rng, Tensor};
//!
//! let world = World::init()?;                                   // 1. join the job
//! let mut model = Linear::<f32>::new(4, 1, &mut seeded_rng(world.rank() as u64));
//! world.broadcast_parameters(&mut model)?;                      // 2. start from rank 0's
//! let mut optimizer =                                           // 3. average gradients
//!     DistributedOptimizer::new(world.clone(), Sgd::new(SgdOptions::new(0.1)));
//!
//! let data = TensorDataset::new(Tensor::ones(&[64, 4]), Tensor::<f32>::zeros(&[64, 1]));
//! let sampler = DistributedSampler::new(&world, 64).shuffle(42);
//! let cx = Context::train(0);
//! for epoch in 0..2 {
//!     for (x, y) in &DataLoader::new(sampler.shard(&data, epoch), 8) {
//!         let error = model.forward(&cx, &cx.input(x)) - cx.input(y);
//!         let grads = cx.backward(error.square().mean());
//!         optimizer.step(&mut model, &grads);
//!     }
//! }
//! # Ok::<(), engram_distributed::DistributedError>(())
//! ```
//!
//! Run it with `mpirun -np 4 target/release/my-trainer`. Built without the `mpi` feature
//! the same code runs as a world of one process (every collective is the identity).
//!
//! - [`World`]: rank and size, parameter check and broadcast, checkpoints written by
//!   rank 0 and loaded by all, the collectives beneath.
//! - [`DistributedOptimizer`]: wraps any optimizer; averages gradients keyed by parameter
//!   name, packed into buckets of [`DEFAULT_BUCKET_BYTES`] (one copy of each gradient per
//!   step, each bucket summed in place, no allocation in the steady state; see
//!   [`GradientAverager`]); gradient accumulation.
//! - [`DistributedSampler`]: each rank's seeded, disjoint shard of the data each epoch.
//!
//! Faults: with several processes, a panic on any rank aborts the whole job
//! (`MPI_Abort`), and `mpirun` also stops every rank when one exits or is killed, so no
//! rank waits for ever for a peer that is gone. Errors that every rank can see (a
//! mismatched parameter set, a checkpoint that could not be written) are returned on
//! every rank.

mod buckets;
mod checkpoint;
#[cfg(feature = "mpi")]
mod comm_mpi;
mod error;
mod optimizer;
mod params;
mod sampler;
mod world;

pub use buckets::{GradientAverager, DEFAULT_BUCKET_BYTES};
pub use error::DistributedError;
pub use optimizer::DistributedOptimizer;
pub use sampler::DistributedSampler;
pub use world::{Reducible, World};

//! All-reduce throughput, run under `mpirun -np N`: for buffers of 1, 10 and 100 MB of
//! f32, Engram's bucketed gradient averaging (gradients of a model of 8 equal parameters
//! packed into 25 MiB buckets, scaled by 1/N, summed in place, handed back as views)
//! beside one plain `MPI_Allreduce` of the same bytes. Prints, on rank 0, bytes per second
//! for each (the buffer size over the time of one all-reduce, as nccl-tests' "algorithm
//! bandwidth") and Engram's overhead over the plain call.
//!
//! Also shown, for reference: the plain call with `MPI_IN_PLACE`, as Engram makes it.
//! Out of place, MPI first copies the input into the output; in place it does not, which
//! is the copy Engram's own packing pass replaces.
//!
//! The three alternate, three rounds each, and the best round of each counts: on a shared
//! machine the fastest round is the one least disturbed by other work.

use engram_distributed::{GradientAverager, World, DEFAULT_BUCKET_BYTES};
use engram_nn::{Grads, Parameter};
use engram_tensor::Tensor;
use std::error::Error;
use std::time::Instant;

const PARAMETERS: usize = 8;
const ROUNDS: usize = 3;

fn main() -> Result<(), Box<dyn Error>> {
    let world = World::init()?;
    let sizes: Vec<usize> = match std::env::args().nth(1) {
        Some(list) => list.split(',').map(str::parse).collect::<Result<_, _>>()?,
        None => vec![1, 10, 100],
    };
    if world.is_root() {
        println!(
            "ranks {}  size_MB  mpi_allreduce_GB/s  mpi_in_place_GB/s  engram_GB/s  overhead_%",
            world.size()
        );
    }
    for megabytes in sizes {
        let bytes = megabytes * 1_000_000;
        let elements = bytes / std::mem::size_of::<f32>();
        let iterations = (200 / megabytes).clamp(3, 50);
        let model: Vec<Parameter<f32>> = (0..PARAMETERS)
            .map(|_| Parameter::new(Tensor::ones(&[elements / PARAMETERS])))
            .collect();
        let mut grads = Grads::empty();
        for p in &model {
            grads.set(p, Tensor::full(&[p.numel()], 0.5));
        }
        let mut averager = GradientAverager::new(world.clone(), DEFAULT_BUCKET_BYTES);
        let send = vec![0.5f32; elements];
        let mut receive = vec![0.0f32; elements];
        // Zeros: summed into itself over and over, the buffer stays finite.
        let mut in_place = vec![0.0f32; elements];
        let (mut plain, mut plain_in_place, mut engram) =
            (f64::INFINITY, f64::INFINITY, f64::INFINITY);
        for _ in 0..ROUNDS {
            plain = plain.min(seconds(&world, iterations, || {
                world.all_reduce_sum(&send, &mut receive)
            }));
            plain_in_place = plain_in_place.min(seconds(&world, iterations, || {
                world.all_reduce_sum_in_place(&mut in_place)
            }));
            engram = engram.min(seconds(&world, iterations, || {
                averager.average(&model, &grads);
            }));
        }
        if world.is_root() {
            let rate = |s: f64| bytes as f64 / s / 1e9;
            println!(
                "{:>8}  {megabytes:>7}  {:>18.3}  {:>17.3}  {:>11.3}  {:>10.1}",
                world.size(),
                rate(plain),
                rate(plain_in_place),
                rate(engram),
                (engram / plain - 1.0) * 100.0
            );
        }
    }
    Ok(())
}

/// Seconds per call of `f`, over `iterations` calls between barriers.
fn seconds(world: &World, iterations: usize, mut f: impl FnMut()) -> f64 {
    world.barrier();
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    world.barrier();
    start.elapsed().as_secs_f64() / iterations as f64
}

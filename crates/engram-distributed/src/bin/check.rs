//! The program the MPI tests launch under `mpirun`: trains a small MLP on fixed data and
//! prints what the tests check, or fails on purpose to show that every rank stops.
//!
//! - `equivalence <f32|f64> <batch> <steps> <accumulate>`: each rank trains on its own
//!   `batch` rows per micro-batch, `accumulate` micro-batches per step; every rank prints
//!   `step <s> rank <r> hash <h>` (a hash of every parameter's bits) after each step, and
//!   rank 0 also trains one process on the `N·accumulate·batch` rows of each step together
//!   and prints `max_abs_diff <d>` between the two runs' parameters at the end.
//! - `panic <rank>` / `kill <rank>`: that rank panics (or is killed by SIGKILL) at step 2.
//! - `mismatch <rank>`: that rank builds a wider hidden layer than the others.

use engram_distributed::{DistributedOptimizer, Reducible, World};
use engram_nn::optim::{Optimizer, Sgd, SgdOptions};
use engram_nn::{Context, Forward, Linear, Module, Sequential, Tanh};
use engram_tensor::{seeded_rng, Tensor};
use std::error::Error;
use std::io::Write;
use std::process::ExitCode;

const INPUTS: usize = 6;
const HIDDEN: usize = 16;
const OUTPUTS: usize = 3;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&*e);
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<(), Box<dyn Error>> {
    let arg = |i: usize| -> Result<&str, String> {
        args.get(i)
            .map(String::as_str)
            .ok_or_else(|| format!("missing argument {i}: see the module documentation"))
    };
    let world = World::init()?;
    match arg(0)? {
        "equivalence" => {
            let batch = arg(2)?.parse()?;
            let steps = arg(3)?.parse()?;
            let accumulate = arg(4)?.parse()?;
            match arg(1)? {
                "f32" => equivalence::<f32>(&world, batch, steps, accumulate),
                "f64" => equivalence::<f64>(&world, batch, steps, accumulate),
                other => Err(format!("unknown element type {other}").into()),
            }
        }
        "panic" | "kill" | "mismatch" => fail(&world, arg(0)?, arg(1)?.parse()?),
        other => Err(format!("unknown mode {other}").into()),
    }
}

/// Prints `error: <e>` in one write, so that ranks' lines do not interleave in mpirun's
/// output.
fn report(e: &dyn std::fmt::Display) {
    let line = format!("error: {e}\n");
    // Nothing more can be done about a failed write to stderr.
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// The MLP, its initial values drawn from `seed`.
fn mlp<T: Reducible>(seed: u64, hidden: usize) -> Sequential<T> {
    let mut rng = seeded_rng(seed);
    Sequential::new()
        .add(Linear::new(INPUTS, hidden, &mut rng))
        .add(Tanh)
        .add(Linear::new(hidden, OUTPUTS, &mut rng))
}

fn sgd<T: Reducible>() -> Sgd<T> {
    Sgd::new(SgdOptions {
        momentum: 0.9,
        ..SgdOptions::new(0.1)
    })
}

/// One step's gradient of the mean squared error on `rows` of the data.
fn train_step<T: Reducible>(
    model: &mut Sequential<T>,
    optimizer: &mut dyn Optimizer<T>,
    (x, y): (&Tensor<T>, &Tensor<T>),
    rows: std::ops::Range<usize>,
) {
    let cx = Context::train(0);
    let n = rows.len();
    let xb = x.narrow(0, rows.start, n);
    let yb = y.narrow(0, rows.start, n);
    let error = model.forward(&cx, &cx.input(xb)) - cx.input(yb);
    let grads = cx.backward(error.square().mean());
    optimizer.step(model, &grads);
}

fn equivalence<T: Reducible>(
    world: &World,
    batch: usize,
    steps: usize,
    accumulate: usize,
) -> Result<(), Box<dyn Error>> {
    let (ranks, rank) = (world.size(), world.rank());
    let global = ranks * accumulate * batch;
    let mut rng = seeded_rng(1234);
    let x = Tensor::<T>::randn(&[steps * global, INPUTS], &mut rng);
    let y = Tensor::<T>::randn(&[steps * global, OUTPUTS], &mut rng);
    // Each rank starts from different values: the broadcast must make them rank 0's.
    let mut model = mlp::<T>(100 + rank as u64, HIDDEN);
    world.broadcast_parameters(&mut model)?;
    let mut optimizer = DistributedOptimizer::new(world.clone(), sgd()).accumulate(accumulate);
    let mut reference = world.is_root().then(|| (mlp::<T>(100, HIDDEN), sgd()));
    for step in 0..steps {
        for micro in 0..accumulate {
            let start = step * global + (rank * accumulate + micro) * batch;
            train_step(&mut model, &mut optimizer, (&x, &y), start..start + batch);
        }
        println!("step {step} rank {rank} hash {:016x}", hash(&model));
        if let Some((single, single_optimizer)) = &mut reference {
            let start = step * global;
            train_step(single, single_optimizer, (&x, &y), start..start + global);
        }
    }
    if let Some((single, _)) = &reference {
        let diff = model
            .parameters()
            .iter()
            .zip(single.parameters())
            .flat_map(|(a, b)| a.value().to_vec().into_iter().zip(b.value().to_vec()))
            .map(|(a, b)| (a.as_f64() - b.as_f64()).abs())
            .fold(0.0, f64::max);
        println!("max_abs_diff {diff:e}");
    }
    Ok(())
}

/// FNV-1a over the bits of every parameter (widened to f64, which is exact for f32):
/// equal hashes mean bitwise-equal parameters, for all practical purposes.
fn hash<T: Reducible>(model: &dyn Module<T>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in model.parameters() {
        for v in p.value().to_vec() {
            for byte in v.as_f64().to_bits().to_le_bytes() {
                h = (h ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
    h
}

/// Trains a few steps, with `culprit` failing as `mode` says.
fn fail(world: &World, mode: &str, culprit: usize) -> Result<(), Box<dyn Error>> {
    let hidden = if mode == "mismatch" && world.rank() == culprit {
        HIDDEN + 1
    } else {
        HIDDEN
    };
    let mut model = mlp::<f32>(100, hidden);
    if let Err(e) = world.broadcast_parameters(&mut model) {
        report(&e);
        // Every rank has said why before any exits: mpirun stops the job at the first exit.
        world.barrier();
        return Err("the ranks' parameters differ".into());
    }
    let mut optimizer = DistributedOptimizer::new(world.clone(), sgd());
    let mut rng = seeded_rng(world.rank() as u64);
    let x = Tensor::<f32>::randn(&[8, INPUTS], &mut rng);
    let y = Tensor::<f32>::randn(&[8, OUTPUTS], &mut rng);
    for step in 0..1000 {
        if step == 2 && world.rank() == culprit {
            match mode {
                "panic" => panic!("rank {culprit} fails on purpose at step {step}"),
                "kill" => {
                    let pid = std::process::id().to_string();
                    std::process::Command::new("kill")
                        .args(["-9", &pid])
                        .status()?;
                }
                _ => {}
            }
        }
        train_step(&mut model, &mut optimizer, (&x, &y), 0..8);
    }
    Ok(())
}

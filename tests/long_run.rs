//! Long runs hold steady (issue 15, item 7): 10,000 training steps of a small MLP keep
//! resident memory flat and the tape the same size, written as a user writes the loop and
//! through `Model::fit`; and a raw-tape loop that forgets `Tape::clear` is caught, while
//! legitimate uses of one tape (grad of grad, many passes over one recording) are not.
//!
//! Resident memory is read from `/proc/self/status` (`VmRSS`, in kB, so no page size is
//! needed); where that file does not exist (not Linux) the memory figures are skipped and
//! the rest still runs. The two tests run one at a time: they share the process whose
//! memory they read.

use engram::autograd::{grad, grad_graph, vjp, GrowthCheck, Tape};
use engram::nn::optim::{Adam, AdamOptions, Optimizer};
use engram::nn::train::{Callback, Control, FitOptions, Loss, Model, Verbosity};
use engram::nn::{Context, Forward, Linear, Module, ReLU, Sequential};
use engram::tensor::{seeded_rng, Tensor};
use std::sync::Mutex;

/// Held by each test of this file for its whole run, so that the memory tests measure
/// only their own allocations (a panic elsewhere, with `RUST_BACKTRACE` set, loads the
/// binary's debug info: tens of MB).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn alone() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

const STEPS: usize = 10_000;
/// Where the baseline is read: by then every buffer the loop needs has been allocated.
const WARM: usize = 1_000;
/// Growth allowed between step 1,000 and step 10,000. A leak of one 16×32 f32 gradient
/// (2 kB) per step would be 18 MB over the 9,000 steps; allocator noise is well below.
const BOUND_KB: i64 = 4 * 1024;

/// This process's resident memory in kB, or `None` where `/proc` is not there.
fn resident_kb() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Asserts the growth between the two readings is under the bound, and prints both.
fn assert_flat(what: &str, at_warm: Option<i64>, at_end: Option<i64>) {
    let (Some(warm), Some(end)) = (at_warm, at_end) else {
        println!("{what}: no /proc/self/status here; resident memory not checked");
        return;
    };
    println!(
        "{what}: resident memory {warm} kB at step {WARM}, {end} kB at step {STEPS} ({:+} kB)",
        end - warm
    );
    assert!(
        end - warm < BOUND_KB,
        "{what}: resident memory grew by {} kB between step {WARM} and step {STEPS}",
        end - warm
    );
}

fn mlp() -> Sequential {
    let mut rng = seeded_rng(0);
    Sequential::new()
        .add(Linear::new(16, 32, &mut rng))
        .add(ReLU)
        .add(Linear::new(32, 1, &mut rng))
}

/// `n` examples of a smooth target of 16 features.
fn data(n: usize) -> (Tensor, Tensor) {
    let x = Tensor::randn(&[n, 16], &mut seeded_rng(1));
    let y = x.sum_keepdim(&[1]).tanh();
    (x, y)
}

#[test]
fn ten_thousand_explicit_steps_keep_memory_and_tape_flat() {
    let _alone = alone();
    let (x, y) = data(64);
    let mut model = mlp();
    let mut adam = Adam::new(AdamOptions {
        lr: 1e-3,
        ..Default::default()
    });
    let cx = Context::train(0);
    let (mut memory, mut nodes) = ([None; 2], [0; 2]);
    let mut first_loss = None;
    let mut last_loss = 0.0;
    for step in 1..=STEPS {
        let rows: Vec<usize> = (0..16).map(|i| (step * 16 + i) % 64).collect();
        let prediction = model.forward(&cx, &cx.input(x.index_select(0, &rows)));
        let target = cx.input(y.index_select(0, &rows));
        let loss = (&prediction - &target).square().mean();
        drop(prediction);
        let recorded = cx.tape().len();
        let grads = cx.backward(loss);
        adam.step(&mut model, &grads);
        last_loss = grads.loss();
        first_loss.get_or_insert(last_loss);
        for (k, at) in [WARM, STEPS].into_iter().enumerate() {
            if step == at {
                memory[k] = resident_kb();
                nodes[k] = recorded;
            }
        }
    }
    println!(
        "tape: {} nodes per step at step {WARM}, {} at step {STEPS}",
        nodes[0], nodes[1]
    );
    assert_eq!(nodes[0], nodes[1], "the tape grew across steps");
    assert!(nodes[0] > 0);
    assert!(
        last_loss < first_loss.expect("ran") / 4.0,
        "the loop trains: {first_loss:?} -> {last_loss}"
    );
    assert_flat("explicit loop", memory[0], memory[1]);
}

/// Reads resident memory after the epochs that end at step 1,000 and step 10,000.
struct MemoryAt {
    steps_per_epoch: usize,
    readings: std::rc::Rc<std::cell::RefCell<Vec<Option<i64>>>>,
}

impl Callback for MemoryAt {
    fn on_epoch_end(
        &mut self,
        control: &mut Control<'_>,
        _model: &mut dyn Module,
        _optimizer: &mut dyn Optimizer,
    ) {
        let step = control.epoch() * self.steps_per_epoch;
        if step == WARM || step == STEPS {
            self.readings.borrow_mut().push(resident_kb());
        }
    }
}

/// 250 epochs of 40 steps. With 2,500 epochs of 4 steps, resident memory grew by about
/// 8 kB per epoch from the 1,250th on (+9 to +11 MB by step 10,000): glibc's allocator in a
/// thread other than the main one (tests run in threads) not reusing freed blocks around
/// each epoch's long-lived `History` row; with `MALLOC_ARENA_MAX=1` the same run grew by
/// 400 kB, the size of the history itself.
#[test]
fn ten_thousand_steps_of_fit_keep_memory_flat() {
    let _alone = alone();
    let (x, y) = data(640);
    let batch = 16;
    let steps_per_epoch = x.shape()[0] / batch;
    let readings = std::rc::Rc::default();
    let mut model = Model::new(mlp()).compile(
        Adam::new(AdamOptions {
            lr: 1e-3,
            ..Default::default()
        }),
        Loss::mse(),
        &[],
    );
    let options = FitOptions::new(STEPS / steps_per_epoch, batch)
        .with_verbosity(Verbosity::Quiet)
        .with_callback(MemoryAt {
            steps_per_epoch,
            readings: std::rc::Rc::clone(&readings),
        });
    let history = model.fit(&x, &y, options);
    assert_eq!(history.series("loss").len(), STEPS / steps_per_epoch);
    let losses = history.series("loss");
    assert!(
        losses[losses.len() - 1] < losses[0].map(|l| l / 4.0),
        "fit trains"
    );
    let readings = readings.borrow();
    assert_eq!(readings.len(), 2);
    assert_flat("Model::fit", readings[0], readings[1]);
}

/// One SGD step on raw Vars, recorded on `tape`; clears it only when told to.
fn raw_step(tape: &Tape<f64>, w: &mut Tensor<f64>, clear: bool) {
    let g = {
        let wv = tape.leaf(w.clone());
        grad(&(&wv - 1.0).square().sum(), &[&wv]).remove(0)
    };
    if clear {
        tape.clear();
    }
    w.add_scaled_(&g, -0.1);
}

#[test]
fn a_loop_that_never_clears_its_tape_is_caught() {
    let _alone = alone();
    let tape = Tape::<f64>::new();
    tape.set_growth_check(GrowthCheck::Panic { after: 8 });
    let mut w = Tensor::zeros(&[4]);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        for _ in 0..100 {
            raw_step(&tape, &mut w, false);
        }
    }));
    let message = *outcome
        .expect_err("the ninth growing pass panics")
        .downcast::<String>()
        .expect("a formatted message");
    assert!(message.contains("without `Tape::clear`"), "{message}");
    assert!(message.contains("tape.clear()"), "{message}");
    let stats = tape.stats();
    assert_eq!((stats.backward_passes, stats.growing_passes), (9, 9));
    assert!(stats.nodes > 9 * 3, "every step's nodes are still there");
}

#[test]
fn the_default_check_warns_once_and_goes_on() {
    let _alone = alone();
    let tape = Tape::<f64>::new();
    let mut w = Tensor::zeros(&[4]);
    for step in 1..=100 {
        raw_step(&tape, &mut w, false);
        assert_eq!(tape.stats().growth_warned, step > 64, "after step {step}");
    }
    assert_eq!(tape.stats().growing_passes, 100);
}

#[test]
fn a_loop_that_clears_its_tape_is_never_flagged() {
    let _alone = alone();
    let tape = Tape::<f64>::new();
    tape.set_growth_check(GrowthCheck::Panic { after: 1 });
    let mut w = Tensor::zeros(&[4]);
    for _ in 0..1000 {
        raw_step(&tape, &mut w, true);
    }
    assert_eq!(
        tape.stats().backward_passes,
        0,
        "counted since the last clear"
    );
    assert!((w.get(&[0]) - 1.0).abs() < 1e-9);
}

#[test]
fn many_passes_over_one_recording_are_not_growth() {
    let _alone = alone();
    let tape = Tape::<f64>::new();
    tape.set_growth_check(GrowthCheck::Panic { after: 3 });
    let x = tape.leaf(Tensor::from_vec(vec![0.5, -1.0], &[2]));
    let y = (&x * &x).tanh();
    // A Jacobian row by row: 200 passes over a tape that stays the same size.
    for i in 0..200 {
        let mut row = Tensor::zeros(&[2]);
        row.as_mut_slice()[i % 2] = 1.0;
        let _ = vjp(&y, &row, &[&x]);
    }
    // Grad of grad: a recorded pass, then a pass over what it recorded.
    let dy = grad_graph(&y.sum(), None, &[&x]).remove(0);
    let _ = grad(&dy.sum(), &[&x]);
    let stats = tape.stats();
    assert_eq!((stats.backward_passes, stats.growing_passes), (202, 3));
}

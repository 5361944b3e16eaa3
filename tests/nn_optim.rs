//! Optimizers, schedulers and gradient clipping against PyTorch: `tests/fixtures/nn/optim.json`,
//! written by `tools/oracle/optim_oracle.py` from `torch.optim` on the same numbers.
//!
//! Tolerances: float64 runs agree to `1e-12 · max(1, |torch|)` per element (the update
//! rules do the same operations in the same order; what differs is PyTorch's vectorised
//! kernels rounding fused or reordered products); float32 runs to `4e-6 · max(1, |torch|)`.
//! Learning rates agree to `1e-12` relative: Engram uses the closed forms where PyTorch
//! chains updates.

use engram_nn::optim::{
    clip_grad_norm, clip_grad_value, Adagrad, AdagradOptions, Adam, AdamOptions, AdamW,
    AdamWOptions, Group, Optimizer, RmsProp, RmsPropOptions, Sgd, SgdOptions,
};
use engram_nn::schedule::{
    warmup, CosineAnnealingLr, ExponentialLr, LinearLr, Mode, MultiStepLr, PlateauOptions,
    ReduceLrOnPlateau, Schedule, Scheduler, StepLr, ThresholdMode,
};
use engram_nn::{Context, Forward, Grads, Linear, Module, Parameter};
use engram_tensor::{Float, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

const FIXTURES: &str = include_str!("fixtures/nn/optim.json");

fn fixtures() -> Value {
    serde_json::from_str(FIXTURES).unwrap()
}

/// The two parameters every optimizer case trains.
#[derive(Module)]
struct Two<T: Float> {
    a: Parameter<T>,
    b: Parameter<T>,
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn tensor<T: Float>(v: &Value, shape: &[usize]) -> Tensor<T> {
    Tensor::from_vec(floats(v).into_iter().map(T::of).collect(), shape)
}

fn model<T: Float>(case: &Value) -> Two<T> {
    Two {
        a: Parameter::new(tensor(&case["a"], &[2, 3])),
        b: Parameter::new(tensor(&case["b"], &[3])),
    }
}

fn option(options: &Value, key: &str, default: f64) -> f64 {
    options[key].as_f64().unwrap_or(default)
}

fn optimizer<T: Float + 'static>(case: &Value) -> Box<dyn Optimizer<T>> {
    let o = &case["options"];
    let flag = |key: &str| o[key].as_bool().unwrap_or(false);
    let betas = |(b1, b2): (f64, f64)| match o["betas"].as_array() {
        Some(b) => (b[0].as_f64().unwrap(), b[1].as_f64().unwrap()),
        None => (b1, b2),
    };
    let mut optimizer: Box<dyn Optimizer<T>> = match case["optimizer"].as_str().unwrap() {
        "SGD" => Box::new(Sgd::new(SgdOptions {
            lr: option(o, "lr", f64::NAN),
            momentum: option(o, "momentum", 0.0),
            dampening: option(o, "dampening", 0.0),
            weight_decay: option(o, "weight_decay", 0.0),
            nesterov: flag("nesterov"),
        })),
        "Adam" => {
            let d = AdamOptions::default();
            Box::new(Adam::new(AdamOptions {
                lr: option(o, "lr", d.lr),
                betas: betas(d.betas),
                eps: option(o, "eps", d.eps),
                weight_decay: option(o, "weight_decay", d.weight_decay),
                amsgrad: flag("amsgrad"),
            }))
        }
        "AdamW" => {
            let d = AdamWOptions::default();
            Box::new(AdamW::new(AdamWOptions {
                lr: option(o, "lr", d.lr),
                betas: betas(d.betas),
                eps: option(o, "eps", d.eps),
                weight_decay: option(o, "weight_decay", d.weight_decay),
                amsgrad: flag("amsgrad"),
            }))
        }
        "RMSprop" => {
            let d = RmsPropOptions::default();
            Box::new(RmsProp::new(RmsPropOptions {
                lr: option(o, "lr", d.lr),
                alpha: option(o, "alpha", d.alpha),
                eps: option(o, "eps", d.eps),
                weight_decay: option(o, "weight_decay", d.weight_decay),
                momentum: option(o, "momentum", d.momentum),
                centered: flag("centered"),
            }))
        }
        "Adagrad" => {
            let d = AdagradOptions::default();
            Box::new(Adagrad::new(AdagradOptions {
                lr: option(o, "lr", d.lr),
                lr_decay: option(o, "lr_decay", d.lr_decay),
                weight_decay: option(o, "weight_decay", d.weight_decay),
                initial_accumulator_value: option(
                    o,
                    "initial_accumulator_value",
                    d.initial_accumulator_value,
                ),
                eps: option(o, "eps", d.eps),
            }))
        }
        other => panic!("unknown optimizer {other}"),
    };
    if let Some(group) = case["group_b"].as_object() {
        let mut g = Group::prefix("b");
        if let Some(lr) = group.get("lr") {
            g = g.lr(lr.as_f64().unwrap());
        }
        if let Some(wd) = group.get("weight_decay") {
            g = g.weight_decay(wd.as_f64().unwrap());
        }
        optimizer.param_groups_mut().add(g);
    }
    optimizer
}

fn grads<T: Float>(model: &Two<T>, step: &Value) -> Grads<T> {
    let mut grads = Grads::empty();
    if !step["a"].is_null() {
        grads.set(&model.a, tensor(&step["a"], &[2, 3]));
    }
    if !step["b"].is_null() {
        grads.set(&model.b, tensor(&step["b"], &[3]));
    }
    grads
}

fn assert_close(what: &str, found: &[f64], expected: &[f64], rtol: f64) {
    assert_eq!(found.len(), expected.len(), "{what}: length");
    for (i, (&f, &e)) in found.iter().zip(expected).enumerate() {
        assert!(
            (f - e).abs() <= rtol * e.abs().max(1.0),
            "{what}[{i}]: engram {f}, torch {e} (difference {:e})",
            (f - e).abs()
        );
    }
}

fn check_optimizers<T: Float + 'static>(expected_key: &str, rtol: f64) {
    let fixtures = fixtures();
    let cases = fixtures["optimizers"].as_array().unwrap();
    assert!(cases.len() >= 20);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let mut model = model::<T>(case);
        let mut optimizer = optimizer::<T>(case);
        let steps = case["grads"].as_array().unwrap();
        let expected = case[expected_key].as_array().unwrap();
        for (i, (step, expected)) in steps.iter().zip(expected).enumerate() {
            let g = grads(&model, step);
            optimizer.step(&mut model, &g);
            for (param, value) in [("a", model.a.value()), ("b", model.b.value())] {
                let found: Vec<f64> = value.to_vec().into_iter().map(T::as_f64).collect();
                let what = format!("{name} ({expected_key}) step {} `{param}`", i + 1);
                assert_close(&what, &found, &floats(&expected[param]), rtol);
            }
        }
    }
}

#[test]
fn optimizers_take_pytorchs_first_three_steps_in_f64() {
    check_optimizers::<f64>("expected_f64", 1e-12);
}

#[test]
fn optimizers_take_pytorchs_first_three_steps_in_f32() {
    check_optimizers::<f32>("expected_f32", 4e-6);
}

#[test]
fn every_optimizer_updates_parameters_in_their_own_storage() {
    let case = &fixtures()["optimizers"];
    for case in case.as_array().unwrap() {
        let mut model = model::<f32>(case);
        let mut optimizer = optimizer::<f32>(case);
        let before = [
            model.a.value().as_slice().unwrap().as_ptr(),
            model.b.value().as_slice().unwrap().as_ptr(),
        ];
        // Gradients from a real step, whose tape `backward` releases.
        let cx = engram_nn::Context::train(0);
        let loss = (cx.param(&model.a).sum() + cx.param(&model.b).square().sum()).tanh();
        let g = cx.backward(loss);
        optimizer.step(&mut model, &g);
        let after = [
            model.a.value().as_slice().unwrap().as_ptr(),
            model.b.value().as_slice().unwrap().as_ptr(),
        ];
        assert_eq!(before, after, "{} copied a parameter", case["name"]);
    }
}

/// PyTorch lists groups as made ([a's, b's]); Engram lists added groups, then the default.
fn torch_order(lrs: Vec<f64>) -> Vec<f64> {
    vec![lrs[1], lrs[0]]
}

fn two_group_sgd() -> (Two<f32>, Sgd<f32>) {
    let model = Two {
        a: Parameter::new(Tensor::zeros(&[1])),
        b: Parameter::new(Tensor::zeros(&[1])),
    };
    let sgd = Sgd::new(SgdOptions::new(0.1)).with_group(Group::prefix("b").lr(0.02));
    (model, sgd)
}

fn schedule(case: &Value) -> Box<dyn Schedule> {
    let o = &case["options"];
    let f = |k: &str| o[k].as_f64().unwrap();
    let u = |k: &str| o[k].as_u64().unwrap() as usize;
    match case["name"].as_str().unwrap() {
        "step" => Box::new(StepLr {
            step_size: u("step_size"),
            gamma: f("gamma"),
        }),
        "multi_step" => Box::new(MultiStepLr {
            milestones: o["milestones"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_u64().unwrap() as usize)
                .collect(),
            gamma: f("gamma"),
        }),
        "exponential" => Box::new(ExponentialLr { gamma: f("gamma") }),
        "cosine" => Box::new(CosineAnnealingLr {
            t_max: u("t_max"),
            eta_min: f("eta_min"),
        }),
        "linear" => Box::new(LinearLr {
            start_factor: f("start_factor"),
            end_factor: f("end_factor"),
            total_iters: u("total_iters"),
        }),
        "warmup_cosine" => Box::new(warmup(
            u("epochs"),
            f("start_factor"),
            CosineAnnealingLr {
                t_max: u("t_max"),
                eta_min: f("eta_min"),
            },
        )),
        other => panic!("unknown schedule {other}"),
    }
}

fn assert_lrs(what: &str, found: &[f64], expected: &[f64]) {
    for (&f, &e) in found.iter().zip(expected) {
        assert!(
            (f - e).abs() <= 1e-12 * e.abs() + 1e-17,
            "{what}: engram {found:?}, torch {expected:?}"
        );
    }
}

#[test]
fn schedules_give_pytorchs_learning_rates() {
    let fixtures = fixtures();
    let cases = fixtures["schedulers"].as_array().unwrap();
    let mut checked = 0;
    for case in cases.iter().filter(|c| c["metrics"].is_null()) {
        let name = case["name"].as_str().unwrap();
        let (mut model, mut sgd) = two_group_sgd();
        let mut scheduler = Scheduler::new(schedule(case), &mut sgd);
        for (epoch, expected) in case["lrs"].as_array().unwrap().iter().enumerate() {
            if epoch > 0 {
                sgd.step(&mut model, &Grads::empty());
                scheduler.step(&mut sgd);
            }
            let found = torch_order(sgd.param_groups().learning_rates());
            assert_lrs(&format!("{name} epoch {epoch}"), &found, &floats(expected));
        }
        checked += 1;
    }
    assert_eq!(checked, 6);
}

#[test]
fn reduce_on_plateau_gives_pytorchs_learning_rates() {
    let fixtures = fixtures();
    let cases = fixtures["schedulers"].as_array().unwrap();
    let mut checked = 0;
    for case in cases.iter().filter(|c| !c["metrics"].is_null()) {
        let name = case["name"].as_str().unwrap();
        let o = &case["options"];
        let options = PlateauOptions {
            mode: match o["mode"].as_str().unwrap() {
                "min" => Mode::Min,
                _ => Mode::Max,
            },
            factor: o["factor"].as_f64().unwrap(),
            patience: o["patience"].as_u64().unwrap() as usize,
            threshold: o["threshold"].as_f64().unwrap(),
            threshold_mode: match o["threshold_mode"].as_str().unwrap() {
                "rel" => ThresholdMode::Rel,
                _ => ThresholdMode::Abs,
            },
            cooldown: o["cooldown"].as_u64().unwrap() as usize,
            min_lr: o["min_lr"].as_f64().unwrap(),
            ..Default::default()
        };
        let (_, mut sgd) = two_group_sgd();
        let mut plateau = ReduceLrOnPlateau::new(options);
        let lrs = case["lrs"].as_array().unwrap();
        assert_lrs(
            name,
            &torch_order(sgd.param_groups().learning_rates()),
            &floats(&lrs[0]),
        );
        for (epoch, (metric, expected)) in
            floats(&case["metrics"]).iter().zip(&lrs[1..]).enumerate()
        {
            plateau.step(&mut sgd, *metric);
            let found = torch_order(sgd.param_groups().learning_rates());
            assert_lrs(
                &format!("{name} epoch {}", epoch + 1),
                &found,
                &floats(expected),
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 3);
}

fn check_clip<T: Float>(case: &Value, rtol: f64) {
    let model = Two::<T> {
        a: Parameter::new(Tensor::zeros(&[2, 3])),
        b: Parameter::new(Tensor::zeros(&[3])),
    };
    let mut g = grads(&model, &case["grads"]);
    let max = case["max"].as_f64().unwrap();
    if case["kind"] == "norm" {
        let total = clip_grad_norm(&mut g, max).as_f64();
        let expected = case["total_norm"].as_f64().unwrap();
        assert!(
            (total - expected).abs() <= rtol * expected,
            "norm {total} vs {expected}"
        );
    } else {
        clip_grad_value(&mut g, max);
    }
    for (name, p) in [("a", &model.a), ("b", &model.b)] {
        let found: Vec<f64> = g[p].to_vec().into_iter().map(T::as_f64).collect();
        assert_close(
            &format!("clip {case} `{name}`"),
            &found,
            &floats(&case["clipped"][name]),
            rtol,
        );
    }
}

#[test]
fn clipping_matches_pytorch() {
    let fixtures = fixtures();
    let cases = fixtures["clipping"].as_array().unwrap();
    for case in cases {
        match case["dtype"].as_str().unwrap() {
            "float64" => check_clip::<f64>(case, 1e-12),
            _ => check_clip::<f32>(case, 1e-6),
        }
    }
    assert_eq!(cases.len(), 4);
}

#[test]
fn sgd_recovers_the_coefficients_of_a_noisy_line() {
    // 200 points of y = 3x + 2 with N(0, 0.1²) noise: least squares is within about 0.01
    // of the true coefficients, so SGD must get within 0.05.
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let x = Tensor::<f64>::rand_uniform(&[200, 1], -1.0, 1.0, &mut rng);
    let noise = Tensor::<f64>::rand_normal(&[200, 1], 0.0, 0.1, &mut rng);
    let y = x.mul_scalar(3.0).add_scalar(2.0).add(&noise);
    let mut line = Linear::<f64>::new(1, 1, &mut rng);
    let mut optimizer = Sgd::new(SgdOptions::new(0.1));
    let cx = Context::train(0);
    for _ in 0..500 {
        let prediction = line.forward(&cx, &cx.input(x.clone()));
        let grads = cx.backward((prediction - cx.input(y.clone())).square().mean());
        optimizer.step(&mut line, &grads);
    }
    let slope = line.weight.value().item();
    let intercept = line.bias.as_ref().unwrap().value().item();
    assert!((slope - 3.0).abs() < 0.05, "slope {slope}");
    assert!((intercept - 2.0).abs() < 0.05, "intercept {intercept}");
}

/// The system allocator, counting on each thread the allocations of at least
/// [`LARGE_ALLOCATION`] bytes, so that a test can see an optimizer step make a
/// parameter-sized buffer (per thread: the test harness runs tests side by side).
struct CountingAllocator;

/// Allocations this large are counted: a parameter of the test below, not a small vector.
const LARGE_ALLOCATION: usize = 1 << 20;

thread_local! {
    static LARGE_ALLOCATIONS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn count_allocation(bytes: usize) {
    if bytes >= LARGE_ALLOCATION {
        // `try_with`: allocations while a thread's locals are torn down go uncounted.
        let _ = LARGE_ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    }
}

fn large_allocations() -> usize {
    LARGE_ALLOCATIONS.with(|n| n.get())
}

// SAFETY: every call is passed on to `System` unchanged; counting allocates nothing.
unsafe impl std::alloc::GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        count_allocation(layout.size());
        // SAFETY: the caller's contract is `System`'s.
        unsafe { std::alloc::System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        count_allocation(layout.size());
        // SAFETY: as above.
        unsafe { std::alloc::System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: as above.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        count_allocation(new_size);
        // SAFETY: as above.
        unsafe { std::alloc::System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

#[test]
fn an_optimizer_step_allocates_only_the_state_it_keeps() {
    // A 4 MB parameter: plain SGD keeps no state, so its first step allocates nothing of
    // that size; SGD with momentum keeps exactly one buffer.
    let n = 1 << 20;
    for (momentum, kept) in [(0.0, 0), (0.9, 1)] {
        let mut model = Two::<f32> {
            a: Parameter::new(Tensor::full(&[n], 1.0)),
            b: Parameter::new(Tensor::full(&[3], 1.0)),
        };
        let mut grads = Grads::empty();
        grads.set(&model.a, Tensor::full(&[n], 0.5));
        let mut sgd = Sgd::new(SgdOptions {
            momentum,
            ..SgdOptions::new(0.1)
        });
        let before = large_allocations();
        sgd.step(&mut model, &grads);
        assert_eq!(
            large_allocations() - before,
            kept,
            "SGD with momentum {momentum}: large allocations in its first step"
        );
    }
}

/// Makes a fresh optimizer of one configuration.
type MakeOptimizer = Box<dyn Fn() -> Box<dyn Optimizer<f64>>>;

#[test]
fn a_parameter_updated_in_runs_gives_each_element_the_update_it_gets_alone() {
    // A parameter larger than the runs the optimizer state splits it into (16,384
    // elements; the last run partial): elements on either side of every run boundary must
    // get, bit for bit, what a one-element parameter with the same history gets, for every
    // rule and its buffers (momentum, both Adam moments and AMSGrad's maximum, RMSprop's
    // averages, Adagrad's sum).
    let n = 40_001;
    let picks = [0, 16_383, 16_384, 32_767, 32_768, 40_000];
    let value = |i: usize| ((i * 37 % 101) as f64 - 50.0) / 25.0;
    let gradient = |i: usize, step: usize| ((i * 53 + step * 11) % 97) as f64 / 40.0 - 1.2;
    let rules: Vec<(&str, MakeOptimizer)> = vec![
        (
            "SGD, Nesterov momentum and weight decay",
            Box::new(|| {
                Box::new(Sgd::new(SgdOptions {
                    momentum: 0.9,
                    weight_decay: 0.01,
                    nesterov: true,
                    ..SgdOptions::new(0.1)
                }))
            }),
        ),
        (
            "Adam, AMSGrad",
            Box::new(|| {
                Box::new(Adam::new(AdamOptions {
                    amsgrad: true,
                    weight_decay: 0.01,
                    ..AdamOptions::default()
                }))
            }),
        ),
        (
            "AdamW",
            Box::new(|| Box::new(AdamW::new(AdamWOptions::default()))),
        ),
        (
            "RMSprop, centered with momentum",
            Box::new(|| {
                Box::new(RmsProp::new(RmsPropOptions {
                    momentum: 0.5,
                    centered: true,
                    ..RmsPropOptions::default()
                }))
            }),
        ),
        (
            "Adagrad",
            Box::new(|| Box::new(Adagrad::new(AdagradOptions::default()))),
        ),
    ];
    for (rule, make) in &rules {
        let mut large = Two::<f64> {
            a: Parameter::new(Tensor::from_vec((0..n).map(value).collect(), &[n])),
            b: Parameter::new(Tensor::zeros(&[3])),
        };
        let mut alone: Vec<Two<f64>> = picks
            .iter()
            .map(|&i| Two {
                a: Parameter::new(Tensor::from_vec(vec![value(i)], &[1])),
                b: Parameter::new(Tensor::zeros(&[3])),
            })
            .collect();
        let mut large_optimizer = make();
        let mut alone_optimizers: Vec<_> = picks.iter().map(|_| make()).collect();
        for step in 0..3 {
            let mut grads = Grads::empty();
            let g: Vec<f64> = (0..n).map(|i| gradient(i, step)).collect();
            grads.set(&large.a, Tensor::from_vec(g, &[n]));
            large_optimizer.step(&mut large, &grads);
            for ((&i, model), optimizer) in picks.iter().zip(&mut alone).zip(&mut alone_optimizers)
            {
                let mut grads = Grads::empty();
                grads.set(&model.a, Tensor::from_vec(vec![gradient(i, step)], &[1]));
                optimizer.step(model, &grads);
            }
        }
        let values = large.a.value().to_vec();
        for (&i, model) in picks.iter().zip(&alone) {
            assert_eq!(
                values[i].to_bits(),
                model.a.value().to_vec()[0].to_bits(),
                "{rule}: element {i}"
            );
        }
    }
}

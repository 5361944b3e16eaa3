//! Checkpoints: bit-exact round trips (model, buffers, optimizer state), training resumed
//! from a checkpoint continuing exactly as an uninterrupted run, typed errors for every bad
//! file (truncated, corrupted, wrong names, shapes or dtypes), atomic saving that refuses to
//! replace what is not a regular file, and the committed file PyTorch reads
//! (`tools/check_safetensors_torch.py`).

use engram_nn::checkpoint::{self, Checkpoint, CheckpointError};
use engram_nn::optim::{
    Adagrad, AdagradOptions, Adam, AdamOptions, AdamW, AdamWOptions, Group, Optimizer, RmsProp,
    RmsPropOptions, Sgd, SgdOptions,
};
use engram_nn::schedule::{warmup, CosineAnnealingLr, Scheduler};
use engram_nn::{Buffer, Context, Module, Parameter};
use engram_tensor::{Float, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};

#[derive(Module)]
struct Dense<T: Float> {
    weight: Parameter<T>,
    bias: Parameter<T>,
}

#[derive(Module)]
struct Norm<T: Float> {
    weight: Parameter<T>,
    bias: Parameter<T>,
    running_mean: Buffer<T>,
    running_var: Buffer<T>,
}

/// Names as a PyTorch model of `nn.Sequential(Linear(3, 4), Linear(4, 2))`, `BatchNorm1d(2)`
/// and `Linear(2, 1)` has them.
#[derive(Module)]
struct Tiny<T: Float> {
    encoder: Vec<Dense<T>>,
    norm: Norm<T>,
    head: Dense<T>,
}

fn dense<T: Float>(inputs: usize, outputs: usize, rng: &mut ChaCha8Rng) -> Dense<T> {
    Dense {
        weight: Parameter::new(Tensor::rand_uniform(
            &[outputs, inputs],
            T::of(-1.0),
            T::of(1.0),
            rng,
        )),
        bias: Parameter::new(Tensor::rand_uniform(
            &[outputs],
            T::of(-1.0),
            T::of(1.0),
            rng,
        )),
    }
}

fn tiny<T: Float>(seed: u64) -> Tiny<T> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Tiny {
        encoder: vec![dense(3, 4, &mut rng), dense(4, 2, &mut rng)],
        norm: Norm {
            weight: Parameter::new(Tensor::rand_uniform(&[2], T::of(0.5), T::of(1.5), &mut rng)),
            bias: Parameter::new(Tensor::rand_uniform(
                &[2],
                T::of(-0.5),
                T::of(0.5),
                &mut rng,
            )),
            running_mean: Buffer::new(Tensor::rand_uniform(
                &[2],
                T::of(-1.0),
                T::of(1.0),
                &mut rng,
            )),
            running_var: Buffer::new(Tensor::rand_uniform(&[2], T::of(0.5), T::of(2.0), &mut rng)),
        },
        head: dense(2, 1, &mut rng),
    }
}

impl<T: Float> Tiny<T> {
    /// A small differentiable forward pass through every parameter (the norm in its
    /// evaluation form, with the running statistics as constants).
    fn loss(&self, cx: &Context<T>, x: &Tensor<T>, y: &Tensor<T>) -> engram_autograd::Var<T> {
        let mut h = cx.input(x.clone());
        for layer in &self.encoder {
            h = (h.matmul(&cx.param(&layer.weight).transpose(0, 1)) + cx.param(&layer.bias)).tanh();
        }
        let n = &self.norm;
        let scale = cx.param(&n.weight)
            / (cx.buffer(&n.running_var) + cx.input(Tensor::scalar(T::of(1e-5)))).sqrt();
        h = (h - cx.buffer(&n.running_mean)) * scale + cx.param(&n.bias);
        let out =
            h.matmul(&cx.param(&self.head.weight).transpose(0, 1)) + cx.param(&self.head.bias);
        (out - cx.input(y.clone())).square().mean()
    }
}

fn data<T: Float>() -> (Tensor<T>, Tensor<T>) {
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    (
        Tensor::rand_uniform(&[8, 3], T::of(-1.0), T::of(1.0), &mut rng),
        Tensor::rand_uniform(&[8, 1], T::of(-1.0), T::of(1.0), &mut rng),
    )
}

/// A directory of the test's own, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("engram-ckpt-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every tensor's name and bit patterns, for exact comparison (NaN included).
fn bits<T: Float>(map: impl IntoIterator<Item = (String, Tensor<T>)>) -> Vec<(String, Vec<u64>)> {
    map.into_iter()
        .map(|(k, t)| {
            (
                k,
                t.to_vec()
                    .into_iter()
                    .map(|x| x.as_f64().to_bits())
                    .collect(),
            )
        })
        .collect()
}

fn adamw<T: Float>() -> AdamW<T> {
    AdamW::new(AdamWOptions {
        lr: 0.05,
        amsgrad: true,
        ..Default::default()
    })
    .with_group(Group::prefix("norm.").weight_decay(0.0))
}

fn train<T: Float>(model: &mut Tiny<T>, optimizer: &mut dyn Optimizer<T>, steps: usize) {
    let (x, y) = data::<T>();
    let cx = Context::train(0);
    for _ in 0..steps {
        let grads = cx.backward(model.loss(&cx, &x, &y));
        optimizer.step(model, &grads);
    }
}

fn round_trip<T: Float>() {
    let scratch = Scratch::new(&format!("round-trip-{}", T::DTYPE));
    let path = scratch.path("tiny.safetensors");
    let mut model = tiny::<T>(1);
    // Values that a careless encoding would lose.
    let special = [
        T::nan(),
        T::neg_zero(),
        T::infinity(),
        T::min_positive_value() / T::of(4.0),
    ];
    for (i, &v) in special.iter().enumerate() {
        model.encoder[0].weight.value_mut().as_mut_slice()[i] = v;
    }
    let mut optimizer = adamw::<T>();
    train(&mut model, &mut optimizer, 2);
    optimizer
        .param_groups_mut()
        .set_learning_rates(&[0.1 / 3.0, 1e-3 / 7.0]);
    Checkpoint::new(&model)
        .optimizer(&optimizer)
        .epoch(4)
        .step(2)
        .metadata("note", "round trip")
        .save(&path)
        .unwrap();

    let mut restored = tiny::<T>(2);
    let mut resumed = adamw::<T>();
    let loaded = checkpoint::load_with_optimizer(&path, &mut restored, &mut resumed).unwrap();
    assert_eq!((loaded.epoch, loaded.step), (Some(4), Some(2)));
    assert_eq!(loaded.metadata["note"], "round trip");
    assert_eq!(loaded.metadata["format"], "pt");
    assert_eq!(bits(restored.state_dict()), bits(model.state_dict()));
    assert_eq!(
        bits(resumed.state_dict(&restored)),
        bits(optimizer.state_dict(&model))
    );
    assert!(!optimizer.state_dict(&model).is_empty());
    assert_eq!(
        resumed.param_groups().learning_rates(),
        optimizer.param_groups().learning_rates()
    );
}

#[test]
fn round_trip_is_bit_exact_in_f32() {
    round_trip::<f32>();
}

#[test]
fn round_trip_is_bit_exact_in_f64() {
    round_trip::<f64>();
}

#[test]
fn resumed_training_continues_exactly_as_an_uninterrupted_run() {
    let scratch = Scratch::new("resume");
    let path = scratch.path("resume.safetensors");
    let schedule = || {
        warmup(
            2,
            0.5,
            CosineAnnealingLr {
                t_max: 6,
                eta_min: 0.001,
            },
        )
    };

    let mut straight = tiny::<f32>(7);
    let mut optimizer = adamw::<f32>();
    let mut scheduler = Scheduler::new(schedule(), &mut optimizer);
    for _ in 0..8 {
        train(&mut straight, &mut optimizer, 3);
        scheduler.step(&mut optimizer);
    }

    let mut first = tiny::<f32>(7);
    let mut optimizer = adamw::<f32>();
    let mut scheduler = Scheduler::new(schedule(), &mut optimizer);
    for _ in 0..4 {
        train(&mut first, &mut optimizer, 3);
        scheduler.step(&mut optimizer);
    }
    Checkpoint::new(&first)
        .optimizer(&optimizer)
        .epoch(scheduler.epoch() as u64)
        .save(&path)
        .unwrap();
    drop((first, optimizer, scheduler));

    // A new process: other initial values, a fresh optimizer and scheduler.
    let mut second = tiny::<f32>(8);
    let mut optimizer = adamw::<f32>();
    let mut scheduler = Scheduler::new(schedule(), &mut optimizer);
    let loaded = checkpoint::load_with_optimizer(&path, &mut second, &mut optimizer).unwrap();
    scheduler.set_epoch(loaded.epoch.unwrap() as usize, &mut optimizer);
    for _ in 4..8 {
        train(&mut second, &mut optimizer, 3);
        scheduler.step(&mut optimizer);
    }
    assert_eq!(bits(second.state_dict()), bits(straight.state_dict()));
}

#[test]
fn sgd_momentum_state_survives_a_checkpoint() {
    let scratch = Scratch::new("sgd");
    let path = scratch.path("sgd.safetensors");
    let sgd = || {
        Sgd::new(SgdOptions {
            momentum: 0.9,
            nesterov: true,
            ..SgdOptions::new(0.05)
        })
    };
    let mut straight = tiny::<f64>(3);
    let mut optimizer = sgd();
    train(&mut straight, &mut optimizer, 6);

    let mut first = tiny::<f64>(3);
    let mut optimizer = sgd();
    train(&mut first, &mut optimizer, 3);
    Checkpoint::new(&first)
        .optimizer(&optimizer)
        .save(&path)
        .unwrap();
    let mut second = tiny::<f64>(4);
    let mut optimizer = sgd();
    checkpoint::load_with_optimizer(&path, &mut second, &mut optimizer).unwrap();
    train(&mut second, &mut optimizer, 3);
    assert_eq!(bits(second.state_dict()), bits(straight.state_dict()));
}

/// Six steps straight, against three steps, a checkpoint into a fresh model and a fresh
/// optimizer from `make`, and three more: the weights must agree bit for bit, and the
/// checkpoint must hold each of `buffers` for every parameter.
fn assert_resume_is_exact<O: Optimizer<f64>>(name: &str, make: impl Fn() -> O, buffers: &[&str]) {
    let scratch = Scratch::new(name);
    let path = scratch.path("optimizer.safetensors");
    let mut straight = tiny::<f64>(3);
    let mut optimizer = make();
    train(&mut straight, &mut optimizer, 6);

    let mut first = tiny::<f64>(3);
    let mut optimizer = make();
    train(&mut first, &mut optimizer, 3);
    let state = optimizer.state_dict(&first);
    for buffer in buffers {
        for (param, _) in first.named_parameters() {
            let key = format!("{buffer}.{param}");
            assert!(
                state.contains_key(&key),
                "{name}: no {key} in {:?}",
                state.keys()
            );
        }
    }
    Checkpoint::new(&first)
        .optimizer(&optimizer)
        .save(&path)
        .unwrap();
    let mut second = tiny::<f64>(4);
    let mut optimizer = make();
    checkpoint::load_with_optimizer(&path, &mut second, &mut optimizer).unwrap();
    train(&mut second, &mut optimizer, 3);
    assert_eq!(
        bits(second.state_dict()),
        bits(straight.state_dict()),
        "{name}: resumed training differs"
    );
}

#[test]
fn adam_amsgrad_state_survives_a_checkpoint() {
    let adam = || {
        Adam::new(AdamOptions {
            lr: 0.05,
            weight_decay: 0.01,
            amsgrad: true,
            ..Default::default()
        })
    };
    assert_resume_is_exact(
        "adam",
        adam,
        &["exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step"],
    );
}

#[test]
fn rmsprop_centered_momentum_state_survives_a_checkpoint() {
    let rmsprop = || {
        RmsProp::new(RmsPropOptions {
            lr: 0.01,
            momentum: 0.9,
            centered: true,
            ..Default::default()
        })
    };
    assert_resume_is_exact(
        "rmsprop",
        rmsprop,
        &["square_avg", "momentum_buffer", "grad_avg", "step"],
    );
}

#[test]
fn adagrad_state_survives_a_checkpoint() {
    let adagrad = || {
        Adagrad::new(AdagradOptions {
            lr: 0.1,
            lr_decay: 0.01,
            initial_accumulator_value: 0.1,
            ..Default::default()
        })
    };
    assert_resume_is_exact("adagrad", adagrad, &["sum", "step"]);
}

fn assert_unchanged<T: Float>(model: &Tiny<T>, seed: u64) {
    assert_eq!(bits(model.state_dict()), bits(tiny::<T>(seed).state_dict()));
}

#[test]
fn wrong_names_shapes_and_dtypes_are_typed_errors_and_change_nothing() {
    let scratch = Scratch::new("mismatch");
    let path = scratch.path("m.safetensors");
    checkpoint::save(&path, &tiny::<f32>(1)).unwrap();

    // A model with one layer fewer: the file has names it lacks.
    #[derive(Module)]
    struct Shorter {
        encoder: Vec<Dense<f32>>,
        norm: Norm<f32>,
    }
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut shorter = Shorter {
        encoder: vec![dense(3, 4, &mut rng), dense(4, 2, &mut rng)],
        norm: tiny::<f32>(5).norm,
    };
    match checkpoint::load(&path, &mut shorter) {
        Err(CheckpointError::UnexpectedNames(names)) => {
            assert_eq!(names, ["head.bias", "head.weight"])
        }
        other => panic!("expected UnexpectedNames, got {other:?}"),
    }

    // A model with an extra layer: the file lacks names.
    #[derive(Module)]
    struct Longer {
        tiny: Tiny<f32>,
        extra: Dense<f32>,
    }
    let mut longer = Longer {
        tiny: tiny(5),
        extra: dense(1, 1, &mut rng),
    };
    match checkpoint::load(&path, &mut longer) {
        Err(CheckpointError::MissingNames(names)) => assert!(
            names.contains(&"tiny.encoder.0.weight".to_string())
                && names.contains(&"extra.bias".to_string())
        ),
        other => panic!("expected MissingNames, got {other:?}"),
    }

    let mut wider = tiny::<f32>(5);
    wider.head = dense(2, 2, &mut rng);
    match checkpoint::load(&path, &mut wider) {
        Err(CheckpointError::ShapeMismatch {
            name,
            expected,
            found,
        }) => {
            assert_eq!(name, "head.weight");
            assert_eq!((expected, found), (vec![2, 2], vec![1, 2]));
        }
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }

    let mut double = tiny::<f64>(5);
    match checkpoint::load(&path, &mut double) {
        Err(CheckpointError::DtypeMismatch {
            expected, found, ..
        }) => assert_eq!((expected.as_str(), found.as_str()), ("F64", "F32")),
        other => panic!("expected DtypeMismatch, got {other:?}"),
    }
    assert_unchanged(&double, 5);

    // Asking for optimizer state the file does not have.
    let mut model = tiny::<f32>(5);
    let mut optimizer = adamw::<f32>();
    match checkpoint::load_with_optimizer(&path, &mut model, &mut optimizer) {
        Err(CheckpointError::MissingNames(_)) => {}
        other => panic!("expected MissingNames, got {other:?}"),
    }
    assert_unchanged(&model, 5);

    // Optimizer state of another optimizer (SGD's momentum where AdamW wants moments).
    let mut source = tiny::<f32>(1);
    // The same groups, so that the state's names are what differs.
    let mut sgd = Sgd::new(SgdOptions {
        momentum: 0.5,
        ..SgdOptions::new(0.1)
    })
    .with_group(Group::prefix("norm.").weight_decay(0.0));
    train(&mut source, &mut sgd, 1);
    Checkpoint::new(&source)
        .optimizer(&sgd)
        .save(&path)
        .unwrap();
    let err = checkpoint::load_with_optimizer(&path, &mut model, &mut optimizer).unwrap_err();
    assert!(
        matches!(
            err,
            CheckpointError::MissingNames(_) | CheckpointError::UnexpectedNames(_)
        ),
        "{err:?}"
    );
    assert_unchanged(&model, 5);
    assert!(optimizer.state_dict(&model).is_empty());
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let scratch = Scratch::new("missing");
    let path = scratch.path("absent.safetensors");
    let err = checkpoint::load(&path, &mut tiny::<f32>(1)).unwrap_err();
    assert!(
        matches!(&err, CheckpointError::Io { path: p, .. } if p == &path),
        "{err:?}"
    );
    assert!(err.to_string().contains("absent.safetensors"));
}

fn load_bytes(scratch: &Scratch, bytes: &[u8]) -> Result<(), CheckpointError> {
    let path = scratch.path("bad.safetensors");
    std::fs::write(&path, bytes).unwrap();
    let mut model = tiny::<f32>(1);
    let mut optimizer = adamw::<f32>();
    checkpoint::load_with_optimizer(&path, &mut model, &mut optimizer).map(|_| ())
}

/// The bytes of a checkpoint with model and optimizer state.
fn a_good_file(scratch: &Scratch) -> Vec<u8> {
    let path = scratch.path("good.safetensors");
    let mut model = tiny::<f32>(1);
    let mut optimizer = adamw::<f32>();
    train(&mut model, &mut optimizer, 1);
    Checkpoint::new(&model)
        .optimizer(&optimizer)
        .save(&path)
        .unwrap();
    std::fs::read(&path).unwrap()
}

#[test]
fn every_truncation_is_a_typed_error() {
    let scratch = Scratch::new("truncated");
    let good = a_good_file(&scratch);
    for len in 0..good.len() {
        match load_bytes(&scratch, &good[..len]) {
            Err(CheckpointError::Truncated { .. } | CheckpointError::Corrupt { .. }) => {}
            other => panic!("{len} of {} bytes: {other:?}", good.len()),
        }
    }
    assert!(matches!(
        load_bytes(&scratch, &good[..good.len() - 1]),
        Err(CheckpointError::Truncated { .. })
    ));
    assert!(load_bytes(&scratch, &good).is_ok());
}

#[test]
fn random_corruption_never_panics() {
    let scratch = Scratch::new("corrupt");
    let good = a_good_file(&scratch);
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    let mut errors = 0;
    for _ in 0..400 {
        let mut bytes = good.clone();
        for _ in 0..rng.gen_range(1..4) {
            let at = rng.gen_range(0..bytes.len());
            bytes[at] = rng.gen();
        }
        // Corrupted tensor data loads (the values are just different); anything else must
        // be an error, never a panic.
        errors += load_bytes(&scratch, &bytes).is_err() as usize;
    }
    let mut noise = vec![0u8; 300];
    rng.fill(&mut noise[..]);
    assert!(load_bytes(&scratch, &noise).is_err());
    // A header length beyond any file.
    assert!(matches!(
        load_bytes(&scratch, &u64::MAX.to_le_bytes()),
        Err(CheckpointError::Corrupt { .. } | CheckpointError::Truncated { .. })
    ));
    assert!(errors > 0);
}

#[test]
fn saving_replaces_a_file_atomically_and_leaves_nothing_behind() {
    let scratch = Scratch::new("atomic");
    let path = scratch.path("model.safetensors");
    std::fs::write(&path, b"an older checkpoint").unwrap();
    checkpoint::save(&path, &tiny::<f32>(1)).unwrap();
    checkpoint::load(&path, &mut tiny::<f32>(2)).unwrap();
    let entries: Vec<_> = std::fs::read_dir(&scratch.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, ["model.safetensors"]);
}

#[cfg(unix)]
#[test]
fn saving_refuses_to_replace_a_symlink_or_a_fifo() {
    let scratch = Scratch::new("special");
    let target = scratch.path("precious.txt");
    std::fs::write(&target, b"keep me").unwrap();
    let link = scratch.path("link.safetensors");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    match checkpoint::save(&link, &tiny::<f32>(1)) {
        Err(CheckpointError::NotARegularFile { kind, .. }) => assert_eq!(kind, "symbolic link"),
        other => panic!("expected NotARegularFile, got {other:?}"),
    }
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read(&target).unwrap(), b"keep me");

    let fifo = scratch.path("pipe.safetensors");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        match checkpoint::save(&fifo, &tiny::<f32>(1)) {
            Err(CheckpointError::NotARegularFile { kind, .. }) => assert_eq!(kind, "FIFO"),
            other => panic!("expected NotARegularFile, got {other:?}"),
        }
        // Loading from a FIFO would block on open; it is refused instead.
        assert!(matches!(
            checkpoint::load(&fifo, &mut tiny::<f32>(1)),
            Err(CheckpointError::NotARegularFile { .. })
        ));
    }
    let dir = scratch.path("a-directory");
    std::fs::create_dir(&dir).unwrap();
    assert!(matches!(
        checkpoint::save(&dir, &tiny::<f32>(1)),
        Err(CheckpointError::NotARegularFile {
            kind: "directory",
            ..
        })
    ));
}

const TORCH_FIXTURE: &str = "tests/fixtures/nn/checkpoint_tiny.safetensors";
const TORCH_VALUES: &str = "tests/fixtures/nn/checkpoint_tiny.json";

/// The names, shapes and values `tools/check_safetensors_torch.py` expects PyTorch to read.
fn expected_values(model: &Tiny<f32>) -> String {
    let entries: Vec<String> = model
        .state_dict()
        .iter()
        .map(|(name, t)| {
            let values: Vec<String> = t
                .to_vec()
                .iter()
                .map(|v| format!("{:?}", *v as f64))
                .collect();
            format!(
                "  {:?}: {{\"shape\": {:?}, \"values\": [{}]}}",
                name,
                t.shape(),
                values.join(", ")
            )
        })
        .collect();
    format!("{{\n{}\n}}\n", entries.join(",\n"))
}

/// Engram still writes, byte for byte, the committed file that PyTorch was shown to read.
/// `ENGRAM_REGENERATE_FIXTURES=1` rewrites it (then run the Python check again).
#[test]
fn engram_writes_the_committed_file_pytorch_reads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = tiny::<f32>(2026);
    let scratch = Scratch::new("torch");
    let path = scratch.path("tiny.safetensors");
    checkpoint::save(&path, &model).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let values = expected_values(&model);
    if std::env::var_os("ENGRAM_REGENERATE_FIXTURES").is_some() {
        std::fs::write(root.join(TORCH_FIXTURE), &bytes).unwrap();
        std::fs::write(root.join(TORCH_VALUES), &values).unwrap();
    }
    assert_eq!(bytes, std::fs::read(root.join(TORCH_FIXTURE)).unwrap());
    assert_eq!(
        values,
        std::fs::read_to_string(root.join(TORCH_VALUES)).unwrap()
    );
}

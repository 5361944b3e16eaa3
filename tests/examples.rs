//! Every program in `examples/` runs to completion on a one-epoch budget, so a broken
//! example fails CI. `cargo test` builds the examples (in `target/<profile>/examples/`,
//! next to this test's `deps/` folder) before it runs any test; this test runs those
//! binaries with `ENGRAM_EXAMPLE_EPOCHS=1` rather than `cargo run --example`, which would
//! rebuild in another profile — minutes on two cores.

use std::path::PathBuf;
use std::process::Command;

/// Every example, by name; a new example is added here too.
const EXAMPLES: [&str; 11] = [
    "xor",
    "linear_regression",
    "keras_style",
    "digits_mlp",
    "digits_cnn",
    "custom_op",
    "hessian",
    "mnist_cnn",
    "activations_and_optimizers",
    "char_lstm",
    "tiny_transformer",
];

/// `target/<profile>/examples/`, where `cargo test` put the example binaries.
fn examples_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("the test binary lives in target/<profile>/deps")
        .join("examples")
}

#[test]
fn every_example_runs_on_a_one_epoch_budget() {
    let out = tempfile::tempdir().expect("a temporary folder");
    for name in EXAMPLES {
        let binary = examples_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
        assert!(
            binary.is_file(),
            "example `{name}` is not built at {}: run `cargo test` (which builds the examples) \
             or `cargo build --examples --profile test` first",
            binary.display()
        );
        let run = Command::new(&binary)
            .env("ENGRAM_EXAMPLE_EPOCHS", "1")
            .env("ENGRAM_EXAMPLE_OUT", out.path())
            .output()
            .unwrap_or_else(|e| panic!("could not start example `{name}`: {e}"));
        assert!(
            run.status.success(),
            "example `{name}` failed ({}):\n{}\n{}",
            run.status,
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
    }
    assert!(
        out.path().join("digits_cnn.svg").is_file(),
        "digits_cnn wrote no curves"
    );
    assert!(
        out.path().join("activations_and_optimizers.svg").is_file(),
        "activations_and_optimizers wrote no curves"
    );
}

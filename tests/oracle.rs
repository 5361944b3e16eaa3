//! Engram against an independent oracle: `tests/fixtures/oracle.json`, computed by JAX
//! (`tools/oracle/oracle.py`, versions pinned beside it). For each case: the value, the
//! gradient of `⟨f(x), r⟩`, and its Hessian-vector product, compared in f64.
//!
//! Tolerance: `|engram - jax| <= 1e-10 · max(1, max |jax|)` per tensor, that is relative
//! to the tensor's scale. A per-element relative test is not meaningful where an entry
//! is a near-cancellation (a gradient entry of 1e-17 that is 0 in exact arithmetic);
//! everything else agrees to about 1e-13.

mod common;
use common::tensor;
use engram::autograd::registry::all_cases;
use engram::autograd::{hvp, vjp, Var};
use engram::tensor::{Conv2dOptions, Pool2dOptions, Tensor};
use serde_json::Value;

const FIXTURES: &str = include_str!("fixtures/oracle.json");
const RTOL: f64 = 1e-10;

/// Softmax cross-entropy of `logits` `[N, C]` against the class of each row, averaged
/// over the rows: `-mean_n log_softmax(logits)[n, rows[n]]`, as the JAX composites define it.
fn cross_entropy(logits: &Var<f64>, rows: &[usize]) -> Var<f64> {
    let classes = logits.shape()[1];
    let one_hot = Tensor::one_hot(&Tensor::from_vec(rows.to_vec(), &[rows.len()]), classes);
    logits
        .log_softmax(-1)
        .mul(&Var::constant(one_hot))
        .sum()
        .mul_scalar(-1.0 / rows.len() as f64)
}

/// The composites, written with Engram's API (JAX's versions are in the oracle script).
/// A function under test.
type CaseFn = fn(&[Var<f64>]) -> Var<f64>;

fn composite(name: &str) -> Option<CaseFn> {
    let f: CaseFn = match name {
        "composite/mlp_loss" => |p| {
            let h = p[0].matmul(&p[1]).add(&p[2]).tanh();
            cross_entropy(&h.matmul(&p[3]).add(&p[4]), &[0, 2, 1, 2])
        },
        "composite/convnet_loss" => |p| {
            let conv = p[0].conv2d(&p[1], Conv2dOptions::default().padding(1));
            let h = conv.add(&p[2].reshape(&[1, 3, 1, 1])).relu();
            let pooled = h.max_pool2d(Pool2dOptions::new([2, 2])).reshape(&[2, 27]);
            cross_entropy(&pooled.matmul(&p[3]), &[1, 0])
        },
        "composite/lstm_step" => |p| {
            let z = p[0].matmul(&p[3]).add(&p[1].matmul(&p[4])).add(&p[5]);
            let gates = z.chunk(1, 4);
            let c = gates[1]
                .sigmoid()
                .mul(&p[2])
                .add(&gates[0].sigmoid().mul(&gates[2].tanh()));
            let h = gates[3].sigmoid().mul(&c.tanh());
            Var::concat(&[&h, &c], 1)
        },
        "composite/softmax_cross_entropy" => |p| cross_entropy(&p[0], &[0, 2, 1, 2]),
        "composite/layer_norm" => |p| {
            let centered = p[0].sub(&p[0].mean_keepdim(&[-1]));
            let var = p[0].var_keepdim(&[-1], 0);
            centered
                .div(&var.add_scalar(1e-5).sqrt())
                .mul(&p[1])
                .add(&p[2])
        },
        "composite/attention" => |p| {
            p[0].matmul(&p[1].transpose(-1, -2))
                .mul_scalar(0.5)
                .softmax(-1)
                .matmul(&p[2])
        },
        "composite/causal_attention" => |p| {
            let causal = Tensor::tril_mask(4, 4, 0);
            let scores = p[0].matmul(&p[1].transpose(-1, -2)) / 3f64.sqrt();
            scores
                .masked_fill(&causal.logical_not(), f64::NEG_INFINITY)
                .softmax(-1)
                .matmul(&p[2])
        },
        _ => return None,
    };
    Some(f)
}

fn function(name: &str) -> CaseFn {
    composite(name).unwrap_or_else(|| {
        all_cases()
            .into_iter()
            .find(|c| c.name() == name)
            .unwrap_or_else(|| panic!("oracle case {name} is not in the registry"))
            .f64
    })
}

/// Largest |a - b| over the tensor, and the scale it is judged against.
fn compare(what: &str, got: &Tensor<f64>, want: &Tensor<f64>) -> Result<f64, String> {
    if got.shape() != want.shape() {
        return Err(format!(
            "{what}: shape {:?}, JAX {:?}",
            got.shape(),
            want.shape()
        ));
    }
    let (g, w) = (got.to_vec(), want.to_vec());
    let scale = w.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    // NaN counts as a mismatch, and as the worst one (`f64::max` would drop it).
    let errors: Vec<f64> = g.iter().zip(&w).map(|(a, b)| (a - b).abs()).collect();
    let err = errors.iter().fold(0.0, |m: f64, &e| {
        if m.is_nan() || e.is_nan() {
            f64::NAN
        } else {
            m.max(e)
        }
    });
    let within = err <= RTOL * scale;
    if !within {
        let at = errors
            .iter()
            .position(|&e| e.is_nan() || e == err)
            .unwrap_or(0);
        return Err(format!(
            "{what}: error {err:.3e} (scale {scale:.3e}) at element {at}: engram {}, JAX {}",
            g[at], w[at]
        ));
    }
    Ok(err / scale)
}

fn check(case: &Value) -> Result<f64, String> {
    let f = function(case["name"].as_str().unwrap());
    let inputs: Vec<Tensor<f64>> = case["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(tensor)
        .collect();
    let tape = engram::autograd::Tape::new();
    let leaves: Vec<Var<f64>> = inputs.iter().map(|x| tape.leaf(x.clone())).collect();
    let refs: Vec<&Var<f64>> = leaves.iter().collect();
    let y = f(&leaves);
    let r = tensor(&case["cotangent"]);
    let mut worst = compare("value", y.value(), &tensor(&case["value"]))?;
    let grads = vjp(&y, &r, &refs);
    for (i, (g, want)) in grads
        .iter()
        .zip(case["grads"].as_array().unwrap())
        .enumerate()
    {
        worst = worst.max(compare(&format!("grad {i}"), g, &tensor(want))?);
    }
    let directions: Vec<Tensor<f64>> = case["directions"]
        .as_array()
        .unwrap()
        .iter()
        .map(tensor)
        .collect();
    // ∇⟨∇⟨f(x), r⟩, v⟩ is the Hessian-vector product of the scalar ⟨f(x), r⟩.
    let projected = y.mul(&Var::constant(r)).sum();
    let hvps = hvp(&projected, &refs, &directions.iter().collect::<Vec<_>>());
    for (i, (h, want)) in hvps.iter().zip(case["hvp"].as_array().unwrap()).enumerate() {
        worst = worst.max(compare(&format!("hvp {i}"), h, &tensor(want))?);
    }
    Ok(worst)
}

#[test]
fn values_gradients_and_hvps_match_jax() {
    let doc: Value = serde_json::from_str(FIXTURES).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    let mut failures = Vec::new();
    let mut worst: (f64, &str) = (0.0, "");
    for case in cases {
        let name = case["name"].as_str().unwrap();
        match check(case) {
            Ok(e) if e > worst.0 => worst = (e, name),
            Ok(_) => {}
            Err(msg) => failures.push(format!("{name}: {msg}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from JAX:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(cases.len() >= 90, "fixture file looks truncated");
    eprintln!(
        "{} oracle cases agree; largest scaled error {:.3e} ({})",
        cases.len(),
        worst.0,
        worst.1
    );
}

#[test]
fn oracle_covers_every_registered_op() {
    let doc: Value = serde_json::from_str(FIXTURES).unwrap();
    let covered: std::collections::BTreeSet<String> = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c["name"]
                .as_str()
                .unwrap()
                .split('/')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    let missing: Vec<&str> = all_cases()
        .iter()
        .map(|c| c.op)
        .filter(|op| !covered.contains(*op))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(
        missing.is_empty(),
        "ops without an oracle case: {missing:?}"
    );
}

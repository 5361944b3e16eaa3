//! `gmm`: the log posterior of a Gaussian mixture with a Wishart prior (ADBench GMM, as
//! fixed by GradBench), and its gradient with respect to alpha, mu, q and l.
//!
//! `Q_k` is lower triangular with diagonal `e^{q_k}` and strict lower part filled from
//! `l_k` column by column. Vectorised over points and components:
//! `β = α + Σ q - ½‖Q (x - μ)‖²` as one batched matmul per component.

use super::unknown_function;
use crate::gradbench::input::{
    count, field, fits_in_memory, matrix, number, require, vector, EvalError,
};
use crate::gradbench::output;
use crate::gradbench::timing::{Job, Workload};
use engram_autograd::{grad, Tape, Var};
use engram_tensor::Tensor;
use serde_json::{json, Value};

struct Problem {
    d: usize,
    k: usize,
    n: usize,
    x: Tensor<f64>,
    alpha: Tensor<f64>,
    mu: Tensor<f64>,
    q: Tensor<f64>,
    l: Tensor<f64>,
    gamma: f64,
    m: f64,
}

/// For each of the d·d entries of Q, 1 + its index in `l_k` for the strict lower part
/// (filled column by column), 0 for entries on or above the diagonal (a zero column).
fn lower_map(d: usize) -> Vec<usize> {
    let mut map = vec![0; d * d];
    let mut next = 0;
    for i in 0..d {
        for j in i + 1..d {
            next += 1;
            map[j * d + i] = next;
        }
    }
    map
}

/// `ln Γ_p(a)`, the multivariate log-gamma function.
fn log_gamma_distrib(a: f64, p: usize) -> f64 {
    let pf = p as f64;
    0.25 * pf * (pf - 1.0) * std::f64::consts::PI.ln()
        + (1..=p)
            .map(|j| libm::lgamma(a + 0.5 * (1.0 - j as f64)))
            .sum::<f64>()
}

fn objective(p: &Problem, alpha: &Var<f64>, mu: &Var<f64>, q: &Var<f64>, l: &Var<f64>) -> Var<f64> {
    let (d, k, n) = (p.d, p.k, p.n);
    let q_diag = q.exp();
    let sum_qs = q.sum_axes(&[1]);
    let padded = Var::concat(&[&Var::constant(Tensor::zeros(&[k, 1])), l], 1);
    let lower = padded.index_select(1, &lower_map(d)).reshape(&[k, d, d]);
    let centered = Var::constant(p.x.clone())
        .unsqueeze(0)
        .sub(&mu.unsqueeze(1)); // [k, n, d]
    let qx = centered
        .matmul(&lower.transpose(-1, -2))
        .add(&centered.mul(&q_diag.unsqueeze(1)));
    let main = alpha
        .add(&sum_qs)
        .unsqueeze(1)
        .sub(&qx.square().sum_axes(&[2]).mul_scalar(0.5)); // [k, n]
    let slse = main.logsumexp_axes(&[0]).sum();
    let constant = -(n as f64) * d as f64 * 0.5 * (2.0 * std::f64::consts::PI).ln();
    let data_term = slse
        .sub(&alpha.logsumexp().mul_scalar(n as f64))
        .add_scalar(constant);
    let nw = d as f64 + p.m + 1.0;
    let c = nw * d as f64 * (p.gamma.ln() - 0.5 * 2f64.ln()) - log_gamma_distrib(0.5 * nw, d);
    let frobenius = q_diag.square().sum().add(&l.square().sum());
    let prior = frobenius
        .mul_scalar(0.5 * p.gamma * p.gamma)
        .sub(&sum_qs.sum().mul_scalar(p.m))
        .neg()
        .add_scalar(k as f64 * c);
    data_term.add(&prior)
}

pub fn prepare(function: &str, input: &Value) -> Result<Box<dyn Workload>, EvalError> {
    let d = count(field(input, "d")?, "d")?;
    let k = count(field(input, "k")?, "k")?;
    let n = count(field(input, "n")?, "n")?;
    let x = matrix(field(input, "x")?, "x")?;
    let alpha = vector(field(input, "alpha")?, "alpha")?;
    let mu = matrix(field(input, "mu")?, "mu")?;
    let q = matrix(field(input, "q")?, "q")?;
    let l = matrix(field(input, "l")?, "l")?;
    let gamma = number(field(input, "gamma")?, "gamma")?;
    let m = number(field(input, "m")?, "m")?;
    require(d >= 1 && k >= 1, || "`d` and `k` must be at least 1".into())?;
    require(x.shape() == [n, d], || {
        format!("`x` must be [n={n}, d={d}], got {:?}", x.shape())
    })?;
    let l_size = d * (d - 1) / 2;
    require(alpha.len() == k, || {
        format!("`alpha` must have k={k} entries, got {}", alpha.len())
    })?;
    require(mu.shape() == [k, d] && q.shape() == [k, d], || {
        format!("`mu` and `q` must be [k={k}, d={d}]")
    })?;
    let l = if l_size == 0 {
        Tensor::zeros(&[k, 0])
    } else {
        l
    };
    require(l.shape() == [k, l_size], || {
        format!("`l` must be [k={k}, {l_size}], got {:?}", l.shape())
    })?;
    // The [k, n, d] centred points and their images under Q, forward and back.
    fits_in_memory(
        8.0 * 8.0 * k as f64 * n as f64 * d as f64,
        &format!("k = {k} components of n = {n} points in d = {d}"),
    )?;
    let problem = Problem {
        d,
        k,
        n,
        x,
        alpha: Tensor::from_vec(alpha, &[k]),
        mu,
        q,
        l,
        gamma,
        m,
    };
    match function {
        "objective" => Ok(Job::boxed(
            problem,
            |p| {
                let c = |t: &Tensor<f64>| Var::constant(t.clone());
                Ok(objective(p, &c(&p.alpha), &c(&p.mu), &c(&p.q), &c(&p.l))
                    .value()
                    .item())
            },
            |v| output::number("objective", *v),
        )),
        "jacobian" => Ok(Job::boxed(
            problem,
            |p| {
                let tape = Tape::new();
                let vars: Vec<Var<f64>> = [&p.alpha, &p.mu, &p.q, &p.l]
                    .iter()
                    .map(|t| tape.leaf((*t).clone()))
                    .collect();
                let total = objective(p, &vars[0], &vars[1], &vars[2], &vars[3]);
                Ok(grad(&total, &vars.iter().collect::<Vec<_>>()))
            },
            |g| {
                Ok(json!({
                    "alpha": output::tensor("jacobian.alpha", &g[0])?,
                    "mu": output::tensor("jacobian.mu", &g[1])?,
                    "q": output::tensor("jacobian.q", &g[2])?,
                    "l": output::tensor("jacobian.l", &g[3])?,
                }))
            },
        )),
        other => Err(unknown_function("gmm", other, &["objective", "jacobian"])),
    }
}

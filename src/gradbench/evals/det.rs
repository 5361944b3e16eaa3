//! `det`: the determinant by recursive Laplace expansion along the first row (cmpad's
//! `det_by_minor`), differentiated by the tape.
//!
//! The recursion's arithmetic is kept exactly — every minor is expanded again wherever it
//! recurs, O(ℓ!) products — but each recursion level is one batch: the minors at depth
//! `t` (the first `t` rows removed, identified by the ordered columns chosen so far) are
//! evaluated together as `Σ_j ±A[t, c_j] · det(child_j)`. Children of a minor are
//! contiguous in lexicographic order, so a level is a gather, two products and a sum.

use super::unknown_function;
use crate::gradbench::input::{count, field, require, to_json, vector, EvalError};
use crate::gradbench::timing::{Job, Workload};
use engram_autograd::{grad, Tape, Var};
use engram_tensor::Tensor;
use serde_json::Value;

/// Index plans for each depth: which element of A each term multiplies, and its sign.
struct Plan {
    ell: usize,
    a: Tensor<f64>,
    /// `gathers[t]`: for each minor at depth t (lexicographic), the flat indices
    /// `t·ℓ + c` of its first row's remaining columns `c`, ascending.
    gathers: Vec<Vec<usize>>,
}

impl Plan {
    fn new(ell: usize, a: Tensor<f64>) -> Plan {
        let mut gathers = Vec::with_capacity(ell);
        let mut prefixes: Vec<Vec<usize>> = vec![Vec::new()];
        for t in 0..ell {
            let mut indices = Vec::with_capacity(prefixes.len() * (ell - t));
            let mut next = Vec::with_capacity(prefixes.len() * (ell - t));
            for prefix in &prefixes {
                for c in (0..ell).filter(|c| !prefix.contains(c)) {
                    indices.push(t * ell + c);
                    if t + 1 < ell {
                        let mut child = prefix.clone();
                        child.push(c);
                        next.push(child);
                    }
                }
            }
            gathers.push(indices);
            prefixes = next;
        }
        Plan { ell, a, gathers }
    }

    fn det(&self, a: &Var<f64>) -> Var<f64> {
        let flat = a.reshape(&[self.ell * self.ell]);
        // Deepest level: 1×1 minors are the elements themselves.
        let mut dets = flat.index_select(0, &self.gathers[self.ell - 1]);
        for t in (0..self.ell - 1).rev() {
            let m = self.ell - t;
            let minors = self.gathers[t].len() / m;
            let signs: Vec<f64> = (0..m)
                .map(|j| if j % 2 == 0 { 1.0 } else { -1.0 })
                .collect();
            let first_row = flat.index_select(0, &self.gathers[t]).reshape(&[minors, m]);
            let terms = first_row
                .mul(&dets.reshape(&[minors, m]))
                .mul(&Var::constant(Tensor::from_vec(signs, &[m])));
            dets = terms.sum_axes(&[1]);
        }
        dets.reshape(&[])
    }
}

pub fn prepare(function: &str, input: &Value) -> Result<Box<dyn Workload>, EvalError> {
    let ell = count(field(input, "ell")?, "ell")?;
    let a = vector(field(input, "A")?, "A")?;
    require((1..=12).contains(&ell), || {
        format!("`ell` must be between 1 and 12, got {ell}")
    })?;
    require(a.len() == ell * ell, || {
        format!(
            "`A` must hold ell² = {} numbers, got {}",
            ell * ell,
            a.len()
        )
    })?;
    let plan = Plan::new(ell, Tensor::from_vec(a, &[ell, ell]));
    match function {
        "primal" => Ok(Job::boxed(
            plan,
            |p| Ok(p.det(&Var::constant(p.a.clone())).value().clone()),
            to_json,
        )),
        "gradient" => Ok(Job::boxed(
            plan,
            |p| {
                let tape = Tape::new();
                let a = tape.leaf(p.a.clone());
                Ok(grad(&p.det(&a), &[&a]).remove(0).reshape(&[p.ell * p.ell]))
            },
            to_json,
        )),
        other => Err(unknown_function("det", other, &["primal", "gradient"])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn determinant_and_cofactors_of_a_3x3() {
        let a = Tensor::from_vec(vec![2.0, -1.0, 0.5, 1.0, 3.0, 2.0, -2.0, 0.0, 4.0], &[3, 3]);
        let plan = Plan::new(3, a.clone());
        // 2(12 - 0) + 1(4 + 4) + 0.5(0 + 6) = 35
        assert_eq!(plan.det(&Var::constant(a.clone())).value().item(), 35.0);
        let tape = Tape::new();
        let v = tape.leaf(a);
        let g = grad(&plan.det(&v), &[&v]).remove(0).to_vec();
        // d det / d A = cofactor matrix
        assert_eq!(g, vec![12.0, -8.0, 6.0, 4.0, 9.0, 2.0, -3.5, -3.5, 7.0]);
    }
}

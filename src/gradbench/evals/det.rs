//! `det`: the determinant by recursive Laplace expansion along the first row (cmpad's
//! `det_by_minor`), differentiated by the tape.
//!
//! The recursion's arithmetic is kept exactly — every minor is expanded again wherever it
//! recurs, O(ℓ!) products — but each recursion level is one batch: the minors at depth
//! `t` (the first `t` rows removed, identified by the ordered columns chosen so far) are
//! evaluated together as `Σ_j ±A[t, c_j] · det(child_j)`. Children of a minor are
//! contiguous in lexicographic order, so a level is a gather, two products and a sum.
//!
//! A batch over all ℓ! terms would need memory (and tape) in proportion to ℓ!: 3.8 GB for
//! one level's values at ℓ = 12. So the top `ℓ - SUBTREE` rows are expanded one branch
//! at a time: each branch — a choice of one column in each top row — contributes
//! `±Π A[t, c_t] · det(minor)` with a `SUBTREE × SUBTREE` minor, is recorded on a tape
//! of its own, differentiated, and dropped before the next. The determinant is the sum
//! of the branches and its gradient the sum of theirs (gradients accumulate across
//! backward passes). Memory is one branch's tape plus the `SUBTREE`-sized plan, whatever
//! ℓ is.

use super::unknown_function;
use crate::gradbench::input::{count, field, fits_in_time, require, vector, EvalError};
use crate::gradbench::output;
use crate::gradbench::timing::{Job, Workload};
use engram_autograd::{grad, Tape, Var};
use engram_tensor::Tensor;
use serde_json::Value;

/// The largest minor evaluated as one batch: 9! = 362,880 terms at its deepest level,
/// about 40 MB of tape.
const SUBTREE: usize = 9;

/// The batched expansion of an `s × s` determinant.
struct Plan {
    size: usize,
    /// `gathers[t]`: for each minor at depth t (lexicographic), the flat indices
    /// `t·s + c` of its first row's remaining columns `c`, ascending.
    gathers: Vec<Vec<usize>>,
}

impl Plan {
    /// Builds the index lists level by level from one flat list of remaining columns per
    /// level (no allocation per minor).
    fn new(size: usize) -> Plan {
        let mut gathers = Vec::with_capacity(size);
        let mut remaining: Vec<u8> = (0..size as u8).collect();
        for t in 0..size {
            let width = size - t;
            gathers.push(remaining.iter().map(|&c| t * size + c as usize).collect());
            if width == 1 {
                break;
            }
            // Each minor's children, in order of the column removed.
            let mut next = Vec::with_capacity(remaining.len() * (width - 1));
            for minor in remaining.chunks(width) {
                for skip in 0..width {
                    next.extend(
                        minor
                            .iter()
                            .enumerate()
                            .filter(|&(i, _)| i != skip)
                            .map(|(_, &c)| c),
                    );
                }
            }
            remaining = next;
        }
        Plan { size, gathers }
    }

    /// The determinant of `a` (`[s, s]`).
    fn det(&self, a: &Var<f64>) -> Var<f64> {
        let s = self.size;
        let flat = a.reshape(&[s * s]);
        // Deepest level: 1×1 minors are the elements themselves.
        let mut dets = flat.index_select(0, &self.gathers[s - 1]);
        for t in (0..s - 1).rev() {
            let width = s - t;
            let minors = self.gathers[t].len() / width;
            let signs: Vec<f64> = (0..width)
                .map(|j| if j % 2 == 0 { 1.0 } else { -1.0 })
                .collect();
            let first_row = flat
                .index_select(0, &self.gathers[t])
                .reshape(&[minors, width]);
            let terms = first_row
                .mul(&dets.reshape(&[minors, width]))
                .mul(&Var::constant(Tensor::from_vec(signs, &[width])));
            dets = terms.sum_axes(&[1]);
        }
        dets.reshape(&[])
    }
}

/// One branch of the top rows' expansion: the columns chosen in rows `0..depth` and the
/// sign of that path.
struct Branch<'a> {
    chosen: &'a [usize],
    sign: f64,
}

/// Calls `visit` on every branch through the top `depth` rows of an ℓ × ℓ expansion, in
/// the recursion's order, reusing one buffer.
fn for_each_branch(ell: usize, depth: usize, visit: &mut dyn FnMut(&Branch)) {
    fn descend(
        ell: usize,
        depth: usize,
        chosen: &mut Vec<usize>,
        sign: f64,
        visit: &mut dyn FnMut(&Branch),
    ) {
        if chosen.len() == depth {
            return visit(&Branch { chosen, sign });
        }
        let mut position = 0;
        for c in 0..ell {
            if chosen.contains(&c) {
                continue;
            }
            let term_sign = if position % 2 == 0 { sign } else { -sign };
            chosen.push(c);
            descend(ell, depth, chosen, term_sign, visit);
            chosen.pop();
            position += 1;
        }
    }
    descend(ell, depth, &mut Vec::with_capacity(depth), 1.0, visit)
}

/// `±Π A[t, c_t] · det(minor)` for one branch, on `a`'s tape.
fn branch_term(plan: &Plan, ell: usize, a: &Var<f64>, branch: &Branch) -> Var<f64> {
    let depth = branch.chosen.len();
    let flat = a.reshape(&[ell * ell]);
    let columns: Vec<usize> = (0..ell).filter(|c| !branch.chosen.contains(c)).collect();
    let minor_indices: Vec<usize> = (depth..ell)
        .flat_map(|r| columns.iter().map(move |&c| r * ell + c))
        .collect();
    let minor = flat
        .index_select(0, &minor_indices)
        .reshape(&[plan.size, plan.size]);
    // A chain of products, not `prod`, whose gradient divides by each factor.
    branch
        .chosen
        .iter()
        .enumerate()
        .fold(plan.det(&minor).mul_scalar(branch.sign), |acc, (t, &c)| {
            acc.mul(&flat.narrow(0, t * ell + c, 1).reshape(&[]))
        })
}

/// The determinant and, when asked, its gradient (row-major), branch by branch.
fn expand(a: &Tensor<f64>, ell: usize, gradient: bool) -> (f64, Vec<f64>) {
    let plan = Plan::new(ell.min(SUBTREE));
    let depth = ell - plan.size;
    let mut det = 0.0;
    let mut total = vec![0.0; if gradient { ell * ell } else { 0 }];
    for_each_branch(ell, depth, &mut |branch| {
        if gradient {
            let tape = Tape::new();
            let leaf = tape.leaf(a.clone());
            let term = branch_term(&plan, ell, &leaf, branch);
            det += term.value().item();
            let g = grad(&term, &[&leaf]).remove(0).to_vec();
            total.iter_mut().zip(g).for_each(|(t, g)| *t += g);
        } else {
            det += branch_term(&plan, ell, &Var::constant(a.clone()), branch)
                .value()
                .item();
        }
    });
    (det, total)
}

pub fn prepare(function: &str, input: &Value) -> Result<Box<dyn Workload>, EvalError> {
    let ell = count(field(input, "ell")?, "ell")?;
    let a = vector(field(input, "A")?, "A")?;
    require(ell >= 1, || "`ell` must be at least 1".into())?;
    require(a.len() == ell.saturating_mul(ell), || {
        format!(
            "`A` must hold ell² = {} numbers, got {}",
            ell.saturating_mul(ell),
            a.len()
        )
    })?;
    // About e·ℓ! terms, each a handful of operations forward and back.
    let terms = (1..=ell).map(|i| i as f64).product::<f64>() * std::f64::consts::E;
    fits_in_time(10.0 * terms, &format!("`ell` = {ell}"))?;
    let a = Tensor::from_vec(a, &[ell, ell]);
    match function {
        "primal" => Ok(Job::boxed(
            (a, ell),
            |(a, ell)| Ok(expand(a, *ell, false).0),
            |d| output::number("primal", *d),
        )),
        "gradient" => Ok(Job::boxed(
            (a, ell),
            |(a, ell)| Ok(expand(a, *ell, true).1),
            |g| output::list("gradient", g),
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
        // 2(12 - 0) + 1(4 + 4) + 0.5(0 + 6) = 35
        let (det, grad) = expand(&a, 3, true);
        assert_eq!(det, 35.0);
        // d det / d A = cofactor matrix
        assert_eq!(grad, vec![12.0, -8.0, 6.0, 4.0, 9.0, 2.0, -3.5, -3.5, 7.0]);
    }

    #[test]
    fn branches_above_the_subtree_size_sum_to_the_determinant() {
        // A 10 × 10 upper-triangular matrix with a swapped pair of rows: det = -Π diag.
        let ell = SUBTREE + 1;
        let mut a = vec![0.0; ell * ell];
        for r in 0..ell {
            for c in r..ell {
                a[r * ell + c] = if r == c { 1.0 + r as f64 * 0.1 } else { 0.3 };
            }
        }
        let diag: f64 = (0..ell).map(|r| 1.0 + r as f64 * 0.1).product();
        let (first, second) = a.split_at_mut(ell);
        first.swap_with_slice(&mut second[..ell]);
        let (det, _) = expand(&Tensor::from_vec(a, &[ell, ell]), ell, false);
        assert!((det + diag).abs() < 1e-12 * diag, "{det} vs {}", -diag);
    }

    #[test]
    fn the_plan_lists_every_minor_once_per_path() {
        let plan = Plan::new(4);
        let lengths: Vec<usize> = plan.gathers.iter().map(Vec::len).collect();
        // depth t: 4!/(4-t)! minors of 4 - t columns each.
        assert_eq!(lengths, vec![4, 12, 24, 24]);
        assert_eq!(&plan.gathers[1][..3], &[5, 6, 7]);
    }
}

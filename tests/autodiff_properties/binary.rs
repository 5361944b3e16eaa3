//! Binary ops and `where_cond` over random broadcast groups and strided layouts.

use crate::shapes::{broadcast, broadcast_group, broadcast_index, indices, Layout};
use crate::{assert_op, away_from_zero, on_lattice, uniform, CASES};
use engram::autograd::Var;
use engram::tensor::Tensor;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// The binary ops with a gradient in both operands.
#[derive(Clone, Copy, Debug)]
enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Maximum,
    Minimum,
}

impl Binary {
    /// Inputs of the given shapes in the op's smooth domain.
    fn inputs(self, a: &[usize], b: &[usize], seed: u64) -> [Tensor<f64>; 2] {
        let s = seed.wrapping_add(1);
        match self {
            Binary::Add | Binary::Sub | Binary::Mul => {
                [uniform(a, -2.0, 2.0, seed), uniform(b, -2.0, 2.0, s)]
            }
            Binary::Div => [uniform(a, -2.0, 2.0, seed), away_from_zero(b, 0.5, 2.0, s)],
            Binary::Pow => [uniform(a, 0.5, 2.0, seed), uniform(b, -2.0, 2.0, s)],
            Binary::Maximum | Binary::Minimum => [on_lattice(a, 0.0, seed), on_lattice(b, 0.1, s)],
        }
    }

    fn on_vars(self, a: &Var<f64>, b: &Var<f64>) -> Var<f64> {
        match self {
            Binary::Add => a.add(b),
            Binary::Sub => a.sub(b),
            Binary::Mul => a.mul(b),
            Binary::Div => a.div(b),
            Binary::Pow => a.pow(b),
            Binary::Maximum => a.maximum(b),
            Binary::Minimum => a.minimum(b),
        }
    }

    fn on_numbers(self, a: f64, b: f64) -> f64 {
        match self {
            Binary::Add => a + b,
            Binary::Sub => a - b,
            Binary::Mul => a * b,
            Binary::Div => a / b,
            Binary::Pow => a.powf(b),
            Binary::Maximum => a.max(b),
            Binary::Minimum => a.min(b),
        }
    }
}

/// The comparisons that build `where_cond`'s mask.
#[derive(Clone, Copy, Debug)]
enum Comparison {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

impl Comparison {
    fn on_vars(self, a: &Var<f64>, b: &Var<f64>) -> Tensor<bool> {
        match self {
            Comparison::Gt => a.gt(b),
            Comparison::Ge => a.ge(b),
            Comparison::Lt => a.lt(b),
            Comparison::Le => a.le(b),
            Comparison::Eq => a.eq(b),
            Comparison::Ne => a.ne(b),
        }
    }

    fn on_numbers(self, a: f64, b: f64) -> bool {
        match self {
            Comparison::Gt => a > b,
            Comparison::Ge => a >= b,
            Comparison::Lt => a < b,
            Comparison::Le => a <= b,
            Comparison::Eq => a == b,
            Comparison::Ne => a != b,
        }
    }
}

fn comparison() -> impl Strategy<Value = Comparison> {
    prop_oneof![
        Just(Comparison::Gt),
        Just(Comparison::Ge),
        Just(Comparison::Lt),
        Just(Comparison::Le),
        Just(Comparison::Eq),
        Just(Comparison::Ne),
    ]
}

/// `n` shapes that broadcast together, a layout for each, and a seed for the values.
fn operands(n: usize) -> impl Strategy<Value = (Vec<Vec<usize>>, Vec<Layout>, u64)> {
    broadcast_group(n, true).prop_flat_map(|shapes| {
        let layouts: Vec<_> = shapes.iter().map(|s| Layout::strategy(s.len())).collect();
        (Just(shapes), layouts, any::<u64>())
    })
}

/// Each logical input in its layout, and the Vars the op sees (strided views of them).
fn stored(logical: &[Tensor<f64>], layouts: &[Layout]) -> Vec<Tensor<f64>> {
    logical
        .iter()
        .zip(layouts)
        .map(|(x, l)| l.store(x))
        .collect()
}

fn views(v: &[Var<f64>], layouts: &[Layout]) -> Vec<Var<f64>> {
    v.iter().zip(layouts).map(|(x, l)| l.view(x)).collect()
}

fn check_binary(
    op: Binary,
    shapes: &[Vec<usize>],
    layouts: &[Layout],
    seed: u64,
) -> Result<(), TestCaseError> {
    let logical = op.inputs(&shapes[0], &shapes[1], seed);
    let inputs = stored(&logical, layouts);
    let f = |v: &[Var<f64>]| {
        let x = views(v, layouts);
        op.on_vars(&x[0], &x[1])
    };
    let out = broadcast(shapes);
    let expected: Vec<f64> = indices(&out)
        .iter()
        .map(|i| {
            let a = logical[0].get(&broadcast_index(i, &shapes[0]));
            let b = logical[1].get(&broadcast_index(i, &shapes[1]));
            op.on_numbers(a, b)
        })
        .collect();
    assert_op(f, &inputs, &out, &expected)
}

/// `where_cond(c ⋚ d, a, b)`: four operands broadcast together; `c` and `d` sit on
/// lattices that never meet, so no comparison is a tie.
fn check_where(
    cmp: Comparison,
    shapes: &[Vec<usize>],
    layouts: &[Layout],
    seed: u64,
) -> Result<(), TestCaseError> {
    let logical = [
        on_lattice(&shapes[0], 0.0, seed),
        on_lattice(&shapes[1], 0.1, seed.wrapping_add(1)),
        uniform(&shapes[2], -2.0, 2.0, seed.wrapping_add(2)),
        uniform(&shapes[3], -2.0, 2.0, seed.wrapping_add(3)),
    ];
    let inputs = stored(&logical, layouts);
    let f = |v: &[Var<f64>]| {
        let x = views(v, layouts);
        Var::where_cond(&cmp.on_vars(&x[0], &x[1]), &x[2], &x[3])
    };
    let out = broadcast(shapes);
    let at = |k: usize, i: &[usize]| logical[k].get(&broadcast_index(i, &shapes[k]));
    let expected: Vec<f64> = indices(&out)
        .iter()
        .map(|i| {
            if cmp.on_numbers(at(0, i), at(1, i)) {
                at(2, i)
            } else {
                at(3, i)
            }
        })
        .collect();
    assert_op(f, &inputs, &out, &expected)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    #[test]
    fn add_broadcasts((shapes, layouts, seed) in operands(2)) {
        check_binary(Binary::Add, &shapes, &layouts, seed)?;
    }

    #[test]
    fn sub_broadcasts((shapes, layouts, seed) in operands(2)) {
        check_binary(Binary::Sub, &shapes, &layouts, seed)?;
    }

    #[test]
    fn mul_broadcasts((shapes, layouts, seed) in operands(2)) {
        check_binary(Binary::Mul, &shapes, &layouts, seed)?;
    }

    #[test]
    fn div_broadcasts((shapes, layouts, seed) in operands(2)) {
        check_binary(Binary::Div, &shapes, &layouts, seed)?;
    }

    #[test]
    fn pow_with_positive_base_broadcasts((shapes, layouts, seed) in operands(2)) {
        check_binary(Binary::Pow, &shapes, &layouts, seed)?;
    }

    #[test]
    fn maximum_away_from_ties_broadcasts((shapes, layouts, seed) in operands(2)) {
        check_binary(Binary::Maximum, &shapes, &layouts, seed)?;
    }

    #[test]
    fn minimum_away_from_ties_broadcasts((shapes, layouts, seed) in operands(2)) {
        check_binary(Binary::Minimum, &shapes, &layouts, seed)?;
    }

    #[test]
    fn where_cond_of_a_comparison_broadcasts(
        cmp in comparison(),
        (shapes, layouts, seed) in operands(4),
    ) {
        check_where(cmp, &shapes, &layouts, seed)?;
    }
}

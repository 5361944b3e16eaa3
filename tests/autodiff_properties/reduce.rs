//! Reductions over random axis sets (empty, partial, all; written from the front or the
//! back; in any order), with and without keepdim, of strided inputs.

use crate::shapes::{axis_set, indices, ravel, resolve, shape, Layout};
use crate::{assert_forward, assert_gradcheck, away_from_zero, distinct, forward, uniform, CASES};
use engram::autograd::Var;
use engram::tensor::Tensor;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

#[derive(Clone, Copy, Debug)]
enum Reduction {
    Sum,
    Mean,
    Prod,
    Max,
    Min,
    LogSumExp,
    /// Variance with this correction.
    Var(usize),
}

/// Which axes: the method without axes (`x.sum()`), or a set with or without keepdim.
#[derive(Clone, Debug)]
enum Axes {
    All,
    Set { axes: Vec<isize>, keepdim: bool },
}

impl Reduction {
    /// An input in the reduction's smooth domain: products of magnitudes near 1 neither
    /// overflow nor vanish; `max` and `min` get values that never tie.
    fn input(self, shape: &[usize], seed: u64) -> Tensor<f64> {
        match self {
            Reduction::Sum | Reduction::Mean | Reduction::Var(_) => uniform(shape, -2.0, 2.0, seed),
            Reduction::Prod => away_from_zero(shape, 0.6, 1.4, seed),
            Reduction::Max | Reduction::Min => distinct(shape, seed),
            Reduction::LogSumExp => uniform(shape, -3.0, 3.0, seed),
        }
    }

    fn on_var(self, x: &Var<f64>, axes: &Axes) -> Var<f64> {
        match axes {
            Axes::All => match self {
                Reduction::Sum => x.sum(),
                Reduction::Mean => x.mean(),
                Reduction::Prod => x.prod(),
                Reduction::Max => x.max(),
                Reduction::Min => x.min(),
                Reduction::LogSumExp => x.logsumexp(),
                Reduction::Var(c) => x.var(c),
            },
            Axes::Set {
                axes: a,
                keepdim: false,
            } => match self {
                Reduction::Sum => x.sum_axes(a),
                Reduction::Mean => x.mean_axes(a),
                Reduction::Prod => x.prod_axes(a),
                Reduction::Max => x.max_axes(a),
                Reduction::Min => x.min_axes(a),
                Reduction::LogSumExp => x.logsumexp_axes(a),
                Reduction::Var(c) => x.var_axes(a, c),
            },
            Axes::Set {
                axes: a,
                keepdim: true,
            } => match self {
                Reduction::Sum => x.sum_keepdim(a),
                Reduction::Mean => x.mean_keepdim(a),
                Reduction::Prod => x.prod_keepdim(a),
                Reduction::Max => x.max_keepdim(a),
                Reduction::Min => x.min_keepdim(a),
                Reduction::LogSumExp => x.logsumexp_keepdim(a),
                Reduction::Var(c) => x.var_keepdim(a, c),
            },
        }
    }

    /// The reduction of one lane, by its definition. An empty lane gives each
    /// reduction's identity (0, 1, −∞) or NaN where there is none (mean, var).
    fn on_lane(self, lane: &[f64]) -> f64 {
        let n = lane.len() as f64;
        let mean = lane.iter().sum::<f64>() / n;
        match self {
            Reduction::Sum => lane.iter().sum(),
            Reduction::Mean => mean,
            Reduction::Prod => lane.iter().product(),
            Reduction::Max => lane.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            Reduction::Min => lane.iter().copied().fold(f64::INFINITY, f64::min),
            Reduction::LogSumExp => {
                let m = lane.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                if m.is_finite() {
                    m + lane.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
                } else {
                    m
                }
            }
            Reduction::Var(c) if lane.len() <= c => f64::NAN,
            Reduction::Var(c) => {
                lane.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - c as f64)
            }
        }
    }

    /// Whether the reduction refuses an empty lane (it has no identity).
    fn needs_elements(self) -> bool {
        matches!(self, Reduction::Max | Reduction::Min)
    }
}

/// The axes an [`Axes`] reduces, resolved, and whether they are kept as size 1.
fn reduced_axes(axes: &Axes, rank: usize) -> (Vec<usize>, bool) {
    match axes {
        Axes::All => ((0..rank).collect(), false),
        Axes::Set { axes, keepdim } => (axes.iter().map(|&a| resolve(a, rank)).collect(), *keepdim),
    }
}

/// The reference: the output shape, and each output's lane reduced by definition.
fn reference(op: Reduction, x: &Tensor<f64>, axes: &Axes) -> (Vec<usize>, Vec<f64>) {
    let (reduced, keepdim) = reduced_axes(axes, x.rank());
    // An input index (or the input shape) to the output's: a reduced axis is dropped, or
    // kept as `at` (0 for an index, 1 for the shape).
    let project = |of: &[usize], at: usize| -> Vec<usize> {
        (0..of.len())
            .filter_map(|d| match (reduced.contains(&d), keepdim) {
                (false, _) => Some(of[d]),
                (true, true) => Some(at),
                (true, false) => None,
            })
            .collect()
    };
    let out_shape = project(x.shape(), 1);
    let mut lanes = vec![Vec::new(); out_shape.iter().product()];
    for idx in indices(x.shape()) {
        lanes[ravel(&project(&idx, 0), &out_shape)].push(x.get(&idx));
    }
    (out_shape, lanes.iter().map(|l| op.on_lane(l)).collect())
}

fn axes_for(rank: usize) -> impl Strategy<Value = Axes> {
    prop_oneof![
        1 => Just(Axes::All),
        4 => (axis_set(rank), any::<bool>()).prop_map(|(axes, keepdim)| Axes::Set { axes, keepdim }),
    ]
}

/// A shape (empty axes included), an axis choice, a layout and a seed.
fn case() -> impl Strategy<Value = (Vec<usize>, Axes, Layout, u64)> {
    shape(true).prop_flat_map(|s| {
        let rank = s.len();
        (
            Just(s),
            axes_for(rank),
            Layout::strategy(rank),
            any::<u64>(),
        )
    })
}

fn check(
    op: Reduction,
    shape: &[usize],
    axes: &Axes,
    layout: &Layout,
    seed: u64,
) -> Result<(), TestCaseError> {
    let logical = op.input(shape, seed);
    let (out_shape, expected) = reference(op, &logical, axes);
    let (reduced, _) = reduced_axes(axes, shape.len());
    prop_assume!(!(op.needs_elements() && reduced.iter().any(|&d| shape[d] == 0)));
    let stored = layout.store(&logical);
    let f = |v: &[Var<f64>]| op.on_var(&layout.view(&v[0]), axes);
    assert_forward(
        &forward(&f, std::slice::from_ref(&stored)),
        &out_shape,
        &expected,
    )?;
    // Where the reduction is undefined (var without a degree of freedom, the mean of
    // nothing), the forward check above is the whole property.
    if expected.iter().all(|v| v.is_finite()) {
        assert_gradcheck(f, &[stored])?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    #[test]
    fn sum_over_random_axes((shape, axes, layout, seed) in case()) {
        check(Reduction::Sum, &shape, &axes, &layout, seed)?;
    }

    #[test]
    fn mean_over_random_axes((shape, axes, layout, seed) in case()) {
        check(Reduction::Mean, &shape, &axes, &layout, seed)?;
    }

    #[test]
    fn prod_over_random_axes((shape, axes, layout, seed) in case()) {
        check(Reduction::Prod, &shape, &axes, &layout, seed)?;
    }

    #[test]
    fn max_away_from_ties_over_random_axes((shape, axes, layout, seed) in case()) {
        check(Reduction::Max, &shape, &axes, &layout, seed)?;
    }

    #[test]
    fn min_away_from_ties_over_random_axes((shape, axes, layout, seed) in case()) {
        check(Reduction::Min, &shape, &axes, &layout, seed)?;
    }

    #[test]
    fn logsumexp_over_random_axes((shape, axes, layout, seed) in case()) {
        check(Reduction::LogSumExp, &shape, &axes, &layout, seed)?;
    }

    #[test]
    fn var_with_correction_over_random_axes(
        correction in 0..=2usize,
        (shape, axes, layout, seed) in case(),
    ) {
        check(Reduction::Var(correction), &shape, &axes, &layout, seed)?;
    }
}

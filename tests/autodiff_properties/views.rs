//! Views and joins: permute, transpose, reshape, narrow, NumPy-style indexing with steps,
//! select, broadcast_to, concat, stack and split. Each is linear, so gradcheck's
//! differences are exact and any error is the vjp's; the forward value is compared with
//! the element each output position should read.

use crate::shapes::{
    axis, broadcast, broadcast_group, indices, permutation, resolve, shape, shape_of_rank_at_least,
    Layout, MAX_RANK,
};
use crate::{assert_op, uniform, CASES};
use engram::autograd::Var;
use engram::tensor::{AxisIndex, Tensor};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// Values for a linear op: any will do.
fn values(shape: &[usize], seed: u64) -> Tensor<f64> {
    uniform(shape, -2.0, 2.0, seed)
}

/// The reference of a view: each output position reads the input element `source` names.
fn gathered(x: &Tensor<f64>, out: &[usize], source: impl Fn(&[usize]) -> Vec<usize>) -> Vec<f64> {
    indices(out).iter().map(|i| x.get(&source(i))).collect()
}

/// A shape of rank at least `min_rank` and an axis of it.
fn shape_and_axis(min_rank: usize, empty: bool) -> impl Strategy<Value = (Vec<usize>, isize)> {
    shape_of_rank_at_least(min_rank, empty).prop_flat_map(|s| {
        let rank = s.len();
        (Just(s), axis(rank))
    })
}

/// Python's positions of `start:end:step` on an axis of size `dim` (negative bounds count
/// from the end; bounds are then clamped to the axis).
fn range_positions(start: isize, end: Option<isize>, step: usize, dim: usize) -> Vec<usize> {
    let bound = |i: isize| {
        let i = if i < 0 { i + dim as isize } else { i };
        i.clamp(0, dim as isize) as usize
    };
    let (start, end) = (bound(start), end.map_or(dim, bound));
    (start..end.max(start)).step_by(step).collect()
}

/// One axis of an `index` spec for an axis of size `dim`: a position (from either end) or
/// a range whose bounds may be negative or past the axis, with a step of 1 to 3.
fn axis_index(dim: usize) -> BoxedStrategy<AxisIndex> {
    let range = (-5..=5isize, proptest::option::of(-5..=5isize), 1..=3usize)
        .prop_map(|(start, end, step)| AxisIndex::Range { start, end, step });
    if dim == 0 {
        return range.boxed();
    }
    let d = dim as isize;
    prop_oneof![(-d..d).prop_map(AxisIndex::At), range].boxed()
}

fn check_index(x: &Tensor<f64>, layout: &Layout, spec: &[AxisIndex]) -> Result<(), TestCaseError> {
    // Per input axis: the positions it reads, and whether it stays in the output.
    let axes: Vec<(Vec<usize>, bool)> = (0..x.rank())
        .map(|d| {
            let dim = x.shape()[d];
            match spec.get(d) {
                Some(&AxisIndex::At(i)) => (vec![resolve(i, dim)], false),
                Some(&AxisIndex::Range { start, end, step }) => {
                    (range_positions(start, end, step, dim), true)
                }
                None => ((0..dim).collect(), true),
            }
        })
        .collect();
    let out: Vec<usize> = axes
        .iter()
        .filter(|(_, kept)| *kept)
        .map(|(p, _)| p.len())
        .collect();
    let expected = gathered(x, &out, |i| {
        let mut kept = i.iter();
        axes.iter()
            .map(|(positions, stays)| {
                if *stays {
                    positions[*kept.next().expect("one output axis per kept axis")]
                } else {
                    positions[0]
                }
            })
            .collect()
    });
    let f = |v: &[Var<f64>]| layout.view(&v[0]).index(spec);
    assert_op(f, &[layout.store(x)], &out, &expected)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    #[test]
    fn permute_reorders_axes(
        (s, order) in shape(true).prop_flat_map(|s| { let r = s.len(); (Just(s), permutation(r)) }),
        seed in any::<u64>(),
    ) {
        let x = values(&s, seed);
        let out: Vec<usize> = order.iter().map(|&o| s[o]).collect();
        let expected = gathered(&x, &out, |i| {
            let mut src = vec![0; s.len()];
            for (k, &o) in order.iter().enumerate() {
                src[o] = i[k];
            }
            src
        });
        assert_op(|v: &[Var<f64>]| v[0].permute(&order), &[x], &out, &expected)?;
    }

    #[test]
    fn transpose_swaps_two_axes(
        (s, a, b) in shape_of_rank_at_least(1, true)
            .prop_flat_map(|s| { let r = s.len(); (Just(s), axis(r), axis(r)) }),
        seed in any::<u64>(),
    ) {
        let x = values(&s, seed);
        let (ra, rb) = (resolve(a, s.len()), resolve(b, s.len()));
        let mut out = s.clone();
        out.swap(ra, rb);
        let expected = gathered(&x, &out, |i| {
            let mut src = i.to_vec();
            src.swap(ra, rb);
            src
        });
        assert_op(|v: &[Var<f64>]| v[0].transpose(a, b), &[x], &out, &expected)?;
    }

    /// Reshape regroups the same dimensions (shuffled, with axes of 1 inserted); the
    /// input is strided, so the reshape must copy in row-major order.
    #[test]
    fn reshape_of_a_strided_view_keeps_row_major_order(
        (s, layout, target) in shape(true).prop_flat_map(|s| {
            let rank = s.len();
            let target = (Just(s.clone()).prop_shuffle(), vec(0..=MAX_RANK, 0..=2)).prop_map(
                |(mut dims, ones)| {
                    for at in ones {
                        dims.insert(at.min(dims.len()), 1);
                    }
                    dims
                },
            );
            (Just(s), Layout::strategy(rank), target)
        }),
        seed in any::<u64>(),
    ) {
        let x = values(&s, seed);
        let f = |v: &[Var<f64>]| layout.view(&v[0]).reshape(&target);
        assert_op(f, &[layout.store(&x)], &target, &x.to_vec())?;
    }

    #[test]
    fn narrow_takes_a_range(
        (s, ax, start, len) in shape_and_axis(1, true).prop_flat_map(|(s, ax)| {
            let dim = s[resolve(ax, s.len())];
            (Just(s), Just(ax), 0..=dim)
                .prop_flat_map(move |(s, ax, start)| (Just(s), Just(ax), Just(start), 0..=dim - start))
        }),
        seed in any::<u64>(),
    ) {
        let x = values(&s, seed);
        let d = resolve(ax, s.len());
        let mut out = s.clone();
        out[d] = len;
        let expected = gathered(&x, &out, |i| {
            let mut src = i.to_vec();
            src[d] += start;
            src
        });
        assert_op(|v: &[Var<f64>]| v[0].narrow(ax, start, len), &[x], &out, &expected)?;
    }

    /// `x.index(s![..])` with positions, ranges past either end, negative bounds and steps,
    /// over a strided input.
    #[test]
    fn index_with_steps_reads_numpy_positions(
        (s, layout, spec) in shape(true).prop_flat_map(|s| {
            let rank = s.len();
            let spec = (0..=rank).prop_flat_map({
                let s = s.clone();
                move |k| s[..k].iter().map(|&d| axis_index(d)).collect::<Vec<_>>()
            });
            (Just(s), Layout::strategy(rank), spec)
        }),
        seed in any::<u64>(),
    ) {
        check_index(&values(&s, seed), &layout, &spec)?;
    }

    #[test]
    fn select_drops_one_axis(
        (s, ax, index) in shape_and_axis(1, false).prop_flat_map(|(s, ax)| {
            let dim = s[resolve(ax, s.len())] as isize;
            (Just(s), Just(ax), -dim..dim)
        }),
        seed in any::<u64>(),
    ) {
        let x = values(&s, seed);
        let d = resolve(ax, s.len());
        let position = resolve(index, s[d]);
        let mut out = s.clone();
        out.remove(d);
        let expected = gathered(&x, &out, |i| {
            let mut src = i.to_vec();
            src.insert(d, position);
            src
        });
        assert_op(|v: &[Var<f64>]| v[0].select(ax, index), &[x], &out, &expected)?;
    }

    #[test]
    fn broadcast_to_expands_size_one_and_new_axes(
        shapes in broadcast_group(2, true),
        seed in any::<u64>(),
    ) {
        let from = &shapes[0];
        let out = broadcast(&shapes);
        let x = values(from, seed);
        let expected = gathered(&x, &out, |i| crate::shapes::broadcast_index(i, from));
        assert_op(|v: &[Var<f64>]| v[0].broadcast_to(&out), &[x], &out, &expected)?;
    }

    #[test]
    fn concat_joins_parts_of_any_length(
        (s, ax, sizes) in shape_and_axis(1, true)
            .prop_flat_map(|(s, ax)| (Just(s), Just(ax), vec(0..=4usize, 1..=3))),
        seed in any::<u64>(),
    ) {
        let d = resolve(ax, s.len());
        let parts: Vec<Tensor<f64>> = sizes
            .iter()
            .enumerate()
            .map(|(k, &n)| {
                let mut shape = s.clone();
                shape[d] = n;
                values(&shape, seed.wrapping_add(k as u64))
            })
            .collect();
        let mut out = s.clone();
        out[d] = sizes.iter().sum();
        let expected: Vec<f64> = indices(&out)
            .iter()
            .map(|i| {
                let (mut part, mut at) = (0, i[d]);
                while at >= sizes[part] {
                    at -= sizes[part];
                    part += 1;
                }
                let mut src = i.clone();
                src[d] = at;
                parts[part].get(&src)
            })
            .collect();
        let f = |v: &[Var<f64>]| Var::concat(&v.iter().collect::<Vec<_>>(), ax);
        assert_op(f, &parts, &out, &expected)?;
    }

    #[test]
    fn stack_adds_an_axis(
        (s, ax, n) in vec(crate::shapes::dim(true), 0..MAX_RANK).prop_flat_map(|s| {
            let r = s.len() as isize + 1;
            (Just(s), -r..r, 1..=3usize)
        }),
        seed in any::<u64>(),
    ) {
        let parts: Vec<Tensor<f64>> = (0..n).map(|k| values(&s, seed.wrapping_add(k as u64))).collect();
        let d = resolve(ax, s.len() + 1);
        let mut out = s.clone();
        out.insert(d, n);
        let expected: Vec<f64> = indices(&out)
            .iter()
            .map(|i| {
                let mut src = i.clone();
                let part = src.remove(d);
                parts[part].get(&src)
            })
            .collect();
        let f = |v: &[Var<f64>]| Var::stack(&v.iter().collect::<Vec<_>>(), ax);
        assert_op(f, &parts, &out, &expected)?;
    }

    /// Split into pieces of random sizes (some empty), each scaled by its number and
    /// joined again: every element must come back from the piece it went to.
    #[test]
    fn split_pieces_join_back(
        (s, ax, cuts) in shape_and_axis(1, true).prop_flat_map(|(s, ax)| {
            let dim = s[resolve(ax, s.len())];
            (Just(s), Just(ax), vec(0..=dim, 0..=3))
        }),
        seed in any::<u64>(),
    ) {
        let d = resolve(ax, s.len());
        let mut bounds = cuts.clone();
        bounds.extend([0, s[d]]);
        bounds.sort_unstable();
        let sizes: Vec<usize> = bounds.windows(2).map(|w| w[1] - w[0]).collect();
        let x = values(&s, seed);
        let piece_of = |at: usize| bounds[1..].iter().position(|&b| at < b).expect("inside the axis");
        let expected: Vec<f64> = indices(&s)
            .iter()
            .map(|i| x.get(i) * (piece_of(i[d]) + 1) as f64)
            .collect();
        let f = |v: &[Var<f64>]| {
            let pieces = v[0].split(ax, &sizes);
            assert_eq!(pieces.len(), sizes.len(), "split gives one piece per size");
            let scaled: Vec<Var<f64>> = pieces
                .iter()
                .enumerate()
                .map(|(k, p)| p.mul_scalar((k + 1) as f64))
                .collect();
            Var::concat(&scaled.iter().collect::<Vec<_>>(), ax)
        };
        assert_op(f, &[x], &s, &expected)?;
    }
}

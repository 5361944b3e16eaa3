//! Shape ops: reshape (and squeeze/unsqueeze/flatten), permute (and transpose), slice (and
//! narrow/split/chunk), broadcast_to, concat (and stack), and pad. Each backward moves the
//! gradient back to where the element came from; none needs the input's values.

use crate::operand::Operand;
use crate::ops::{op_names, InputGrads, Op};
use crate::tape::record;
use crate::var::Var;
use engram_tensor::{
    chunk_sizes, index_steps, normalize_axis, select_position, shape_error, split_ranges,
    stack_axis, AxisIndex, Float, IndexStep, Tensor,
};
use smallvec::SmallVec;

/// A shape op and what its backward needs to know.
#[derive(Clone, Debug)]
pub(crate) enum ShapeOp {
    Reshape,
    Permute(SmallVec<[usize; 6]>),
    BroadcastTo,
    Slice {
        axis: usize,
        start: usize,
        step: usize,
    },
    /// NumPy-style indexing, resolved into plain steps (see `engram_tensor::index_steps`).
    Index(Vec<IndexStep>),
    Concat {
        axis: usize,
        sizes: Vec<usize>,
    },
    Pad(Vec<(usize, usize)>),
}

impl ShapeOp {
    /// `(axis, start, step)` of a slice, which the backward sweep accumulates in place.
    pub(crate) fn slice_geometry(&self) -> Option<(usize, usize, usize)> {
        match *self {
            ShapeOp::Slice { axis, start, step } => Some((axis, start, step)),
            _ => None,
        }
    }

    op_names! {
        ShapeOp::Reshape => "reshape",
        ShapeOp::Permute(_) => "permute",
        ShapeOp::BroadcastTo => "broadcast_to",
        ShapeOp::Slice { .. } => "slice",
        ShapeOp::Index(_) => "index",
        ShapeOp::Concat { .. } => "concat",
        ShapeOp::Pad(_) => "pad",
    }

    pub(crate) fn vjp<T: Float, V: Operand<T>>(
        &self,
        x: &[&V],
        g: &V,
        needs: &[bool],
    ) -> InputGrads<V> {
        let in_shape = x[0].value().shape();
        match self {
            ShapeOp::Reshape => SmallVec::from_elem(Some(g.reshape(in_shape)), 1),
            ShapeOp::Permute(order) => {
                let mut inverse = vec![0; order.len()];
                for (i, &o) in order.iter().enumerate() {
                    inverse[o] = i;
                }
                SmallVec::from_elem(Some(g.permute(&inverse)), 1)
            }
            ShapeOp::BroadcastTo => SmallVec::from_elem(Some(g.sum_to_shape(in_shape)), 1),
            ShapeOp::Slice { axis, start, step } => {
                SmallVec::from_elem(Some(unslice(g, in_shape, *axis, *start, *step)), 1)
            }
            ShapeOp::Index(steps) => SmallVec::from_elem(Some(unindex(g, in_shape, steps)), 1),
            ShapeOp::Concat { axis, sizes } => {
                let mut offset = 0;
                sizes
                    .iter()
                    .zip(needs)
                    .map(|(&size, &need)| {
                        let part = need.then(|| g.slice(*axis as isize, offset, offset + size, 1));
                        offset += size;
                        part
                    })
                    .collect()
            }
            ShapeOp::Pad(widths) => {
                let mut inner = g.clone();
                for (d, &(before, _)) in widths.iter().enumerate() {
                    inner = inner.slice(d as isize, before, before + in_shape[d], 1);
                }
                SmallVec::from_elem(Some(inner), 1)
            }
        }
    }
}

/// Puts an index's gradient back into zeros of the input's shape: the dropped axes come
/// back as size 1, then each axis is put back in place as a slice's gradient is.
fn unindex<T: Float, V: Operand<T>>(g: &V, in_shape: &[usize], steps: &[IndexStep]) -> V {
    if g.value().numel() == 0 {
        return g.lift(Tensor::zeros(in_shape));
    }
    let mut kept = in_shape.to_vec();
    let mut ranges = Vec::with_capacity(steps.len());
    for step in steps {
        let (axis, start, len, step) = match *step {
            IndexStep::Slice {
                axis,
                start,
                end,
                step,
            } => (axis, start, (end - start).div_ceil(step), step),
            IndexStep::Select { axis, index } => (axis, index, 1, 1),
        };
        kept[axis] = len;
        ranges.push((axis, start, step));
    }
    ranges
        .iter()
        .fold(g.reshape(&kept), |gx, &(axis, start, step)| {
            unslice(&gx, in_shape, axis, start, step)
        })
}

/// Puts a slice's gradient back into zeros of the input's shape.
pub(crate) fn unslice<T: Float, V: Operand<T>>(
    g: &V,
    in_shape: &[usize],
    axis: usize,
    start: usize,
    step: usize,
) -> V {
    let len = g.value().shape()[axis];
    let dim = in_shape[axis];
    let rank = in_shape.len();
    let widths = |before: usize, after: usize| -> Vec<(usize, usize)> {
        (0..rank)
            .map(|d| if d == axis { (before, after) } else { (0, 0) })
            .collect()
    };
    if len == 0 {
        return g.lift(Tensor::zeros(in_shape));
    }
    let spread = if step == 1 {
        g.clone()
    } else {
        // Interleave step-1 zeros after each element: [.., len, ..] -> [.., len·step, ..].
        let mut split: Vec<usize> = g.value().shape().to_vec();
        split.insert(axis + 1, 1);
        let mut pad_inner: Vec<(usize, usize)> = vec![(0, 0); rank + 1];
        pad_inner[axis + 1] = (0, step - 1);
        let mut merged: Vec<usize> = g.value().shape().to_vec();
        merged[axis] = len * step;
        g.reshape(&split).pad_zeros(&pad_inner).reshape(&merged)
    };
    let spread_len = spread.value().shape()[axis];
    let fitted = if start + spread_len > dim {
        spread.slice(axis as isize, 0, dim - start, 1)
    } else {
        spread
    };
    let fitted_len = fitted.value().shape()[axis];
    fitted.pad_zeros(&widths(start, dim - start - fitted_len))
}

impl<T: Float> Var<T> {
    #[track_caller]
    fn shaped(&self, op: ShapeOp, value: Tensor<T>) -> Var<T> {
        record(Op::Shape(Box::new(op)), &[self], value)
    }

    /// The same elements in a new shape.
    #[track_caller]
    pub fn reshape(&self, shape: &[usize]) -> Var<T> {
        let value = self.value().reshape(shape);
        self.shaped(ShapeOp::Reshape, value)
    }
    /// Collapses into one dimension.
    #[track_caller]
    pub fn flatten(&self) -> Var<T> {
        self.reshape(&[self.value().numel()])
    }
    /// Removes an axis of size 1.
    #[track_caller]
    pub fn squeeze(&self, axis: isize) -> Var<T> {
        let value = self.value().squeeze(axis);
        self.shaped(ShapeOp::Reshape, value)
    }
    /// Inserts an axis of size 1.
    #[track_caller]
    pub fn unsqueeze(&self, axis: isize) -> Var<T> {
        let value = self.value().unsqueeze(axis);
        self.shaped(ShapeOp::Reshape, value)
    }
    /// Reorders axes: output axis `i` is input axis `order[i]`.
    #[track_caller]
    pub fn permute(&self, order: &[usize]) -> Var<T> {
        let value = self.value().permute(order);
        self.shaped(ShapeOp::Permute(SmallVec::from_slice(order)), value)
    }
    /// Swaps two axes.
    #[track_caller]
    pub fn transpose(&self, a: isize, b: isize) -> Var<T> {
        let rank = self.rank();
        let (a, b) = (
            normalize_axis("transpose", a, rank),
            normalize_axis("transpose", b, rank),
        );
        let mut order: Vec<usize> = (0..rank).collect();
        order.swap(a, b);
        self.permute(&order)
    }
    /// Transpose of the last two axes.
    #[track_caller]
    pub fn t(&self) -> Var<T> {
        if self.rank() < 2 {
            shape_error(
                "t",
                format!("needs at least 2 dimensions, got shape {:?}", self.shape()),
            );
        }
        self.transpose(-2, -1)
    }
    /// Elements `start, start + step, ...` below `end` along `axis`.
    #[track_caller]
    pub fn slice(&self, axis: isize, start: usize, end: usize, step: usize) -> Var<T> {
        let value = self.value().slice(axis, start, end, step);
        let axis = normalize_axis("slice", axis, self.rank());
        self.shaped(ShapeOp::Slice { axis, start, step }, value)
    }
    /// Elements `start..start + len` along `axis`; the range must lie inside the axis
    /// (see [`engram_tensor::Tensor::narrow`]).
    #[track_caller]
    pub fn narrow(&self, axis: isize, start: usize, len: usize) -> Var<T> {
        let value = self.value().narrow(axis, start, len);
        let axis = normalize_axis("narrow", axis, self.rank());
        self.shaped(
            ShapeOp::Slice {
                axis,
                start,
                step: 1,
            },
            value,
        )
    }
    /// Broadcasts to a larger shape (its gradient sums back).
    #[track_caller]
    pub fn broadcast_to(&self, shape: &[usize]) -> Var<T> {
        let value = self.value().broadcast_to(shape);
        self.shaped(ShapeOp::BroadcastTo, value)
    }
    /// Consecutive pieces of the given sizes along `axis` (see [`Tensor::split`]).
    #[track_caller]
    pub fn split(&self, axis: isize, sizes: &[usize]) -> Vec<Var<T>> {
        let (ax, ranges) = split_ranges(self.shape(), axis, sizes);
        ranges
            .into_iter()
            .map(|(start, len)| self.narrow(ax as isize, start, len))
            .collect()
    }
    /// `chunks` pieces of equal size along `axis`, the last possibly smaller (see
    /// [`Tensor::chunk`]).
    #[track_caller]
    pub fn chunk(&self, axis: isize, chunks: usize) -> Vec<Var<T>> {
        self.split(axis, &chunk_sizes(self.shape(), axis, chunks))
    }
    /// The slice at `index` along `axis`, with the axis dropped (see [`Tensor::select`]);
    /// its gradient is the output's gradient placed at that slice, zeros elsewhere.
    #[track_caller]
    pub fn select(&self, axis: isize, index: isize) -> Var<T> {
        let (ax, i) = select_position(self.shape(), axis, index);
        let mut spec = vec![AxisIndex::ALL; ax];
        spec.push(AxisIndex::At(i as isize));
        self.index(spec)
    }
    /// NumPy-style indexing over several axes, written with [`s!`](engram_tensor::s) (see
    /// [`Tensor::index`]); one node, whose gradient is the output's put back where each
    /// element came from, zeros elsewhere.
    ///
    /// ```
    /// use engram_autograd::Tape;
    /// use engram_tensor::{s, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::ones(&[2, 3, 4]));
    /// let y = x.index(s![1, .., ..2]); // x[1, :, :2]
    /// assert_eq!(y.shape(), &[3, 2]);
    /// let g = y.sum().backward();
    /// assert_eq!(g[&x].sum().item(), 6.0);
    /// assert_eq!(g[&x].index(s![1, 0]).to_vec(), vec![1.0, 1.0, 0.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn index(&self, spec: impl AsRef<[AxisIndex]>) -> Var<T> {
        let steps = index_steps(self.shape(), spec.as_ref());
        let value = self.value().index(spec);
        self.shaped(ShapeOp::Index(steps), value)
    }
    /// Pads with `value`, `(before, after)` per axis.
    #[track_caller]
    pub fn pad(&self, widths: &[(usize, usize)], value: T) -> Var<T> {
        let out = self.value().pad(widths, value);
        self.shaped(ShapeOp::Pad(widths.to_vec()), out)
    }

    /// Joins along an existing axis.
    #[track_caller]
    pub fn concat(parts: &[&Var<T>], axis: isize) -> Var<T> {
        let values: Vec<&Tensor<T>> = parts.iter().map(|p| p.value()).collect();
        let value = Tensor::concat(&values, axis);
        let ax = normalize_axis("concat", axis, value.rank());
        let sizes = parts.iter().map(|p| p.shape()[ax]).collect();
        record(
            Op::Shape(Box::new(ShapeOp::Concat { axis: ax, sizes })),
            parts,
            value,
        )
    }

    /// Joins same-shaped Vars along a new axis.
    #[track_caller]
    pub fn stack(parts: &[&Var<T>], axis: isize) -> Var<T> {
        let shapes: Vec<&[usize]> = parts.iter().map(|p| p.shape()).collect();
        let ax = stack_axis(&shapes, axis) as isize;
        let expanded: Vec<Var<T>> = parts.iter().map(|p| p.unsqueeze(ax)).collect();
        Var::concat(&expanded.iter().collect::<Vec<_>>(), ax)
    }
}

/// Gradcheck entries for this family.
#[cfg(feature = "registry")]
pub(crate) fn cases() -> Vec<crate::registry::GradcheckCase> {
    use crate::case;
    use crate::registry::real;
    use engram_tensor::s;
    vec![
        case!("reshape", "matrix", [real(&[3, 4])], second: false, |x| x[0].reshape(&[2, 6]).square()),
        case!("reshape", "transposed_copy", [real(&[4, 3]).transposed()], second: false, |x| x[0].reshape(&[12]).square()),
        case!("reshape", "flatten_size1", [real(&[1, 3, 1])], second: false, |x| x[0].flatten().square()),
        case!("squeeze", "middle", [real(&[2, 1, 3])], second: false, |x| x[0].squeeze(1).square()),
        case!("squeeze", "first", [real(&[1, 3])], second: false, |x| x[0].squeeze(0).square()),
        case!("squeeze", "last_transposed", [real(&[3, 1]).transposed()], second: false, |x| x[0].squeeze(-1).square()),
        case!("unsqueeze", "middle", [real(&[2, 3])], second: false, |x| x[0].unsqueeze(1).square()),
        case!("unsqueeze", "last", [real(&[2, 3])], second: false, |x| x[0].unsqueeze(-1).square()),
        case!("unsqueeze", "transposed", [real(&[3, 2]).transposed()], second: false, |x| x[0].unsqueeze(0).square()),
        case!("permute", "rank3", [real(&[2, 3, 4])], second: false, |x| x[0].permute(&[2, 0, 1]).square().mul(&x[0].permute(&[2, 0, 1]).sin())),
        case!("permute", "transposed_input", [real(&[3, 4]).transposed()], second: false, |x| x[0].permute(&[1, 0]).square()),
        case!("permute", "size1", [real(&[1, 2, 1])], second: false, |x| x[0].permute(&[2, 0, 1]).square()),
        case!("transpose", "matrix", [real(&[3, 4])], second: false, |x| x[0].t().square()),
        case!("transpose", "transposed_input", [real(&[3, 2]).transposed()], second: false, |x| x[0].t().square()),
        case!("transpose", "size1", [real(&[1, 4])], second: false, |x| x[0].transpose(0, 1).square()),
        case!("narrow", "middle", [real(&[5, 3])], second: false, |x| x[0].narrow(0, 1, 3).square()),
        case!("narrow", "transposed", [real(&[4, 3]).transposed()], second: false, |x| x[0].narrow(1, 1, 2).square()),
        case!("narrow", "size1", [real(&[1, 4])], second: false, |x| x[0].narrow(1, 0, 2).square()),
        case!("slice", "step2", [real(&[7, 2])], second: false, |x| x[0].slice(0, 1, 7, 2).square()),
        case!("slice", "step3_tail", [real(&[2, 8])], second: false, |x| x[0].slice(1, 2, 8, 3).square()),
        case!("slice", "transposed", [real(&[4, 5]).transposed()], second: false, |x| x[0].slice(0, 0, 5, 2).square()),
        case!("slice", "empty", [real(&[4, 2])], second: false, |x| x[0].slice(0, 2, 2, 1).square()),
        case!("broadcast_to", "row", [real(&[3])], second: false, |x| x[0].broadcast_to(&[2, 3]).square()),
        case!("broadcast_to", "size1", [real(&[3, 1])], second: false, |x| x[0].broadcast_to(&[2, 3, 4]).square()),
        case!("broadcast_to", "transposed", [real(&[1, 3]).transposed()], second: false, |x| x[0].broadcast_to(&[4, 3]).square()),
        case!("concat", "axis0", [real(&[2, 3]), real(&[1, 3])], second: false, |x| Var::concat(&[&x[0], &x[1]], 0).square()),
        case!("concat", "axis1_transposed", [real(&[2, 3]), real(&[2, 4]).transposed()], second: false, |x| Var::concat(&[&x[0], &x[1]], 1).square()),
        case!("concat", "three_with_empty", [real(&[2]), real(&[0]), real(&[3])], second: false, |x| Var::concat(&[&x[0], &x[1], &x[2]], 0).square()),
        case!("stack", "axis0", [real(&[2, 3]), real(&[2, 3])], second: false, |x| Var::stack(&[&x[0], &x[1]], 0).square()),
        case!("stack", "size1", [real(&[1]), real(&[1])], second: false, |x| Var::stack(&[&x[0], &x[1]], 0).square()),
        case!("stack", "last_transposed", [real(&[2, 3]).transposed(), real(&[2, 3])], second: false, |x| Var::stack(&[&x[0], &x[1]], -1).square()),
        case!("split", "uneven", [real(&[5, 2])], second: false, |x| {
            let p = x[0].split(0, &[2, 3]);
            p[0].sum_axes(&[0]).mul(&p[1].sum_axes(&[0]))
        }),
        case!("split", "transposed", [real(&[3, 4]).transposed()], second: false, |x| {
            let p = x[0].split(1, &[1, 3]);
            p[0].square().sum().add(&p[1].exp().sum())
        }),
        case!("split", "size1", [real(&[1, 2])], second: false, |x| {
            let p = x[0].split(1, &[1, 1]);
            p[0].mul(&p[1]).sum()
        }),
        case!("chunk", "transposed", [real(&[4, 2]).transposed()], second: false, |x| {
            let p = x[0].chunk(0, 2);
            p[0].square().sum().add(&p[1].sin().sum())
        }),
        case!("chunk", "size1", [real(&[1, 3])], second: false, |x| {
            let p = x[0].chunk(1, 3);
            p[0].mul(&p[2]).sum().add(&p[1].square().sum())
        }),
        case!("chunk", "three", [real(&[2, 7])], second: false, |x| {
            let p = x[0].chunk(1, 3);
            p[0].square().sum().add(&p[2].sin().sum())
        }),
        case!("pad", "both_sides", [real(&[2, 3])], second: false, |x| x[0].pad(&[(1, 0), (2, 1)], 0.5).square()),
        case!("pad", "transposed", [real(&[3, 2]).transposed()], second: false, |x| x[0].pad(&[(0, 2), (1, 1)], 0.0).exp()),
        case!("select", "axis0", [real(&[3, 4])], second: false, |x| x[0].select(0, 1).square()),
        case!("select", "negative_transposed", [real(&[4, 3]).transposed()], second: false, |x| x[0].select(-1, -1).exp()),
        case!("select", "size1", [real(&[1, 3, 2])], second: false, |x| x[0].select(0, 0).square()),
        case!("select", "empty", [real(&[3, 0])], second: false, |x| x[0].select(0, 1).square()),
        case!("index", "row_then_prefix", [real(&[2, 3, 4])], second: false, |x| x[0].index(s![1, .., ..2]).square()),
        case!("index", "negative_and_step", [real(&[3, 7])], second: false, |x| x[0].index(s![-1, 1..;3]).exp()),
        case!("index", "transposed_ranges", [real(&[4, 5]).transposed()], second: false, |x| x[0].index(s![1..-1, ..=2]).square()),
        case!("index", "empty_range", [real(&[3, 2])], second: false, |x| x[0].index(s![2..1]).square()),
        case!("pad", "size1", [real(&[1, 1])], second: false, |x| x[0].pad(&[(1, 1), (0, 0)], -1.0).square()),
        case!("reshape", "empty", [real(&[0, 3])], second: false, |x| x[0].reshape(&[3, 0]).square()),
        case!("squeeze", "empty", [real(&[0, 1, 3])], second: false, |x| x[0].squeeze(1).square()),
        case!("unsqueeze", "empty", [real(&[0, 3])], second: false, |x| x[0].unsqueeze(0).square()),
        case!("permute", "empty", [real(&[0, 2, 3])], second: false, |x| x[0].permute(&[2, 0, 1]).square()),
        case!("transpose", "empty", [real(&[2, 0])], second: false, |x| x[0].t().square()),
        case!("narrow", "empty", [real(&[0, 3])], second: false, |x| x[0].narrow(1, 1, 2).square()),
        case!("narrow", "empty_range", [real(&[4, 3])], second: false, |x| x[0].narrow(0, 4, 0).square()),
        case!("broadcast_to", "empty", [real(&[1, 3])], second: false, |x| x[0].broadcast_to(&[0, 3]).square()),
        case!("concat", "empty", [real(&[0, 3]), real(&[0, 2])], second: false, |x| Var::concat(&[&x[0], &x[1]], 1).square()),
        case!("stack", "empty", [real(&[0, 3]), real(&[0, 3])], second: false, |x| Var::stack(&[&x[0], &x[1]], 1).square()),
        case!("split", "empty", [real(&[0, 4])], second: false, |x| {
            let p = x[0].split(1, &[1, 3]);
            p[0].square().sum().add(&p[1].sin().sum())
        }),
        case!("chunk", "empty", [real(&[0, 4])], second: false, |x| {
            let p = x[0].chunk(1, 2);
            p[0].square().sum().add(&p[1].sin().sum())
        }),
        case!("pad", "empty", [real(&[0, 2])], second: false, |x| x[0].pad(&[(1, 1), (0, 1)], 0.5).square()),
    ]
}

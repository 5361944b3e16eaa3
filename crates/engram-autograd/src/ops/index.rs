//! Indexing: gather and scatter_add (each the other's adjoint), index_select and index_add
//! (likewise). The indices are constants; gradients flow through the values.

use crate::operand::Operand;
use crate::ops::{op_names, InputGrads, Op};
use crate::tape::record;
use crate::var::Var;
use engram_tensor::{normalize_axis, Float, Indices, Tensor};
use smallvec::smallvec;

/// An indexing op with its (constant) indices.
#[derive(Clone, Debug)]
pub(crate) enum IndexOp {
    Gather { axis: isize, index: Tensor<usize> },
    ScatterAdd { axis: isize, index: Tensor<usize> },
    IndexSelect { axis: isize, indices: Vec<usize> },
    IndexAdd { axis: isize, indices: Vec<usize> },
}

impl IndexOp {
    op_names! {
        IndexOp::Gather { .. } => "gather",
        IndexOp::ScatterAdd { .. } => "scatter_add",
        IndexOp::IndexSelect { .. } => "index_select",
        IndexOp::IndexAdd { .. } => "index_add",
    }

    pub(crate) fn vjp<T: Float, V: Operand<T>>(
        &self,
        x: &[&V],
        g: &V,
        needs: &[bool],
    ) -> InputGrads<V> {
        let zeros = || g.lift(Tensor::zeros(x[0].value().shape()));
        match self {
            IndexOp::Gather { axis, index } => {
                smallvec![Some(zeros().scatter_add(*axis, index, g))]
            }
            IndexOp::ScatterAdd { axis, index } => smallvec![
                needs[0].then(|| g.clone()),
                needs[1].then(|| g.gather(*axis, index))
            ],
            IndexOp::IndexSelect { axis, indices } => {
                smallvec![Some(zeros().index_add(*axis, indices, g))]
            }
            IndexOp::IndexAdd { axis, indices } => {
                smallvec![
                    needs[0].then(|| g.clone()),
                    needs[1].then(|| g.index_select(*axis, indices))
                ]
            }
        }
    }
}

impl<T: Float> Var<T> {
    /// `out[p] = self[p with p[axis] replaced by index[p]]` (see [`Tensor::gather`]).
    #[track_caller]
    pub fn gather(&self, axis: isize, index: &Tensor<usize>) -> Var<T> {
        let value = self.value().gather(axis, index);
        let axis = normalize_axis("gather", axis, self.rank()) as isize;
        record(
            Op::Index(Box::new(IndexOp::Gather {
                axis,
                index: index.clone(),
            })),
            &[self],
            value,
        )
    }

    /// `self` with `src` added at the indexed positions (see [`Tensor::scatter_add`]).
    #[track_caller]
    pub fn scatter_add(&self, axis: isize, index: &Tensor<usize>, src: &Var<T>) -> Var<T> {
        let value = self.value().scatter_add(axis, index, src.value());
        let axis = normalize_axis("scatter_add", axis, self.rank()) as isize;
        record(
            Op::Index(Box::new(IndexOp::ScatterAdd {
                axis,
                index: index.clone(),
            })),
            &[self, src],
            value,
        )
    }

    /// The slices at `indices` along `axis` (an embedding lookup on axis 0); the indices
    /// are a `&[usize]`, `&Vec<usize>` or a 1-d `&Tensor<usize>` (see [`Indices`]).
    #[track_caller]
    pub fn index_select(&self, axis: isize, indices: impl Indices) -> Var<T> {
        let indices = indices.positions("index_select");
        let value = self.value().index_select(axis, &indices[..]);
        let axis = normalize_axis("index_select", axis, self.rank()) as isize;
        record(
            Op::Index(Box::new(IndexOp::IndexSelect {
                axis,
                indices: indices.into_owned(),
            })),
            &[self],
            value,
        )
    }

    /// `self` with slices of `src` added at `indices` along `axis`.
    #[track_caller]
    pub fn index_add(&self, axis: isize, indices: impl Indices, src: &Var<T>) -> Var<T> {
        let indices = indices.positions("index_add");
        let value = self.value().index_add(axis, &indices[..], src.value());
        let axis = normalize_axis("index_add", axis, self.rank()) as isize;
        record(
            Op::Index(Box::new(IndexOp::IndexAdd {
                axis,
                indices: indices.into_owned(),
            })),
            &[self, src],
            value,
        )
    }
}

/// Gradcheck entries for this family.
#[cfg(feature = "registry")]
pub(crate) fn cases() -> Vec<crate::registry::GradcheckCase> {
    use crate::case;
    use crate::registry::real;
    vec![
        case!("gather", "axis1_repeats", [real(&[3, 4])], second: false, |x| {
            x[0].gather(1, &Tensor::from_vec(vec![0, 0, 3, 2, 1, 1, 3, 0, 2], &[3, 3])).square()
        }),
        case!("gather", "axis0_transposed", [real(&[3, 4]).transposed()], second: false, |x| {
            x[0].gather(0, &Tensor::from_vec(vec![2, 0, 1, 1], &[1, 4])).square()
        }),
        case!("gather", "size1", [real(&[1, 3])], second: false, |x| x[0].gather(-1, &Tensor::from_vec(vec![2, 2], &[1, 2])).square()),
        case!("scatter_add", "axis1", [real(&[2, 4]), real(&[2, 3])], second: false, |x| {
            x[0].scatter_add(1, &Tensor::from_vec(vec![3, 3, 0, 1, 2, 1], &[2, 3]), &x[1]).square()
        }),
        case!("scatter_add", "axis0_transposed", [real(&[2, 3]).transposed(), real(&[1, 3])], second: false, |x| {
            x[0].scatter_add(0, &Tensor::from_vec(vec![1, 0, 1], &[1, 3]), &x[1]).square()
        }),
        case!("scatter_add", "size1", [real(&[1, 1]), real(&[1, 2])], second: false, |x| {
            x[0].scatter_add(1, &Tensor::from_vec(vec![0, 0], &[1, 2]), &x[1]).square()
        }),
        case!("index_select", "rows_repeated", [real(&[4, 3])], second: false, |x| x[0].index_select(0, &[3, 0, 3]).square()),
        case!("index_select", "last_axis_transposed", [real(&[3, 4]).transposed()], second: false, |x| x[0].index_select(-1, &[2, 1]).square()),
        case!("index_select", "empty", [real(&[3, 2])], second: false, |x| x[0].index_select(0, &[]).square()),
        case!("index_select", "tensor_of_indices", [real(&[2, 3])], second: false, |x| {
            x[0].index_select(1, &Tensor::from_vec(vec![2, 2, 0], &[3])).square()
        }),
        case!("index_add", "rows", [real(&[4, 2]), real(&[3, 2])], second: false, |x| x[0].index_add(0, &[1, 3, 1], &x[1]).square()),
        case!("index_add", "axis1_transposed", [real(&[2, 3]).transposed(), real(&[2, 1])], second: false, |x| x[0].index_add(1, &[2], &x[1]).square()),
        case!("index_add", "size1", [real(&[1]), real(&[2])], second: false, |x| x[0].index_add(0, &[0, 0], &x[1]).square()),
        case!("index_add", "empty", [real(&[4, 2]), real(&[0, 2])], second: false, |x| x[0].index_add(0, &[], &x[1]).square()),
        case!("gather", "empty", [real(&[3, 4])], second: false, |x| x[0].gather(1, &Tensor::from_vec(vec![], &[3, 0])).square()),
        case!("scatter_add", "empty", [real(&[2, 4]), real(&[2, 0])], second: false, |x| {
            x[0].scatter_add(1, &Tensor::from_vec(vec![], &[2, 0]), &x[1]).square()
        }),
    ]
}

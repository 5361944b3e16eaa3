//! Every differentiable op, grouped by family. Each family file holds the ops' user-facing
//! methods on `Var`, their vjp rules and their gradcheck registry entries. The `Op` enum is
//! matched exhaustively, so an op without a vjp rule does not compile.

pub(crate) mod conv;
pub(crate) mod elementwise;
pub(crate) mod index;
pub(crate) mod lstm;
pub(crate) mod mask;
pub(crate) mod matmul;
pub(crate) mod reduce;
pub(crate) mod shape;
pub(crate) mod softmax;

use crate::custom::CustomOp;
use crate::operand::Operand;
use engram_tensor::{Float, LstmSaved, Tensor};
use smallvec::{smallvec, SmallVec};
use std::rc::Rc;

/// Gradients for an op's inputs, in order; `None` where an input needs none.
pub(crate) type InputGrads<V> = SmallVec<[Option<V>; 2]>;

/// Writes an op enum's `name()` as an exhaustive `match`, and `NAMES`, every name that
/// match can return, from the same arms. A variant without an arm does not compile, and
/// an arm cannot be left out of `NAMES`: the gradcheck registry's coverage test reads
/// `NAMES`, so an op without cases cannot go unnoticed.
macro_rules! op_names {
    ($($pattern:pat => $name:literal,)*) => {
        /// The op's name, for messages and the gradcheck registry.
        pub(crate) fn name(&self) -> &'static str {
            match self {
                $($pattern => $name,)*
            }
        }

        /// Every name [`Self::name`] can return.
        #[cfg(feature = "registry")]
        pub(crate) const NAMES: &'static [&'static str] = &[$($name),*];
    };
}
pub(crate) use op_names;

/// How a node was made.
#[derive(Clone)]
pub(crate) enum Op<T: Float> {
    /// A value to differentiate by.
    Leaf,
    /// A constant fed into a recorded op; never differentiated.
    Constant,
    Unary(elementwise::UnaryOp<T>),
    Binary(elementwise::BinaryOp),
    // Large payloads are boxed so that every node stays small: a scalar chain then moves
    // little memory per op (see benches/autograd.rs, tape_chain_10k_scalar_ops).
    Where(Box<Tensor<bool>>),
    Reduce(Box<reduce::ReduceOp>),
    Softmax(softmax::SoftmaxOp),
    Shape(Box<shape::ShapeOp>),
    Matmul,
    /// A product plus a bias along its last axis (a linear layer), as one node.
    MatmulBias,
    Conv(Box<conv::ConvOp>),
    Index(Box<index::IndexOp>),
    /// The fused recurrence of an LSTM layer, with what its forward pass saved.
    Lstm(Box<LstmSaved<T>>),
    Custom(Rc<dyn CustomOp<T>>),
}

impl<T: Float> Op<T> {
    /// `(axis, start, step)` when this op is a slice along one axis.
    pub(crate) fn slice_geometry(&self) -> Option<(usize, usize, usize)> {
        match self {
            Op::Shape(s) => s.slice_geometry(),
            _ => None,
        }
    }

    /// The op's name, for messages.
    pub(crate) fn name(&self) -> &str {
        match self {
            Op::Leaf => "leaf",
            Op::Constant => "constant",
            Op::Unary(u) => u.name(),
            Op::Binary(b) => b.name(),
            Op::Where(_) => "where_cond",
            Op::Reduce(r) => r.name(),
            Op::Softmax(s) => s.name(),
            Op::Shape(s) => s.name(),
            Op::Matmul => "matmul",
            Op::MatmulBias => "matmul_bias",
            Op::Conv(c) => c.name(),
            Op::Index(i) => i.name(),
            Op::Lstm(_) => "lstm_recurrence",
            Op::Custom(c) => c.name(),
        }
    }

    /// Every name [`Self::name`] can return for a built-in op: what the gradcheck
    /// registry must cover. Each family's list comes from its own exhaustive `match`
    /// (see `op_names!`); a new variant of `Op` itself adds its family here. Leaves and
    /// constants are values rather than ops, and a custom op is its author's to check.
    #[cfg(feature = "registry")]
    pub(crate) fn all_names() -> Vec<&'static str> {
        [
            elementwise::UnaryOp::<T>::NAMES,
            elementwise::BinaryOp::NAMES,
            &["where_cond"],
            reduce::ReduceKind::NAMES,
            softmax::SoftmaxOp::NAMES,
            shape::ShapeOp::NAMES,
            &["matmul", "matmul_bias"],
            conv::ConvOp::NAMES,
            index::IndexOp::NAMES,
            &["lstm_recurrence"],
        ]
        .concat()
    }

    /// The vector-Jacobian product: given the inputs `x`, the output `y` and the output's
    /// gradient `g`, each input's gradient (only where `needs` says so).
    pub(crate) fn vjp<V: Operand<T>>(
        &self,
        x: &[&V],
        y: &V,
        g: &V,
        needs: &[bool],
    ) -> InputGrads<V> {
        match self {
            Op::Leaf | Op::Constant => SmallVec::new(),
            // Not reached from the sweep, which runs unary nodes on a path of its own
            // (with `g` by value, see `backward::sweep`); here so that every op answers.
            Op::Unary(u) => smallvec![u.vjp(x[0], y, g.clone())],
            Op::Binary(b) => b.vjp(x[0], x[1], y, g, needs),
            Op::Where(m) => mask::where_vjp(m, x, g, needs),
            Op::Reduce(r) => r.vjp(x[0], y, g),
            Op::Softmax(s) => s.vjp(y, g),
            Op::Shape(s) => s.vjp(x, g, needs),
            Op::Matmul => matmul::vjp(x[0], x[1], g, needs),
            Op::MatmulBias => matmul::bias_vjp(x, g, needs),
            Op::Conv(c) => c.vjp(x, g, needs),
            Op::Index(i) => i.vjp(x, g, needs),
            Op::Lstm(saved) => lstm::vjp(saved, x, y, g),
            Op::Custom(c) => {
                let grads = V::custom_vjp(c, x, y, g);
                if grads.len() != x.len() {
                    panic!(
                        "engram: custom op `{}`: its vjp returned {} gradient(s) for {} input(s); \
                         return one `Option<Var>` per input, in order (`None` for an input that \
                         needs no gradient)",
                        c.name(),
                        grads.len(),
                        x.len()
                    );
                }
                grads.into_iter().collect()
            }
        }
    }
}

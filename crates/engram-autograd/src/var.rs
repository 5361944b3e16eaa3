//! `Var`: a tensor value, and where it was recorded if it takes part in differentiation.

use crate::tape::{NodeRef, Tape};
use engram_tensor::{Float, Tensor};

/// A value in a differentiable computation: a tensor plus, when tracked, its node on a
/// [`Tape`]. Ops on Vars record themselves; constants (from [`Var::constant`], `detach`,
/// or computed under `no_grad`) record nothing and receive no gradient.
///
/// Operators work between Vars, between a Var and a constant tensor (either side), and
/// with a scalar on either side, owned or borrowed:
///
/// ```
/// use engram_autograd::Tape;
/// use engram_tensor::Tensor;
/// let tape = Tape::<f64>::new();
/// let x = tape.leaf(Tensor::from_vec(vec![0.5, -1.0], &[2]));
/// let w = tape.leaf(Tensor::from_vec(vec![2.0, 3.0], &[2]));
/// let shift = Tensor::from_vec(vec![0.1, 0.2], &[2]); // a constant
/// let y = (2.0 * (&x * &w).tanh() - &shift) / 3.0 + 1.0 / w.exp();
/// let g = y.sum().backward();
/// assert_eq!(g[&x].shape(), &[2]);
/// ```
///
/// A Var is not `Send`: it holds its tape by `Rc`, and a tape belongs to one thread (use
/// one tape per thread; tensors are `Send` and cross threads freely).
pub struct Var<T: Float = f32> {
    value: Tensor<T>,
    pub(crate) node: Option<NodeRef<T>>,
}

impl<T: Float> Clone for Var<T> {
    fn clone(&self) -> Self {
        Var {
            value: self.value.clone(),
            node: self.node.clone(),
        }
    }
}

impl<T: Float> Var<T> {
    /// A value that takes no part in differentiation.
    pub fn constant(value: Tensor<T>) -> Var<T> {
        Var { value, node: None }
    }

    pub(crate) fn tracked(value: Tensor<T>, node: NodeRef<T>) -> Var<T> {
        Var {
            value,
            node: Some(node),
        }
    }

    /// The computed value.
    pub fn value(&self) -> &Tensor<T> {
        &self.value
    }

    /// The value's dimensions.
    pub fn shape(&self) -> &[usize] {
        self.value.shape()
    }

    /// The value's number of dimensions.
    pub fn rank(&self) -> usize {
        self.value.rank()
    }

    /// True when this Var is recorded and gradients flow to it.
    pub fn requires_grad(&self) -> bool {
        self.node.is_some()
    }

    /// The same value, cut from the graph: as PyTorch's `detach` or JAX's `stop_gradient`.
    pub fn detach(&self) -> Var<T> {
        Var::constant(self.value.clone())
    }

    /// The tape this Var is recorded on, if any.
    pub fn tape(&self) -> Option<&Tape<T>> {
        self.node.as_ref().map(|n| &n.tape)
    }

    /// Its node, checked against the tape's generation.
    #[track_caller]
    pub(crate) fn node_ref(&self) -> Option<&NodeRef<T>> {
        if let Some(n) = &self.node {
            if n.generation != n.tape.generation() {
                panic!(
                    "engram: this Var was recorded before `Tape::clear` and its node is gone; \
                     create Vars again after clearing the tape"
                );
            }
        }
        self.node.as_ref()
    }

    /// Its node, if it is tracked and recorded since the tape's last `clear`.
    pub(crate) fn live_node(&self) -> Option<&NodeRef<T>> {
        self.node
            .as_ref()
            .filter(|n| n.generation == n.tape.generation())
    }
}

impl<T: Float> std::fmt::Debug for Var<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Var(requires_grad={}, {})",
            self.requires_grad(),
            self.value
        )
    }
}

/// Anything that can stand where an op takes a Var: a Var (by value or reference, recorded
/// as usual), or a constant: a tensor or a scalar. `Var::where_cond(&m, &x, 0.0)`,
/// `x.gt(0.5)` and `x.gt(&y)` all take one.
pub trait IntoVar<T: Float> {
    /// The value as a Var; tensors and scalars become constants.
    fn into_var(self) -> Var<T>;
}

impl<T: Float> IntoVar<T> for Var<T> {
    fn into_var(self) -> Var<T> {
        self
    }
}

impl<T: Float> IntoVar<T> for &Var<T> {
    fn into_var(self) -> Var<T> {
        self.clone()
    }
}

impl<T: Float> IntoVar<T> for Tensor<T> {
    fn into_var(self) -> Var<T> {
        Var::constant(self)
    }
}

impl<T: Float> IntoVar<T> for &Tensor<T> {
    fn into_var(self) -> Var<T> {
        Var::constant(self.clone())
    }
}

impl<T: Float> IntoVar<T> for T {
    fn into_var(self) -> Var<T> {
        Var::constant(Tensor::scalar(self))
    }
}

/// The four impls of one operator between two operand types, each owned or borrowed;
/// `$body` sees both sides as references.
macro_rules! operator_impls {
    ($trait:ident, $method:ident, $lhs:ty, $rhs:ty, |$a:ident, $b:ident| $body:expr) => {
        impl<T: Float> std::ops::$trait<$rhs> for $lhs {
            type Output = Var<T>;
            #[track_caller]
            fn $method(self, rhs: $rhs) -> Var<T> {
                let ($a, $b) = (&self, &rhs);
                $body
            }
        }
        impl<T: Float> std::ops::$trait<&$rhs> for $lhs {
            type Output = Var<T>;
            #[track_caller]
            fn $method(self, rhs: &$rhs) -> Var<T> {
                let ($a, $b) = (&self, rhs);
                $body
            }
        }
        impl<T: Float> std::ops::$trait<$rhs> for &$lhs {
            type Output = Var<T>;
            #[track_caller]
            fn $method(self, rhs: $rhs) -> Var<T> {
                let ($a, $b) = (self, &rhs);
                $body
            }
        }
        impl<T: Float> std::ops::$trait<&$rhs> for &$lhs {
            type Output = Var<T>;
            #[track_caller]
            fn $method(self, rhs: &$rhs) -> Var<T> {
                let ($a, $b) = (self, rhs);
                $body
            }
        }
    };
}

/// An operator between Vars, between a Var and a constant tensor (either side), and
/// between a Var and a scalar on its right; `$scalar` says how a Var meets a scalar.
macro_rules! var_operator {
    ($trait:ident, $method:ident, |$v:ident, $c:ident| $scalar:expr) => {
        operator_impls!($trait, $method, Var<T>, Var<T>, |a, b| Var::$method(a, b));
        operator_impls!($trait, $method, Var<T>, Tensor<T>, |a, b| {
            Var::$method(a, &Var::constant(b.clone()))
        });
        operator_impls!($trait, $method, Tensor<T>, Var<T>, |a, b| {
            Var::$method(&Var::constant(a.clone()), b)
        });
        impl<T: Float> std::ops::$trait<T> for &Var<T> {
            type Output = Var<T>;
            #[track_caller]
            fn $method(self, $c: T) -> Var<T> {
                let $v = self;
                $scalar
            }
        }
        impl<T: Float> std::ops::$trait<T> for Var<T> {
            type Output = Var<T>;
            #[track_caller]
            fn $method(self, $c: T) -> Var<T> {
                let $v = &self;
                $scalar
            }
        }
    };
}

var_operator!(Add, add, |v, c| v.add_scalar(c));
var_operator!(Sub, sub, |v, c| v.add_scalar(-c));
var_operator!(Mul, mul, |v, c| v.mul_scalar(c));
var_operator!(Div, div, |v, c| v.div_scalar(c));

/// A scalar on the left of a Var, borrowed or owned (`2.0 * x.sin()`, `1.0 - &x`). The
/// impls are per float type: Rust does not allow them for a generic `T` on the left.
macro_rules! scalar_lhs {
    ($t:ty) => {
        scalar_lhs!($t, Add, add, |c, v| v.add_scalar(c));
        scalar_lhs!($t, Sub, sub, |c, v| v.neg().add_scalar(c));
        scalar_lhs!($t, Mul, mul, |c, v| v.mul_scalar(c));
        scalar_lhs!($t, Div, div, |c, v| v.rdiv_scalar(c));
    };
    ($t:ty, $trait:ident, $method:ident, |$c:ident, $v:ident| $body:expr) => {
        impl std::ops::$trait<&Var<$t>> for $t {
            type Output = Var<$t>;
            #[track_caller]
            fn $method(self, rhs: &Var<$t>) -> Var<$t> {
                let ($c, $v) = (self, rhs);
                $body
            }
        }
        impl std::ops::$trait<Var<$t>> for $t {
            type Output = Var<$t>;
            #[track_caller]
            fn $method(self, rhs: Var<$t>) -> Var<$t> {
                let ($c, $v) = (self, &rhs);
                $body
            }
        }
    };
}

scalar_lhs!(f32);
scalar_lhs!(f64);

impl<T: Float> std::ops::Neg for &Var<T> {
    type Output = Var<T>;
    #[track_caller]
    fn neg(self) -> Var<T> {
        Var::neg(self)
    }
}

impl<T: Float> std::ops::Neg for Var<T> {
    type Output = Var<T>;
    #[track_caller]
    fn neg(self) -> Var<T> {
        Var::neg(&self)
    }
}

//! `Var`: a tensor value, and where it was recorded if it takes part in differentiation.

use crate::tape::{NodeRef, Tape};
use engram_tensor::{Float, Tensor};

/// A value in a differentiable computation: a tensor plus, when tracked, its node on a
/// [`Tape`]. Ops on Vars record themselves; constants (from [`Var::constant`], `detach`,
/// or computed under `no_grad`) record nothing and receive no gradient.
///
/// ```
/// use engram_autograd::Tape;
/// use engram_tensor::Tensor;
/// let tape = Tape::<f64>::new();
/// let x = tape.leaf(Tensor::from_vec(vec![0.5, -1.0], &[2]));
/// let w = tape.leaf(Tensor::from_vec(vec![2.0, 3.0], &[2]));
/// let y = x.mul(&w).tanh().sum();
/// let g = y.backward();
/// assert_eq!(g[&x].shape(), &[2]);
/// ```
pub struct Var<T: Float = f32> {
    value: Tensor<T>,
    node: Option<NodeRef<T>>,
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

macro_rules! var_operator {
    ($trait:ident, $method:ident, $scalar:ident) => {
        impl<T: Float> std::ops::$trait<&Var<T>> for &Var<T> {
            type Output = Var<T>;
            #[track_caller]
            fn $method(self, rhs: &Var<T>) -> Var<T> {
                Var::$method(self, rhs)
            }
        }
        impl<T: Float> std::ops::$trait<Var<T>> for Var<T> {
            type Output = Var<T>;
            #[track_caller]
            fn $method(self, rhs: Var<T>) -> Var<T> {
                Var::$method(&self, &rhs)
            }
        }
        impl<T: Float> std::ops::$trait<&Var<T>> for Var<T> {
            type Output = Var<T>;
            #[track_caller]
            fn $method(self, rhs: &Var<T>) -> Var<T> {
                Var::$method(&self, rhs)
            }
        }
        impl<T: Float> std::ops::$trait<Var<T>> for &Var<T> {
            type Output = Var<T>;
            #[track_caller]
            fn $method(self, rhs: Var<T>) -> Var<T> {
                Var::$method(self, &rhs)
            }
        }
        impl<T: Float> std::ops::$trait<T> for &Var<T> {
            type Output = Var<T>;
            #[track_caller]
            fn $method(self, rhs: T) -> Var<T> {
                $scalar(self, rhs)
            }
        }
        impl<T: Float> std::ops::$trait<T> for Var<T> {
            type Output = Var<T>;
            #[track_caller]
            fn $method(self, rhs: T) -> Var<T> {
                $scalar(&self, rhs)
            }
        }
    };
}

#[track_caller]
fn add_s<T: Float>(v: &Var<T>, c: T) -> Var<T> {
    v.add_scalar(c)
}
#[track_caller]
fn sub_s<T: Float>(v: &Var<T>, c: T) -> Var<T> {
    v.add_scalar(-c)
}
#[track_caller]
fn mul_s<T: Float>(v: &Var<T>, c: T) -> Var<T> {
    v.mul_scalar(c)
}
#[track_caller]
fn div_s<T: Float>(v: &Var<T>, c: T) -> Var<T> {
    v.mul_scalar(T::one() / c)
}

var_operator!(Add, add, add_s);
var_operator!(Sub, sub, sub_s);
var_operator!(Mul, mul, mul_s);
var_operator!(Div, div, div_s);

macro_rules! scalar_lhs {
    ($t:ty) => {
        impl std::ops::Add<&Var<$t>> for $t {
            type Output = Var<$t>;
            #[track_caller]
            fn add(self, rhs: &Var<$t>) -> Var<$t> {
                rhs.add_scalar(self)
            }
        }
        impl std::ops::Sub<&Var<$t>> for $t {
            type Output = Var<$t>;
            #[track_caller]
            fn sub(self, rhs: &Var<$t>) -> Var<$t> {
                rhs.neg().add_scalar(self)
            }
        }
        impl std::ops::Mul<&Var<$t>> for $t {
            type Output = Var<$t>;
            #[track_caller]
            fn mul(self, rhs: &Var<$t>) -> Var<$t> {
                rhs.mul_scalar(self)
            }
        }
        impl std::ops::Div<&Var<$t>> for $t {
            type Output = Var<$t>;
            #[track_caller]
            fn div(self, rhs: &Var<$t>) -> Var<$t> {
                rhs.recip().mul_scalar(self)
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

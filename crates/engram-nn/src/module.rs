//! The `Module` trait: a model is its fields. A module visits its parameters and buffers
//! by name, in field order, with nested names as PyTorch's `state_dict` has them
//! (`encoder.0.weight`); `#[derive(Module)]` writes the visiting from the struct's fields.

use crate::context::Context;
use crate::parameter::{Buffer, Parameter};
use engram_autograd::Var;
use engram_tensor::{Float, Tensor};
use indexmap::IndexMap;

/// Receives a module's parameters and buffers in order. `enter`/`leave` bracket each named
/// field or list element, so a visitor that keeps the stack of names knows each tensor's
/// full path. The lifetime lets a visitor keep the references it is handed.
pub trait Visitor<'a, T: Float> {
    /// Going into the field or element called `name`.
    fn enter(&mut self, name: &str);
    /// Coming back out of the last `enter`.
    fn leave(&mut self);
    /// A parameter at the current path.
    fn parameter(&mut self, parameter: &'a Parameter<T>);
    /// A buffer at the current path.
    fn buffer(&mut self, buffer: &'a Buffer<T>) {
        let _ = buffer;
    }
}

/// As [`Visitor`], with mutable access: how optimizers and checkpoint loading reach every
/// parameter.
pub trait VisitorMut<'a, T: Float> {
    /// Going into the field or element called `name`.
    fn enter(&mut self, name: &str);
    /// Coming back out of the last `enter`.
    fn leave(&mut self);
    /// A parameter at the current path.
    fn parameter(&mut self, parameter: &'a mut Parameter<T>);
    /// A buffer at the current path.
    fn buffer(&mut self, buffer: &'a mut Buffer<T>) {
        let _ = buffer;
    }
}

/// A piece of a model: something that owns parameters and buffers, directly or through
/// sub-modules. Implement it with `#[derive(Module)]`, which visits every field in order
/// (fields that hold no parameters, such as sizes and flags, visit nothing).
///
/// Forward passes are not part of this trait, since modules take different inputs (an
/// LSTM takes a state, attention takes queries, keys and values); single-input layers
/// implement [`Forward`].
///
/// ```
/// use engram_nn::{Module, Parameter};
/// use engram_tensor::Tensor;
///
/// #[derive(Module)]
/// struct Affine {
///     weight: Parameter,
///     bias: Parameter,
///     features: usize,
/// }
///
/// #[derive(Module)]
/// struct Net {
///     layers: Vec<Affine>,
/// }
///
/// let affine = |n| Affine {
///     weight: Parameter::new(Tensor::ones(&[n, n])),
///     bias: Parameter::new(Tensor::zeros(&[n])),
///     features: n,
/// };
/// let net = Net { layers: vec![affine(3), affine(2)] };
/// let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]);
/// assert_eq!(net.num_parameters(), 9 + 3 + 4 + 2);
/// ```
pub trait Module<T: Float = f32> {
    /// Hands every parameter and buffer to `visitor`, in order.
    fn visit<'a>(&'a self, visitor: &mut dyn Visitor<'a, T>);

    /// Hands every parameter and buffer to `visitor` for mutation, in the same order.
    fn visit_mut<'a>(&'a mut self, visitor: &mut dyn VisitorMut<'a, T>);

    /// Every parameter with its full name, in order.
    fn named_parameters(&self) -> Vec<(String, &Parameter<T>)> {
        let mut c = Collect::default();
        self.visit(&mut c);
        c.parameters
    }

    /// Every parameter with its full name, mutable, in order.
    fn named_parameters_mut(&mut self) -> Vec<(String, &mut Parameter<T>)> {
        let mut c = CollectMut::default();
        self.visit_mut(&mut c);
        c.parameters
    }

    /// Every buffer with its full name, in order.
    fn named_buffers(&self) -> Vec<(String, &Buffer<T>)> {
        let mut c = Collect::default();
        self.visit(&mut c);
        c.buffers
    }

    /// Every parameter, in order.
    fn parameters(&self) -> Vec<&Parameter<T>> {
        self.named_parameters()
            .into_iter()
            .map(|(_, p)| p)
            .collect()
    }

    /// The number of scalars in all parameters (buffers not counted), as PyTorch's
    /// `sum(p.numel() for p in model.parameters())`.
    fn num_parameters(&self) -> usize {
        self.parameters().iter().map(|p| p.numel()).sum()
    }

    /// Parameters and buffers by name, in order: PyTorch's `state_dict`. The tensors share
    /// storage with the model (nothing is copied).
    fn state_dict(&self) -> IndexMap<String, Tensor<T>> {
        let mut c = Collect::default();
        self.visit(&mut c);
        let mut out: IndexMap<String, Tensor<T>> = c
            .parameters
            .into_iter()
            .map(|(n, p)| (n, p.value().clone()))
            .collect();
        out.extend(c.buffers.into_iter().map(|(n, b)| (n, b.get())));
        out
    }
}

/// A module with one input and one output: what [`crate::Sequential`]-style containers and
/// the training loop call.
pub trait Forward<T: Float = f32>: Module<T> {
    /// The output for `input`, recorded on `cx`'s tape.
    fn forward(&self, cx: &Context<T>, input: &Var<T>) -> Var<T>;
}

/// The stack of names above the current point of a visit, joined with dots.
#[derive(Default)]
struct Path(Vec<String>);

impl Path {
    fn enter(&mut self, name: &str) {
        self.0.push(name.to_string());
    }
    fn leave(&mut self) {
        self.0.pop();
    }
    fn name(&self) -> String {
        self.0.join(".")
    }
}

struct Collect<'a, T: Float> {
    path: Path,
    parameters: Vec<(String, &'a Parameter<T>)>,
    buffers: Vec<(String, &'a Buffer<T>)>,
}

impl<T: Float> Default for Collect<'_, T> {
    fn default() -> Self {
        Collect {
            path: Path::default(),
            parameters: Vec::new(),
            buffers: Vec::new(),
        }
    }
}

impl<'a, T: Float> Visitor<'a, T> for Collect<'a, T> {
    fn enter(&mut self, name: &str) {
        self.path.enter(name);
    }
    fn leave(&mut self) {
        self.path.leave();
    }
    fn parameter(&mut self, parameter: &'a Parameter<T>) {
        self.parameters.push((self.path.name(), parameter));
    }
    fn buffer(&mut self, buffer: &'a Buffer<T>) {
        self.buffers.push((self.path.name(), buffer));
    }
}

struct CollectMut<'a, T: Float> {
    path: Path,
    parameters: Vec<(String, &'a mut Parameter<T>)>,
}

impl<T: Float> Default for CollectMut<'_, T> {
    fn default() -> Self {
        CollectMut {
            path: Path::default(),
            parameters: Vec::new(),
        }
    }
}

impl<'a, T: Float> VisitorMut<'a, T> for CollectMut<'a, T> {
    fn enter(&mut self, name: &str) {
        self.path.enter(name);
    }
    fn leave(&mut self) {
        self.path.leave();
    }
    fn parameter(&mut self, parameter: &'a mut Parameter<T>) {
        self.parameters.push((self.path.name(), parameter));
    }
}

/// Every named buffer, mutable, in order (for checkpoint loading).
pub fn named_buffers_mut<T: Float, M: Module<T> + ?Sized>(
    module: &mut M,
) -> Vec<(String, &mut Buffer<T>)> {
    struct Buffers<'a, T: Float> {
        path: Path,
        out: Vec<(String, &'a mut Buffer<T>)>,
    }
    impl<'a, T: Float> VisitorMut<'a, T> for Buffers<'a, T> {
        fn enter(&mut self, name: &str) {
            self.path.enter(name);
        }
        fn leave(&mut self) {
            self.path.leave();
        }
        fn parameter(&mut self, _: &'a mut Parameter<T>) {}
        fn buffer(&mut self, buffer: &'a mut Buffer<T>) {
            self.out.push((self.path.name(), buffer));
        }
    }
    let mut b = Buffers {
        path: Path::default(),
        out: Vec::new(),
    };
    module.visit_mut(&mut b);
    b.out
}

impl<T: Float> Module<T> for Parameter<T> {
    fn visit<'a>(&'a self, visitor: &mut dyn Visitor<'a, T>) {
        visitor.parameter(self);
    }
    fn visit_mut<'a>(&'a mut self, visitor: &mut dyn VisitorMut<'a, T>) {
        visitor.parameter(self);
    }
}

impl<T: Float> Module<T> for Buffer<T> {
    fn visit<'a>(&'a self, visitor: &mut dyn Visitor<'a, T>) {
        visitor.buffer(self);
    }
    fn visit_mut<'a>(&'a mut self, visitor: &mut dyn VisitorMut<'a, T>) {
        visitor.buffer(self);
    }
}

/// List elements are named by position, as `nn.ModuleList` and `nn.Sequential` name them.
impl<T: Float, M: Module<T>> Module<T> for Vec<M> {
    fn visit<'a>(&'a self, visitor: &mut dyn Visitor<'a, T>) {
        for (i, m) in self.iter().enumerate() {
            visitor.enter(&i.to_string());
            m.visit(visitor);
            visitor.leave();
        }
    }
    fn visit_mut<'a>(&'a mut self, visitor: &mut dyn VisitorMut<'a, T>) {
        for (i, m) in self.iter_mut().enumerate() {
            visitor.enter(&i.to_string());
            m.visit_mut(visitor);
            visitor.leave();
        }
    }
}

impl<T: Float, M: Module<T>, const N: usize> Module<T> for [M; N] {
    fn visit<'a>(&'a self, visitor: &mut dyn Visitor<'a, T>) {
        for (i, m) in self.iter().enumerate() {
            visitor.enter(&i.to_string());
            m.visit(visitor);
            visitor.leave();
        }
    }
    fn visit_mut<'a>(&'a mut self, visitor: &mut dyn VisitorMut<'a, T>) {
        for (i, m) in self.iter_mut().enumerate() {
            visitor.enter(&i.to_string());
            m.visit_mut(visitor);
            visitor.leave();
        }
    }
}

/// An absent optional part (a layer built without bias) visits nothing.
impl<T: Float, M: Module<T>> Module<T> for Option<M> {
    fn visit<'a>(&'a self, visitor: &mut dyn Visitor<'a, T>) {
        if let Some(m) = self {
            m.visit(visitor);
        }
    }
    fn visit_mut<'a>(&'a mut self, visitor: &mut dyn VisitorMut<'a, T>) {
        if let Some(m) = self {
            m.visit_mut(visitor);
        }
    }
}

impl<T: Float, M: Module<T> + ?Sized> Module<T> for Box<M> {
    fn visit<'a>(&'a self, visitor: &mut dyn Visitor<'a, T>) {
        (**self).visit(visitor);
    }
    fn visit_mut<'a>(&'a mut self, visitor: &mut dyn VisitorMut<'a, T>) {
        (**self).visit_mut(visitor);
    }
}

/// Plain data in a module (sizes, flags, rates) holds no parameters: these impls let
/// `#[derive(Module)]` treat every field alike.
macro_rules! no_parameters {
    ($($t:ty),*) => {$(
        impl<T: Float> Module<T> for $t {
            fn visit<'a>(&'a self, _: &mut dyn Visitor<'a, T>) {}
            fn visit_mut<'a>(&'a mut self, _: &mut dyn VisitorMut<'a, T>) {}
        }
    )*};
}

no_parameters!(
    bool,
    u8,
    u16,
    u32,
    u64,
    usize,
    i8,
    i16,
    i32,
    i64,
    isize,
    f32,
    f64,
    String,
    ()
);

impl<T: Float, U: ?Sized> Module<T> for std::marker::PhantomData<U> {
    fn visit<'a>(&'a self, _: &mut dyn Visitor<'a, T>) {}
    fn visit_mut<'a>(&'a mut self, _: &mut dyn VisitorMut<'a, T>) {}
}

impl<T: Float, A: Module<T>, B: Module<T>> Module<T> for (A, B) {
    fn visit<'a>(&'a self, visitor: &mut dyn Visitor<'a, T>) {
        visitor.enter("0");
        self.0.visit(visitor);
        visitor.leave();
        visitor.enter("1");
        self.1.visit(visitor);
        visitor.leave();
    }
    fn visit_mut<'a>(&'a mut self, visitor: &mut dyn VisitorMut<'a, T>) {
        visitor.enter("0");
        self.0.visit_mut(visitor);
        visitor.leave();
        visitor.enter("1");
        self.1.visit_mut(visitor);
        visitor.leave();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Pair {
        first: Parameter<f64>,
        running: Buffer<f64>,
    }

    impl Module<f64> for Pair {
        fn visit<'a>(&'a self, v: &mut dyn Visitor<'a, f64>) {
            v.enter("first");
            self.first.visit(v);
            v.leave();
            v.enter("running");
            self.running.visit(v);
            v.leave();
        }
        fn visit_mut<'a>(&'a mut self, v: &mut dyn VisitorMut<'a, f64>) {
            v.enter("first");
            self.first.visit_mut(v);
            v.leave();
            v.enter("running");
            self.running.visit_mut(v);
            v.leave();
        }
    }

    fn pair() -> Pair {
        Pair {
            first: Parameter::new(Tensor::ones(&[2, 2])),
            running: Buffer::new(Tensor::zeros(&[2])),
        }
    }

    #[test]
    fn nested_names_follow_fields_and_positions() {
        let model = vec![pair(), pair()];
        let names: Vec<String> = model
            .named_parameters()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["0.first", "1.first"]);
        let buffers: Vec<String> = model.named_buffers().into_iter().map(|(n, _)| n).collect();
        assert_eq!(buffers, ["0.running", "1.running"]);
    }

    #[test]
    fn state_dict_holds_parameters_then_buffers() {
        let model = pair();
        let sd = model.state_dict();
        assert_eq!(sd.keys().collect::<Vec<_>>(), ["first", "running"]);
        assert_eq!(model.num_parameters(), 4);
    }

    #[test]
    fn absent_option_visits_nothing() {
        let none: Option<Pair> = None;
        assert_eq!(none.num_parameters(), 0);
        assert_eq!(Some(pair()).num_parameters(), 4);
    }

    #[test]
    fn mutable_visit_reaches_every_parameter() {
        let mut model = vec![pair(), pair()];
        for (_, p) in model.named_parameters_mut() {
            p.value_mut().as_mut_slice()[0] = 5.0;
        }
        assert!(model.iter().all(|m| m.first.value().to_vec()[0] == 5.0));
        assert_eq!(named_buffers_mut(&mut model).len(), 2);
    }
}

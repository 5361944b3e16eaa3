//! `#[derive(Module)]` on the struct shapes users write: generic over the float type,
//! tuple structs, nested lists, optional parts and skipped fields.

use engram_nn::{Buffer, Module, Parameter};
use engram_tensor::{Float, Tensor};

#[derive(Module)]
struct Affine<T: Float> {
    weight: Parameter<T>,
    bias: Option<Parameter<T>>,
}

#[derive(Module)]
struct Stack<T: Float> {
    layers: Vec<Affine<T>>,
    running_mean: Buffer<T>,
    #[module(skip)]
    _note: std::cell::Cell<u8>,
    width: usize,
}

#[derive(Module)]
struct Pair(Affine<f64>, Affine<f64>);

fn affine<T: Float>(n: usize, bias: bool) -> Affine<T> {
    Affine {
        weight: Parameter::new(Tensor::zeros(&[n, n])),
        bias: bias.then(|| Parameter::new(Tensor::zeros(&[n]))),
    }
}

#[test]
fn generic_struct_visits_fields_in_order_with_nested_names() {
    let stack: Stack<f64> = Stack {
        layers: vec![affine(2, true), affine(3, false)],
        running_mean: Buffer::new(Tensor::zeros(&[3])),
        _note: std::cell::Cell::new(0),
        width: 3,
    };
    let names: Vec<String> = stack
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        ["layers.0.weight", "layers.0.bias", "layers.1.weight"]
    );
    assert_eq!(stack.num_parameters(), 4 + 2 + 9);
    let keys: Vec<String> = stack.state_dict().keys().cloned().collect();
    assert_eq!(keys.last().unwrap(), "running_mean");
}

#[test]
fn tuple_struct_fields_are_named_by_position() {
    let mut pair = Pair(affine(1, true), affine(1, false));
    let names: Vec<String> = pair
        .named_parameters_mut()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["0.weight", "0.bias", "1.weight"]);
}

#[test]
fn same_struct_serves_f32_and_f64() {
    let a: Affine<f32> = affine(2, true);
    let b: Affine<f64> = affine(2, true);
    assert_eq!(a.num_parameters(), b.num_parameters());
}

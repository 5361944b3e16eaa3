//! The autodiff API beyond single ops: scopes, accumulation, tape reuse, custom ops, and
//! higher order (Hessians, jvp) against finite differences.

use approx::assert_relative_eq;
use engram::autograd::{
    grad, grad_graph, gradcheck, gradgradcheck, hvp, jvp, CustomOp, GradcheckOptions, Tape, Var,
};
use engram::tensor::{seeded_rng, Tensor};
use std::rc::Rc;

fn t(data: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(data.to_vec(), shape)
}

#[test]
fn chained_methods_give_the_textbook_gradient() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[1.0, 2.0], &[1, 2]));
    let w = tape.leaf(t(&[0.5, -1.0, 2.0, 0.25], &[2, 2]));
    let loss = x.matmul(&w).relu().sum(); // relu([4.5, -0.5]): only column 0 passes
    let g = loss.backward();
    assert_eq!(g[&x].to_vec(), vec![0.5, 2.0]);
    assert_eq!(g[&w].to_vec(), vec![1.0, 0.0, 2.0, 0.0]);
}

#[test]
fn no_grad_records_nothing_and_gives_constants() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[1.0], &[1]));
    let before = tape.len();
    let y = tape.no_grad(|| x.exp().mul(&x));
    assert_eq!(tape.len(), before);
    assert!(!y.requires_grad());
    assert!(tape.is_recording());
}

#[test]
fn detach_stops_the_gradient() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[3.0], &[1]));
    let y = x.mul(&x.detach()).sum(); // d/dx (x · stop(x)) = stop(x) = 3
    assert_eq!(y.backward()[&x].to_vec(), vec![3.0]);
}

#[test]
fn constants_receive_no_gradient_and_cost_no_backward_node() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[2.0], &[1]));
    let c = Var::constant(t(&[5.0], &[1]));
    let g = x.mul(&c).sum().backward();
    assert_eq!(g[&x].to_vec(), vec![5.0]);
    assert!(g.get(&c).is_none());
    assert_eq!(g.len(), 1);
}

#[test]
fn gradients_accumulate_across_backward_calls() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[1.0, 2.0], &[2]));
    let mut total = engram::autograd::Gradients::empty();
    total.accumulate(x.square().sum().backward()); // 2x
    total.accumulate(x.mul_scalar(3.0).sum().backward()); // 3
    assert_eq!(total[&x].to_vec(), vec![5.0, 7.0]);
}

#[test]
fn clear_reuses_the_tape_between_steps() {
    let tape = Tape::<f64>::new();
    let mut w = t(&[1.0], &[1]);
    for _ in 0..3 {
        tape.clear();
        let wv = tape.leaf(w.clone());
        let g = wv.square().sum().backward();
        w = w.sub(&g[&wv].mul_scalar(0.25));
    }
    assert_relative_eq!(w.item(), 0.125, epsilon = 1e-15); // w ← w/2 each step
    assert_eq!(tape.len(), 3); // leaf, square, sum of the last step only
}

#[test]
#[should_panic(expected = "recorded before `Tape::clear`")]
fn using_a_var_after_clear_panics() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[1.0], &[1]));
    tape.clear();
    let _ = x.exp();
}

#[test]
#[should_panic(expected = "inputs come from two different tapes")]
fn mixing_tapes_panics() {
    let (a, b) = (Tape::<f64>::new(), Tape::<f64>::new());
    let _ = a.leaf(t(&[1.0], &[1])).add(&b.leaf(t(&[1.0], &[1])));
}

#[test]
#[should_panic(expected = "`backward` needs a scalar output, got shape [2]")]
fn backward_of_a_vector_panics_with_advice() {
    let tape = Tape::<f64>::new();
    tape.leaf(t(&[1.0, 2.0], &[2])).exp().backward();
}

#[test]
fn backward_with_a_seed_is_a_vjp() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[1.0, 2.0], &[2]));
    let g = x.square().backward_with(&t(&[10.0, 1.0], &[2]));
    assert_eq!(g[&x].to_vec(), vec![20.0, 4.0]);
}

#[test]
fn grad_with_respect_to_an_intermediate() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[0.5], &[1]));
    let h = x.exp();
    let y = h.square().sum();
    let g = grad(&y, &[&h, &x]);
    assert_relative_eq!(g[0].item(), 2.0 * 0.5f64.exp(), epsilon = 1e-14);
    assert_relative_eq!(g[1].item(), 2.0 * 1.0f64.exp(), epsilon = 1e-14);
}

/// `softsign(x) = x / (1 + |x|)` with a hand-written rule, to show custom ops compose.
struct Softsign;

impl CustomOp<f64> for Softsign {
    fn name(&self) -> &str {
        "softsign"
    }
    fn forward(&self, inputs: &[&Tensor<f64>]) -> Tensor<f64> {
        inputs[0].div(&inputs[0].abs().add_scalar(1.0))
    }
    fn vjp(
        &self,
        inputs: &[Var<f64>],
        _output: &Var<f64>,
        grad: &Var<f64>,
    ) -> Vec<Option<Var<f64>>> {
        let denom = inputs[0].abs().add_scalar(1.0);
        vec![Some(grad.div(&denom.square()))]
    }
}

#[test]
fn custom_op_passes_gradcheck_and_gradgradcheck() {
    let f = |x: &[Var<f64>]| Var::custom(Rc::new(Softsign), &[&x[0]]).mul(&x[0].sin());
    let x = t(&[0.7, -1.3, 2.1, -0.4], &[2, 2]);
    let o = GradcheckOptions::default();
    let first = gradcheck(f, std::slice::from_ref(&x), &o);
    assert!(first.passed(), "{first}");
    let second = gradgradcheck(f, &[x], &o);
    assert!(second.passed(), "{second}");
    // Each report names the check that made it, so a failure log says which order failed.
    assert!(first.to_string().starts_with("gradcheck passed"), "{first}");
    assert!(
        second.to_string().starts_with("gradgradcheck passed"),
        "{second}"
    );
    assert_eq!((first.order, second.order), (1, 2));
}

/// Loss of a 3-4-2 tanh MLP with softmax cross-entropy, parameters packed in one vector.
fn mlp_loss(p: &Var<f64>, x: &Tensor<f64>, labels: &Tensor<f64>) -> Var<f64> {
    let w1 = p.narrow(0, 0, 12).reshape(&[3, 4]);
    let b1 = p.narrow(0, 12, 4);
    let w2 = p.narrow(0, 16, 8).reshape(&[4, 2]);
    let b2 = p.narrow(0, 24, 2);
    let h = Var::constant(x.clone()).matmul(&w1).add(&b1).tanh();
    let logits = h.matmul(&w2).add(&b2);
    logits
        .log_softmax(-1)
        .mul(&Var::constant(labels.clone()))
        .sum()
        .neg()
        .mul_scalar(1.0 / x.shape()[0] as f64)
}

#[test]
fn mlp_hessian_matches_finite_differences_of_its_gradient() {
    let mut rng = seeded_rng(11);
    let x = Tensor::<f64>::randn(&[5, 3], &mut rng);
    let labels = Tensor::<f64>::one_hot(&Tensor::from_vec(vec![0, 1, 1, 0, 1], &[5]), 2);
    let p0 = Tensor::<f64>::randn(&[26], &mut rng).mul_scalar(0.5);
    let gradient_at = |p: &Tensor<f64>| {
        let tape = Tape::new();
        let pv = tape.leaf(p.clone());
        grad(&mlp_loss(&pv, &x, &labels), &[&pv]).remove(0)
    };
    let eps = 1e-5;
    let mut worst: f64 = 0.0;
    for j in 0..26 {
        let tape = Tape::new();
        let pv = tape.leaf(p0.clone());
        let mut e = vec![0.0; 26];
        e[j] = 1.0;
        let column = hvp(&mlp_loss(&pv, &x, &labels), &[&pv], &[&t(&e, &[26])]).remove(0);
        let mut plus = p0.clone();
        plus.as_mut_slice()[j] += eps;
        let mut minus = p0.clone();
        minus.as_mut_slice()[j] -= eps;
        let numeric = gradient_at(&plus)
            .sub(&gradient_at(&minus))
            .mul_scalar(1.0 / (2.0 * eps));
        for (a, n) in column.to_vec().iter().zip(numeric.to_vec()) {
            worst = worst.max((a - n).abs());
        }
    }
    assert!(
        worst < 1e-7,
        "Hessian differs from finite differences by {worst:e}"
    );
}

#[test]
fn hessian_is_symmetric() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[0.3, -0.8, 1.1], &[3]));
    let loss = x.sin().mul(&x.exp()).sum().mul(&x.square().sum());
    let rows: Vec<Vec<f64>> = (0..3)
        .map(|i| {
            let mut e = vec![0.0; 3];
            e[i] = 1.0;
            hvp(&loss, &[&x], &[&t(&e, &[3])]).remove(0).to_vec()
        })
        .collect();
    for (i, row) in rows.iter().enumerate() {
        for (j, &h_ij) in row.iter().enumerate() {
            assert_relative_eq!(h_ij, rows[j][i], epsilon = 1e-12);
        }
    }
}

#[test]
fn jvp_matches_finite_differences() {
    let mut rng = seeded_rng(5);
    let x0 = Tensor::<f64>::randn(&[2, 3], &mut rng);
    let w0 = Tensor::<f64>::randn(&[3, 4], &mut rng);
    let (vx, vw) = (
        Tensor::<f64>::randn(&[2, 3], &mut rng),
        Tensor::<f64>::randn(&[3, 4], &mut rng),
    );
    let f = |x: &Var<f64>, w: &Var<f64>| x.matmul(w).tanh().softmax(-1);
    let tape = Tape::new();
    let (x, w) = (tape.leaf(x0.clone()), tape.leaf(w0.clone()));
    let analytic = jvp(&f(&x, &w), &[&x, &w], &[&vx, &vw]);
    let eps = 1e-6;
    let at = |s: f64| {
        let c = |a: &Tensor<f64>, d: &Tensor<f64>| Var::constant(a.add(&d.mul_scalar(s)));
        f(&c(&x0, &vx), &c(&w0, &vw)).value().clone()
    };
    let numeric = at(eps).sub(&at(-eps)).mul_scalar(1.0 / (2.0 * eps));
    assert_eq!(analytic.shape(), &[2, 4]);
    for (a, n) in analytic.to_vec().iter().zip(numeric.to_vec()) {
        assert!((a - n).abs() < 1e-8, "jvp {a} vs finite difference {n}");
    }
}

#[test]
fn third_derivative_through_repeated_grad_graph() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::scalar(0.5));
    let d1 = grad_graph(&x.sin(), None, &[&x]).remove(0);
    let d2 = grad_graph(&d1, None, &[&x]).remove(0);
    let d3 = grad(&d2, &[&x]).remove(0);
    assert_relative_eq!(d3.item(), -(0.5f64.cos()), epsilon = 1e-15);
}

/// The identity on `[2, 2]`, with a rule that scales the gradient elementwise by `self.0`:
/// wrong on purpose, to see how gradcheck reports it.
struct ScaledIdentity([f64; 4]);

impl CustomOp<f64> for ScaledIdentity {
    fn name(&self) -> &str {
        "scaled_identity"
    }
    fn forward(&self, inputs: &[&Tensor<f64>]) -> Tensor<f64> {
        inputs[0].clone()
    }
    fn vjp(&self, _inputs: &[Var<f64>], _y: &Var<f64>, g: &Var<f64>) -> Vec<Option<Var<f64>>> {
        vec![Some(g.mul(&Var::constant(t(&self.0, &[2, 2]))))]
    }
}

fn check_scaled_identity(scale: [f64; 4]) -> engram::autograd::GradcheckReport {
    gradcheck(
        |v: &[Var<f64>]| Var::custom(Rc::new(ScaledIdentity(scale)), &[&v[0]]),
        &[t(&[1.0, 2.0, 3.0, 4.0], &[2, 2])],
        &GradcheckOptions::default(),
    )
}

#[test]
fn gradcheck_report_names_the_worst_element() {
    let report = check_scaled_identity([1.0, 1.0, 3.0, 1.0]);
    assert!(!report.passed());
    assert_eq!(report.inputs[0].worst_index, Some(vec![1, 0]));
    assert_eq!(report.inputs[0].failures, 1);
    assert!(report.to_string().contains("worst at [1, 0]"), "{report}");
}

#[test]
fn pow_gradient_at_a_zero_base_is_b_times_a_to_the_b_minus_1() {
    let tape = Tape::<f64>::new();
    let a = tape.leaf(t(&[0.0, 0.0, 0.0, 2.0], &[4]));
    let b = tape.leaf(t(&[0.0, 1.0, 2.0, 0.5], &[4]));
    let g = grad(&a.pow(&b).sum(), &[&a, &b]);
    // ∂/∂a = b·a^(b-1): 0 (b = 0), 1, 0 at a = 0, and 0.5/√2 at a = 2; it was NaN at 0.
    assert_eq!(&g[0].to_vec()[..3], &[0.0, 1.0, 0.0]);
    assert_relative_eq!(g[0].to_vec()[3], 0.5 / 2f64.sqrt(), epsilon = 1e-15);
    // ∂/∂b = a^b ln a: 0 at a = 0 for b > 0 (it was 0·(-∞) = NaN).
    assert_eq!(&g[1].to_vec()[1..3], &[0.0, 0.0]);
    let h = x_powf_gradient_at_zero(0.0);
    assert_eq!(h, 0.0);
}

/// The gradient of `x^p` at `x = 0`.
fn x_powf_gradient_at_zero(p: f64) -> f64 {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::scalar(0.0));
    grad(&x.powf(p), &[&x])[0].item()
}

#[test]
fn prod_gradient_with_zero_factors_is_the_product_of_the_others() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[2.0, 0.0, 3.0, 0.0, 0.0, 5.0], &[2, 3]));
    let g = grad(&x.prod_axes(&[1]).sum(), &[&x]).remove(0);
    // Row 0 has one zero: its gradient is 2·3 = 6, the others' is 0. Row 1 has two: all 0.
    assert_eq!(g.to_vec(), vec![0.0, 6.0, 0.0, 0.0, 0.0, 0.0]);
    // And it differentiates again: ∂²(x0·x1·x2)/∂x0∂x1 = x2 = 3 in row 0.
    let d1 = grad_graph(&x.prod_axes(&[1]).sum(), None, &[&x]).remove(0);
    let mut e = vec![0.0; 6];
    e[0] = 1.0;
    let row = hvp(&x.prod_axes(&[1]).sum(), &[&x], &[&t(&e, &[2, 3])]).remove(0);
    assert_eq!(row.to_vec()[1], 3.0);
    assert!(d1.requires_grad());
}

#[test]
#[should_panic(expected = "`Gradients::get`: this Var is recorded on a different tape")]
fn gradients_of_one_tape_refuse_a_var_of_another() {
    let (a, b) = (Tape::<f64>::new(), Tape::<f64>::new());
    let x = a.leaf(t(&[1.0], &[1]));
    let y = b.leaf(t(&[1.0], &[1])); // the same node index, 0, on another tape
    let grads = x.square().sum().backward();
    let _ = grads.get(&y);
}

#[test]
#[should_panic(expected = "`hvp`: 2 input(s) to differentiate by but 1 direction(s)")]
fn hvp_with_too_few_directions_panics() {
    let tape = Tape::<f64>::new();
    let (x, y) = (tape.leaf(t(&[1.0], &[1])), tape.leaf(t(&[2.0], &[1])));
    let loss = x.mul(&y).sum();
    hvp(&loss, &[&x, &y], &[&t(&[1.0], &[1])]);
}

#[test]
#[should_panic(expected = "`hvp`: direction 0 has shape [1] but input 0 has shape [3]")]
fn hvp_with_a_direction_of_the_wrong_shape_panics_instead_of_broadcasting() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[1.0, 2.0, 3.0], &[3]));
    hvp(&x.square().sum(), &[&x], &[&t(&[1.0], &[1])]);
}

#[test]
fn hvp_of_a_linear_loss_is_zero() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[1.0, 2.0], &[2]));
    let h = hvp(&x.mul_scalar(3.0).sum(), &[&x], &[&t(&[1.0, 1.0], &[2])]);
    assert_eq!(h[0].to_vec(), vec![0.0, 0.0]);
}

#[test]
#[should_panic(expected = "`grad`: the output does not require grad")]
fn grad_of_a_loss_computed_under_no_grad_panics() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[1.0], &[1]));
    let loss = tape.no_grad(|| x.square().sum());
    grad(&loss, &[&x]);
}

#[test]
#[should_panic(expected = "`backward`: the output does not require grad")]
fn backward_of_a_detached_loss_panics() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[1.0], &[1]));
    x.square().sum().detach().backward();
}

#[test]
fn grad_for_an_input_the_output_does_not_depend_on_is_zeros() {
    let tape = Tape::<f64>::new();
    let (x, unused) = (tape.leaf(t(&[1.0], &[1])), tape.leaf(t(&[5.0, 6.0], &[2])));
    let g = grad(&x.square().sum(), &[&x, &unused]);
    assert_eq!(g[1].to_vec(), vec![0.0, 0.0]);
}

/// A custom op whose vjp returns a fixed number of gradients, whatever its inputs.
struct Returns(usize);

impl CustomOp<f64> for Returns {
    fn name(&self) -> &str {
        "returns_n"
    }
    fn forward(&self, inputs: &[&Tensor<f64>]) -> Tensor<f64> {
        inputs[0].add(inputs[1])
    }
    fn vjp(&self, _inputs: &[Var<f64>], _y: &Var<f64>, g: &Var<f64>) -> Vec<Option<Var<f64>>> {
        vec![Some(g.clone()); self.0]
    }
}

/// Differentiates `x + y` through [`Returns`], with two inputs.
fn backward_through_returns(n: usize) {
    let tape = Tape::<f64>::new();
    let (x, y) = (tape.leaf(t(&[1.0], &[1])), tape.leaf(t(&[2.0], &[1])));
    Var::custom(Rc::new(Returns(n)), &[&x, &y]).sum().backward();
}

#[test]
#[should_panic(expected = "custom op `returns_n`: its vjp returned 1 gradient(s) for 2 input(s)")]
fn custom_op_with_too_few_gradients_panics() {
    backward_through_returns(1);
}

#[test]
#[should_panic(expected = "custom op `returns_n`: its vjp returned 3 gradient(s) for 2 input(s)")]
fn custom_op_with_too_many_gradients_panics() {
    backward_through_returns(3);
}

#[test]
fn gradcheck_reports_a_nan_derivative_and_where_it_is() {
    // NaN at [1, 0], far off (but finite) at [0, 1]: the NaN is the one to report.
    let report = check_scaled_identity([1.0, 1e6, f64::NAN, 1.0]);
    assert!(!report.passed());
    let input = &report.inputs[0];
    assert_eq!(input.worst_index, Some(vec![1, 0]));
    assert!(input.worst_values.unwrap().0.is_nan());
    assert_eq!((input.failures, input.non_finite), (2, 1));
    assert!(report.max_abs_error().is_nan());
    let text = report.to_string();
    assert!(text.contains("max abs error NaN"), "{text}");
    assert!(text.contains("worst at [1, 0] (analytic NaN"), "{text}");
    assert!(text.contains("1 not finite"), "{text}");
}

#[test]
fn gradcheck_reports_where_the_function_itself_is_not_finite() {
    let report = gradcheck(
        |v: &[Var<f64>]| v[0].ln(),
        &[t(&[2.0, -1.0], &[2])],
        &GradcheckOptions::default(),
    );
    assert!(!report.passed());
    let (index, value) = report.non_finite_output.clone().unwrap();
    assert_eq!(index, vec![1]);
    assert!(value.is_nan());
    assert!(report
        .to_string()
        .contains("the output is not finite: NaN at [1]"));
}

#[test]
fn gradcheck_default_options_follow_the_dtype() {
    let x = Tensor::<f32>::from_vec(vec![0.3, -1.2, 2.0, 0.7], &[2, 2]);
    let report = gradcheck(
        |v: &[Var<f32>]| v[0].tanh().mul(&v[0]).softmax(-1),
        &[x],
        &GradcheckOptions::default(),
    );
    assert!(report.passed(), "{report}");
    assert_eq!(report.tolerances.eps, 1e-3);
}

#[test]
fn gradgradcheck_of_a_linear_function_passes() {
    let report = gradgradcheck(
        |v: &[Var<f64>]| v[0].add(&v[1]).mul_scalar(2.0),
        &[t(&[1.0, 2.0], &[2]), t(&[3.0, 4.0], &[2])],
        &GradcheckOptions::default(),
    );
    assert!(report.passed(), "{report}");
}

#[test]
fn var_gradient_without_degrees_of_freedom_is_nan() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[1.0, 2.0], &[2]));
    let v = x.var(2);
    assert!(v.value().item().is_nan());
    assert!(grad(&v, &[&x])[0].to_vec().iter().all(|g| g.is_nan()));
}

/// The backward sweep adds a slice's gradient into its region of the input's gradient in
/// place: overlapping narrows, a stepped slice, the time steps of a split and a direct use
/// of the same input (whose gradient the accumulator may share) must still add up, in
/// plain and in recorded (grad of grad) sweeps alike.
#[test]
fn slices_of_one_input_accumulate_their_gradients() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::from_vec((0..12).map(f64::from).collect(), &[6, 2]));
    let steps = x.split(0, &[1; 6]);
    let loss = x.narrow(0, 0, 3).sum()
        + x.narrow(0, 1, 3).sum() * 2.0
        + x.slice(0, 1, 6, 2).sum() * 10.0
        + steps[5].sum() * 100.0
        + x.sum();
    // Per row: 1 (direct) + 1 (rows 0-2) + 2 (rows 1-3) + 10 (rows 1, 3, 5) + 100 (row 5).
    let per_row = [2.0, 14.0, 4.0, 13.0, 1.0, 111.0];
    let want: Vec<f64> = per_row.iter().flat_map(|&r| [r, r]).collect();
    assert_eq!(grad(&loss, &[&x])[0].to_vec(), want);
    let recorded = grad_graph(&loss, None, &[&x]).remove(0);
    assert_eq!(recorded.value().to_vec(), want);
}

/// A weight used transposed (`x @ w.t()`, as a linear layer does) gets its gradient in its
/// own row-major layout, so an optimizer updates it without first copying a strided view;
/// for a batch of sequences too, where the product is taken over the flattened batch.
#[test]
fn a_weight_used_transposed_gets_a_contiguous_gradient() {
    for x_shape in [vec![5, 4], vec![2, 3, 4]] {
        let tape = Tape::<f64>::new();
        let n: usize = x_shape.iter().product();
        let x = tape.leaf(Tensor::from_vec(
            (0..n).map(|i| (i as f64 * 0.7).sin()).collect(),
            &x_shape,
        ));
        let w = tape.leaf(Tensor::from_vec(
            (0..12).map(|i| (i as f64 * 0.3).cos()).collect(),
            &[3, 4],
        ));
        let y = x.matmul(&w.t()).square().sum();
        let g = grad(&y, &[&x, &w]);
        assert!(
            g[1].is_contiguous(),
            "weight gradient strides {:?}",
            g[1].strides()
        );
        // Against the gradient through a weight stored already transposed (not a view).
        let wt = tape.leaf(w.value().t().contiguous());
        let y2 = x.matmul(&wt).square().sum();
        let g2 = grad(&y2, &[&x, &wt]);
        let (got, want) = (g[1].to_vec(), g2[1].t().contiguous().to_vec());
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} vs {b}");
        }
        for (a, b) in g[0].to_vec().iter().zip(g2[0].to_vec()) {
            assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} vs {b}");
        }
    }
}

/// A small network with shared inputs, a matmul, a unary chain and a reduction: every
/// kind of node the sweep handles (unary, general, several consumers of one value).
fn branching_loss(tape: &Tape<f64>) -> (Var<f64>, Var<f64>, Var<f64>) {
    let mut rng = seeded_rng(3);
    let w = tape.leaf(Tensor::randn(&[4, 3], &mut rng));
    let x = tape.leaf(Tensor::randn(&[5, 4], &mut rng));
    let h = x.matmul(&w).tanh();
    let loss = (&h * &h.exp()).sum() + x.square().mean();
    (loss, w, x)
}

#[test]
fn backward_once_gives_the_gradients_of_backward() {
    let (kept, once) = (Tape::<f64>::new(), Tape::<f64>::new());
    let (loss_a, w_a, x_a) = branching_loss(&kept);
    let (loss_b, w_b, x_b) = branching_loss(&once);
    let (ga, gb) = (loss_a.backward(), loss_b.backward_once());
    assert_eq!(ga[&w_a].to_vec(), gb[&w_b].to_vec());
    assert_eq!(ga[&x_a].to_vec(), gb[&x_b].to_vec());
}

#[test]
#[should_panic(expected = "whose values `backward_once` has freed")]
fn a_second_pass_after_backward_once_panics() {
    let tape = Tape::<f64>::new();
    let (loss, w, _) = branching_loss(&tape);
    let _ = loss.backward_once();
    let _ = grad(&loss, &[&w]);
}

#[test]
fn clear_after_backward_once_lets_the_tape_record_and_pass_again() {
    let tape = Tape::<f64>::new();
    let (loss, _, _) = branching_loss(&tape);
    let first = loss.backward_once();
    tape.clear();
    let (loss, w, _) = branching_loss(&tape);
    let again = loss.backward();
    assert_eq!(again[&w].shape(), &[4, 3]);
    assert!(first.len() == 2 && again.len() == 2);
}

#[test]
fn matmul_bias_gives_the_numbers_and_gradients_of_matmul_then_add() {
    // Large enough that the bias pass runs in parallel (rows of a linear layer's batch).
    let mut rng = seeded_rng(11);
    let (xv, wv, bv) = (
        Tensor::<f32>::randn(&[128, 96], &mut rng),
        Tensor::<f32>::randn(&[300, 96], &mut rng),
        Tensor::<f32>::randn(&[300], &mut rng),
    );
    let run = |fused: bool| {
        let tape = Tape::<f32>::new();
        let (x, w, b) = (
            tape.leaf(xv.clone()),
            tape.leaf(wv.clone()),
            tape.leaf(bv.clone()),
        );
        let y = if fused {
            x.matmul_bias(&w.t(), &b)
        } else {
            x.matmul(&w.t()) + &b
        };
        let grads = (&y * &y).sum().backward();
        let bits = |t: &Tensor<f32>| t.to_vec().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        (
            bits(y.value()),
            bits(&grads[&x]),
            bits(&grads[&w]),
            bits(&grads[&b]),
        )
    };
    assert!(run(true) == run(false));
}

#[test]
#[should_panic(expected = "`matmul_bias`")]
fn matmul_bias_names_the_shapes_of_a_misfit_bias() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::zeros(&[2, 3]));
    let w = tape.leaf(Tensor::zeros(&[3, 4]));
    let _ = x.matmul_bias(&w, &tape.leaf(Tensor::zeros(&[3])));
}

#[test]
fn relu_gradient_is_the_masked_gradient_bit_for_bit() {
    // Negative upstream gradients where the input is negative give -0.0 (g · 0), as the
    // composed rule does; a masked copy that wrote +0.0 would differ in the bits.
    let x = t(&[-2.0, -0.0, 0.0, 1.5, -1.0, 3.0], &[6]);
    let c = t(&[-1.0, 2.0, -3.0, 4.0, 5.0, -6.0], &[6]);
    let tape = Tape::<f64>::new();
    let xv = tape.leaf(x.clone());
    let grads = (xv.relu() * &tape.constant(c.clone())).sum().backward();
    let want: Vec<u64> = x
        .to_vec()
        .iter()
        .zip(c.to_vec())
        .map(|(&x, c)| (c * if x > 0.0 { 1.0 } else { 0.0 }).to_bits())
        .collect();
    let got: Vec<u64> = grads[&xv].to_vec().iter().map(|v| v.to_bits()).collect();
    assert_eq!(got, want);
}

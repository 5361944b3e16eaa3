//! The model author's API, as a user writes it: operators with scalars and constant
//! tensors on either side, exact division, masks, indexing, lists of Vars, and the
//! low-level update path.

use engram::prelude::*;

fn t(data: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(data.to_vec(), shape)
}

#[test]
fn division_by_a_scalar_is_exact_in_value_and_gradient() {
    // 1/3 is inexact, so x·(1/3) differs from x/3 in the last bit for many x.
    let x0 = Tensor::<f64>::linspace(0.1, 10.0, 1000);
    let tape = Tape::<f64>::new();
    let x = tape.leaf(x0.clone());
    let y = &x / 3.0;
    assert_eq!(y.value().to_vec(), (&x0 / 3.0).to_vec());
    let seed = Tensor::linspace(-2.0, 5.0, 1000);
    let g = y.backward_with(&seed);
    assert_eq!(g[&x].to_vec(), (&seed / 3.0).to_vec());
    let r = 3.0 / &x;
    assert_eq!(r.value().to_vec(), (3.0 / &x0).to_vec());
}

#[test]
fn scalars_on_the_left_take_owned_vars() {
    let tape = Tape::<f32>::new();
    let x = tape.leaf(Tensor::from_vec(vec![0.5, 2.0], &[2]));
    let y = 2.0 * x.sin() + (1.0 - x.cos()) + 1.0 / x.exp() - 4.0;
    let want: Vec<f32> = [0.5f32, 2.0]
        .iter()
        .map(|v| 2.0 * v.sin() + (1.0 - v.cos()) + 1.0 / v.exp() - 4.0)
        .collect();
    assert_eq!(y.value().to_vec(), want);
}

#[test]
fn constant_tensors_combine_with_vars_on_either_side() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[1.0, 2.0], &[2]));
    let c = t(&[10.0, 20.0], &[2]);
    let y = (&x * &c + c.clone() - &x / &c) * (&c - x.clone());
    let g = y.sum().backward();
    // y = (10x + 10 - x/10)(10 - x) at x=1 and (20x + 20 - x/20)(20 - x) at x=2.
    let dy = |x: f64, c: f64| (c - 1.0 / c) * (c - x) - (c * x + c - x / c);
    for (got, want) in g[&x].to_vec().iter().zip([dy(1.0, 10.0), dy(2.0, 20.0)]) {
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }
}

#[test]
fn comparisons_on_vars_take_vars_tensors_and_scalars() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[0.2, 0.7, 0.5], &[3]));
    let y = tape.leaf(t(&[0.3, 0.3, 0.5], &[3]));
    assert_eq!(x.gt(&y).to_vec(), vec![false, true, false]);
    assert_eq!(x.ge(y.clone()).to_vec(), vec![false, true, true]);
    assert_eq!(x.lt(0.5).to_vec(), vec![true, false, false]);
    let low = t(&[0.2], &[1]);
    assert_eq!(x.le(&low).to_vec(), vec![true, false, false]);
    assert_eq!(x.eq(0.5).to_vec(), vec![false, false, true]);
    assert_eq!(x.ne(&y).to_vec(), vec![true, true, false]);
}

#[test]
fn masked_fill_and_triangles_pass_no_gradient_where_masked() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::ones(&[2, 3, 3]));
    let causal = Tensor::tril_mask(3, 3, 0);
    let g = x.masked_fill(&!&causal, -5.0).sum().backward();
    assert_eq!(
        g[&x].to_vec(),
        causal.to_float::<f64>().broadcast_to(&[2, 3, 3]).to_vec()
    );
    let g = x.triu(1).sum().backward();
    assert_eq!(
        g[&x].select(0, 0).to_vec(),
        vec![0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    );
}

#[test]
fn select_and_index_put_the_gradient_back() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::arange(0.0, 12.0, 1.0).reshape(&[3, 4]));
    let row = x.select(0, -1);
    assert_eq!(row.value().to_vec(), vec![8.0, 9.0, 10.0, 11.0]);
    let picked = x.index(s![1.., 1..;2]); // x[1:, 1::2]
    assert_eq!(picked.value().to_vec(), vec![5.0, 7.0, 9.0, 11.0]);
    let g = row.sum().add(&picked.sum()).backward();
    assert_eq!(
        g[&x].to_vec(),
        vec![0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 2.0, 1.0, 2.0]
    );
}

#[test]
fn derivative_functions_take_vecs_of_vars_and_of_tensors() {
    let tape = Tape::<f64>::new();
    let xs: Vec<Var<f64>> = [1.0, 2.0]
        .iter()
        .map(|&v| tape.leaf(Tensor::scalar(v)))
        .collect();
    let f = xs[0].square().mul(&xs[1]); // x²y
    assert_eq!(
        grad(&f, &xs).iter().map(|g| g.item()).collect::<Vec<_>>(),
        vec![4.0, 1.0]
    );
    assert_eq!(grad(&f, &xs[1..])[0].item(), 1.0);
    let tangents = vec![Tensor::scalar(1.0), Tensor::scalar(0.0)];
    assert_eq!(jvp(&f, &xs, &tangents).item(), 4.0);
    let hv = hvp(&f, &xs, &tangents); // H = [[2y, 2x], [2x, 0]]
    assert_eq!(hv[0].item(), 4.0);
    assert_eq!(hv[1].item(), 2.0);
    assert_eq!(grad_graph(&f, None, &xs).len(), 2);
}

#[test]
fn gradients_after_clear_are_none_not_a_panic() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(t(&[1.0, 2.0], &[2]));
    let mut grads = x.square().sum().backward();
    assert_eq!(grads.take(&x).unwrap().to_vec(), vec![2.0, 4.0]);
    assert!(grads.get(&x).is_none(), "taken");
    let grads = x.square().sum().backward();
    tape.clear();
    assert!(grads.get(&x).is_none());
}

#[test]
fn value_and_grad_leaves_the_inputs_unshared_for_an_in_place_update() {
    let target = t(&[1.0, -1.0, 0.5], &[3]);
    let mut w = Tensor::<f64>::zeros(&[3]);
    let storage = w.as_mut_slice().as_ptr();
    let mut losses = Vec::new();
    for _ in 0..50 {
        let (loss, g) = value_and_grad(|p| (&p[0] - &target).square().sum(), &[&w]);
        losses.push(loss.item());
        w.add_scaled_(&g[0], -0.25);
    }
    assert_eq!(w.as_mut_slice().as_ptr(), storage, "updated in place");
    assert!(losses[49] < 1e-20 && losses[0] == 2.25);
}

#[test]
fn pooling_and_conv1d_take_options_structs() {
    let x = Tensor::<f64>::ones(&[1, 2, 6]);
    let w = Tensor::<f64>::ones(&[2, 1, 3]);
    let y = x.conv1d(&w, Conv1dOptions::default().padding(1).groups(2));
    assert_eq!(
        y.to_vec(),
        vec![2.0, 3.0, 3.0, 3.0, 3.0, 2.0, 2.0, 3.0, 3.0, 3.0, 3.0, 2.0]
    );
    let img = Tensor::<f64>::ones(&[1, 1, 3, 3]);
    let opts = Pool2dOptions::new([2, 2]).stride(1).padding(1);
    assert_eq!(img.avg_pool2d(opts).get(&[0, 0, 0, 0]), 0.25);
    assert_eq!(
        img.avg_pool2d(opts.count_include_pad(false))
            .get(&[0, 0, 0, 0]),
        1.0
    );
    assert_eq!(img.max_pool2d(opts).shape(), &[1, 1, 4, 4]);
}

#[test]
fn split_and_chunk_take_the_axis_first() {
    let x = Tensor::<f64>::arange(0.0, 10.0, 1.0).reshape(&[2, 5]);
    let parts = x.split(1, &[2, 3]);
    assert_eq!(parts[1].to_vec(), vec![2.0, 3.0, 4.0, 7.0, 8.0, 9.0]);
    assert_eq!(x.chunk(0, 2)[1].to_vec(), vec![5.0, 6.0, 7.0, 8.0, 9.0]);
    assert_eq!(x.argmax(1).to_vec(), vec![4, 4]);
    assert_eq!(x.argmax_keepdim(1).shape(), &[2, 1]);
}

#[test]
fn the_random_generator_is_nameable_without_rand() {
    struct Init {
        rng: SeededRng,
    }
    let mut init = Init { rng: seeded_rng(3) };
    let a: f64 = init.rng.gen();
    let b = Tensor::<f32>::randn(&[2], &mut init.rng);
    assert!(a < 1.0 && b.numel() == 2);
}

//! Losses between probability distributions: binary cross-entropy (on probabilities and,
//! stably, on logits) and the Kullback–Leibler divergence.

use super::{check_same_shape, floored_ln, Reduction};
#[cfg(feature = "registry")]
use engram_autograd::case;
#[cfg(feature = "registry")]
use engram_autograd::registry::{real, unit, GradcheckCase};
use engram_autograd::Var;
use engram_tensor::{Float, Tensor};

/// Binary cross-entropy on probabilities, PyTorch's `F.binary_cross_entropy`:
/// `-w (y ln p + (1 - y) ln(1 - p))`, with each log floored at -100 as PyTorch does, so
/// that `p = 0` or `p = 1` gives a finite loss. Where the floor applies the gradient is 0
/// (PyTorch's is `(p - y) / max(p (1 - p), 1e-12)` there). `weight` broadcasts against
/// the input. Prefer [`bce_with_logits`], which is stable where a sigmoid saturates.
#[track_caller]
pub fn binary_cross_entropy<T: Float>(
    input: &Var<T>,
    target: &Var<T>,
    weight: Option<&Tensor<T>>,
    reduction: Reduction,
) -> Var<T> {
    check_same_shape("binary_cross_entropy", input.shape(), target.shape());
    let probabilities = T::zero()..=T::one();
    if let Some(bad) = input
        .value()
        .to_vec()
        .into_iter()
        .find(|p| !probabilities.contains(p))
    {
        panic!(
            "engram: `binary_cross_entropy`: input values must be probabilities in [0, 1], found \
             {bad:?}; for logits use `bce_with_logits`"
        );
    }
    let one_minus = |v: &Var<T>| v.neg().add_scalar(T::one());
    let loss = target
        .mul(&floored_ln(input, -100.0))
        .add(&one_minus(target).mul(&floored_ln(&one_minus(input), -100.0)))
        .neg();
    reduction.apply(weighted(loss, weight))
}

/// The options of [`bce_with_logits`], as PyTorch's keyword arguments.
#[derive(Clone, Debug, Default)]
pub struct BceWithLogitsOptions<T: Float = f32> {
    /// A rescaling weight of each element's loss, broadcast against the input.
    pub weight: Option<Tensor<T>>,
    /// The weight of positive examples, broadcast along the last (class) axis: `n_neg / n_pos`
    /// of a class balances it.
    pub pos_weight: Option<Tensor<T>>,
    /// How per-element losses are reduced.
    pub reduction: Reduction,
}

impl<T: Float> BceWithLogitsOptions<T> {
    /// Sets the per-element weight.
    pub fn weight(mut self, weight: Tensor<T>) -> Self {
        self.weight = Some(weight);
        self
    }
    /// Sets the weight of positive examples.
    pub fn pos_weight(mut self, pos_weight: Tensor<T>) -> Self {
        self.pos_weight = Some(pos_weight);
        self
    }
    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }
}

/// Binary cross-entropy on logits, PyTorch's `F.binary_cross_entropy_with_logits`:
/// `-w (pw · y ln σ(x) + (1 - y) ln(1 - σ(x)))`, computed as
/// `w ((1 - y) x + (1 + (pw - 1) y) softplus(-x))`, which stays finite for any logit.
#[track_caller]
pub fn bce_with_logits<T: Float>(
    input: &Var<T>,
    target: &Var<T>,
    options: &BceWithLogitsOptions<T>,
) -> Var<T> {
    check_same_shape("bce_with_logits", input.shape(), target.shape());
    let one_minus_y = target.neg().add_scalar(T::one());
    let softplus_neg = input.neg().softplus();
    let log_weight = match &options.pos_weight {
        Some(pw) => target
            .mul(&Var::constant(pw.add_scalar(-T::one())))
            .add_scalar(T::one()),
        None => Var::constant(Tensor::scalar(T::one())),
    };
    let loss = one_minus_y.mul(input).add(&log_weight.mul(&softplus_neg));
    options
        .reduction
        .apply(weighted(loss, options.weight.as_ref()))
}

/// How [`kl_div`] reduces, as PyTorch's `reduction=` for `F.kl_div`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KlReduction {
    /// The sum divided by the batch size (the first dimension): the mathematical KL
    /// divergence per sample. PyTorch recommends it; it is the default here (PyTorch's
    /// default, `mean`, divides by the number of elements and warns).
    #[default]
    BatchMean,
    /// The mean over all elements.
    Mean,
    /// The sum over all elements.
    Sum,
    /// One term per element.
    None,
}

/// Kullback–Leibler divergence, PyTorch's `F.kl_div`: `input` holds log-probabilities;
/// `target` probabilities (terms `t (ln t - input)`, 0 where `t = 0`) or, with
/// `log_target`, log-probabilities (terms `e^t (t - input)`).
#[track_caller]
pub fn kl_div<T: Float>(
    input: &Var<T>,
    target: &Var<T>,
    reduction: KlReduction,
    log_target: bool,
) -> Var<T> {
    check_same_shape("kl_div", input.shape(), target.shape());
    let terms = if log_target {
        target.exp().mul(&target.sub(input))
    } else {
        // xlogy: t ln t is 0 at t = 0. Taking the log of 1 there keeps -∞ (and a NaN
        // gradient: PyTorch's is NaN at t = 0, this one 0) out of the product.
        let positive = target.value().map(|t| t > T::zero());
        let one = Var::constant(Tensor::scalar(T::one()));
        let zero = Var::constant(Tensor::scalar(T::zero()));
        let ln_t = Var::where_cond(&positive, target, &one).ln();
        Var::where_cond(&positive, target.mul(&ln_t.sub(input)), &zero)
    };
    match reduction {
        KlReduction::BatchMean => {
            let batch = input.shape().first().copied().unwrap_or(1);
            terms.sum().mul_scalar(T::of(1.0 / batch as f64))
        }
        KlReduction::Mean => terms.mean(),
        KlReduction::Sum => terms.sum(),
        KlReduction::None => terms,
    }
}

/// The loss times a constant weight, if one is given.
fn weighted<T: Float>(loss: Var<T>, weight: Option<&Tensor<T>>) -> Var<T> {
    match weight {
        Some(w) => loss.mul(&Var::constant(w.clone())),
        None => loss,
    }
}

#[cfg(feature = "registry")]
pub(super) fn cases() -> Vec<GradcheckCase> {
    // Probabilities in (0.05, 0.95) from a unit-domain input, clear of the log floors.
    fn prob<T: Float>(x: &Var<T>) -> Var<T> {
        x.mul_scalar(T::of(0.5)).add_scalar(T::of(0.5))
    }
    fn weight<T: Float>(shape: &[usize]) -> Tensor<T> {
        let n: usize = shape.iter().product();
        Tensor::from_vec(
            (0..n).map(|i| T::of(0.5 + 0.25 * i as f64)).collect(),
            shape,
        )
    }
    fn opts<T: Float>(pos: bool, reduction: Reduction) -> BceWithLogitsOptions<T> {
        let o = BceWithLogitsOptions::default()
            .reduction(reduction)
            .weight(weight(&[1, 3]));
        if pos {
            o.pos_weight(weight(&[3]).add_scalar(T::of(0.7)))
        } else {
            o
        }
    }
    vec![
        case!("binary_cross_entropy", "mean", [unit(&[3, 4]), unit(&[3, 4])], second: true,
            |x| binary_cross_entropy(&prob(&x[0]), &prob(&x[1]), None, Reduction::Mean)),
        case!("binary_cross_entropy", "weight_sum", [unit(&[2, 3]), unit(&[2, 3])], second: true,
            |x| binary_cross_entropy(&prob(&x[0]), &prob(&x[1]), Some(&weight(&[3])), Reduction::Sum)),
        case!("binary_cross_entropy", "none", [unit(&[4]), unit(&[4])], second: true,
            |x| binary_cross_entropy(&prob(&x[0]), &prob(&x[1]), None, Reduction::None)),
        case!("bce_with_logits", "mean", [real(&[3, 4]), unit(&[3, 4])], second: true,
            |x| bce_with_logits(&x[0].mul_scalar(3.0), &prob(&x[1]), &BceWithLogitsOptions::default())),
        case!("bce_with_logits", "weight_sum", [real(&[2, 3]), unit(&[2, 3])], second: true,
            |x| bce_with_logits(&x[0], &prob(&x[1]), &opts(false, Reduction::Sum))),
        case!("bce_with_logits", "pos_weight_none", [real(&[2, 3]), unit(&[2, 3])], second: true,
            |x| bce_with_logits(&x[0], &prob(&x[1]), &opts(true, Reduction::None))),
        case!("kl_div", "batchmean", [real(&[3, 4]), real(&[3, 4])], second: true,
            |x| kl_div(&x[0].log_softmax(1), &x[1].softmax(1), KlReduction::BatchMean, false)),
        case!("kl_div", "log_target_sum", [real(&[2, 5]), real(&[2, 5])], second: true,
            |x| kl_div(&x[0].log_softmax(1), &x[1].log_softmax(1), KlReduction::Sum, true)),
        case!("kl_div", "mean_rank3", [real(&[2, 3, 2]), real(&[2, 3, 2])], second: true,
            |x| kl_div(&x[0].log_softmax(1), &x[1].softmax(1), KlReduction::Mean, false)),
        case!("kl_div", "none", [real(&[2, 3]), real(&[2, 3])], second: true,
            |x| kl_div(&x[0].log_softmax(1), &x[1].softmax(1), KlReduction::None, false)),
    ]
}

//! Classification losses over a class axis: negative log-likelihood and cross-entropy,
//! with class weights, an ignored class and label smoothing as PyTorch has them.
//!
//! Layouts follow PyTorch: the input is `[N, C]` or `[N, C, d1, ...]` (classes on axis 1),
//! or `[C]` for one unbatched sample; class-index targets are `[N]` / `[N, d1, ...]` / `[]`.

use super::Reduction;
#[cfg(feature = "registry")]
use engram_autograd::case;
#[cfg(feature = "registry")]
use engram_autograd::registry::{real, GradcheckCase};
use engram_autograd::Var;
use engram_tensor::{Float, Tensor};

/// What [`cross_entropy`] compares against: a class index per sample, or a probability
/// distribution over the classes (the input's shape). Built by `From` from a
/// `&Tensor<usize>` or a `&Var<T>`, as PyTorch tells the two apart by dtype.
#[derive(Clone, Copy, Debug)]
pub enum ClassTarget<'a, T: Float> {
    /// One class index per sample (and per position, for `[N, C, d...]` inputs).
    Indices(&'a Tensor<usize>),
    /// Class probabilities, the input's shape ("soft labels").
    Probabilities(&'a Var<T>),
}

impl<'a, T: Float> From<&'a Tensor<usize>> for ClassTarget<'a, T> {
    fn from(indices: &'a Tensor<usize>) -> Self {
        ClassTarget::Indices(indices)
    }
}

impl<'a, T: Float> From<&'a Var<T>> for ClassTarget<'a, T> {
    fn from(probabilities: &'a Var<T>) -> Self {
        ClassTarget::Probabilities(probabilities)
    }
}

/// The options of [`nll_loss`], as PyTorch's keyword arguments.
#[derive(Clone, Debug, Default)]
pub struct NllOptions<T: Float = f32> {
    /// A weight per class (`[C]`). With [`Reduction::Mean`] the result is the weighted
    /// mean `Σ w[y_i] l_i / Σ w[y_i]`, as PyTorch's.
    pub weight: Option<Tensor<T>>,
    /// A class index whose samples contribute nothing (not even to the mean's count).
    /// PyTorch's default is -100, which no `usize` index can be; here the default is none.
    pub ignore_index: Option<usize>,
    /// How per-sample losses are reduced.
    pub reduction: Reduction,
}

impl<T: Float> NllOptions<T> {
    /// Sets the class weights.
    pub fn weight(mut self, weight: Tensor<T>) -> Self {
        self.weight = Some(weight);
        self
    }
    /// Sets the ignored class.
    pub fn ignore_index(mut self, index: usize) -> Self {
        self.ignore_index = Some(index);
        self
    }
    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }
}

/// The options of [`cross_entropy`]: those of [`nll_loss`] and label smoothing.
#[derive(Clone, Debug, Default)]
pub struct CrossEntropyOptions<T: Float = f32> {
    /// A weight per class (`[C]`); the mean is weighted as in [`NllOptions::weight`].
    pub weight: Option<Tensor<T>>,
    /// A class whose samples are ignored (class-index targets only).
    pub ignore_index: Option<usize>,
    /// How per-sample losses are reduced.
    pub reduction: Reduction,
    /// In [0, 1]: the target becomes `(1 - ε) · target + ε / C` (uniform mixing).
    pub label_smoothing: f64,
}

impl<T: Float> CrossEntropyOptions<T> {
    /// Sets the class weights.
    pub fn weight(mut self, weight: Tensor<T>) -> Self {
        self.weight = Some(weight);
        self
    }
    /// Sets the ignored class.
    pub fn ignore_index(mut self, index: usize) -> Self {
        self.ignore_index = Some(index);
        self
    }
    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }
    /// Sets the label smoothing ε.
    pub fn label_smoothing(mut self, epsilon: f64) -> Self {
        self.label_smoothing = epsilon;
        self
    }
}

/// Negative log-likelihood, PyTorch's `F.nll_loss`: `-w[y_i] · input[i, y_i]` per sample,
/// where `input` holds log-probabilities (the output of `log_softmax(1)`).
#[track_caller]
pub fn nll_loss<T: Float>(
    input: &Var<T>,
    target: &Tensor<usize>,
    options: &NllOptions<T>,
) -> Var<T> {
    index_loss(
        "nll_loss",
        input,
        target,
        options.weight.as_ref(),
        options.ignore_index,
        options.reduction,
        0.0,
    )
}

/// Cross-entropy between logits and a target, PyTorch's `F.cross_entropy`: the
/// log-softmax over axis 1 followed by [`nll_loss`] (class indices), or
/// `-Σ_c w_c t_c log_softmax(x)_c` (probabilities; the mean is over samples, unweighted,
/// as PyTorch's). Stable for any logits: nothing exponentiates without the max removed.
///
/// With label smoothing ε and class indices, the loss is `(1 - ε) nll + ε/C · Σ_c -w_c
/// log p_c`, and the weighted mean divides both by `Σ w[y_i]`, as PyTorch does.
#[track_caller]
pub fn cross_entropy<'a, T: Float>(
    input: &Var<T>,
    target: impl Into<ClassTarget<'a, T>>,
    options: &CrossEntropyOptions<T>,
) -> Var<T> {
    let epsilon = options.label_smoothing;
    if !(0.0..=1.0).contains(&epsilon) {
        panic!("engram: `cross_entropy`: label_smoothing must be in [0, 1], got {epsilon}");
    }
    let class_axis: usize = if input.rank() == 1 { 0 } else { 1 };
    let log_probs = input.log_softmax(class_axis as isize);
    match target.into() {
        ClassTarget::Indices(target) => index_loss(
            "cross_entropy",
            &log_probs,
            target,
            options.weight.as_ref(),
            options.ignore_index,
            options.reduction,
            epsilon,
        ),
        ClassTarget::Probabilities(target) => {
            if options.ignore_index.is_some() {
                panic!(
                    "engram: `cross_entropy`: ignore_index applies to class-index targets only, \
                     but the target holds probabilities"
                );
            }
            super::check_same_shape("cross_entropy", input.shape(), target.shape());
            let classes = input.shape()[class_axis];
            check_weight("cross_entropy", options.weight.as_ref(), classes);
            let smoothed = if epsilon > 0.0 {
                target
                    .mul_scalar(T::of(1.0 - epsilon))
                    .add_scalar(T::of(epsilon / classes as f64))
            } else {
                target.clone()
            };
            let mut terms = log_probs.mul(&smoothed);
            if let Some(w) = &options.weight {
                terms = terms.mul(&Var::constant(class_shaped(w, input.rank(), class_axis)));
            }
            options
                .reduction
                .apply(terms.sum_axes(&[class_axis as isize]).neg())
        }
    }
}

/// The class-index loss behind [`nll_loss`] and [`cross_entropy`], on log-probabilities.
#[track_caller]
fn index_loss<T: Float>(
    op: &str,
    log_probs: &Var<T>,
    target: &Tensor<usize>,
    weight: Option<&Tensor<T>>,
    ignore_index: Option<usize>,
    reduction: Reduction,
    epsilon: f64,
) -> Var<T> {
    // One unbatched sample: treat it as a batch of one, and drop that axis again below.
    let unbatched = log_probs.rank() == 1;
    let (log_probs, target) = if unbatched && target.rank() == 0 {
        (log_probs.unsqueeze(0), target.reshape(&[1]))
    } else {
        (log_probs.clone(), target.clone())
    };
    let shape = log_probs.shape().to_vec();
    let mut expected = shape.clone();
    if shape.len() >= 2 {
        expected.remove(1);
    }
    if shape.len() < 2 || target.shape() != expected.as_slice() {
        panic!(
            "engram: `{op}`: input of shape {:?} needs a class-index target of shape {:?} \
             (the input's shape without the class axis 1), got {:?}",
            if unbatched { &shape[1..] } else { &shape[..] },
            if unbatched { vec![] } else { expected.clone() },
            target.shape()
        );
    }
    let classes = shape[1];
    check_weight(op, weight, classes);
    let indices = target.to_vec();
    let class_weights = weight.map(|w| w.to_vec());
    let mut safe = Vec::with_capacity(indices.len());
    let mut sample_weight = Vec::with_capacity(indices.len());
    let mut valid = Vec::with_capacity(indices.len());
    for &y in &indices {
        if Some(y) == ignore_index {
            safe.push(0);
            sample_weight.push(T::zero());
            valid.push(T::zero());
            continue;
        }
        if y >= classes {
            panic!(
                "engram: `{op}`: target class {y} is out of range for {classes} classes \
                 (input shape {shape:?})"
            );
        }
        safe.push(y);
        sample_weight.push(class_weights.as_ref().map_or(T::one(), |w| w[y]));
        valid.push(T::one());
    }
    let mut index_shape = expected.clone();
    index_shape.insert(1, 1);
    let index = Tensor::from_vec(safe, &index_shape);
    let sample_weight = Tensor::from_vec(sample_weight, &expected);
    let denominator: T = sample_weight.sum().item();
    let picked = log_probs.gather(1, &index).reshape(&expected);
    let mut loss = picked.mul(&Var::constant(sample_weight)).neg();
    if epsilon > 0.0 {
        let mut all = log_probs.clone();
        if let Some(w) = weight {
            all = all.mul(&Var::constant(class_shaped(w, shape.len(), 1)));
        }
        let smooth = all
            .sum_axes(&[1])
            .neg()
            .mul(&Var::constant(Tensor::from_vec(valid, &expected)));
        loss = loss
            .mul_scalar(T::of(1.0 - epsilon))
            .add(&smooth.mul_scalar(T::of(epsilon / classes as f64)));
    }
    match reduction {
        Reduction::Mean => loss.sum().mul_scalar(T::one() / denominator),
        Reduction::Sum => loss.sum(),
        Reduction::None if unbatched => loss.squeeze(0),
        Reduction::None => loss,
    }
}

#[track_caller]
fn check_weight<T: Float>(op: &str, weight: Option<&Tensor<T>>, classes: usize) {
    if let Some(w) = weight {
        if w.shape() != [classes] {
            panic!(
                "engram: `{op}`: class weight must have shape [{classes}] (one per class), \
                 got {:?}",
                w.shape()
            );
        }
    }
}

/// The class weights shaped to broadcast along `axis` of a rank-`rank` input.
fn class_shaped<T: Float>(weight: &Tensor<T>, rank: usize, axis: usize) -> Tensor<T> {
    let mut shape = vec![1; rank];
    shape[axis] = weight.numel();
    weight.reshape(&shape)
}

#[cfg(feature = "registry")]
pub(super) fn cases() -> Vec<GradcheckCase> {
    fn classes(data: &[usize], shape: &[usize]) -> Tensor<usize> {
        Tensor::from_vec(data.to_vec(), shape)
    }
    fn weight<T: Float>() -> Tensor<T> {
        Tensor::from_vec(vec![T::of(0.5), T::of(2.0), T::of(1.25)], &[3])
    }
    vec![
        case!("cross_entropy", "indices_mean", [real(&[4, 3])], second: true,
            |x| cross_entropy(&x[0], &classes(&[0, 2, 1, 2], &[4]), &CrossEntropyOptions::default())),
        case!("cross_entropy", "weight_ignore_smooth_rank3", [real(&[2, 3, 2])], second: true,
            |x| cross_entropy(&x[0], &classes(&[0, 2, 1, 1], &[2, 2]),
                &CrossEntropyOptions::default().weight(weight()).ignore_index(1).label_smoothing(0.2))),
        case!("cross_entropy", "unbatched_none", [real(&[3])], second: true,
            |x| cross_entropy(&x[0], &classes(&[2], &[]),
                &CrossEntropyOptions::default().reduction(Reduction::None))),
        case!("cross_entropy", "probabilities_smooth_sum", [real(&[2, 3]), real(&[2, 3])], second: true,
            |x| cross_entropy(&x[0], &x[1].softmax(1),
                &CrossEntropyOptions::default().weight(weight()).label_smoothing(0.1).reduction(Reduction::Sum))),
        case!("nll_loss", "mean", [real(&[4, 3])], second: true,
            |x| nll_loss(&x[0].log_softmax(1), &classes(&[1, 0, 2, 2], &[4]), &NllOptions::default())),
        case!("nll_loss", "weight_ignore_rank3", [real(&[2, 3, 2])], second: true,
            |x| nll_loss(&x[0], &classes(&[0, 2, 1, 2], &[2, 2]),
                &NllOptions::default().weight(weight()).ignore_index(2))),
        case!("nll_loss", "none", [real(&[3, 3])], second: true,
            |x| nll_loss(&x[0], &classes(&[2, 1, 0], &[3]), &NllOptions::default().reduction(Reduction::None))),
    ]
}

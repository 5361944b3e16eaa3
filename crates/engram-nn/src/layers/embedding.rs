//! The embedding table.

use crate::context::Context;
use crate::functional;
use crate::init;
use crate::parameter::Parameter;
use engram_autograd::Var;
use engram_derive::Module;
use engram_tensor::{Float, Tensor};
use rand::Rng;

/// A table of `num_embeddings` vectors of size `embedding_dim`, looked up by index, as
/// `torch.nn.Embedding`; initialised from `N(0, 1)` as PyTorch.
///
/// Its input is indices, not a `Var`, so it has its own `forward` rather than
/// [`crate::Forward`].
///
/// ```
/// use engram_nn::{Context, Embedding};
/// use engram_tensor::Tensor;
/// use rand::SeedableRng;
///
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let emb = Embedding::<f32>::new(10, 4, &mut rng).padding_idx(0);
/// let cx = Context::eval();
/// let tokens = Tensor::from_vec(vec![0, 3, 9, 3, 0, 0], &[2, 3]);
/// let y = emb.forward(&cx, &tokens);
/// assert_eq!(y.shape(), &[2, 3, 4]);
/// assert_eq!(y.value().get(&[0, 0, 2]), 0.0); // the padding row starts at zero
/// ```
#[derive(Module, Debug, Clone)]
pub struct Embedding<T: Float = f32> {
    /// `[num_embeddings, embedding_dim]`.
    pub weight: Parameter<T>,
    padding_idx: Option<usize>,
}

impl<T: Float> Embedding<T> {
    /// A table drawn from `N(0, 1)`.
    pub fn new(num_embeddings: usize, embedding_dim: usize, rng: &mut impl Rng) -> Embedding<T> {
        Embedding {
            weight: Parameter::new(init::normal(
                &[num_embeddings, embedding_dim],
                0.0,
                1.0,
                rng,
            )),
            padding_idx: None,
        }
    }

    /// A table holding `weight` (`[num_embeddings, embedding_dim]`), as
    /// `Embedding.from_pretrained` (trainable; freeze with `weight.set_trainable(false)`).
    #[track_caller]
    pub fn from_weight(weight: Tensor<T>) -> Embedding<T> {
        if weight.rank() != 2 {
            panic!(
                "engram: `Embedding::from_weight`: expected [num_embeddings, embedding_dim], got {:?}",
                weight.shape()
            );
        }
        Embedding {
            weight: Parameter::new(weight),
            padding_idx: None,
        }
    }

    /// Marks row `index` as padding: it is zeroed now and never gets a gradient.
    #[track_caller]
    pub fn padding_idx(mut self, index: usize) -> Embedding<T> {
        let (rows, dim) = (self.weight.shape()[0], self.weight.shape()[1]);
        if index >= rows {
            panic!("engram: `Embedding::padding_idx`: index {index} is past the {rows} rows");
        }
        self.weight.value_mut().as_mut_slice()[index * dim..(index + 1) * dim].fill(T::zero());
        self.padding_idx = Some(index);
        self
    }

    /// The vectors at `ids`: output `ids.shape() + [embedding_dim]`.
    #[track_caller]
    pub fn forward(&self, cx: &Context<T>, ids: &Tensor<usize>) -> Var<T> {
        functional::embedding(ids, &cx.param(&self.weight), self.padding_idx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn table_is_drawn_from_the_standard_normal() {
        let emb = Embedding::<f64>::new(1000, 64, &mut ChaCha8Rng::seed_from_u64(17));
        let v = emb.weight.value().to_vec();
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        // Five standard errors of the mean of 64 000 draws; 2% on the spread.
        assert!(mean.abs() < 5.0 / n.sqrt(), "mean {mean}");
        assert!((std - 1.0).abs() < 0.02, "std {std}");
    }
}

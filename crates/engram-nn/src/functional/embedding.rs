//! Embedding lookup: rows of a table picked by index.

#[cfg(feature = "registry")]
use engram_autograd::case;
#[cfg(feature = "registry")]
use engram_autograd::registry::{real, GradcheckCase};
use engram_autograd::Var;
use engram_tensor::{shape_error, Float, Tensor};

/// The rows of `weight` (`[num_embeddings, dim]`) at `ids`: output `ids.shape() + [dim]`.
/// The gradient scatter-adds into the rows that were picked (a row picked twice gets both
/// contributions). The row `padding_idx`, if given, is looked up but gets no gradient, as
/// in PyTorch.
///
/// ```
/// use engram_autograd::Var;
/// use engram_nn::functional::embedding;
/// use engram_tensor::Tensor;
/// let table = Var::constant(Tensor::<f32>::from_vec(vec![0.0, 0.0, 1.0, 2.0, 3.0, 4.0], &[3, 2]));
/// let ids = Tensor::from_vec(vec![2, 1, 2], &[1, 3]);
/// let rows = embedding(&ids, &table, None);
/// assert_eq!(rows.shape(), &[1, 3, 2]);
/// assert_eq!(rows.value().to_vec(), vec![3.0, 4.0, 1.0, 2.0, 3.0, 4.0]);
/// ```
#[track_caller]
pub fn embedding<T: Float>(
    ids: &Tensor<usize>,
    weight: &Var<T>,
    padding_idx: Option<usize>,
) -> Var<T> {
    let w = weight.shape();
    if w.len() != 2 {
        shape_error(
            "embedding",
            format!("weight must be [num_embeddings, dim], got {w:?}"),
        );
    }
    let flat = ids.to_vec();
    if let Some(&bad) = flat.iter().find(|&&i| i >= w[0]) {
        shape_error(
            "embedding",
            format!("index {bad} is out of range for a table of {} rows", w[0]),
        );
    }
    let mut rows = weight.index_select(0, &flat);
    if let Some(pad) = padding_idx {
        let at_pad = Tensor::from_vec(flat.iter().map(|&i| i == pad).collect(), &[flat.len(), 1]);
        rows = Var::where_cond(&at_pad, rows.detach(), &rows);
    }
    let mut shape = ids.shape().to_vec();
    shape.push(w[1]);
    rows.reshape(&shape)
}

#[cfg(feature = "registry")]
pub(crate) fn cases() -> Vec<GradcheckCase> {
    vec![
        case!("nn.embedding", "repeated_ids", [real(&[5, 3])], second: false, |x| {
            embedding(&Tensor::from_vec(vec![4, 0, 4, 2, 2, 2], &[2, 3]), &x[0], None).square()
        }),
        case!("nn.embedding", "transposed_table", [real(&[4, 2]).transposed()], second: false, |x| {
            embedding(&Tensor::from_vec(vec![3, 1], &[2]), &x[0], None).square()
        }),
        case!("nn.embedding", "padding_idx_unused", [real(&[3, 2])], second: false, |x| {
            embedding(&Tensor::from_vec(vec![1, 2, 1], &[3]), &x[0], Some(0)).square()
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use engram_autograd::Tape;

    #[test]
    fn padding_row_gets_no_gradient_but_is_looked_up() {
        let tape = Tape::<f64>::new();
        let w = tape.leaf(Tensor::from_vec(
            vec![1.0, 1.0, 2.0, 2.0, 3.0, 3.0],
            &[3, 2],
        ));
        let ids = Tensor::from_vec(vec![0, 1, 0, 1], &[4]);
        let y = embedding(&ids, &w, Some(0));
        assert_eq!(
            y.value().to_vec(),
            vec![1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0]
        );
        let g = engram_autograd::grad(&y.sum(), &[&w]).remove(0);
        assert_eq!(g.to_vec(), vec![0.0, 0.0, 2.0, 2.0, 0.0, 0.0]);
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn an_index_past_the_table_is_refused() {
        let w = Var::constant(Tensor::<f32>::zeros(&[3, 2]));
        embedding(&Tensor::from_vec(vec![3], &[1]), &w, None);
    }
}

//! NumPy-style printing: nested brackets, then shape and dtype; large tensors show their
//! first and last three entries along each axis with `...` between.

use crate::element::Element;
use crate::tensor::Tensor;
use std::fmt;

/// Tensors with more elements than this print elided.
const ELIDE_ABOVE: usize = 1000;
/// Entries shown at each end of an elided axis.
const EDGE: usize = 3;

fn format_value<T: Element>(x: T) -> String {
    let any: &dyn std::any::Any = &x;
    let float = any
        .downcast_ref::<f32>()
        .map(|v| *v as f64)
        .or_else(|| any.downcast_ref::<f64>().copied());
    match float {
        Some(v) if v.is_finite() && v != 0.0 && (v.abs() >= 1e6 || v.abs() < 1e-4) => {
            format!("{v:.4e}")
        }
        Some(v) => format!("{v:.4}"),
        None => x.to_string(),
    }
}

impl<T: Element> fmt::Display for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let elide = self.numel() > ELIDE_ABOVE;
        let values: Vec<String> = self.to_vec().into_iter().map(format_value).collect();
        let width = values.iter().map(|s| s.len()).max().unwrap_or(0);
        let mut text = String::new();
        write_axis(&mut text, &values, self.shape(), 0, 0, width, elide, 7);
        write!(
            f,
            "tensor({text}, shape={:?}, dtype={})",
            self.shape(),
            T::DTYPE
        )
    }
}

/// Writes the sub-array starting at flat index `start` over `shape[axis..]`.
#[allow(clippy::too_many_arguments)]
fn write_axis(
    out: &mut String,
    values: &[String],
    shape: &[usize],
    axis: usize,
    start: usize,
    width: usize,
    elide: bool,
    indent: usize,
) {
    if axis == shape.len() {
        out.push_str(&format!("{:>width$}", values[start]));
        return;
    }
    let n = shape[axis];
    let stride: usize = shape[axis + 1..].iter().product();
    let shown: Vec<Option<usize>> = if elide && n > 2 * EDGE {
        (0..EDGE)
            .map(Some)
            .chain(std::iter::once(None))
            .chain((n - EDGE..n).map(Some))
            .collect()
    } else {
        (0..n).map(Some).collect()
    };
    out.push('[');
    for (k, i) in shown.iter().enumerate() {
        if k > 0 {
            out.push(',');
            if axis + 1 == shape.len() {
                out.push(' ');
            } else {
                out.push_str(&"\n".repeat(shape.len() - axis - 1));
                out.push_str(&" ".repeat(indent + axis + 1));
            }
        }
        match i {
            Some(i) => write_axis(
                out,
                values,
                shape,
                axis + 1,
                start + i * stride,
                width,
                elide,
                indent,
            ),
            None => out.push_str("..."),
        }
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_matrix_prints_like_numpy() {
        let t = Tensor::<f32>::from_vec(vec![1.0, -2.5, 3.0, 4.0], &[2, 2]);
        assert_eq!(t.to_string(), "tensor([[ 1.0000, -2.5000],\n        [ 3.0000,  4.0000]], shape=[2, 2], dtype=float32)");
    }

    #[test]
    fn large_tensor_is_elided() {
        let t = Tensor::<f64>::zeros(&[2000]);
        let s = t.to_string();
        assert!(s.contains("0.0000, ..., 0.0000"), "{s}");
        assert!(s.ends_with("shape=[2000], dtype=float64)"));
    }

    #[test]
    fn masks_and_scalars_print() {
        assert_eq!(
            Tensor::from_vec(vec![true, false], &[2]).to_string(),
            "tensor([ true, false], shape=[2], dtype=bool)"
        );
        assert_eq!(
            Tensor::<f64>::scalar(1e-7).to_string(),
            "tensor(1.0000e-7, shape=[], dtype=float64)"
        );
    }
}

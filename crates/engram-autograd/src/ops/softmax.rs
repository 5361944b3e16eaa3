//! Softmax and log-softmax along one axis, each one node with its own rule:
//! softmax `dx = y (g - Σ g y)`, log-softmax `dx = g - e^y Σ g`.

use crate::operand::Operand;
use crate::ops::{op_names, InputGrads, Op};
use crate::tape::record;
use crate::var::Var;
use engram_tensor::Float;
use smallvec::smallvec;

/// Softmax or log-softmax, and its axis.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SoftmaxOp {
    log: bool,
    axis: isize,
}

impl SoftmaxOp {
    op_names! {
        SoftmaxOp { log: false, .. } => "softmax",
        SoftmaxOp { log: true, .. } => "log_softmax",
    }

    pub(crate) fn vjp<T: Float, V: Operand<T>>(&self, y: &V, g: &V) -> InputGrads<V> {
        smallvec![Some(g.softmax_grad(y, self.axis, self.log))]
    }
}

impl<T: Float> Var<T> {
    /// Softmax along `axis`, stable for large inputs.
    #[track_caller]
    pub fn softmax(&self, axis: isize) -> Var<T> {
        let value = self.value().softmax(axis);
        record(Op::Softmax(SoftmaxOp { log: false, axis }), &[self], value)
    }

    /// Log-softmax along `axis`, computed without forming the softmax.
    #[track_caller]
    pub fn log_softmax(&self, axis: isize) -> Var<T> {
        let value = self.value().log_softmax(axis);
        record(Op::Softmax(SoftmaxOp { log: true, axis }), &[self], value)
    }
}

/// Gradcheck entries for this family.
#[cfg(feature = "registry")]
pub(crate) fn cases() -> Vec<crate::registry::GradcheckCase> {
    use crate::case;
    use crate::registry::{real, GradcheckCase};
    let mut v = Vec::new();
    for (name, f64f, f32f) in [
        (
            "softmax",
            (|x: &[Var<f64>]| x[0].softmax(-1)) as fn(&[Var<f64>]) -> Var<f64>,
            (|x: &[Var<f32>]| x[0].softmax(-1)) as fn(&[Var<f32>]) -> Var<f32>,
        ),
        (
            "log_softmax",
            |x: &[Var<f64>]| x[0].log_softmax(-1),
            |x: &[Var<f32>]| x[0].log_softmax(-1),
        ),
    ] {
        for (label, spec) in [
            ("last_axis", real(&[3, 5])),
            ("size1", real(&[1, 4])),
            ("transposed", real(&[5, 3]).transposed()),
            ("empty", real(&[0, 4])),
            ("empty_axis", real(&[3, 0])),
        ] {
            v.push(GradcheckCase {
                op: name,
                label,
                inputs: vec![spec],
                second_order: true,
                f64: f64f,
                f32: f32f,
            });
        }
    }
    v.push(case!("softmax", "axis0_rank3", [real(&[3, 2, 4])], second: true, |x| x[0].softmax(0)));
    v.push(case!("log_softmax", "axis1_rank3", [real(&[2, 3, 4])], second: true, |x| x[0].log_softmax(1)));
    v
}

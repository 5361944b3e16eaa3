//! A mistake in model code panics with a message that names the op and the shapes, and
//! points at the caller's line (as an index out of bounds does), not into the library:
//! one test per family of ops, on tensors and on Vars.
//!
//! Each check runs the call under `catch_unwind` with a panic hook that records where the
//! panic was raised, and asserts that it is this file, on the line of the call.

use engram::autograd::{grad, hvp, Tape, Var};
use engram::tensor::{Conv2dOptions, Pool2dOptions, Tensor};
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    /// Set while `panic_of` runs a call on this thread: its panic is expected.
    static EXPECTING: Cell<bool> = const { Cell::new(false) };
    /// Where the expected panic was raised.
    static RAISED_AT: RefCell<Option<(String, u32)>> = const { RefCell::new(None) };
}

/// Runs `call`, which must panic, and returns its message and the file and line the
/// panic points at. Other panics (a failing assertion) still print as usual.
fn panic_of<R>(call: impl FnOnce() -> R) -> (String, String, u32) {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if EXPECTING.get() {
                let at = info.location().map(|l| (l.file().to_string(), l.line()));
                RAISED_AT.set(at);
            } else {
                default(info);
            }
        }));
    });
    EXPECTING.set(true);
    let outcome = panic::catch_unwind(AssertUnwindSafe(call));
    EXPECTING.set(false);
    let Err(payload) = outcome else {
        panic!("the call was expected to panic, and returned");
    };
    let message = match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p
            .downcast::<&str>()
            .map_or_else(|_| String::new(), |s| s.to_string()),
    };
    let (file, line) = RAISED_AT
        .take()
        .expect("the panic hook recorded a location");
    (message, file, line)
}

/// Asserts that `$call` panics at this line of this file, with a message containing
/// every one of the given texts.
macro_rules! assert_panics_here {
    ($call:expr, $($text:expr),+ $(,)?) => {{
        let line = line!();
        let (message, file, at) = panic_of(|| $call);
        assert_eq!(
            file,
            file!(),
            "the panic points at {file}:{at}, not at the caller; message: {message}"
        );
        // rustfmt may put the call on the line after the macro's name.
        assert!(
            (line..=line + 2).contains(&at),
            "the panic points at line {at}, the call is at line {line}; message: {message}"
        );
        $(
            assert!(message.contains($text), "{message:?} should contain {:?}", $text);
        )+
    }};
}

fn t(shape: &[usize]) -> Tensor<f64> {
    Tensor::zeros(shape)
}

fn leaf(tape: &Tape<f64>, shape: &[usize]) -> Var<f64> {
    tape.leaf(Tensor::ones(shape))
}

#[test]
fn elementwise_and_broadcasting_panics_point_at_the_caller() {
    let (a, b) = (t(&[2, 3]), t(&[4, 3]));
    assert_panics_here!(a.add(&b), "`add`", "[2, 3]", "[4, 3]");
    assert_panics_here!(&a * &b, "`mul`", "[2, 3]", "[4, 3]");
    assert_panics_here!(a.clamp(1.0, 0.0), "`clamp`", "min 1");
    let tape = Tape::new();
    let (x, y) = (leaf(&tape, &[2, 3]), leaf(&tape, &[4, 3]));
    assert_panics_here!(x.sub(&y), "`sub`", "[2, 3]", "[4, 3]");
    assert_panics_here!(x.minimum(&y), "`minimum`", "[2, 3]", "[4, 3]");
    assert_panics_here!(&x / &y, "`div`", "[2, 3]", "[4, 3]");
    assert_panics_here!(x.clamp(1.0, 0.0), "`clamp`", "min 1");
    let mask = Tensor::from_vec(vec![true; 5], &[5]);
    assert_panics_here!(
        Var::where_cond(&mask, &x, &x),
        "`where_cond`",
        "[5]",
        "[2, 3]"
    );
}

#[test]
fn reduction_panics_point_at_the_caller() {
    let a = t(&[2, 3]);
    assert_panics_here!(a.sum_axes(&[2]), "`sum`", "axis 2", "rank 2");
    assert_panics_here!(t(&[0, 3]).max_axes(&[0]), "`max`", "empty axis", "[0, 3]");
    let tape = Tape::new();
    let x = leaf(&tape, &[2, 3]);
    assert_panics_here!(x.mean_axes(&[-3]), "`mean`", "axis -3", "rank 2");
    assert_panics_here!(x.var_keepdim(&[0, 0], 1), "`var`", "the same axis twice");
    assert_panics_here!(leaf(&tape, &[0]).min(), "`min`", "empty axis", "[0]");
}

#[test]
fn softmax_panics_name_softmax_and_point_at_the_caller() {
    assert_panics_here!(t(&[2, 3]).softmax(2), "`softmax`", "axis 2", "rank 2");
    let tape = Tape::new();
    let x = leaf(&tape, &[2, 3]);
    assert_panics_here!(x.softmax(-3), "`softmax`", "axis -3");
    assert_panics_here!(x.log_softmax(2), "`log_softmax`", "axis 2");
}

#[test]
fn indexing_panics_point_at_the_caller() {
    let a = t(&[2, 3]);
    let index = Tensor::from_vec(vec![0, 3], &[2, 1]);
    assert_panics_here!(
        a.gather(1, &index),
        "`gather`",
        "index 3",
        "axis 1 of size 3"
    );
    assert_panics_here!(
        t(&[0, 3]).index_select(0, &[99]),
        "`index_select`",
        "index 99",
        "size 0"
    );
    let tape = Tape::new();
    let x = leaf(&tape, &[2, 3]);
    assert_panics_here!(
        x.gather(1, &index),
        "`gather`",
        "index 3",
        "axis 1 of size 3"
    );
    let src = leaf(&tape, &[2, 1]);
    assert_panics_here!(x.scatter_add(1, &index, &src), "`scatter_add`", "index 3");
    assert_panics_here!(
        x.index_select(0, &[2]),
        "`index_select`",
        "index 2",
        "size 2"
    );
}

#[test]
fn convolution_panics_point_at_the_caller() {
    let image = t(&[1, 1, 2, 2]);
    let kernel = t(&[1, 1, 3, 3]);
    assert_panics_here!(
        image.conv2d(&kernel, Conv2dOptions::default()),
        "`conv2d`",
        "does not fit an input of [2, 2]"
    );
    assert_panics_here!(
        image.conv2d(&t(&[1, 1, 0, 0]), Conv2dOptions::default()),
        "`conv2d`",
        "kernel must be at least 1",
        "[0, 0]"
    );
    assert_panics_here!(
        image.max_pool2d(Pool2dOptions {
            stride: [0, 1],
            ..Pool2dOptions::new([2, 2])
        }),
        "`max_pool2d`",
        "stride must be at least 1"
    );
    let tape = Tape::new();
    let x = leaf(&tape, &[1, 3, 5, 5]);
    let w = leaf(&tape, &[4, 2, 3, 3]);
    assert_panics_here!(
        x.conv2d(&w, Conv2dOptions::default()),
        "`conv2d`",
        "[1, 3, 5, 5]",
        "[4, 2, 3, 3]"
    );
    assert_panics_here!(
        x.avg_pool2d(Pool2dOptions::new([7, 7]).stride(1)),
        "`avg_pool2d`",
        "does not fit"
    );
}

#[test]
fn shape_panics_point_at_the_caller() {
    let a = t(&[3]);
    assert_panics_here!(a.narrow(0, 1, 5), "`narrow`", "start 1 and length 5", "[3]");
    assert_panics_here!(a.narrow(0, 2, usize::MAX), "`narrow`", "[3]");
    assert_panics_here!(a.reshape(&[4]), "`reshape`", "[3]", "[4]");
    assert_panics_here!(a.broadcast_to(&[2, 4]), "`broadcast_to`", "[3]", "[2, 4]");
    assert_panics_here!(
        Tensor::<f32>::zeros(&[1 << 33, 1 << 31]),
        "`zeros`",
        "[8589934592, 2147483648]"
    );
    assert_panics_here!(
        Tensor::<f64>::arange(0.0, f64::INFINITY, 1.0),
        "`arange`",
        "finite"
    );
    assert_panics_here!(
        Tensor::from_vec(vec![1.0; 5], &[2, 3]),
        "`from_vec`",
        "[2, 3]"
    );
    let tape = Tape::new();
    let x = leaf(&tape, &[2, 3]);
    assert_panics_here!(
        x.narrow(1, 2, 2),
        "`narrow`",
        "start 2 and length 2",
        "[2, 3]"
    );
    assert_panics_here!(x.squeeze(0), "`squeeze`", "[2, 3]");
    assert_panics_here!(x.permute(&[0, 0]), "`permute`", "[2, 3]");
    assert_panics_here!(x.split(1, &[1, 1]), "`split`", "[1, 1]", "[2, 3]");
    let y = leaf(&tape, &[3, 3]);
    assert_panics_here!(Var::concat(&[&x, &y], 1), "`concat`", "[2, 3]", "[3, 3]");
    assert_panics_here!(x.matmul(&x), "`matmul`", "[2, 3]");
}

#[test]
fn backward_panics_point_at_the_caller() {
    let tape = Tape::<f64>::new();
    let x = leaf(&tape, &[2]);
    let constant = tape.no_grad(|| x.square().sum());
    assert_panics_here!(grad(&constant, &[&x]), "`grad`", "does not require grad");
    assert_panics_here!(
        x.detach().sum().backward(),
        "`backward`",
        "does not require grad"
    );
    assert_panics_here!(x.exp().backward(), "`backward`", "scalar output", "[2]");
    let other = Tape::<f64>::new();
    let z = leaf(&other, &[2]);
    let loss = x.square().sum();
    assert_panics_here!(grad(&loss, &[&z]), "`grad`", "different tapes");
    let grads = loss.backward();
    assert_panics_here!(&grads[&z], "`Gradients::index`", "different tape");
    let short = Tensor::ones(&[1]);
    assert_panics_here!(hvp(&loss, &[&x], &[&short]), "`hvp`", "[1]", "[2]");
    tape.clear();
    assert_panics_here!(x.exp(), "recorded before `Tape::clear`");
    assert_panics_here!(&x + 1.0, "recorded before `Tape::clear`");
    assert_panics_here!(x.sum(), "recorded before `Tape::clear`");
}

//! Helpers shared by the integration tests, each of which uses a subset (hence the allow):
//! readers for the JSON fixtures the oracle scripts write (`tools/oracle/*.py`,
//! `tools/numpy_fixtures.py`; a tensor is `{"shape": [..], "data": [..]}` in row-major
//! order), and a run on a pool of a given number of threads.
#![allow(dead_code)]

use engram::tensor::{Float, Tensor};
use serde_json::Value;

/// A JSON array of non-negative integers.
pub fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("fixture: an array of integers")
        .iter()
        .map(|x| x.as_u64().expect("fixture: a non-negative integer") as usize)
        .collect()
}

/// The `shape` of a tensor spec.
pub fn shape(spec: &Value) -> Vec<usize> {
    usizes(&spec["shape"])
}

/// A float tensor; JSON `null` (how Python's `json` cannot write NaN, so the scripts
/// write `null`) reads as NaN.
pub fn tensor<T: Float>(spec: &Value) -> Tensor<T> {
    let data = spec["data"]
        .as_array()
        .expect("fixture: `data` array")
        .iter()
        .map(|v| T::of(v.as_f64().unwrap_or(f64::NAN)))
        .collect();
    Tensor::from_vec(data, &shape(spec))
}

/// An index tensor (class labels, gather indices).
pub fn indices(spec: &Value) -> Tensor<usize> {
    Tensor::from_vec(usizes(&spec["data"]), &shape(spec))
}

/// A boolean mask tensor.
pub fn bools(spec: &Value) -> Tensor<bool> {
    let data = spec["data"]
        .as_array()
        .expect("fixture: `data` array")
        .iter()
        .map(|v| v.as_bool().expect("fixture: a boolean"))
        .collect();
    Tensor::from_vec(data, &shape(spec))
}

/// Runs `f` on a rayon pool of exactly `threads` threads, so a test can compare results
/// across thread counts within one process (kernels cut their work for `threads`; Engram
/// runs it on at most one thread per core). One such run at a time in a test binary: a
/// parallel loop started while another thread's loop has Engram's team runs on its own
/// thread, and a comparison of thread counts wants its loops shared.
pub fn on_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a rayon pool")
        .install(f)
}

//! Launches the crate's check program under `mpirun` on this machine (loopback and
//! shared memory only) and checks data-parallel training against one process, and that a
//! failing rank stops the whole job. Needs the `mpi` feature and Open MPI's `mpirun`
//! (`tools/mpi/install.sh`).
#![cfg(feature = "mpi")]

use std::fs::File;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One job at a time: the machine may have two cores, and the fault tests time the job.
static ONE_JOB: Mutex<()> = Mutex::new(());

/// How long a job whose rank failed may take to stop, all ranks included.
const FAULT_BOUND: Duration = Duration::from_secs(20);

struct Job {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

/// Runs the check program on `ranks` processes with `args`; kills it after `limit`.
fn mpirun(ranks: usize, args: &[&str], limit: Duration) -> Job {
    let _one = ONE_JOB.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let started = Instant::now();
    let mut child = Command::new("mpirun")
        .args(["--oversubscribe", "-np", &ranks.to_string()])
        // Loopback only: shared memory between the ranks, nothing on the network.
        .args([
            "--mca",
            "btl",
            "self,vader",
            "--mca",
            "oob_tcp_if_include",
            "lo",
        ])
        .arg(env!("CARGO_BIN_EXE_engram-distributed-check"))
        .args(args)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("RAYON_NUM_THREADS", "1")
        .stdout(Stdio::from(File::create(&out).unwrap()))
        .stderr(Stdio::from(File::create(&err).unwrap()))
        .spawn()
        .expect("could not start `mpirun`: install Open MPI (tools/mpi/install.sh)");
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            child.kill().unwrap();
            let stderr = std::fs::read_to_string(&err).unwrap_or_default();
            panic!("`mpirun -np {ranks} … {args:?}` still running after {limit:?}: a rank hangs\n{stderr}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Job {
        status,
        elapsed: started.elapsed(),
        stdout: std::fs::read_to_string(out).unwrap(),
        stderr: std::fs::read_to_string(err).unwrap(),
    }
}

/// Trains on `ranks` processes and checks (a) the same parameters as one process with
/// the combined batch, to `tolerance`, and (b) bitwise-equal parameters on every rank
/// after every step.
fn check_equivalence(
    ranks: usize,
    dtype: &str,
    batch: usize,
    steps: usize,
    accumulate: usize,
    tolerance: f64,
) {
    let args = [
        "equivalence",
        dtype,
        &batch.to_string(),
        &steps.to_string(),
        &accumulate.to_string(),
    ];
    let job = mpirun(ranks, &args, Duration::from_secs(60));
    assert!(job.status.success(), "{}\n{}", job.stdout, job.stderr);
    for step in 0..steps {
        let hashes: Vec<&str> = job
            .stdout
            .lines()
            .filter(|l| l.starts_with(&format!("step {step} rank ")))
            .map(|l| l.rsplit(' ').next().unwrap())
            .collect();
        assert_eq!(
            hashes.len(),
            ranks,
            "step {step}: a rank did not report\n{}",
            job.stdout
        );
        assert!(
            hashes.iter().all(|h| *h == hashes[0]),
            "step {step}: the ranks' parameters differ: {hashes:?}"
        );
    }
    let diff: f64 = job
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("max_abs_diff "))
        .unwrap_or_else(|| panic!("rank 0 did not compare\n{}", job.stdout))
        .parse()
        .unwrap();
    assert!(
        diff <= tolerance,
        "{ranks} ranks vs one process: parameters differ by {diff:e} > {tolerance:e}"
    );
}

// In f64 the two runs differ only in the order of summation of the batch mean (per rank,
// then over ranks, versus all at once): a few ulps of values of order 1 per step, far
// below 1e-12 after a few steps. In f32 the same rounding is ~1e-7 per step; 1e-5 leaves
// room for its growth over the steps while catching any real error (a missing 1/N scale
// or a wrong shard changes parameters by ~1e-2).

#[test]
fn two_ranks_train_as_one_process_with_twice_the_batch_in_f64() {
    check_equivalence(2, "f64", 4, 5, 1, 1e-12);
}

#[test]
fn four_ranks_accumulating_two_micro_batches_train_as_one_process_in_f64() {
    check_equivalence(4, "f64", 2, 4, 2, 1e-12);
}

#[test]
fn two_and_four_ranks_train_as_one_process_in_f32() {
    check_equivalence(2, "f32", 4, 5, 1, 1e-5);
    check_equivalence(4, "f32", 3, 5, 1, 1e-5);
}

#[test]
fn a_rank_that_panics_stops_every_rank() {
    let job = mpirun(2, &["panic", "1"], FAULT_BOUND);
    assert!(!job.status.success());
    assert!(job.elapsed < FAULT_BOUND);
    assert!(
        job.stderr
            .contains("rank 1 of 2 panicked; aborting every rank"),
        "{}",
        job.stderr
    );
}

#[test]
fn a_rank_that_is_killed_stops_every_rank() {
    let job = mpirun(2, &["kill", "1"], FAULT_BOUND);
    assert!(!job.status.success(), "{}", job.stderr);
    assert!(job.elapsed < FAULT_BOUND);
}

#[test]
fn a_rank_with_other_parameters_is_an_error_on_every_rank() {
    let job = mpirun(3, &["mismatch", "1"], FAULT_BOUND);
    assert!(!job.status.success());
    for rank in 0..3 {
        assert!(
            job.stderr.contains(&format!(
                "rank {rank}: ranks [1] hold a different parameter set from rank 0"
            )),
            "rank {rank} did not report the mismatch:\n{}",
            job.stderr
        );
    }
    assert!(
        job.stderr.contains("rank 0 has parameter `0.weight` [16, 6] float32 trainable, this rank has parameter `0.weight` [17, 6] float32 trainable"),
        "{}",
        job.stderr
    );
}

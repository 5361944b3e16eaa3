//! The `engram` command-line tool.

#[cfg(not(feature = "cli"))]
compile_error!("the `engram` binary needs the `cli` feature (on by default)");

mod sweep;

use clap::{Parser, Subcommand, ValueEnum};
use engram::gradbench;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use sweep::{run_sweep, CaseResult, Dtype, Order, SweepConfig, SweepReport};

mod allocator;

#[derive(Parser)]
#[command(
    name = "engram",
    version,
    about = "Engram: a deep-learning framework for Rust"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check every differentiable op's gradients against central differences.
    Gradcheck(GradcheckArgs),
    /// Serve the GradBench tool protocol on stdin/stdout.
    Gradbench(GradbenchArgs),
}

#[derive(clap::Args)]
struct GradbenchArgs {
    /// Use every core (GradBench expects tools to be single-threaded by default).
    #[arg(long)]
    multithreaded: bool,
}

#[derive(clap::Args)]
struct GradcheckArgs {
    /// Run only cases whose name (`op/label`) contains this text.
    #[arg(long)]
    filter: Option<String>,
    /// Seed of the random inputs.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// 1: first derivatives of every op; 2: second derivatives of ops that have them.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    order: u8,
    /// Element type; f32 runs with loose tolerances.
    #[arg(long, value_enum, default_value_t = DtypeArg::F64)]
    dtype: DtypeArg,
    /// Also write the report as JSON to this path (schema: `engram::sweep`).
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum DtypeArg {
    F64,
    F32,
}

fn main() -> ExitCode {
    allocator::keep_freed_memory_mapped();
    let cli = Cli::parse();
    match cli.command {
        Command::Gradcheck(args) => gradcheck(args),
        Command::Gradbench(args) => gradbench(args),
    }
}

fn gradbench(args: GradbenchArgs) -> ExitCode {
    if !args.multithreaded {
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build_global()
        {
            eprintln!("warning: could not limit engram to one thread: {e}");
        }
    }
    let stdin = std::io::stdin();
    match gradbench::serve(stdin.lock(), std::io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn gradcheck(args: GradcheckArgs) -> ExitCode {
    let config = SweepConfig {
        filter: args.filter,
        seed: args.seed,
        order: if args.order == 1 {
            Order::First
        } else {
            Order::Second
        },
        dtype: match args.dtype {
            DtypeArg::F64 => Dtype::F64,
            DtypeArg::F32 => Dtype::F32,
        },
    };
    let o = config.tolerances();
    let total = config.cases().len();
    let precision = match config.dtype {
        Dtype::F64 => "f64".to_string(),
        Dtype::F32 => "f32 (loose tolerances, marked as such)".to_string(),
    };
    println!(
        "engram gradcheck: {total} cases, order {}, {precision}, eps {:e}, atol {:e}, rtol {:e}, seed {}",
        args.order, o.eps, o.atol, o.rtol, config.seed
    );
    if total == 0 {
        eprintln!("no case matches the filter");
        return ExitCode::FAILURE;
    }
    println!(
        "{:<40} {:<28} {:>12} {:>12} {:>8} {:>10}",
        "case", "shapes", "max abs err", "max rel err", "verdict", "time"
    );
    let on_terminal = std::io::stderr().is_terminal();
    let results = run_sweep(&config, |done, total, r| {
        print_row(r);
        if on_terminal {
            eprint!("\r[{done}/{total}] ");
            let _ = std::io::stderr().flush();
        }
    });
    if on_terminal {
        eprintln!();
    }
    let report = SweepReport::new(&config, results);
    println!(
        "largest errors: abs {:.3e}, rel {:.3e}",
        report.max_abs_error, report.max_rel_error
    );
    if let Some(path) = &args.json {
        if let Err(e) = report.write_json(path) {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
        println!("report written to {}", path.display());
    }
    println!("{} passed, {} failed", report.passed, report.failed);
    if report.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn print_row(r: &CaseResult) {
    let shapes = r
        .shapes
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(" ");
    let verdict = if r.passed { "ok" } else { "FAIL" };
    println!(
        "{:<40} {:<28} {:>12.3e} {:>12.3e} {:>8} {:>8.2}ms",
        r.name,
        shapes,
        r.max_abs_error,
        r.max_rel_error,
        verdict,
        r.seconds * 1e3
    );
    if let (false, Some(w)) = (r.passed, &r.worst) {
        println!(
            "    worst: input {} at {:?}: analytic {:.6e}, numeric {:.6e}",
            w.input, w.index, w.analytic, w.numeric
        );
    }
}

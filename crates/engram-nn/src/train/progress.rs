//! Progress of a training run, for a person at a terminal: a bar per epoch with the running
//! loss, throughput and time left (indicatif) on a terminal; one plain line per epoch when
//! output is not a terminal (CI logs, pipes); nothing in quiet mode.

use crate::train::history::EpochLog;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::time::Instant;

/// How much a training run prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Verbosity {
    /// A bar on a terminal, plain lines otherwise.
    #[default]
    Auto,
    /// Nothing (tests).
    Quiet,
    /// One line per epoch.
    Lines,
    /// A live bar per epoch.
    Bar,
}

/// Prints a run's progress as epochs and steps complete.
pub struct Progress {
    mode: Verbosity,
    out: Box<dyn Write>,
    epochs: usize,
    steps: usize,
    bar: Option<ProgressBar>,
    started: Instant,
    /// Seconds from the epoch's start to its last training step: the throughput's
    /// denominator, which leaves out the validation pass that follows the steps.
    training_seconds: f64,
    samples: usize,
    loss_sum: f64,
    loss_count: usize,
}

impl Progress {
    /// Progress for `epochs` epochs of `steps` batches each. `Auto` picks a bar when
    /// standard error is a terminal and lines on standard output otherwise.
    pub fn new(verbosity: Verbosity, epochs: usize, steps: usize) -> Progress {
        let mode = match verbosity {
            Verbosity::Auto if std::io::stderr().is_terminal() => Verbosity::Bar,
            Verbosity::Auto => Verbosity::Lines,
            other => other,
        };
        Progress::to_writer(mode, epochs, steps, Box::new(std::io::stdout()))
    }

    /// Progress written to `out` (plain lines; a bar always draws on standard error).
    pub fn to_writer(
        mode: Verbosity,
        epochs: usize,
        steps: usize,
        out: Box<dyn Write>,
    ) -> Progress {
        Progress {
            mode,
            out,
            epochs,
            steps,
            bar: None,
            started: Instant::now(),
            training_seconds: 0.0,
            samples: 0,
            loss_sum: 0.0,
            loss_count: 0,
        }
    }

    /// An epoch begins.
    pub fn start_epoch(&mut self, epoch: usize) {
        self.started = Instant::now();
        self.training_seconds = 0.0;
        self.samples = 0;
        self.loss_sum = 0.0;
        self.loss_count = 0;
        if self.mode == Verbosity::Bar {
            let bar = ProgressBar::with_draw_target(
                Some(self.steps as u64),
                ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:28.cyan/blue}] {pos}/{len} {elapsed_precise} eta {eta} {msg}",
                )
                .expect("the template is valid")
                .progress_chars("=> "),
            );
            bar.set_prefix(format!("Epoch {epoch}/{}", self.epochs));
            self.bar = Some(bar);
        }
    }

    /// A batch of `samples` examples finished with this loss.
    pub fn step(&mut self, samples: usize, loss: f64) {
        self.samples += samples;
        self.loss_sum += loss;
        self.loss_count += 1;
        self.training_seconds = self.started.elapsed().as_secs_f64();
        if let Some(bar) = &self.bar {
            bar.set_message(format!(
                "{:.0} samples/s - loss: {:.4}",
                self.samples as f64 / self.training_seconds.max(1e-9),
                self.loss_sum / self.loss_count as f64
            ));
            bar.inc(1);
        }
    }

    /// The epoch ended with these figures. The line shows the epoch's whole time
    /// (`log.seconds`, validation included) and the training throughput (samples over the
    /// time of the training steps alone), as a user comparing frameworks expects.
    pub fn end_epoch(&mut self, log: &EpochLog) {
        let rate = self.samples as f64 / self.training_seconds.max(1e-9);
        let figures: String = log
            .values
            .iter()
            .map(|(k, v)| format!(" - {k}: {}", format_figure(*v)))
            .collect();
        match self.mode {
            Verbosity::Bar => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_with_message(format!("{rate:.0} samples/s{figures}"));
                }
            }
            Verbosity::Lines => {
                // A failed write to the log must not stop training.
                let _ = writeln!(
                    self.out,
                    "Epoch {}/{} - {} steps - {:.2}s - {:.0} samples/s{}",
                    log.epoch, self.epochs, self.steps, log.seconds, rate, figures
                );
                let _ = self.out.flush();
            }
            Verbosity::Quiet | Verbosity::Auto => {}
        }
    }

    /// A free-form line (early stopping, a checkpoint written), unless quiet.
    pub fn note(&mut self, text: &str) {
        match self.mode {
            Verbosity::Bar => {
                let _ = writeln!(std::io::stderr(), "{text}");
            }
            Verbosity::Lines => {
                let _ = writeln!(self.out, "{text}");
            }
            Verbosity::Quiet | Verbosity::Auto => {}
        }
    }
}

/// Four decimals, or scientific notation for tiny learning rates and the like.
fn format_figure(v: f64) -> String {
    if v != 0.0 && v.abs() < 1e-3 {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_mode_prints_one_line_per_epoch_with_every_figure() {
        let sink = Shared::default();
        let mut p = Progress::to_writer(Verbosity::Lines, 2, 3, Box::new(sink.clone()));
        for epoch in 1..=2 {
            p.start_epoch(epoch);
            for _ in 0..3 {
                p.step(4, 0.5);
            }
            p.end_epoch(&EpochLog {
                epoch,
                values: [("loss".into(), 0.5), ("lr".into(), 1e-4)]
                    .into_iter()
                    .collect(),
                seconds: 2.0,
            });
        }
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        for (epoch, line) in (1..=2).zip(&lines) {
            let (head, figures) = line.split_once(" samples/s").expect("a throughput");
            let (head, rate) = head.rsplit_once(" - ").expect("a rate after the time");
            assert_eq!(head, format!("Epoch {epoch}/2 - 3 steps - 2.00s"));
            assert!(rate.parse::<f64>().is_ok(), "{line}");
            assert_eq!(figures, " - loss: 0.5000 - lr: 1.000e-4");
        }
    }

    #[test]
    fn the_throughput_leaves_out_the_time_after_the_last_step() {
        // 1,000 samples in steps that take microseconds, then 200 ms of (say) validation:
        // counting the validation would give at most 5,000 samples/s; the bound below
        // leaves 100 ms for a loaded machine to pause between the start and the step.
        let sink = Shared::default();
        let mut p = Progress::to_writer(Verbosity::Lines, 1, 1, Box::new(sink.clone()));
        p.start_epoch(1);
        p.step(1000, 0.5);
        std::thread::sleep(std::time::Duration::from_millis(200));
        p.end_epoch(&EpochLog {
            epoch: 1,
            seconds: 0.2,
            ..EpochLog::default()
        });
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let rate: f64 = text
            .split(" - ")
            .find_map(|part| part.trim().strip_suffix(" samples/s"))
            .expect("a throughput")
            .parse()
            .unwrap();
        assert!(rate > 10_000.0, "{text}");
    }

    #[test]
    fn quiet_mode_prints_nothing() {
        let sink = Shared::default();
        let mut p = Progress::to_writer(Verbosity::Quiet, 1, 1, Box::new(sink.clone()));
        p.start_epoch(1);
        p.step(1, 1.0);
        p.end_epoch(&EpochLog::default());
        p.note("stopped early");
        assert!(sink.0.lock().unwrap().is_empty());
    }
}

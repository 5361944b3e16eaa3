//! The record of a training run: one row per epoch of named figures (loss, metrics,
//! validation figures, learning rate), written as CSV and drawn as an SVG plot.

use indexmap::IndexMap;
use std::path::Path;

/// One epoch's figures, by name (`loss`, `accuracy`, `val_loss`, `lr`, ...), in the order
/// they were recorded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EpochLog {
    /// The epoch number, from 1.
    pub epoch: usize,
    /// Figure name → value.
    pub values: IndexMap<String, f64>,
    /// Wall-clock seconds the epoch took (training and validation).
    pub seconds: f64,
}

/// Every epoch's figures: what `fit` returns, as Keras's `History`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// The epochs, in order.
    pub epochs: Vec<EpochLog>,
}

impl History {
    /// An empty history.
    pub fn new() -> History {
        History::default()
    }

    /// Appends an epoch.
    pub fn push(&mut self, log: EpochLog) {
        self.epochs.push(log);
    }

    /// The values of one figure over the epochs (`None` for epochs without it).
    pub fn series(&self, name: &str) -> Vec<Option<f64>> {
        self.epochs
            .iter()
            .map(|e| e.values.get(name).copied())
            .collect()
    }

    /// The last recorded value of a figure.
    pub fn last(&self, name: &str) -> Option<f64> {
        self.epochs
            .iter()
            .rev()
            .find_map(|e| e.values.get(name).copied())
    }

    /// Every figure name, in first-seen order.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for e in &self.epochs {
            for k in e.values.keys() {
                if !names.contains(k) {
                    names.push(k.clone());
                }
            }
        }
        names
    }

    /// The history as CSV: a header `epoch,seconds,<figures...>` and one row per epoch
    /// (an empty field where an epoch lacks a figure).
    pub fn to_csv(&self) -> String {
        let names = self.names();
        let mut out = String::from("epoch,seconds");
        for n in &names {
            out.push(',');
            out.push_str(n);
        }
        out.push('\n');
        for e in &self.epochs {
            out.push_str(&format!("{},{:.6}", e.epoch, e.seconds));
            for n in &names {
                out.push(',');
                if let Some(v) = e.values.get(n) {
                    out.push_str(&format!("{v}"));
                }
            }
            out.push('\n');
        }
        out
    }

    /// Writes [`History::to_csv`] to `path` atomically (a temporary file renamed over it).
    pub fn write_csv(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        write_atomically(path.as_ref(), self.to_csv().as_bytes())
    }

    /// Draws the curves as an SVG: one panel for the losses (`loss`, `val_loss`) and one
    /// for every other figure (metrics, train and validation), against the epoch.
    pub fn write_svg(&self, path: impl AsRef<Path>, title: &str) -> std::io::Result<()> {
        let svg = crate::train::plot::history_svg(self, title).map_err(std::io::Error::other)?;
        write_atomically(path.as_ref(), svg.as_bytes())
    }
}

/// Writes through the checkpoint writer, so curves get the same guarantees as models: a
/// temporary file fsynced and renamed over `path`, never replacing a non-regular file.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    crate::files::write_atomically(path, bytes).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(epoch: usize, pairs: &[(&str, f64)]) -> EpochLog {
        EpochLog {
            epoch,
            values: pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            seconds: 0.5,
        }
    }

    #[test]
    fn csv_has_a_column_per_figure_and_blank_for_missing() {
        let mut h = History::new();
        h.push(log(1, &[("loss", 0.5)]));
        h.push(log(2, &[("loss", 0.25), ("val_loss", 0.75)]));
        assert_eq!(
            h.to_csv(),
            "epoch,seconds,loss,val_loss\n1,0.500000,0.5,\n2,0.500000,0.25,0.75\n"
        );
        assert_eq!(h.last("loss"), Some(0.25));
        assert_eq!(h.series("val_loss"), vec![None, Some(0.75)]);
    }

    #[test]
    fn write_csv_puts_the_whole_table_in_the_file() {
        let mut h = History::new();
        h.push(log(1, &[("loss", 0.5)]));
        let dir = std::env::temp_dir().join(format!("engram-history-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("history.csv");
        h.write_csv(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), h.to_csv());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

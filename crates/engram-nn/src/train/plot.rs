//! Training curves drawn with `plotters` into SVG (which needs no font library: text is
//! left to the viewer).

use crate::train::history::History;
use plotters::prelude::*;

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// The history as an SVG document: losses on the left, other figures on the right;
/// validation curves dashed-looking by a lighter colour of the same hue.
pub(crate) fn history_svg(history: &History, title: &str) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1000, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let root = root
            .titled(title, ("sans-serif", 22))
            .map_err(|e| e.to_string())?;
        let (left, right) = root.split_horizontally(500);
        let names = history.names();
        let (losses, others): (Vec<String>, Vec<String>) = names
            .into_iter()
            .filter(|n| n != "lr")
            .partition(|n| n.ends_with("loss"));
        panel(&left, history, &losses, "loss")?;
        panel(&right, history, &others, "metrics")?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

fn panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    history: &History,
    names: &[String],
    caption: &str,
) -> Result<(), String> {
    let epochs = history.epochs.len().max(1);
    let values: Vec<f64> = names
        .iter()
        .flat_map(|n| history.series(n).into_iter().flatten())
        .filter(|v| v.is_finite())
        .collect();
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() && hi > lo {
        let pad = 0.05 * (hi - lo);
        (lo - pad, hi + pad)
    } else if lo.is_finite() {
        (lo - 0.5, lo + 0.5)
    } else {
        (0.0, 1.0)
    };
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(35)
        .y_label_area_size(55)
        .build_cartesian_2d(1f64..(epochs as f64).max(2.0), lo..hi)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .draw()
        .map_err(|e| e.to_string())?;
    for (i, name) in names.iter().enumerate() {
        let base = name.strip_prefix("val_").unwrap_or(name);
        let hue = names
            .iter()
            .filter(|n| !n.starts_with("val_"))
            .position(|n| n == base)
            .unwrap_or(i);
        let colour = PALETTE[hue % PALETTE.len()];
        let style = if name.starts_with("val_") {
            ShapeStyle::from(colour.mix(0.55)).stroke_width(2)
        } else {
            ShapeStyle::from(colour).stroke_width(2)
        };
        let points: Vec<(f64, f64)> = history
            .epochs
            .iter()
            .filter_map(|e| e.values.get(name).map(|v| (e.epoch as f64, *v)))
            .filter(|(_, v)| v.is_finite())
            .collect();
        chart
            .draw_series(LineSeries::new(points, style))
            .map_err(|e| e.to_string())?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    if !names.is_empty() {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::history::EpochLog;

    #[test]
    fn svg_names_every_curve() {
        let mut h = History::new();
        for e in 1..=3 {
            h.push(EpochLog {
                epoch: e,
                values: [
                    ("loss".to_string(), 1.0 / e as f64),
                    ("val_loss".to_string(), 1.2 / e as f64),
                    ("accuracy".to_string(), 0.5 + 0.1 * e as f64),
                ]
                .into_iter()
                .collect(),
                seconds: 0.1,
            });
        }
        let svg = history_svg(&h, "digits").unwrap();
        assert!(svg.starts_with("<svg"));
        for label in ["loss", "val_loss", "accuracy", "digits", "epoch"] {
            assert!(svg.contains(label), "missing {label}");
        }
    }
}

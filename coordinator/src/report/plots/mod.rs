//! Plots, as SVG and PNG, with plotters: per dataset, the prediction
//! metric against GF (one point per α with error bars over seeds, the STL
//! point, the Pareto points circled) beside GNF against α; and for
//! scheduled runs, one metric over runs.
//!
//! Text is drawn with `ab_glyph` from a TrueType font on disk (DejaVu Sans
//! by default, `SWEEP_FONT` to choose another) rather than through
//! fontconfig: one pure-Rust dependency instead of a C library.
//!
//! `font` finds and registers the font, `tradeoff` draws the per-dataset
//! figure and `history` the one over runs; the drawing helpers they share
//! live here.

mod font;
mod graph;
mod history;
mod tradeoff;

use std::path::Path;

use plotters::prelude::*;

use super::ReportError;
pub use graph::write_graph;
pub use history::{write_history, Series};
pub use tradeoff::{tradeoff_svgs, write_tradeoffs};

type Result2<T> = Result<T, ReportError>;

/// A plotters failure, as text: its type depends on the backend. The
/// caller names the file it was drawing (`ReportError::Plot`).
struct DrawError(String);

type Drawn = Result<(), DrawError>;

fn e<E: std::fmt::Display>(err: E) -> DrawError {
    DrawError(err.to_string())
}

/// Names the file a drawing failure was drawing.
fn drawing(path: &Path) -> impl FnOnce(DrawError) -> ReportError {
    let path = path.to_path_buf();
    move |err| ReportError::Plot {
        path,
        message: err.0,
    }
}

/// A range around `values` with a margin, never empty.
fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.08).max(hi.abs() * 0.02).max(1e-9);
    (lo - pad, hi + pad)
}

/// The series' legend, on a light box at `at`.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    at: SeriesLabelPosition,
    font_size: u32,
) -> Drawn {
    chart
        .configure_series_labels()
        .position(at)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", font_size))
        .draw()
        .map_err(e)
}

//! The history figure of scheduled runs: one metric over runs, one panel
//! per dataset.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use super::font::font;
use super::{drawing, e, legend, span, Drawn, Result2};
use crate::report::ReportError;

/// One series of a metric over runs: its label and one value per run
/// (`None` where the run has no such cell).
pub struct Series {
    pub label: String,
    pub values: Vec<Option<f64>>,
}

/// Writes `<stem>.svg` and `<stem>.png`: one panel per dataset, one line
/// per cell, the metric's mean over seeds against the run number.
pub fn write_history(
    stem: &Path,
    metric: &str,
    runs: &[String],
    panels: &[(String, Vec<Series>)],
) -> Result2<Vec<PathBuf>> {
    font()?;
    if let Some(dir) = stem.parent() {
        std::fs::create_dir_all(dir).map_err(ReportError::io(dir))?;
    }
    let svg = stem.with_extension("svg");
    let png = stem.with_extension("png");
    let size = (1000, 320 * panels.len().max(1) as u32);
    let _writing = crate::report::writing();
    history(
        SVGBackend::new(&svg, size).into_drawing_area(),
        metric,
        runs,
        panels,
    )
    .map_err(drawing(&svg))?;
    history(
        BitMapBackend::new(&png, size).into_drawing_area(),
        metric,
        runs,
        panels,
    )
    .map_err(drawing(&png))?;
    Ok(vec![svg, png])
}

fn history<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    metric: &str,
    runs: &[String],
    panels: &[(String, Vec<Series>)],
) -> Drawn {
    root.fill(&WHITE).map_err(e)?;
    let areas = root.split_evenly((panels.len().max(1), 1));
    let n = runs.len().max(1);
    for ((dataset, series), area) in panels.iter().zip(areas) {
        let y = span(
            series
                .iter()
                .flat_map(|s| s.values.iter().flatten().copied()),
        );
        let mut chart = ChartBuilder::on(&area)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .caption(format!("{dataset}: {metric} over runs"), ("sans-serif", 18))
            .build_cartesian_2d(-0.5..(n as f64 - 0.5), y.0..y.1)
            .map_err(e)?;
        let labels = runs.to_vec();
        chart
            .configure_mesh()
            .x_labels(n.min(20))
            .x_label_formatter(&move |x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    labels.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc(metric)
            .light_line_style(WHITE)
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(e)?;
        for (k, s) in series.iter().enumerate() {
            let colour = Palette99::pick(k).to_rgba();
            let points: Vec<(f64, f64)> = s
                .values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| Some((i as f64, (*v)?)))
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), colour))
                .map_err(e)?
                .label(&s.label)
                .legend(move |(x, y)| Circle::new((x, y), 4, colour.filled()));
            chart
                .draw_series(points.iter().map(|p| Circle::new(*p, 3, colour.filled())))
                .map_err(e)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight, 11)?;
    }
    root.present().map_err(e)
}

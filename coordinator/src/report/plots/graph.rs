//! The task graph's figure: per dataset, the cells as nodes on a circle in
//! α (or grid) order, each learned edge drawn with its weight as width and
//! shade, nodes coloured by the component (shared explanation) they are in.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use super::font::font;
use super::{drawing, e, Drawn, Result2};
use crate::graph::{DatasetGraph, Report, SHARED_MIN_WEIGHT};
use crate::report::ReportError;

const PANEL: (u32, u32) = (640, 640);

/// Writes `graph.svg` and `graph.png` in `out`: one panel per dataset.
pub fn write_graph(report: &Report, out: &Path) -> Result2<Vec<PathBuf>> {
    font()?;
    std::fs::create_dir_all(out).map_err(ReportError::io(out))?;
    let size = (PANEL.0 * report.graphs.len().max(1) as u32, PANEL.1);
    let svg = out.join("graph.svg");
    let png = out.join("graph.png");
    draw(SVGBackend::new(&svg, size).into_drawing_area(), report).map_err(drawing(&svg))?;
    draw(BitMapBackend::new(&png, size).into_drawing_area(), report).map_err(drawing(&png))?;
    Ok(vec![svg, png])
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    report: &Report,
) -> Drawn {
    root.fill(&WHITE).map_err(e)?;
    let panels = root.split_evenly((1, report.graphs.len().max(1)));
    for (area, g) in panels.iter().zip(&report.graphs) {
        panel(area, g)?;
    }
    root.present().map_err(e)
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    g: &DatasetGraph,
) -> Drawn {
    let area = area
        .titled(&format!("{}: task graph", g.dataset), ("sans-serif", 24))
        .map_err(e)?;
    let (w, h) = area.dim_in_pixel();
    let (cx, cy) = (f64::from(w) / 2.0, f64::from(h) / 2.0);
    let radius = f64::from(w.min(h)) * 0.34;
    let k = g.cells.len().max(1);
    // Nodes in report order (by α within an objective) around the circle.
    let at = |i: usize| {
        let t = std::f64::consts::TAU * i as f64 / k as f64 - std::f64::consts::FRAC_PI_2;
        (
            (cx + radius * t.cos()) as i32,
            (cy + radius * t.sin()) as i32,
        )
    };
    for edge in g.learned.edges.iter().filter(|e| e.weight > 0.0) {
        let shade = if edge.weight >= SHARED_MIN_WEIGHT {
            RGBColor(40, 40, 40).mix(0.25 + 0.75 * edge.weight)
        } else {
            RGBColor(160, 160, 160).mix(0.4)
        };
        let width = (1.0 + 5.0 * edge.weight).round() as u32;
        area.draw(&PathElement::new(
            vec![at(edge.a), at(edge.b)],
            shade.stroke_width(width),
        ))
        .map_err(e)?;
    }
    for (i, (label, _)) in g.cells.iter().enumerate() {
        let colour = Palette99::pick(g.components[i]).to_rgba();
        let (x, y) = at(i);
        area.draw(&Circle::new((x, y), 9, colour.filled()))
            .map_err(e)?;
        area.draw(&Circle::new((x, y), 9, BLACK.stroke_width(1)))
            .map_err(e)?;
        let t = std::f64::consts::TAU * i as f64 / k as f64 - std::f64::consts::FRAC_PI_2;
        let (lx, ly) = (
            (cx + (radius + 26.0) * t.cos()) as i32,
            (cy + (radius + 26.0) * t.sin()) as i32,
        );
        let anchor = if t.cos() < -0.2 {
            plotters::style::text_anchor::HPos::Right
        } else if t.cos() > 0.2 {
            plotters::style::text_anchor::HPos::Left
        } else {
            plotters::style::text_anchor::HPos::Center
        };
        let style = TextStyle::from(("sans-serif", 14).into_font()).pos(
            plotters::style::text_anchor::Pos::new(
                anchor,
                plotters::style::text_anchor::VPos::Center,
            ),
        );
        area.draw(&Text::new(label.clone(), (lx, ly), style))
            .map_err(e)?;
    }
    let note = format!(
        "edge width and shade: weight; colour: cells sharing one explanation (weight ≥ {SHARED_MIN_WEIGHT})"
    );
    area.draw(&Text::new(
        note,
        (10, h as i32 - 20),
        ("sans-serif", 13).into_font(),
    ))
    .map_err(e)?;
    Ok(())
}

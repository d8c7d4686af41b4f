//! The task graph's figure: per dataset, an arc diagram. The cells are
//! nodes on a line in report order (STL, then α ascending, per objective
//! and grid point), so regimes of α read left to right; each learned edge
//! is an arc whose width and shade are its weight. Cells that share one
//! explanation have their component's colour; cells on their own are grey,
//! so a colour always means sharing.

use std::path::{Path, PathBuf};

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::font::font;
use super::{drawing, e, Drawn, Result2};
use crate::graph::{groups, DatasetGraph, Report, SHARED_MIN_WEIGHT};
use crate::report::ReportError;

/// Pixels per node along the line, and the panel's least width and height.
const NODE_SPACING: u32 = 24;
const MIN_PANEL: (u32, u32) = (640, 560);
/// Room under the line for the cells' labels, written downwards.
const LABEL_ROOM: i32 = 150;
const ON_ITS_OWN: RGBColor = RGBColor(200, 200, 200);

/// Writes `graph.svg` and `graph.png` in `out`: one panel per dataset.
pub fn write_graph(report: &Report, out: &Path) -> Result2<Vec<PathBuf>> {
    font()?;
    std::fs::create_dir_all(out).map_err(ReportError::io(out))?;
    let most = report
        .graphs
        .iter()
        .map(|g| g.cells.len())
        .max()
        .unwrap_or(1) as u32;
    let panel_width = MIN_PANEL.0.max(NODE_SPACING * most + 80);
    let size = (panel_width * report.graphs.len().max(1) as u32, MIN_PANEL.1);
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

/// Each cell's colour: its shared component's, or grey on its own.
fn colours(g: &DatasetGraph) -> Vec<RGBAColor> {
    let mut colour = vec![ON_ITS_OWN.to_rgba(); g.cells.len()];
    let shared = groups(&g.components).into_iter().filter(|c| c.len() > 1);
    for (n, group) in shared.enumerate() {
        for i in group {
            colour[i] = Palette99::pick(n).to_rgba();
        }
    }
    colour
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    g: &DatasetGraph,
) -> Drawn {
    let kept = g
        .learned
        .edges
        .iter()
        .any(|e| e.weight >= SHARED_MIN_WEIGHT);
    let title = if g.learned.worse_than_empty && kept {
        format!("{}: task graph (scores worse than no edges)", g.dataset)
    } else {
        format!("{}: task graph", g.dataset)
    };
    let area = area.titled(&title, ("sans-serif", 22)).map_err(e)?;
    let (w, h) = area.dim_in_pixel();
    let k = g.cells.len().max(1);
    let line = h as i32 - LABEL_ROOM;
    let step = f64::from(w - 60) / k as f64;
    let x_of = |i: usize| (30.0 + step * (i as f64 + 0.5)) as i32;
    // The widest arc fills the room above the line; the others scale with it.
    let widest = g
        .learned
        .edges
        .iter()
        .map(|e| e.a.abs_diff(e.b))
        .max()
        .unwrap_or(1)
        .max(1);
    let room = f64::from(line - 40);
    let lift = room / (widest as f64 * step / 2.0);
    let mut edges: Vec<_> = g.learned.edges.iter().filter(|e| e.weight > 0.0).collect();
    // Heavy edges last, so that they are drawn over the faint ones.
    edges.sort_by(|a, b| a.weight.total_cmp(&b.weight));
    for edge in edges {
        let (xa, xb) = (x_of(edge.a.min(edge.b)), x_of(edge.a.max(edge.b)));
        let (mid, half) = (f64::from(xa + xb) / 2.0, f64::from(xb - xa) / 2.0);
        let arc: Vec<(i32, i32)> = (0..=32)
            .map(|s| {
                let t = std::f64::consts::PI * f64::from(s) / 32.0;
                (
                    (mid - half * t.cos()) as i32,
                    (f64::from(line) - half * lift * t.sin()) as i32,
                )
            })
            .collect();
        let style = if edge.weight >= SHARED_MIN_WEIGHT {
            RGBColor(30, 30, 30)
                .mix(0.3 + 0.7 * edge.weight)
                .stroke_width((1.0 + 4.0 * edge.weight).round() as u32)
        } else {
            RGBColor(170, 170, 170).mix(0.5).stroke_width(1)
        };
        area.draw(&PathElement::new(arc, style)).map_err(e)?;
    }
    area.draw(&PathElement::new(
        vec![(x_of(0) - 12, line), (x_of(k - 1) + 12, line)],
        BLACK.mix(0.3).stroke_width(1),
    ))
    .map_err(e)?;
    let label_style = TextStyle::from(("sans-serif", 13).into_font())
        .transform(FontTransform::Rotate90)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (i, ((label, _), colour)) in g.cells.iter().zip(colours(g)).enumerate() {
        let x = x_of(i);
        area.draw(&Circle::new((x, line), 8, colour.filled()))
            .map_err(e)?;
        area.draw(&Circle::new((x, line), 8, BLACK.stroke_width(1)))
            .map_err(e)?;
        area.draw(&Text::new(
            label.clone(),
            (x, line + 14),
            label_style.clone(),
        ))
        .map_err(e)?;
    }
    let notes = [
        format!("arcs: candidate edges, width and shade by learned weight (grey: < {SHARED_MIN_WEIGHT})"),
        "same colour: one shared explanation; grey node: on its own".to_string(),
    ];
    for (i, note) in notes.into_iter().enumerate() {
        area.draw(&Text::new(
            note,
            (10, 6 + 15 * i as i32),
            ("sans-serif", 12).into_font(),
        ))
        .map_err(e)?;
    }
    Ok(())
}

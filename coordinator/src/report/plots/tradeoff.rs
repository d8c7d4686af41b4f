//! The per-panel trade-off figure (a dataset, at one grid point when the
//! sweep has a grid): the prediction metric against GF beside GNF against
//! α, one series per objective (MTL, ExpO, ID-ExpO by α; the constrained
//! objective by ε, on the left only; STL as one point and a reference line).

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use polars::prelude::DataFrame;

use super::font::font;
use super::{drawing, e, legend, span, Drawn, Result2};
use crate::report::panels::panels;
use crate::report::{bools, floats, strings, ReportError};

/// Means and standard deviations of one metric, per cell.
type MeanStd = (Vec<Option<f64>>, Vec<Option<f64>>);

/// One cell of a dataset, on the means and standard deviations over seeds.
struct Point {
    objective: String,
    alpha: Option<f64>,
    /// The objective's own setting (ExpO's λ, ID-ExpO's λ₁, the constrained
    /// objective's ε): cells that share it make one curve.
    parameter: Option<f64>,
    prediction: (f64, f64),
    gf: (f64, f64),
    gnf: Option<(f64, f64)>,
    pareto: bool,
}

impl Point {
    /// The label drawn beside the point: its α, or the constrained
    /// objective's ε.
    fn tag(&self) -> Option<String> {
        match (self.alpha, self.objective.as_str()) {
            (Some(a), _) => Some(format!("α={a}")),
            (None, "constrained") => self.parameter.map(|e| format!("ε={}", short(e))),
            _ => None,
        }
    }
}

impl Point {
    /// Where the tag sits, in pixels from the point: above for MTL and the
    /// constrained objective, below for the regularised ones, so cells at
    /// the same place keep readable tags.
    fn tag_offset(&self) -> (i32, i32) {
        match self.objective.as_str() {
            "expo" => (13, 4),
            "idexpo" => (-44, 4),
            _ => (13, -16),
        }
    }
}

struct DatasetPlot {
    title: String,
    stem: String,
    prediction_name: &'static str,
    points: Vec<Point>,
}

/// How each objective is drawn: colour and legend text.
fn style(objective: &str) -> (RGBColor, &'static str) {
    match objective {
        "mtl" => (RGBColor(31, 119, 180), "MTL"),
        "expo" => (RGBColor(44, 160, 44), "ExpO"),
        "idexpo" => (RGBColor(148, 103, 189), "ID-ExpO"),
        "constrained" => (RGBColor(255, 127, 14), "Constrained (one point per ε)"),
        _ => (RGBColor(214, 39, 40), "STL (f alone, g fitted after)"),
    }
}

/// One objective's points, each objective with its own marker so that
/// cells at the same place stay apart: MTL filled circles, ExpO crosses,
/// ID-ExpO rings, the constrained objective squares (the STL triangle and
/// the Pareto circles are drawn by the caller).
fn markers<'a, DB, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    objective: &str,
    at: Vec<(f64, f64)>,
    colour: RGBColor,
    name: String,
) -> Drawn
where
    DB: DrawingBackend + 'a,
    CT: CoordTranslate<From = (f64, f64)>,
{
    let line = colour.stroke_width(2);
    match objective {
        "expo" => chart
            .draw_series(at.into_iter().map(|c| Cross::new(c, 6, line)))
            .map_err(e)?
            .label(name)
            .legend(move |c| Cross::new(c, 5, line)),
        "idexpo" => chart
            .draw_series(at.into_iter().map(|c| Circle::new(c, 6, line)))
            .map_err(e)?
            .label(name)
            .legend(move |c| Circle::new(c, 5, line)),
        "constrained" => {
            chart
                .draw_series(at.into_iter().map(|c| {
                    EmptyElement::at(c) + Rectangle::new([(-5, -5), (5, 5)], colour.filled())
                }))
                .map_err(e)?
                .label(name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x - 5, y - 5), (x + 5, y + 5)], colour.filled())
                })
        }
        _ => chart
            .draw_series(at.into_iter().map(|c| Circle::new(c, 5, colour.filled())))
            .map_err(e)?
            .label(name)
            .legend(move |c| Circle::new(c, 5, colour.filled())),
    };
    Ok(())
}

/// A curve: an objective, its own setting, and its points in order.
type Curve<'a> = (String, Option<f64>, Vec<&'a Point>);

/// A curve of GNF against α: (α, (mean, std)) per point, and its colour.
type GnfCurve<'a> = (
    &'a String,
    &'a Option<f64>,
    Vec<(f64, (f64, f64))>,
    RGBColor,
);

/// `c` darkened for an objective's `n`-th own setting, so its curves differ.
fn shade(c: RGBColor, n: usize) -> RGBColor {
    let f = 0.6f64.powi(n as i32);
    let dim = |v: u8| (f64::from(v) * f) as u8;
    RGBColor(dim(c.0), dim(c.1), dim(c.2))
}

/// The curves of a plot: the non-STL cells grouped by objective and own
/// setting, each in order of α (or of ε for the constrained objective).
fn curves(points: &[Point]) -> Vec<Curve<'_>> {
    let mut out: Vec<Curve<'_>> = Vec::new();
    for p in points.iter().filter(|p| p.objective != "stl") {
        match out
            .iter_mut()
            .find(|(o, k, _)| *o == p.objective && (*k == p.parameter || p.alpha.is_none()))
        {
            Some((_, _, v)) => v.push(p),
            None => {
                let key = if p.alpha.is_some() { p.parameter } else { None };
                out.push((p.objective.clone(), key, vec![p]))
            }
        }
    }
    for (_, _, v) in &mut out {
        v.sort_by(|a, b| {
            let key = |p: &Point| p.alpha.or(p.parameter).unwrap_or(0.0);
            key(a).total_cmp(&key(b))
        });
    }
    out.sort_by(|a, b| {
        crate::report::table::objective_rank(&a.0)
            .cmp(&crate::report::table::objective_rank(&b.0))
            .then(a.1.unwrap_or(0.0).total_cmp(&b.1.unwrap_or(0.0)))
    });
    out
}

fn datasets(cells: &DataFrame) -> Result2<Vec<DatasetPlot>> {
    let alpha = floats(cells, "alpha")?;
    let objective = strings(cells, "objective")?;
    let parameter = floats(cells, "objective_parameter")?;
    let stat = |m: &str| -> Result2<MeanStd> {
        Ok((
            floats(cells, &format!("{m}_mean"))?,
            floats(cells, &format!("{m}_std"))?,
        ))
    };
    let (acc, acc_sd) = stat("accuracy")?;
    let (mse, mse_sd) = stat("mse")?;
    let (gf, gf_sd) = stat("gf")?;
    let (gnf, gnf_sd) = stat("gnf")?;
    let pareto = bools(cells, "pareto")?;
    let mut out: Vec<DatasetPlot> = Vec::new();
    for panel in panels(cells)? {
        let mut plot: Option<DatasetPlot> = None;
        for &i in &panel.rows {
            let (name, prediction) = match (acc[i], mse[i]) {
                (Some(a), _) => ("accuracy", (a, acc_sd[i].unwrap_or(0.0))),
                (None, Some(m)) => ("MSE", (m, mse_sd[i].unwrap_or(0.0))),
                _ => continue,
            };
            let Some(g) = gf[i] else { continue };
            let point = Point {
                objective: objective[i].clone(),
                alpha: alpha[i],
                parameter: parameter[i],
                prediction,
                gf: (g, gf_sd[i].unwrap_or(0.0)),
                gnf: gnf[i].map(|v| (v, gnf_sd[i].unwrap_or(0.0))),
                pareto: pareto[i],
            };
            plot.get_or_insert_with(|| DatasetPlot {
                title: panel.title(),
                stem: panel.stem(),
                prediction_name: name,
                points: Vec::new(),
            })
            .points
            .push(point);
        }
        out.extend(plot);
    }
    Ok(out)
}

/// Writes `plots/<dataset>.svg` and `.png` under `out` for every dataset
/// in the cells frame.
pub fn write_tradeoffs(cells: &DataFrame, out: &Path) -> Result2<Vec<PathBuf>> {
    font()?;
    let dir = out.join("plots");
    std::fs::create_dir_all(&dir).map_err(ReportError::io(&dir))?;
    let mut files = Vec::new();
    for d in datasets(cells)? {
        let svg = dir.join(format!("{}.svg", d.stem));
        let png = dir.join(format!("{}.png", d.stem));
        let size = (1200, 520);
        tradeoff(SVGBackend::new(&svg, size).into_drawing_area(), &d).map_err(drawing(&svg))?;
        tradeoff(BitMapBackend::new(&png, size).into_drawing_area(), &d).map_err(drawing(&png))?;
        files.extend([svg, png]);
    }
    Ok(files)
}

/// The same plots as SVG text, one per dataset (stem, svg), for pages that
/// embed them: a standalone `report.html`, the dashboard.
pub fn tradeoff_svgs(cells: &DataFrame) -> Result2<Vec<(String, String)>> {
    font()?;
    let mut out = Vec::new();
    for d in datasets(cells)? {
        let mut svg = String::new();
        tradeoff(
            SVGBackend::with_string(&mut svg, (1200, 520)).into_drawing_area(),
            &d,
        )
        .map_err(drawing(Path::new(&format!("{}.svg", d.stem))))?;
        out.push((d.stem.clone(), svg));
    }
    Ok(out)
}

fn tradeoff<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, d: &DatasetPlot) -> Drawn {
    root.fill(&WHITE).map_err(e)?;
    let root = root.titled(&d.title, ("sans-serif", 26)).map_err(e)?;
    let (left, right) = root.split_horizontally(660);

    // Left: the prediction metric against GF, log-scaled: GF spans decades.
    let gf_lo = d
        .points
        .iter()
        .map(|p| (p.gf.0 - p.gf.1).max(p.gf.0 * 0.5))
        .fold(f64::INFINITY, f64::min)
        .max(1e-9);
    let gf_hi = d
        .points
        .iter()
        .map(|p| p.gf.0 + p.gf.1)
        .fold(0.0, f64::max)
        .max(gf_lo * 10.0);
    let y = span(d.points.iter().flat_map(|p| {
        [
            p.prediction.0 - p.prediction.1,
            p.prediction.0 + p.prediction.1,
        ]
    }));
    let mut chart = ChartBuilder::on(&left)
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .caption(
            format!("{} against fidelity gap", d.prediction_name),
            ("sans-serif", 18),
        )
        .build_cartesian_2d((gf_lo * 0.7..gf_hi * 1.4).log_scale(), y.0..y.1)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("GF (log scale; lower is more faithful)")
        .y_desc(d.prediction_name)
        .x_labels(6)
        .x_label_formatter(&|v| short(*v))
        .light_line_style(WHITE)
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(e)?;
    let curves = curves(&d.points);
    let several_settings = |o: &str| curves.iter().filter(|c| c.0 == o).count() > 1;
    // The n-th curve of an objective (its n-th own setting) is drawn darker.
    let colour_of = |i: usize| {
        let objective = &curves[i].0;
        let n = curves[..i].iter().filter(|c| &c.0 == objective).count();
        shade(style(objective).0, n)
    };
    for (i, (_, _, points)) in curves.iter().enumerate() {
        let colour = colour_of(i);
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|p| (p.gf.0, p.prediction.0)),
                colour.mix(0.35),
            ))
            .map_err(e)?;
    }
    let stl = d.points.iter().filter(|p| p.objective == "stl");
    let coloured = curves
        .iter()
        .enumerate()
        .flat_map(|(i, c)| c.2.iter().map(move |p| (*p, i)))
        .map(|(p, i)| (p, colour_of(i)))
        .chain(stl.map(|p| (p, style("stl").0)));
    for (p, colour) in coloured {
        let (x, y) = (p.gf.0, p.prediction.0);
        chart
            .draw_series([ErrorBar::new_vertical(
                x,
                y - p.prediction.1,
                y,
                y + p.prediction.1,
                colour,
                8,
            )])
            .map_err(e)?;
        let low = (x - p.gf.1).max(gf_lo * 0.7);
        chart
            .draw_series([ErrorBar::new_horizontal(y, low, x, x + p.gf.1, colour, 8)])
            .map_err(e)?;
    }
    for (i, (objective, parameter, points)) in curves.iter().enumerate() {
        let (_, name) = style(objective);
        let name = match parameter {
            Some(v) if several_settings(objective) => format!("{name} ({})", short(*v)),
            _ if objective == "mtl" => format!("{name}, one point per α (±1 std over seeds)"),
            _ => name.to_string(),
        };
        let at = points.iter().map(|p| (p.gf.0, p.prediction.0)).collect();
        markers(&mut chart, objective, at, colour_of(i), name)?;
    }
    let (red, stl_name) = style("stl");
    chart
        .draw_series(
            d.points
                .iter()
                .filter(|p| p.objective == "stl")
                .map(|p| TriangleMarker::new((p.gf.0, p.prediction.0), 8, red.filled())),
        )
        .map_err(e)?
        .label(stl_name)
        .legend(move |(x, y)| TriangleMarker::new((x, y), 6, red.filled()));
    chart
        .draw_series(
            d.points
                .iter()
                .filter(|p| p.pareto)
                .map(|p| Circle::new((p.gf.0, p.prediction.0), 11, BLACK.stroke_width(2))),
        )
        .map_err(e)?
        .label("Pareto front")
        .legend(|(x, y)| Circle::new((x, y), 7, BLACK.stroke_width(2)));
    chart
        .draw_series(d.points.iter().filter_map(|p| {
            // Offset in pixels, clear of the Pareto circle.
            Some(
                EmptyElement::at((p.gf.0, p.prediction.0))
                    + Text::new(p.tag()?, p.tag_offset(), ("sans-serif", 12)),
            )
        }))
        .map_err(e)?;
    // The corner the trade-off curve leaves empty.
    let corner = if d.prediction_name == "MSE" {
        SeriesLabelPosition::UpperRight
    } else {
        SeriesLabelPosition::LowerRight
    };
    legend(&mut chart, corner, 13)?;

    // Right: GNF against α for the objectives with an α, STL as a reference line.
    let gnf_curves: Vec<GnfCurve> = curves
        .iter()
        .enumerate()
        .map(|(i, (o, k, points))| {
            let at: Vec<(f64, (f64, f64))> = points
                .iter()
                .filter_map(|p| Some((p.alpha?, p.gnf?)))
                .collect();
            (o, k, at, colour_of(i))
        })
        .filter(|(_, _, at, _)| !at.is_empty())
        .collect();
    let stl_gnf = d
        .points
        .iter()
        .find(|p| p.objective == "stl")
        .and_then(|p| p.gnf);
    let y = span(
        gnf_curves
            .iter()
            .flat_map(|(_, _, at, _)| at.iter().flat_map(|(_, (m, s))| [m - s, m + s]))
            .chain(stl_gnf.map(|g| g.0)),
    );
    let mut chart = ChartBuilder::on(&right)
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .caption("neighbourhood fidelity against α", ("sans-serif", 18))
        .build_cartesian_2d(0.0..1.0, y.0.min(0.0)..y.1)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("α (weight of the prediction loss)")
        .y_desc("GNF")
        .light_line_style(WHITE)
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(e)?;
    if let Some((g, _)) = stl_gnf {
        chart
            .draw_series(LineSeries::new([(0.0, g), (1.0, g)], red.stroke_width(2)))
            .map_err(e)?
            .label("STL")
            .legend(move |(x, y)| PathElement::new([(x - 8, y), (x + 8, y)], red.stroke_width(2)));
    }
    for (objective, parameter, at, colour) in &gnf_curves {
        let (_, name) = style(objective);
        let colour = *colour;
        let name = match parameter {
            Some(v) if several_settings(objective) => format!("{name} ({})", short(*v)),
            _ => format!("{name} (±1 std over seeds)"),
        };
        chart
            .draw_series(LineSeries::new(
                at.iter().map(|(a, (m, _))| (*a, *m)),
                colour,
            ))
            .map_err(e)?;
        chart
            .draw_series(
                at.iter()
                    .map(|(a, (m, s))| ErrorBar::new_vertical(*a, m - s, *m, m + s, colour, 8)),
            )
            .map_err(e)?;
        let points = at.iter().map(|(a, (m, _))| (*a, *m)).collect();
        markers(&mut chart, objective, points, colour, name)?;
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft, 13)?;
    root.present().map_err(e)
}

/// A tick label: a few significant digits, in exponent form when small.
fn short(v: f64) -> String {
    if v != 0.0 && v.abs() < 1e-2 {
        format!("{v:.0e}")
    } else {
        format!("{}", (v * 1e4).round() / 1e4)
    }
}

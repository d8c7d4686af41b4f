//! The published paper's table, per panel (a dataset, at one grid point
//! when the sweep has a grid; see `panels`): rows are the prediction
//! metrics, GF, GNF, R²(f, g) and insertion/deletion (and the constrained
//! objective's μ where it ran); columns are STL, then MTL by α, then ExpO,
//! ID-ExpO and the constrained objective by their own setting and α; each
//! entry is `mean ± std` over seeds, with n shown when fewer seeds than
//! planned have a result. The best-fidelity and best-prediction cells are
//! marked, and cells with degenerate seeds (a black box worse than a
//! constant) are named under their table.

use polars::prelude::DataFrame;

use super::panels::panels;
use super::seeding;
use super::{counts, floats, strings, ReportError};
use crate::state::seeding::SeedCell;

/// (mean, std, n) of one metric in one cell.
pub(super) type Stat = (Option<f64>, Option<f64>, u32);

pub(super) struct Column {
    pub(super) label: String,
    /// Sort key: the objective (STL, MTL, ExpO, ID-ExpO, constrained),
    /// its own setting (λ, λ₁, ε), then α.
    order: (usize, f64, f64),
    pub(super) stats: Vec<Stat>,
    /// Seeds whose black box was degenerate, of how many finished.
    degenerate: (u32, u32),
}

pub(super) struct Table {
    pub(super) title: String,
    pub(super) rows: Vec<(&'static str, &'static str)>,
    pub(super) columns: Vec<Column>,
    best_fidelity: Option<usize>,
    best_prediction: Option<usize>,
}

pub struct Tables {
    pub(super) tables: Vec<Table>,
    pub(super) planned: usize,
    /// The cells of an adaptive sweep (empty for fixed seeds).
    pub(super) seeding: Vec<SeedCell>,
    /// Sections after the tables: the auxiliary objective's, the task graph's.
    pub(super) sections: Vec<Section>,
}

/// A section of the report beside the tables, in both forms.
#[derive(Debug, Clone, Default)]
pub struct Section {
    pub markdown: String,
    pub html: String,
}

const REGRESSION: [(&str, &str); 9] = [
    ("MSE", "mse"),
    ("R²", "r2"),
    ("GF", "gf"),
    ("GNF", "gnf"),
    ("R²(f, g)", "r2_fg"),
    ("Insertion (g)", "ins_g"),
    ("Deletion (g)", "del_g"),
    ("Insertion (∇f·x)", "ins_grad"),
    ("Deletion (∇f·x)", "del_grad"),
];
const CLASSIFICATION: [(&str, &str); 9] = [
    ("Accuracy", "accuracy"),
    ("F1", "f1"),
    ("GF", "gf"),
    ("GNF", "gnf"),
    ("R²(f, g)", "r2_fg"),
    ("Insertion (g)", "ins_g"),
    ("Deletion (g)", "del_g"),
    ("Insertion (∇f·x)", "ins_grad"),
    ("Deletion (∇f·x)", "del_grad"),
];

/// Where an objective's columns stand in a table: in the order of
/// `Objective::ALL`, unknown names last.
pub(super) fn objective_rank(name: &str) -> usize {
    sweep_shared::Objective::ALL
        .iter()
        .position(|o| o.as_str() == name)
        .unwrap_or(usize::MAX)
}

/// The constrained objective's final multiplier, shown where a panel has one.
const MU: (&str, &str) = ("μ (constrained)", "mu");

impl Tables {
    /// Builds the tables from a cells frame (see `cells::aggregate`).
    pub fn from_cells(cells: &DataFrame, planned: usize) -> Result<Tables, ReportError> {
        let objective = strings(cells, "objective")?;
        let alpha = floats(cells, "alpha")?;
        let label = strings(cells, "column_label")?;
        let parameter = floats(cells, "objective_parameter")?;
        // Every metric a table shows, read once: (means, stds, counts).
        let mut columns = std::collections::HashMap::new();
        for (_, m) in REGRESSION.iter().chain(&CLASSIFICATION).chain(&[MU]) {
            if !columns.contains_key(m) {
                let read = (
                    floats(cells, &format!("{m}_mean"))?,
                    floats(cells, &format!("{m}_std"))?,
                    counts(cells, &format!("{m}_n"))?,
                );
                columns.insert(*m, read);
            }
        }
        let degenerate = if cells.column("degenerate_n").is_ok() {
            counts(cells, "degenerate_n")?
        } else {
            vec![0; cells.height()]
        };
        let finished = counts(cells, "gf_n")?;
        let mut tables: Vec<Table> = Vec::new();
        for panel in panels(cells)? {
            let classification = columns["accuracy"].0[panel.rows[0]].is_some();
            let mut rows: Vec<(&str, &str)> = if classification {
                CLASSIFICATION.to_vec()
            } else {
                REGRESSION.to_vec()
            };
            if panel.rows.iter().any(|&i| columns["mu"].0[i].is_some()) {
                rows.push(MU);
            }
            let mut table_columns = Vec::new();
            for &i in &panel.rows {
                let stats = rows
                    .iter()
                    .map(|(_, m)| {
                        let (mean, std, n) = &columns[m];
                        (mean[i], std[i], n[i])
                    })
                    .collect();
                let order = (
                    objective_rank(&objective[i]),
                    parameter[i].unwrap_or(0.0),
                    alpha[i].unwrap_or(0.0),
                );
                table_columns.push(Column {
                    label: label[i].clone(),
                    order,
                    stats,
                    degenerate: (degenerate[i], finished[i]),
                });
            }
            tables.push(Table {
                title: panel.title(),
                rows,
                columns: table_columns,
                best_fidelity: None,
                best_prediction: None,
            });
        }
        for t in &mut tables {
            t.columns.sort_by(|a, b| {
                let (x, y) = (a.order, b.order);
                x.0.cmp(&y.0)
                    .then(x.1.total_cmp(&y.1))
                    .then(x.2.total_cmp(&y.2))
            });
            let mean = |c: &Column, row: usize| c.stats[row].0;
            let gf_row = t
                .rows
                .iter()
                .position(|r| r.1 == "gf")
                .expect("every table has GF");
            let higher_is_better = t.rows[0].1 == "accuracy";
            t.best_fidelity = best(&t.columns, |c| mean(c, gf_row), false);
            t.best_prediction = best(&t.columns, |c| mean(c, 0), higher_is_better);
        }
        Ok(Tables {
            tables,
            planned,
            seeding: vec![],
            sections: vec![],
        })
    }

    /// The tables of an adaptive sweep, with its seeding section.
    pub fn with_seeding(mut self, cells: Vec<SeedCell>) -> Tables {
        self.seeding = cells;
        self
    }

    /// These tables with `sections` after them.
    pub fn with_sections(mut self, sections: Vec<Section>) -> Tables {
        self.sections = sections;
        self
    }

    /// `5 planned per cell`, or for an adaptive sweep its range.
    pub(super) fn planned_text(&self) -> String {
        match self.seeding.first() {
            Some(c) => format!(
                "adaptive seeding, {} to {} seeds per cell",
                c.rule.min, c.rule.max
            ),
            None => format!("{} planned per cell", self.planned),
        }
    }

    fn entry(&self, s: &Stat) -> String {
        let Some(mean) = s.0 else { return "—".into() };
        let mut text = match s.1 {
            Some(std) => format!("{} ± {}", num(mean), num(std)),
            None => num(mean),
        };
        if (s.2 as usize) < self.planned {
            text.push_str(&format!(" (n={})", s.2));
        }
        text
    }

    pub(super) fn marked(t: &Table, row: usize, col: usize) -> bool {
        (row == 0 && t.best_prediction == Some(col))
            || (t.rows[row].1 == "gf" && t.best_fidelity == Some(col))
    }

    pub fn markdown(&self, sweep: &str) -> String {
        let mut out =
            format!("# Sweep `{sweep}`\n\nEach entry is mean ± standard deviation over seeds");
        out.push_str(&format!(
            " ({}; n is shown where fewer finished). **Bold**: the best prediction and the best fidelity (lowest GF) of each dataset.\n",
            self.planned_text()
        ));
        for t in &self.tables {
            out.push_str(&format!("\n## {}\n\n| |", t.title));
            for c in &t.columns {
                out.push_str(&format!(" {} |", c.label));
            }
            out.push_str("\n|---|");
            out.push_str(&"---|".repeat(t.columns.len()));
            out.push('\n');
            for (r, (label, _)) in t.rows.iter().enumerate() {
                out.push_str(&format!("| {label} |"));
                for (ci, c) in t.columns.iter().enumerate() {
                    let e = self.entry(&c.stats[r]);
                    if Self::marked(t, r, ci) {
                        out.push_str(&format!(" **{e}** |"));
                    } else {
                        out.push_str(&format!(" {e} |"));
                    }
                }
                out.push('\n');
            }
            if let Some(note) = degenerate_note(t) {
                out.push_str(&format!("\n{note}\n"));
            }
        }
        out.push_str(&seeding::markdown(&self.seeding));
        for section in &self.sections {
            out.push_str(&section.markdown);
        }
        out
    }

    /// The report as one standalone HTML file: the tables, the adaptive
    /// seeding section, and the trade-off plots (`(stem, svg)`) inline, so
    /// the file can be mailed or attached on its own.
    pub fn html(&self, sweep: &str, plots: &[(String, String)]) -> String {
        format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Sweep {0}</title>\n<style>{STYLE}</style></head><body>\n\
             <h1>Sweep <code>{0}</code></h1>\n{1}</body></html>\n",
            esc(sweep),
            self.html_body(plots)
        )
    }

    /// What [`Tables::html`] shows, without the document around it (the
    /// dashboard's sweep page embeds it).
    pub fn html_body(&self, plots: &[(String, String)]) -> String {
        let mut out = format!(
            "<p>Each entry is mean ± standard deviation over seeds ({}; n is shown where fewer finished). \
             Highlighted: the best prediction and the best fidelity (lowest GF) of each dataset.</p>\n",
            self.planned_text()
        );
        for t in &self.tables {
            out.push_str(&format!(
                "<h2>{}</h2>\n<table>\n<tr><th></th>",
                esc(&t.title)
            ));
            for c in &t.columns {
                out.push_str(&format!("<th>{}</th>", esc(&c.label)));
            }
            out.push_str("</tr>\n");
            for (r, (label, _)) in t.rows.iter().enumerate() {
                out.push_str(&format!("<tr><td>{}</td>", esc(label)));
                for (ci, c) in t.columns.iter().enumerate() {
                    let class = if Self::marked(t, r, ci) {
                        " class=\"best\""
                    } else {
                        ""
                    };
                    out.push_str(&format!(
                        "<td{class}>{}</td>",
                        esc(&self.entry(&c.stats[r]))
                    ));
                }
                out.push_str("</tr>\n");
            }
            out.push_str("</table>\n");
            if let Some(note) = degenerate_note(t) {
                out.push_str(&format!("<p class=\"warn\">{}</p>\n", esc(&note)));
            }
        }
        out.push_str(&seeding::html(&self.seeding, &esc));
        for section in &self.sections {
            out.push_str(&section.html);
        }
        if !plots.is_empty() {
            out.push_str("<h2>Trade-offs</h2>\n<p>Left: the prediction metric against GF (log scale), one point per α, ±1 std over seeds; the red triangle is STL, circled cells are Pareto-optimal. Right: GNF against α.</p>\n");
            for (stem, svg) in plots {
                out.push_str(&format!(
                    "<figure class=\"plot\" id=\"plot-{}\">{}</figure>\n",
                    esc(stem),
                    svg_body(svg)
                ));
            }
        }
        out
    }
}

/// The reports' and the dashboard's one stylesheet.
pub const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
     table{border-collapse:collapse;margin-bottom:2em}\
     th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right;white-space:nowrap}\
     th:first-child,td:first-child{text-align:left}\
     td.best{font-weight:bold;background:#eef6ee}\
     p.warn{color:#8a4b00}\
     figure.plot{margin:0 0 2em 0;max-width:100%}\
     figure.plot svg{max-width:100%;height:auto}";

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An SVG document as an element to embed: without its XML declaration,
/// and scalable (a `viewBox` from its size).
fn svg_body(svg: &str) -> String {
    let svg = match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    };
    let size = |attr: &str| {
        let start = svg.find(&format!("{attr}=\""))? + attr.len() + 2;
        let end = svg[start..].find('"')? + start;
        svg[start..end].parse::<u32>().ok()
    };
    match (size("width"), size("height")) {
        (Some(w), Some(h)) if !svg[..svg.find('>').unwrap_or(0)].contains("viewBox") => {
            svg.replacen("<svg", &format!("<svg viewBox=\"0 0 {w} {h}\""), 1)
        }
        _ => svg.to_string(),
    }
}

/// `Degenerate seeds (test error worse than a constant): α = 0.1: 2 of 5.`
pub(super) fn degenerate_note(t: &Table) -> Option<String> {
    let flagged: Vec<String> = t
        .columns
        .iter()
        .filter(|c| c.degenerate.0 > 0)
        .map(|c| format!("{}: {} of {}", c.label, c.degenerate.0, c.degenerate.1))
        .collect();
    (!flagged.is_empty()).then(|| {
        format!(
            "⚠ Degenerate seeds (a black box worse than a constant predictor): {}.",
            flagged.join("; ")
        )
    })
}

fn best(
    columns: &[Column],
    value: impl Fn(&Column) -> Option<f64>,
    higher_is_better: bool,
) -> Option<usize> {
    columns
        .iter()
        .enumerate()
        .filter_map(|(i, c)| value(c).map(|v| (i, if higher_is_better { -v } else { v })))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

/// Four significant digits, scientific for small magnitudes.
pub(super) fn num(v: f64) -> String {
    if v != 0.0 && v.abs() < 0.01 {
        format!("{v:.2e}")
    } else {
        format!("{v:.4}")
    }
}

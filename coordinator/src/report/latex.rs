//! `report.tex`: the paper-style tables as a LaTeX document a paper can
//! take them from. One `booktabs` table per panel (a dataset, at one grid
//! point), entries `mean ± std` (or ± the 95% half-width), `n` where fewer
//! seeds than planned finished, the best prediction and fidelity in bold,
//! and a mark where a cell differs from the STL column: Welch's t-test on
//! the cells' moments, Benjamini–Hochberg adjusted across every such test
//! of the report.

use super::compare::{Fdr, SIGNIFICANCE};
use super::stats::{t_quantile_975, welch_p_of};
use super::table::{degenerate_note, num, Stat, Tables};

/// What follows `±` in an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Interval {
    /// The standard deviation over seeds.
    #[default]
    Std,
    /// The half-width of the Student-t 95% interval of the mean.
    Ci95,
}

impl Tables {
    /// The whole document.
    pub fn latex(&self, sweep: &str, interval: Interval) -> String {
        let marks = self.marks_against_stl();
        let spread = match interval {
            Interval::Std => "standard deviation over seeds",
            Interval::Ci95 => {
                "half-width of the 95\\% confidence interval of the mean (Student $t$)"
            }
        };
        let mut out = String::from(
            "% Written by `coordinator report --format latex`; needs booktabs.\n\
             \\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage[margin=2cm,landscape]{geometry}\n\
             \\begin{document}\n",
        );
        out.push_str(&format!("\\section*{{Sweep \\texttt{{{}}}}}\n", tex(sweep)));
        for (ti, t) in self.tables.iter().enumerate() {
            out.push_str("\n\\begin{table}[ht]\n\\centering\n\\small\n");
            out.push_str(&format!(
                "\\caption{{{}: mean $\\pm$ {spread} ({}; $n$ shown where fewer finished). \
                 Bold: the best prediction and the best fidelity (lowest GF). \
                 $^{{*}}$: differs from STL, Welch's $t$-test, $p < {SIGNIFICANCE}$ after Benjamini--Hochberg adjustment \
                 across the report's {} comparisons with STL.}}\n",
                tex(&t.title),
                match self.seeding.is_empty() {
                    true => format!("{} seeds planned per cell", self.planned),
                    false => tex(&self.planned_text()),
                },
                marks.tests
            ));
            out.push_str(&format!(
                "\\begin{{tabular}}{{l{}}}\n\\toprule\n",
                "r".repeat(t.columns.len())
            ));
            out.push(' ');
            for c in &t.columns {
                out.push_str(&format!(" & {}", tex(&c.label)));
            }
            out.push_str(" \\\\\n\\midrule\n");
            for (r, (label, _)) in t.rows.iter().enumerate() {
                out.push_str(&tex(label));
                for (ci, c) in t.columns.iter().enumerate() {
                    let mut e = self.latex_entry(&c.stats[r], interval);
                    if Self::marked(t, r, ci) {
                        e = format!("\\textbf{{\\boldmath {e}}}");
                    }
                    if marks.marked.contains(&(ti, r, ci)) {
                        e.push_str("$^{*}$");
                    }
                    out.push_str(&format!(" & {e}"));
                }
                out.push_str(" \\\\\n");
            }
            out.push_str("\\bottomrule\n\\end{tabular}\n");
            if let Some(note) = degenerate_note(t) {
                out.push_str(&format!("\n\\par\\smallskip {}\n", tex(&note)));
            }
            out.push_str("\\end{table}\n");
        }
        out.push_str("\n\\end{document}\n");
        out
    }

    fn latex_entry(&self, s: &Stat, interval: Interval) -> String {
        let Some(mean) = s.0 else {
            return "---".into();
        };
        let spread = s.1.and_then(|std| match interval {
            Interval::Std => Some(std),
            Interval::Ci95 if s.2 >= 2 => {
                Some(t_quantile_975(s.2 - 1) * std / f64::from(s.2).sqrt())
            }
            Interval::Ci95 => None,
        });
        let mut text = match spread {
            Some(v) => format!("{} $\\pm$ {}", tex_num(mean), tex_num(v)),
            None => tex_num(mean),
        };
        if (s.2 as usize) < self.planned {
            text.push_str(&format!(" ($n={}$)", s.2));
        }
        text
    }

    /// The (table, row, column) entries that differ from their table's STL
    /// column, after adjusting every test of the report together.
    fn marks_against_stl(&self) -> Marks {
        let mut at = Vec::new();
        let mut p = Vec::new();
        for (ti, t) in self.tables.iter().enumerate() {
            let Some(stl) = t.columns.iter().position(|c| c.label == "STL") else {
                continue;
            };
            for (ci, c) in t.columns.iter().enumerate().filter(|(ci, _)| *ci != stl) {
                for r in 0..t.rows.len() {
                    let (a, b) = (&t.columns[stl].stats[r], &c.stats[r]);
                    let moments = |s: &Stat| Some((s.0?, s.1?.powi(2), s.2 as usize));
                    if let (Some(a), Some(b)) = (moments(a), moments(b)) {
                        at.push((ti, r, ci));
                        p.push(welch_p_of(a, b));
                    }
                }
            }
        }
        let adjusted = Fdr::Bh.adjust(&p);
        Marks {
            tests: p.iter().filter(|v| v.is_some()).count(),
            marked: at
                .into_iter()
                .zip(adjusted)
                .filter(|(_, q)| q.is_some_and(|q| q < SIGNIFICANCE))
                .map(|(at, _)| at)
                .collect(),
        }
    }
}

struct Marks {
    tests: usize,
    marked: Vec<(usize, usize, usize)>,
}

/// A number for LaTeX: `1.23e-3` as `1.23\times10^{-3}` in math mode.
fn tex_num(v: f64) -> String {
    let s = num(v);
    match s.split_once('e') {
        Some((m, e)) => format!("${m}\\times10^{{{}}}$", e.trim_start_matches('+')),
        None => s,
    }
}

/// Text with LaTeX's special characters escaped and the symbols the
/// tables use written as LaTeX; anything else outside ASCII is dropped,
/// so the document compiles with any engine.
pub fn tex(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(ch);
            }
            '~' => out.push_str("\\textasciitilde{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            'α' => out.push_str("$\\alpha$"),
            'λ' => out.push_str("$\\lambda$"),
            'ε' => out.push_str("$\\varepsilon$"),
            'μ' => out.push_str("$\\mu$"),
            'τ' => out.push_str("$\\tau$"),
            'σ' => out.push_str("$\\sigma$"),
            'η' => out.push_str("$\\eta$"),
            '₀' => out.push_str("$_0$"),
            '₁' => out.push_str("$_1$"),
            '²' => out.push_str("$^2$"),
            '∇' => out.push_str("$\\nabla$"),
            '·' => out.push_str("$\\cdot$"),
            '±' => out.push_str("$\\pm$"),
            '—' | '–' => out.push_str("--"),
            '⚠' => out.push_str("Warning:"),
            c if c.is_ascii() => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specials_are_escaped_and_symbols_written_as_latex() {
        assert_eq!(
            tex("g_init=least-squares & 50% α ≥"),
            "g\\_init=least-squares \\& 50\\% $\\alpha$ "
        );
        assert_eq!(tex("R²(f, g)"), "R$^2$(f, g)");
        assert_eq!(
            tex("ID-ExpO λ₁ = 1, α = 0.5 · Constrained ε = 0.01 · μ"),
            "ID-ExpO $\\lambda$$_1$ = 1, $\\alpha$ = 0.5 $\\cdot$ Constrained $\\varepsilon$ = 0.01 $\\cdot$ $\\mu$"
        );
        assert_eq!(tex_num(0.00123), "$1.23\\times10^{-3}$");
        assert_eq!(tex_num(0.5), "0.5000");
    }
}

//! The dashboard's HTML: plain server-rendered pages sharing the reports'
//! stylesheet, plus a progress bar and a refresher of a few lines.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use crate::core::Overview;
use crate::ids::SweepName;
use crate::report::table::STYLE;
use crate::report::SweepPage;
use crate::schedule::{Run, Schedule};
use crate::state::{Counts, SweepState};

pub use crate::report::table::esc;

/// The report files a sweep's page links to, when they exist.
pub const DOWNLOADS: [&str; 10] = [
    "report.html",
    "report.md",
    "report.tex",
    "runs.parquet",
    "cells.parquet",
    "failures.parquet",
    "explanations.parquet",
    "curves.parquet",
    "seed_ledger.parquet",
    "compare.parquet",
];

const EXTRA_STYLE: &str = "header{display:flex;gap:1.5em;align-items:baseline;border-bottom:1px solid #ddd;margin-bottom:1em}\
     header a{color:#225;text-decoration:none}header .brand{font-weight:bold;font-size:1.2em}\
     .bar{display:flex;width:18em;height:1em;background:#eee;border-radius:3px;overflow:hidden}\
     .bar span{display:block;height:100%}.done{background:#3a8f3a}.running{background:#3a6fbf}\
     .failed{background:#c03a2b}.cancelled{background:#999}\
     td.num{font-variant-numeric:tabular-nums}.muted{color:#777}\
     .pill{display:inline-block;padding:0 .5em;border-radius:1em;background:#eee}\
     .pill.pass,.pill.finished{background:#dff0df}.pill.regression,.pill.failed{background:#f6dcd8}\
     .pill.running{background:#dde7f6}h1 .pill{font-size:.45em;vertical-align:middle;font-weight:normal}";

/// The refresher: the page's `<main>` again every two seconds.
/// The next refresh is armed only once the last one answered, so a slow
/// page never has two requests in flight per tab.
const REFRESH: &str = "<script>\
     async function refresh(){try{const r=await fetch(location.pathname+'?fragment=1',{credentials:'same-origin'});\
     if(r.ok){document.querySelector('main').innerHTML=await r.text();}}catch(e){}setTimeout(refresh,2000);}\
     setTimeout(refresh,2000);\
     </script>";

/// A page that refreshes itself.
pub fn document(title: &str, main: &str) -> String {
    page(title, main, REFRESH)
}

/// A page that does not (a form, an error).
pub fn still(title: &str, main: &str) -> String {
    page(title, main, "")
}

fn page(title: &str, main: &str, script: &str) -> String {
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{} · sweep dashboard</title>\n\
         <style>{STYLE}{EXTRA_STYLE}</style></head><body>\n\
         <header><a class=\"brand\" href=\"/\">sweep dashboard</a><a href=\"/\">sweeps</a>\
         <a href=\"/metrics\">metrics</a></header>\n<main>{main}</main>\n{script}\n</body></html>\n",
        esc(title)
    )
}

/// Percent-encodes a path for a query string.
pub fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn bar(c: &Counts) -> String {
    let total = f64::from(c.total.max(1));
    let part = |n: u32, class: &str| {
        if n == 0 {
            String::new()
        } else {
            format!(
                "<span class=\"{class}\" style=\"width:{:.2}%\"></span>",
                100.0 * f64::from(n) / total
            )
        }
    };
    format!(
        "<div class=\"bar\" title=\"done {} · running {} · queued {} · failed {}\">{}{}{}{}</div>",
        c.done,
        c.running,
        c.queued,
        c.failed,
        part(c.done, "done"),
        part(c.running, "running"),
        part(c.failed, "failed"),
        part(c.cancelled, "cancelled"),
    )
}

fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// `12.5 jobs/min · ETA 4m10s`, or what is known of it.
fn rate_and_eta(state: SweepState, c: &Counts, rate: Option<f64>) -> (String, String) {
    let open = c.queued + c.running;
    match (state, rate) {
        (SweepState::Running, Some(r)) if r > 0.0 => (
            format!("{:.1}/min", r * 60.0),
            duration(Duration::from_secs_f64(f64::from(open) / r)),
        ),
        (SweepState::Running, _) => ("—".into(), "—".into()),
        _ => ("".into(), "".into()),
    }
}

fn when(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

fn sweep_link(name: &str) -> String {
    format!("<a href=\"/sweeps/{}\">{}</a>", url_escape(name), esc(name))
}

pub fn overview(
    o: &Overview,
    rate: &dyn Fn(&str) -> Option<f64>,
    schedules: &[(Schedule, Option<Run>)],
) -> String {
    let mut out = String::from("<h1>Sweeps</h1>\n");
    if o.sweeps.is_empty() {
        out.push_str(
            "<p class=\"muted\">No sweeps yet: <code>coordinator submit SWEEP.toml</code>.</p>\n",
        );
    } else {
        out.push_str(
            "<table id=\"sweeps\">\n<tr><th>sweep</th><th>state</th><th>progress</th><th>done</th>\
             <th>running</th><th>queued</th><th>failed</th><th>rate</th><th>ETA</th></tr>\n",
        );
        for (name, state, c) in &o.sweeps {
            let (r, eta) = rate_and_eta(*state, c, rate(name.as_str()));
            out.push_str(&format!(
                "<tr data-sweep=\"{0}\"><td>{1}</td><td><span class=\"pill {2}\">{2}</span></td><td>{3}</td>\
                 <td class=\"num done-count\">{4}/{5}</td><td class=\"num\">{6}</td><td class=\"num\">{7}</td>\
                 <td class=\"num\">{8}</td><td class=\"num\">{9}</td><td class=\"num\">{10}</td></tr>\n",
                esc(name.as_str()),
                sweep_link(name.as_str()),
                state.name(),
                bar(c),
                c.done,
                c.total,
                c.running,
                c.queued,
                c.failed,
                r,
                eta
            ));
        }
        out.push_str("</table>\n");
    }
    out.push_str("<h2>Workers</h2>\n");
    if o.workers.is_empty() {
        out.push_str("<p class=\"muted\">No workers registered.</p>\n");
    } else {
        out.push_str(
            "<table id=\"workers\">\n<tr><th>worker</th><th>id</th><th>slots</th><th>running</th><th>last heard</th></tr>\n",
        );
        for w in &o.workers {
            let slots = if w.slots == 0 {
                "—".to_string()
            } else {
                w.slots.to_string()
            };
            out.push_str(&format!(
                "<tr><td>{}</td><td class=\"muted\">{}</td><td class=\"num\">{slots}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
                esc(&w.name),
                esc(w.id.as_str()),
                w.running,
                w.last_seen
                    .map_or("not since restart".to_string(), |d| format!("{} ago", duration(d)))
            ));
        }
        out.push_str("</table>\n");
    }
    if !schedules.is_empty() {
        out.push_str(
            "<h2>Schedules</h2>\n<table id=\"schedules\">\n<tr><th>schedule</th><th>when</th><th>enabled</th><th>last run</th><th>outcome</th><th>flagged</th></tr>\n",
        );
        for (s, last) in schedules {
            let (run, outcome, flagged) = match last {
                Some(r) => (
                    format!("#{} {}", r.seq, when(r.fired_ms)),
                    format!("<span class=\"pill {0}\">{0}</span>", r.outcome.name()),
                    r.flagged.len().to_string(),
                ),
                None => ("never".into(), String::new(), String::new()),
            };
            out.push_str(&format!(
                "<tr><td><a href=\"/schedules/{}\">{}</a></td><td><code>{}</code> {}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>\n",
                url_escape(&s.name),
                esc(&s.name),
                esc(&s.cron),
                esc(&s.tz),
                if s.enabled { "yes" } else { "paused" },
                run,
                outcome,
                flagged
            ));
        }
        out.push_str("</table>\n");
    }
    out
}

pub fn sweep(
    status: &(SweepName, SweepState, Counts),
    rate: Option<f64>,
    page: &SweepPage,
    files: &[&str],
) -> String {
    let (name, state, c) = status;
    let (r, eta) = rate_and_eta(*state, c, rate);
    let mut out = format!(
        "<h1>Sweep <code>{}</code> <span class=\"pill {1}\">{1}</span></h1>\n\
         <p id=\"progress\">{2} <span class=\"done-count\">{3}/{4} done</span> · {5} running · {6} queued · {7} failed{8}</p>\n",
        esc(name.as_str()),
        state.name(),
        bar(c),
        c.done,
        c.total,
        c.running,
        c.queued,
        c.failed,
        if r.is_empty() {
            String::new()
        } else {
            format!(" · {r} · ETA {eta}")
        }
    );
    if !files.is_empty() {
        out.push_str("<p>Download: ");
        let links: Vec<String> = files
            .iter()
            .map(|f| {
                format!(
                    "<a href=\"/sweeps/{}/files/{f}\">{f}</a>",
                    url_escape(name.as_str())
                )
            })
            .collect();
        out.push_str(&links.join(" · "));
        out.push_str("</p>\n");
    }
    out.push_str(&page.body);
    if !page.failures.is_empty() {
        out.push_str("<h2>Failures</h2>\n<table id=\"failures\">\n<tr><th>job</th><th>attempts</th><th>error</th></tr>\n");
        for (job, attempts, error) in &page.failures {
            out.push_str(&format!(
                "<tr><td>{}</td><td class=\"num\">{attempts}</td><td style=\"text-align:left;white-space:normal\">{}</td></tr>\n",
                esc(job),
                esc(error)
            ));
        }
        out.push_str("</table>\n");
    }
    out
}

pub fn schedule(
    s: &Schedule,
    runs: &[Run],
    next: Option<DateTime<Utc>>,
    history_svg: Option<&str>,
) -> String {
    let mut out = format!(
        "<h1>Schedule <code>{}</code></h1>\n<p><code>{}</code> ({}) · baseline {} · {} · next run {}</p>\n",
        esc(&s.name),
        esc(&s.cron),
        esc(&s.tz),
        esc(&s.baseline.text()),
        if s.enabled { "enabled" } else { "paused" },
        next.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| "—".into())
    );
    if runs.is_empty() {
        out.push_str("<p class=\"muted\">No runs yet.</p>\n");
    } else {
        out.push_str(
            "<table id=\"runs\">\n<tr><th>run</th><th>sweep</th><th>trigger</th><th>fired</th><th>outcome</th><th>baseline</th><th>flagged</th><th>note</th></tr>\n",
        );
        for r in runs.iter().rev() {
            let flagged = if r.flagged.is_empty() {
                String::new()
            } else {
                r.flagged
                    .iter()
                    .map(|f| esc(f))
                    .collect::<Vec<_>>()
                    .join("<br>")
            };
            let note = match &r.accepted {
                Some(a) => format!("accepted {}: {}", when(a.at_ms), esc(&a.note)),
                None => esc(&r.detail),
            };
            out.push_str(&format!(
                "<tr><td>#{0}</td><td>{1}</td><td>{2}</td><td>{3}</td><td><span class=\"pill {4}\">{4}</span></td><td>{5}</td><td style=\"text-align:left\">{6}</td><td style=\"text-align:left;white-space:normal\">{7}</td></tr>\n",
                r.seq,
                if r.sweep.is_empty() { String::new() } else { sweep_link(&r.sweep) },
                r.trigger.text(),
                when(r.fired_ms),
                r.outcome.name(),
                esc(r.baseline.as_deref().unwrap_or("")),
                flagged,
                note,
            ));
        }
        out.push_str("</table>\n");
    }
    if let Some(svg) = history_svg {
        let svg = svg.find("<svg").map_or(svg, |i| &svg[i..]);
        out.push_str(&format!(
            "<h2>History of <code>{}</code></h2>\n<figure class=\"plot\">{svg}</figure>\n",
            esc(&s.metric)
        ));
    }
    out
}

pub fn login(next: &str, failed: bool) -> String {
    format!(
        "<h1>Sign in</h1>\n{}<form method=\"post\" action=\"/login\">\
         <p><label>Admin token <input type=\"password\" name=\"token\" autofocus required></label></p>\
         <input type=\"hidden\" name=\"next\" value=\"{}\"><p><button type=\"submit\">Open the dashboard</button></p></form>\n\
         <p class=\"muted\">The token is the coordinator's admin token (<code>SWEEP_ADMIN_TOKEN</code> or <code>SWEEP_TOKEN</code>).</p>\n",
        if failed {
            "<p class=\"warn\">That is not the admin token.</p>\n"
        } else {
            ""
        },
        esc(next)
    )
}

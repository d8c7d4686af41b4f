//! The coordinator's HTTP face, on its own port (`serve --http ADDR`): a
//! live dashboard (`/`, `/sweeps/NAME`, `/schedules/NAME`), `/metrics` in
//! the Prometheus text format, and `/healthz`.
//!
//! Pages are rendered on the server; a few lines of plain JavaScript
//! replace each page's `<main>` every two seconds from `?fragment=1`, so
//! nothing loads from anywhere but this server. When the coordinator has
//! tokens, every page needs the admin token — as `Authorization: Bearer`, or through the
//! login form, which sets a cookie derived from the token — and no page
//! shows a secret (tokens, webhook URLs). `/metrics` and `/healthz` need
//! no token: they reveal counts, and sweep names as labels, nothing else.

mod pages;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::Tokens;
use crate::core::{Core, Overview};
use crate::metrics::Levels;
use crate::report::live::ReportDirs;
use crate::report::SweepPage;
use crate::schedule::schedules::Schedules;

/// The session cookie's name.
const COOKIE: &str = "sweep_session";
/// Sweep pages kept made, at most.
const PAGES_KEPT: usize = 32;
/// How long a sweep's progress is remembered for its rate.
const RATE_WINDOW: Duration = Duration::from_secs(60);

/// A sweep's page as last made: the core's change count then, and when.
type Rendered = (u64, Instant, Arc<SweepPage>);

/// What the pages read from.
pub struct Dashboard {
    core: Core,
    db: PathBuf,
    tokens: Tokens,
    /// Pages need the admin token (the dashboard listens off loopback).
    guarded: bool,
    reports: Option<ReportDirs>,
    schedules: Option<Arc<Schedules>>,
    /// (when, jobs ended) per sweep, sampled every two seconds.
    progress: Mutex<HashMap<String, VecDeque<(Instant, u32)>>>,
    /// A sweep's page: the core's change count it was made at, when.
    pages: Mutex<HashMap<String, Rendered>>,
}

impl Dashboard {
    pub fn new(
        core: Core,
        db: PathBuf,
        tokens: Tokens,
        reports: Option<ReportDirs>,
        schedules: Option<Arc<Schedules>>,
    ) -> Dashboard {
        Dashboard {
            core,
            db,
            tokens,
            guarded: false,
            reports,
            schedules,
            progress: Mutex::default(),
            pages: Mutex::default(),
        }
    }

    /// Whether the request may see the pages.
    fn admitted(&self, headers: &HeaderMap) -> bool {
        if !self.guarded || self.tokens.is_open() {
            return true;
        }
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if bearer.is_some_and(|t| self.tokens.is_admin(t)) {
            return true;
        }
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().strip_prefix(&format!("{COOKIE}=")))
            .any(|v| self.tokens.is_dashboard_session(v))
    }

    /// Remembers each sweep's progress, for its rate and ETA.
    fn sample(&self, overview: &Overview) {
        let now = Instant::now();
        let mut progress = self.progress.lock().expect("not poisoned");
        // Running sweeps only: a finished one has no rate, and a database
        // of many scheduled runs must not grow this map.
        let running = |name: &str| {
            overview
                .sweeps
                .iter()
                .any(|(n, s, _)| n.as_str() == name && *s == crate::state::SweepState::Running)
        };
        progress.retain(|name, _| running(name));
        for (name, _, c) in overview
            .sweeps
            .iter()
            .filter(|(n, _, _)| running(n.as_str()))
        {
            let points = progress.entry(name.to_string()).or_default();
            points.push_back((now, c.done + c.failed + c.cancelled));
            while points
                .front()
                .is_some_and(|(t, _)| now.duration_since(*t) > RATE_WINDOW)
            {
                points.pop_front();
            }
        }
    }

    /// Jobs ended per second over the last minute, once there is a span.
    fn rate(&self, sweep: &str) -> Option<f64> {
        let progress = self.progress.lock().expect("not poisoned");
        let points = progress.get(sweep)?;
        let (first, last) = (points.front()?, points.back()?);
        let span = last.0.duration_since(first.0).as_secs_f64();
        (span >= 2.0).then(|| f64::from(last.1.saturating_sub(first.1)) / span)
    }

    /// The sweep's page, made again when results have arrived (at most
    /// every two seconds: a busy sweep must not keep the disk reading).
    async fn sweep_page(&self, sweep: &str) -> Result<Arc<SweepPage>, String> {
        let change = *self.core.changes().borrow();
        if let Some((at, when, page)) = self.pages.lock().expect("not poisoned").get(sweep) {
            if *at == change || when.elapsed() < Duration::from_secs(2) {
                return Ok(page.clone());
            }
        }
        let (db, name) = (self.db.clone(), sweep.to_string());
        let page = tokio::task::spawn_blocking(move || crate::report::sweep_page(&db, &name))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let page = Arc::new(page);
        let mut pages = self.pages.lock().expect("not poisoned");
        // A bounded cache: the pages looked at most recently.
        while pages.len() >= PAGES_KEPT {
            let Some(oldest) = pages
                .iter()
                .min_by_key(|(_, r)| r.1)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            pages.remove(&oldest);
        }
        pages.insert(sweep.to_string(), (change, Instant::now(), page.clone()));
        Ok(page)
    }

    /// The levels `/metrics` exports beside its counters.
    async fn levels(&self) -> Result<Levels, String> {
        let overview = self.core.overview().await.map_err(|e| e.to_string())?;
        let mut levels = Levels {
            workers_connected: overview
                .workers
                .iter()
                .filter(|w| w.last_seen.is_some_and(|d| d < Duration::from_secs(60)))
                .count(),
            ..Levels::default()
        };
        for (name, _, c) in &overview.sweeps {
            for (state, n) in [
                ("queued", c.queued),
                ("running", c.running),
                ("done", c.done),
                ("failed", c.failed),
                ("cancelled", c.cancelled),
            ] {
                levels.jobs.push((name.to_string(), state, n));
            }
        }
        if let Some(s) = &self.schedules {
            let mut by_outcome: HashMap<String, usize> = HashMap::new();
            for schedule in s.list().map_err(|e| e.to_string())? {
                let (_, runs, _) = s.show(&schedule.name).map_err(|e| e.to_string())?;
                for r in runs {
                    *by_outcome.entry(r.outcome.name().to_string()).or_default() += 1;
                }
            }
            levels.schedule_runs = by_outcome.into_iter().collect();
            levels.schedule_runs.sort();
        }
        Ok(levels)
    }
}

/// Serves the dashboard on `listener` until `stop` turns true.
pub async fn serve(
    listener: TcpListener,
    mut dashboard: Dashboard,
    stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    // With tokens, the pages need one even on loopback: on a shared host
    // (a Slurm head node) every local user reaches 127.0.0.1 too.
    dashboard.guarded = !dashboard.tokens.is_open();
    let dashboard = Arc::new(dashboard);
    let sampler = {
        let d = dashboard.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(2));
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        if let Ok(o) = d.core.overview().await {
                            d.sample(&o);
                        }
                    }
                    _ = until(stop.clone()) => break,
                }
            }
        })
    };
    let app = Router::new()
        .route("/", get(overview))
        .route("/sweeps/{name}", get(sweep))
        .route("/sweeps/{name}/files/{file}", get(file))
        .route("/schedules/{name}", get(schedule))
        .route("/login", get(login_form).post(login))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(dashboard);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(until(stop))
        .await;
    sampler.abort();
    served
}

/// Resolves once `stop` turns true (or its sender is gone).
async fn until(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

#[derive(serde::Deserialize)]
struct PageQuery {
    #[serde(default)]
    fragment: Option<u8>,
}

type Shared = State<Arc<Dashboard>>;

/// The login page for a request that may not see `path`.
fn to_login(path: &str) -> Response {
    Redirect::to(&format!("/login?next={}", pages::url_escape(path))).into_response()
}

/// A page, or only its `<main>` for the refresher.
fn page(title: &str, main: String, q: &PageQuery) -> Response {
    if q.fragment.is_some() {
        Html(main).into_response()
    } else {
        Html(pages::document(title, &main)).into_response()
    }
}

fn unavailable(e: impl std::fmt::Display) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Html(pages::still(
            "unavailable",
            &format!("<p class=\"warn\">{}</p>", pages::esc(&e.to_string())),
        )),
    )
        .into_response()
}

async fn overview(State(d): Shared, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    if !d.admitted(&headers) {
        return to_login("/");
    }
    let o = match d.core.overview().await {
        Ok(o) => o,
        Err(e) => return unavailable(e),
    };
    d.sample(&o);
    let schedules = match &d.schedules {
        Some(s) => match s.list() {
            Ok(list) => list
                .into_iter()
                .map(|sc| {
                    let last = s
                        .show(&sc.name)
                        .ok()
                        .and_then(|(_, runs, _)| runs.last().cloned());
                    (sc, last)
                })
                .collect(),
            Err(e) => return unavailable(e),
        },
        None => vec![],
    };
    let main = pages::overview(&o, &|s| d.rate(s), &schedules);
    page("sweeps", main, &q)
}

async fn sweep(
    State(d): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    if !d.admitted(&headers) {
        return to_login(&format!("/sweeps/{name}"));
    }
    let o = match d.core.overview().await {
        Ok(o) => o,
        Err(e) => return unavailable(e),
    };
    let Some(status) = o.sweeps.iter().find(|(n, _, _)| n.as_str() == name) else {
        return (
            StatusCode::NOT_FOUND,
            Html(pages::document(
                "not found",
                &format!("<p>No sweep <code>{}</code>.</p>", pages::esc(&name)),
            )),
        )
            .into_response();
    };
    let results = match d.sweep_page(&name).await {
        Ok(p) => p,
        Err(e) => return unavailable(e),
    };
    let files: Vec<&str> = match &d.reports {
        Some(dirs) => pages::DOWNLOADS
            .iter()
            .copied()
            .filter(|f| dirs.of(&name).join(f).is_file())
            .collect(),
        None => vec![],
    };
    let main = pages::sweep(status, d.rate(&name), &results, &files);
    page(&name, main, &q)
}

async fn file(
    State(d): Shared,
    Path((name, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !d.admitted(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    // Only the report's own files, by name: never a path.
    let (Some(dirs), true) = (&d.reports, pages::DOWNLOADS.contains(&file.as_str())) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if crate::ids::SweepName::parse(&name).is_err() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let path = dirs.of(&name).join(&file);
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            let kind = match file.rsplit('.').next() {
                Some("html") => "text/html; charset=utf-8",
                Some("md" | "tex") => "text/plain; charset=utf-8",
                _ => "application/octet-stream",
            };
            (
                [
                    (header::CONTENT_TYPE, kind.to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}-{file}\""),
                    ),
                ],
                bytes,
            )
                .into_response()
        }
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn schedule(
    State(d): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    if !d.admitted(&headers) {
        return to_login(&format!("/schedules/{name}"));
    }
    let Some(s) = &d.schedules else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (schedule, runs, next) = match s.show(&name) {
        Ok(shown) => shown,
        Err(e) => {
            return (
                StatusCode::NOT_FOUND,
                Html(pages::document(
                    "not found",
                    &format!("<p class=\"warn\">{}</p>", pages::esc(&e.to_string())),
                )),
            )
                .into_response()
        }
    };
    // The latest history plot, written into a concluded run's directory.
    let history = runs
        .iter()
        .rev()
        .map(|r| PathBuf::from(&r.report_dir).join(format!("history-{}.svg", schedule.metric)))
        .find(|p| p.is_file())
        .and_then(|p| std::fs::read_to_string(p).ok());
    let main = pages::schedule(&schedule, &runs, next, history.as_deref());
    page(&name, main, &q)
}

#[derive(serde::Deserialize)]
struct LoginQuery {
    #[serde(default)]
    next: Option<String>,
}

async fn login_form(Query(q): Query<LoginQuery>) -> Response {
    Html(pages::still(
        "sign in",
        &pages::login(q.next.as_deref().unwrap_or("/"), false),
    ))
    .into_response()
}

#[derive(serde::Deserialize)]
struct LoginForm {
    token: String,
    #[serde(default)]
    next: Option<String>,
}

/// Where to go after signing in: only a path of this server, never an
/// address elsewhere (an open redirect).
fn local_path(next: Option<String>) -> String {
    next.filter(|n| {
        // Printable ASCII only: browsers drop tabs and newlines from a
        // `Location`, which would turn `/\t/evil` into `//evil`.
        n.starts_with('/')
            && !n.starts_with("//")
            && n.chars().all(|c| c.is_ascii_graphic() && c != '\\')
    })
    .unwrap_or_else(|| "/".into())
}

async fn login(State(d): Shared, Form(f): Form<LoginForm>) -> Response {
    let next = local_path(f.next);
    match d.tokens.dashboard_session() {
        Some(session) if d.tokens.is_admin(&f.token) => (
            [(
                header::SET_COOKIE,
                format!("{COOKIE}={session}; Path=/; HttpOnly; SameSite=Strict"),
            )],
            Redirect::to(&next),
        )
            .into_response(),
        _ => (
            StatusCode::UNAUTHORIZED,
            Html(pages::still("sign in", &pages::login(&next, true))),
        )
            .into_response(),
    }
}

async fn metrics(State(d): Shared) -> Response {
    match d.levels().await {
        Ok(levels) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            d.core.metrics().render(&levels),
        )
            .into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e).into_response(),
    }
}

/// Live while the process answers; ready while the core runs (the state
/// is loaded before this port opens). 503 once the core has stopped.
async fn healthz(State(d): Shared) -> Response {
    match d.core.stop_reason() {
        None => (StatusCode::OK, "ok\n").into_response(),
        Some(_) => (StatusCode::SERVICE_UNAVAILABLE, "the core has stopped\n").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_loopback_pages_need_the_admin_token_or_its_session_cookie() {
        let dir = std::env::temp_dir().join(format!("sweep-http-auth-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("state.db");
        let core = Core::start(&db, Duration::from_millis(50)).unwrap();
        let tokens = Tokens::new(Some("worker-secret"), Some("admin-secret"), None).unwrap();
        let mut d = Dashboard::new(core, db, tokens.clone(), None, None);
        let with = |name: header::HeaderName, value: &str| {
            let mut h = HeaderMap::new();
            h.insert(name, value.parse().unwrap());
            h
        };
        let session = tokens.dashboard_session().unwrap();
        assert!(d.admitted(&HeaderMap::new()), "loopback: open");
        d.guarded = true;
        assert!(!d.admitted(&HeaderMap::new()));
        assert!(d.admitted(&with(header::AUTHORIZATION, "Bearer admin-secret")));
        assert!(!d.admitted(&with(header::AUTHORIZATION, "Bearer worker-secret")));
        assert!(d.admitted(&with(header::COOKIE, &format!("a=b; {COOKIE}={session}"))));
        assert!(!d.admitted(&with(header::COOKIE, &format!("{COOKIE}=admin-secret"))));
        assert_ne!(session, "admin-secret", "the cookie is not the token");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn login_redirects_only_within_this_server() {
        let f = |next: &str| local_path(Some(next.to_string()));
        assert_eq!(f("/sweeps/a"), "/sweeps/a");
        assert_eq!(f("//evil.example/"), "/");
        assert_eq!(f("https://evil.example/"), "/");
        assert_eq!(f("/\\evil.example"), "/");
        assert_eq!(f("/\t/evil.example"), "/");
        assert_eq!(f("/sweeps/a b"), "/");
    }
}

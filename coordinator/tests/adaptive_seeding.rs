//! Adaptive seeding, through the state machine and the store, with the
//! no-op job kind standing in for training: its seed noise scales with α,
//! so one sweep has quiet cells and noisy ones.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use sweep_coordinator::ids::{LeaseToken, SweepName, WorkerId};
use sweep_coordinator::state::seeding::{Decision, SeedCell};
use sweep_coordinator::state::State;
use sweep_coordinator::store::Store;
use sweep_coordinator::sweep_file;
use sweep_shared::JobSpec;

/// GF's seed noise is 0.1·α: at α = 0.02 and 0.1 the first five seeds are
/// inside the target, at 0.3 about ten are needed, and at 0.9 about
/// eighty, more than `max`.
fn sweep_file(max: usize) -> String {
    format!(
        r#"version = 1
name = "adaptive"
datasets = ["friedman1"]
objectives = ["mtl"]
alphas = [0.02, 0.1, 0.3, 0.9]
seeds = {{ min = 5, max = {max}, target = {{ metric = "gf", ci95_half_width = 0.02 }} }}
[noop]
noise = 0.1
noise_scales_with_alpha = true
"#
    )
}

fn planned(text: &str) -> sweep_file::Planned {
    sweep_file::parse(text, "adaptive.toml")
        .unwrap()
        .plan(Path::new("/nonexistent"))
        .unwrap()
}

/// A small deterministic generator for the order results come back in.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

/// Stand-in workers: each round leases up to `slots` jobs, runs them and
/// reports them in a shuffled order, some only in a later round.
/// `restart` is called between rounds and may replace the state.
fn drive(
    mut state: State,
    order: u64,
    slots: usize,
    mut commit: impl FnMut(&[sweep_coordinator::state::Write]),
    mut restart: impl FnMut(State, usize) -> State,
) -> State {
    let name = SweepName::from("adaptive");
    let worker = WorkerId::from("w");
    commit(&state.register(worker.clone(), "w".into()));
    let mut rng = Lcg(order);
    let mut held: Vec<(sweep_coordinator::state::Granted, String)> = Vec::new();
    for round in 0..10_000 {
        if state.counts(&name).unwrap().0 != sweep_coordinator::state::SweepState::Running {
            assert!(held.is_empty());
            return state;
        }
        let (granted, w) = state.lease(&worker, slots, Instant::now()).unwrap();
        commit(&w);
        for g in granted {
            let spec: JobSpec = serde_json::from_str(&g.spec_json).unwrap();
            let result = sweep_worker::noop::simulate(&spec, spec.noop.as_ref().unwrap()).unwrap();
            held.push((g, serde_json::to_string(&result).unwrap()));
        }
        // Shuffle, and keep some back for a later round.
        for i in (1..held.len()).rev() {
            held.swap(i, rng.next() as usize % (i + 1));
        }
        let keep = rng.next() as usize % (held.len() / 2 + 1);
        for (g, json) in held.drain(keep..) {
            let (taken, w) = state.report_result(&worker, &g.key, g.attempt, json);
            assert_eq!(taken, sweep_coordinator::state::Taken::Accepted);
            commit(&w);
        }
        if held.is_empty() {
            state = restart(state, round);
        }
    }
    panic!("the sweep did not finish");
}

/// Per cell: seeds released and the ledger's decisions.
fn outcome(cells: &[SeedCell]) -> BTreeMap<String, (usize, Vec<(usize, Decision)>)> {
    cells
        .iter()
        .map(|c| {
            (
                c.label.clone(),
                (
                    c.released,
                    c.ledger.iter().map(|e| (e.seeds_run, e.decision)).collect(),
                ),
            )
        })
        .collect()
}

fn submitted(text: &str) -> State {
    let mut state = State::default();
    let p = planned(text);
    state.submit_seeded(p.sweep, p.cells);
    state
}

#[test]
fn noisy_cells_get_more_seeds_quiet_ones_stop_at_min_and_widths_end_under_target() {
    let state = drive(submitted(&sweep_file(40)), 1, 4, |_| {}, |s, _| s);
    let cells = state.seed_cells(&SweepName::from("adaptive"));
    assert_eq!(cells.len(), 4);
    let by_alpha: Vec<(f64, usize, Option<Decision>, f64)> = cells
        .iter()
        .map(|c| {
            let last = c.ledger.last().unwrap();
            (
                c.alpha.unwrap(),
                c.released,
                c.stop,
                last.half_width.unwrap(),
            )
        })
        .collect();
    eprintln!("(α, seeds, stop, half-width): {by_alpha:?}");
    let (quiet, some, noisy, noisiest) = (by_alpha[0], by_alpha[1], by_alpha[2], by_alpha[3]);
    assert_eq!((quiet.1, quiet.2), (5, Some(Decision::Met)), "{quiet:?}");
    assert_eq!(some.2, Some(Decision::Met), "{some:?}");
    assert!(
        noisy.1 > some.1 && noisy.2 == Some(Decision::Met),
        "{noisy:?}"
    );
    assert_eq!(
        (noisiest.1, noisiest.2),
        (40, Some(Decision::MaxSeeds)),
        "{noisiest:?}"
    );
    for c in [quiet, some, noisy] {
        assert!(c.3 <= 0.02, "met cells end under the target: {c:?}");
    }
    assert!(noisiest.3 > 0.02);
    // Each decision but the last extended the cell by one seed.
    for c in cells {
        let (last, before) = c.ledger.split_last().unwrap();
        assert!(before.iter().all(|e| e.decision == Decision::Extend));
        assert_eq!(last.seeds_run, c.released);
        assert_eq!(c.ledger.first().unwrap().seeds_run, 5);
    }
    // The sweep's jobs are exactly the released seeds.
    let (_, counts) = state.counts(&SweepName::from("adaptive")).unwrap();
    let released: usize = cells.iter().map(|c| c.released).sum();
    assert_eq!(
        (counts.total as usize, counts.done as usize),
        (released, released)
    );
}

#[test]
fn the_same_results_lead_to_the_same_seeds_in_any_arrival_order() {
    let a = drive(submitted(&sweep_file(40)), 7, 1, |_| {}, |s, _| s);
    let b = drive(submitted(&sweep_file(40)), 99, 16, |_| {}, |s, _| s);
    let name = SweepName::from("adaptive");
    assert_eq!(outcome(a.seed_cells(&name)), outcome(b.seed_cells(&name)));
    assert_eq!(a.seed_cells(&name), b.seed_cells(&name), "ledgers too");
}

#[test]
fn a_restart_mid_sweep_continues_from_the_store_and_ends_the_same() {
    let dir = std::env::temp_dir().join(format!("adaptive-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("state.db");
    let store = std::cell::RefCell::new(Store::open(&db).unwrap());
    let mut state = store.borrow().load(Instant::now()).unwrap();
    let p = planned(&sweep_file(40));
    let (_, w) = state.submit_seeded(p.sweep, p.cells);
    store.borrow_mut().commit(&w).unwrap();
    let mut restarts = 0;
    let name = SweepName::from("adaptive");
    let ended = drive(
        state,
        3,
        3,
        |w| store.borrow_mut().commit(w).unwrap(),
        |s, round| {
            if round % 4 != 3 {
                return s;
            }
            restarts += 1;
            let reloaded = store.borrow().load(Instant::now()).unwrap();
            for (a, b) in reloaded.seed_cells(&name).iter().zip(s.seed_cells(&name)) {
                assert_eq!(a.ledger, b.ledger, "{}", a.label);
                assert_eq!(a.released, b.released, "{}", a.label);
                for (x, y) in a.candidates.iter().zip(&b.candidates) {
                    assert_eq!(x.value, y.value, "{} seed {}", a.label, x.seed);
                }
            }
            assert_eq!(reloaded.seed_cells(&name), s.seed_cells(&name));
            assert_eq!(
                reloaded.counts(&name).unwrap(),
                s.counts(&name).unwrap(),
                "released seeds are the sweep's jobs after a reload"
            );
            reloaded
        },
    );
    assert!(restarts > 2, "{restarts} restarts");
    let reference = drive(submitted(&sweep_file(40)), 3, 3, |_| {}, |s, _| s);
    assert_eq!(ended.seed_cells(&name), reference.seed_cells(&name));
    let reloaded = store.borrow().load(Instant::now()).unwrap();
    assert_eq!(reloaded.seed_cells(&name), ended.seed_cells(&name));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn resubmission_runs_nothing_again_and_a_larger_max_extends_only_unmet_cells() {
    let name = SweepName::from("adaptive");
    let mut state = drive(submitted(&sweep_file(40)), 5, 4, |_| {}, |s, _| s);
    let before = outcome(state.seed_cells(&name));

    let p = planned(&sweep_file(40));
    let (out, _) = state.submit_seeded(p.sweep, p.cells);
    assert_eq!(out.to_run, 0, "{out:?}");
    assert_eq!(outcome(state.seed_cells(&name)), before);
    assert_eq!(
        state.counts(&name).unwrap().0,
        sweep_coordinator::state::SweepState::Finished
    );

    let p = planned(&sweep_file(60));
    state.submit_seeded(p.sweep, p.cells);
    let state = drive(state, 5, 4, |_| {}, |s, _| s);
    let after = outcome(state.seed_cells(&name));
    for (label, (seeds, ledger)) in &before {
        let (seeds_after, ledger_after) = &after[label];
        if ledger.last().unwrap().1 == Decision::Met {
            assert_eq!((seeds, ledger), (seeds_after, ledger_after), "{label}");
        } else {
            assert_eq!(*seeds_after, 60, "{label} continued to the new max");
            assert_eq!(&ledger_after[..ledger.len()], &ledger[..], "{label}");
        }
    }
}

#[test]
fn results_from_before_the_sweep_count_towards_its_cells() {
    // A fixed sweep of the same cells ran seeds 0..7 first.
    let name = SweepName::from("adaptive");
    let fixed = sweep_file(40).replace(
        "seeds = { min = 5, max = 40, target = { metric = \"gf\", ci95_half_width = 0.02 } }",
        "seeds = 7",
    );
    let p = sweep_file::parse(&fixed, "fixed.toml")
        .unwrap()
        .plan(Path::new("/nonexistent"))
        .unwrap();
    let mut state = State::default();
    state.submit(p.sweep, p.jobs);
    let worker = WorkerId::from("w");
    state.register(worker.clone(), "w".into());
    let (granted, _) = state.lease(&worker, 100, Instant::now()).unwrap();
    let mut results = BTreeMap::new();
    for g in granted {
        let spec: JobSpec = serde_json::from_str(&g.spec_json).unwrap();
        let r = sweep_worker::noop::simulate(&spec, spec.noop.as_ref().unwrap()).unwrap();
        let json = serde_json::to_string(&r).unwrap();
        results.insert(g.key.clone(), json.clone());
        state.report_result(&worker, &g.key, LeaseToken::new(1), json);
    }
    // The core fills in stored values before submitting; here, by hand.
    let mut p = planned(&sweep_file(40));
    for c in p.cells.iter_mut().flat_map(|c| c.candidates.iter_mut()) {
        c.value = results
            .get(&c.key)
            .and_then(|j| sweep_coordinator::state::seeding::metric_value(j, "gf"));
    }
    let (out, _) = state.submit_seeded(p.sweep, p.cells);
    assert_eq!(out.already_done, 20, "4 cells × 5 seeds: {out:?}");
    let cells = state.seed_cells(&name);
    // The quiet cell met its target at once, from results alone; the
    // noisiest was extended into the seeds already run (5 and 6), decided
    // on each, and then released seed 7, the first without a result.
    assert_eq!((cells[0].released, cells[0].stop), (5, Some(Decision::Met)));
    let noisiest = &cells[3];
    let steps: Vec<(usize, Decision)> = noisiest
        .ledger
        .iter()
        .map(|e| (e.seeds_run, e.decision))
        .collect();
    assert_eq!(
        steps,
        [
            (5, Decision::Extend),
            (6, Decision::Extend),
            (7, Decision::Extend)
        ]
    );
    assert_eq!(noisiest.released, 8);
    let open = cells.iter().filter(|c| c.stop.is_none()).count() as u32;
    assert_eq!(
        state.counts(&name).unwrap().1.queued,
        open,
        "one seed per open cell"
    );
}

"""Seeds saved by adaptive seeding against a fixed seed count.

Reads one coordinator database holding an adaptive sweep and a fixed sweep
of the same cells with `max` seeds (content-addressed jobs: the fixed sweep
reuses the adaptive one's results and trains only the rest), and prints:

- per cell, the seeds the adaptive sweep ran and its final relative 95%
  half-width of the target metric;
- the worst cell's width under adaptive seeding;
- the smallest fixed count k (seeds 0..k in every cell) whose worst cell is
  at least as precise, and the seeds that costs against the adaptive run.

    python3 validation/adaptive_savings.py results/adaptive/state.db adaptive fixed10

Needs scipy (Student's t).
"""

import json
import sqlite3
import sys
from statistics import mean, stdev

from scipy.stats import t as student_t


def half_width(values):
    n = len(values)
    return student_t.ppf(0.975, n - 1) * stdev(values) / n**0.5


def main(db, adaptive, fixed):
    conn = sqlite3.connect(db)
    cells = [json.loads(c) for (c,) in conn.execute(
        "SELECT cell FROM seed_cells WHERE sweep = ? ORDER BY position", (adaptive,))]
    if not cells:
        sys.exit(f"{db}: sweep {adaptive} has no adaptive cells")
    rule = cells[0]["rule"]
    metric, width = rule["metric"], rule["width"]
    relative = "relative" in width
    (keys,) = conn.execute("SELECT keys FROM sweeps WHERE name = ?", (fixed,)).fetchone()
    per_cell = {}
    for key in keys.split("\n"):
        row = conn.execute("SELECT result FROM results WHERE key = ?", (key,)).fetchone()
        if row is None:
            continue
        r = json.loads(row[0])
        s = r["spec"]
        label = f"{s['dataset']} {s['objective']}" + (f" α={s['alpha']}" if s.get("alpha") is not None else "")
        v = r["metrics"].get(metric)
        if v is not None:
            per_cell.setdefault(label, {})[s["seed"]] = v

    def width_of(values):
        h = half_width(values)
        return h / abs(mean(values)) if relative else h

    unit = "× |mean|" if relative else ""
    print(f"target: 95% half-width of {metric} ≤ {list(width.values())[0]} {unit}; "
          f"seeds {rule['min']}..{rule['max']}")
    print(f"{'cell':28} {'seeds':>5} {'width':>8} stop")
    worst = 0.0
    adaptive_seeds = 0
    for c in cells:
        last = c["ledger"][-1]
        w = last["half_width"] / abs(last["mean"]) if relative else last["half_width"]
        worst = max(worst, w)
        adaptive_seeds += c["released"]
        print(f"{c['label']:28} {c['released']:>5} {w:>8.4f} {c['stop']}")
    print(f"adaptive: {adaptive_seeds} seeds, worst-cell width {worst:.4f}")
    labels = [c["label"] for c in cells]
    for k in range(rule["min"], rule["max"] + 1):
        worst_k = max(width_of([per_cell[l][s] for s in range(k)]) for l in labels)
        print(f"fixed k={k:>2}: {k * len(labels):>4} seeds, worst-cell width {worst_k:.4f}")
        if worst_k <= worst * (1 + 1e-9):  # the same seeds give the same width, up to rounding
            saved = k * len(labels) - adaptive_seeds
            print(f"the first fixed count at least as precise in its worst cell: k = {k}, "
                  f"{k * len(labels)} seeds; adaptive ran {adaptive_seeds}: "
                  f"{saved} seeds saved ({100 * saved / (k * len(labels)):.0f}%)")
            return
    print(f"no fixed count up to {rule['max']} reaches the adaptive worst-cell width")


if __name__ == "__main__":
    main(*sys.argv[1:4])

#!/usr/bin/env python3
"""Compares the Rust sweep's MTL runs with the Keras peer's, per (dataset, α).

    compare_peer.py results/peer/runs.parquet validation/out/keras.jsonl

Our side: a `runs.parquet` written by the Rust tool (coordinator/src/report/
frames.rs: columns dataset, objective, alpha, seed, mse, gf, ...), or a
directory holding one. Only objective == "mtl" rows are used.
Keras side: the JSONL of keras_peer.py (dataset, alpha, seed, test_mse, gf).

Per (dataset, α) and metric (test MSE in standardised units, GF): n per side,
both medians, the two-sided Mann–Whitney U p-value, the IQR of the two samples
pooled, and the equivalence check |median_ours − median_keras| ≤ 0.2 × pooled
IQR, printed as a markdown table with PASS/FAIL per row.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu

METRICS = [("test MSE", "mse", "test_mse"), ("GF", "gf", "gf")]


def read_ours(path):
    path = Path(path)
    if path.is_dir():
        path = path / "runs.parquet"
    df = pd.read_parquet(path)
    missing = {"dataset", "objective", "alpha", "seed", "mse", "gf"} - set(df.columns)
    if missing:
        raise SystemExit(f"{path}: missing columns {sorted(missing)}")
    df = df[df["objective"] == "mtl"].copy()
    df["alpha"] = df["alpha"].astype(float).round(6)
    return df


def read_keras(path):
    rows = []
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                print(f"warning: skipping a malformed line of {path}", file=sys.stderr)
    df = pd.DataFrame(rows)
    if df.empty:
        raise SystemExit(f"{path}: no runs")
    df["alpha"] = df["alpha"].astype(float).round(6)
    # A seed run twice (e.g. a resumed job that had already been written) counts once.
    return df.drop_duplicates(subset=["dataset", "alpha", "seed"], keep="last")


def compare(ours, keras, tolerance=0.2):
    cells = sorted(
        set(map(tuple, ours[["dataset", "alpha"]].drop_duplicates().values))
        | set(map(tuple, keras[["dataset", "alpha"]].drop_duplicates().values))
    )
    out = []
    for dataset, alpha in cells:
        o = ours[(ours["dataset"] == dataset) & (ours["alpha"] == alpha)]
        k = keras[(keras["dataset"] == dataset) & (keras["alpha"] == alpha)]
        for label, ocol, kcol in METRICS:
            a = o[ocol].dropna().to_numpy(dtype=float)
            b = k[kcol].dropna().to_numpy(dtype=float)
            row = {"dataset": dataset, "alpha": alpha, "metric": label,
                   "n_ours": len(a), "n_keras": len(b)}
            if len(a) == 0 or len(b) == 0:
                row.update(verdict="n/a")
                out.append(row)
                continue
            pooled = np.concatenate([a, b])
            iqr = float(np.percentile(pooled, 75) - np.percentile(pooled, 25))
            med_a, med_b = float(np.median(a)), float(np.median(b))
            diff = abs(med_a - med_b)
            p = float(mannwhitneyu(a, b, alternative="two-sided").pvalue)
            row.update(median_ours=med_a, median_keras=med_b, diff=diff, p=p,
                       pooled_iqr=iqr, bound=tolerance * iqr,
                       verdict="PASS" if diff <= tolerance * iqr else "FAIL")
            out.append(row)
    return out


def fmt(v, digits=4):
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def markdown(rows, tolerance):
    head = ["dataset", "α", "metric", "n ours", "n keras", "median ours", "median keras",
            "Δ median (abs)", f"{tolerance}×pooled IQR", "MWU p", "check"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["dataset"], fmt(r["alpha"], 3), r["metric"], r["n_ours"], r["n_keras"],
                 fmt(r.get("median_ours", "–")), fmt(r.get("median_keras", "–")),
                 fmt(r.get("diff", "–")), fmt(r.get("bound", "–")),
                 fmt(r.get("p", "–"), 3), r["verdict"]]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("ours", type=Path, help="runs.parquet of the Rust sweep (or its directory)")
    p.add_argument("keras", type=Path, help="JSONL written by keras_peer.py")
    p.add_argument("--tolerance", type=float, default=0.2,
                   help="equivalence bound as a fraction of the pooled IQR [0.2]")
    p.add_argument("--strict", action="store_true", help="exit 1 if any row FAILs")
    args = p.parse_args(argv)
    rows = compare(read_ours(args.ours), read_keras(args.keras), args.tolerance)
    print(markdown(rows, args.tolerance))
    verdicts = [r["verdict"] for r in rows]
    print(f"\n{verdicts.count('PASS')} PASS, {verdicts.count('FAIL')} FAIL, "
          f"{verdicts.count('n/a')} n/a")
    return 1 if args.strict and "FAIL" in verdicts else 0


if __name__ == "__main__":
    sys.exit(main())

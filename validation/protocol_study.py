"""The protocol study's table (docs/reproduction.md), from the runs.parquet
files that `sweep-local run sweeps/protocols/<p>.toml` and
`sweep-local run sweeps/paper.toml` wrote.

For each protocol and dataset: the prediction cost at α = 0.1 relative to
STL (MSE ratio for regression, accuracy difference for classification),
the GF ratio STL / α = 0.1, the degenerate seeds (of all the protocol's runs
on the dataset), and the summed training + evaluation time of those runs.
A protocol passes when, on every dataset, GF at α = 0.1 is at least 10×
below STL's and the prediction cost is within the issue's bounds (MSE at
most 1.25× STL's, accuracy at most 0.02 below).

    /opt/peer-venv/bin/python validation/protocol_study.py results
"""

import sys
from pathlib import Path

import pandas as pd

PROTOCOLS = [
    # (name in the table, results directory); "method" reads the paper grid.
    ("method (default)", "paper"),
    ("lr_min_delta = 0", "protocol-lr-min-delta-0"),
    ("g_init = least-squares", "protocol-g-init-least-squares"),
    ("early_stopping_on = prediction", "protocol-stop-on-prediction"),
    ("authors-code", "protocol-authors-code"),
    ("combined", "protocol-combined"),
]
DATASETS = ["wine", "housing", "autompg", "titanic", "adult"]
CELLS_ALPHAS = [0.1, 0.5, 0.9]


def main(results: Path) -> None:
    rows = []
    verdicts = {}
    for label, directory in PROTOCOLS:
        path = results / directory / "runs.parquet"
        if not path.exists():
            print(f"(missing: {path})", file=sys.stderr)
            continue
        runs = pd.read_parquet(path)
        # The paper grid has every α; the study compares STL, 0.1, 0.5, 0.9.
        runs = runs[runs["alpha"].isna() | runs["alpha"].round(6).isin(CELLS_ALPHAS)]
        ok = True
        for d in DATASETS:
            r = runs[runs["dataset"] == d]
            if r.empty:
                ok = False
                continue
            stl = r[r["objective"] == "stl"]
            a01 = r[(r["objective"] == "mtl") & (r["alpha"].round(6) == 0.1)]
            regression = r["mse"].notna().any()
            if regression:
                cost = a01["mse"].mean() / stl["mse"].mean()
                cost_text = f"MSE ×{cost:.2f}"
                cost_ok = cost <= 1.25
            else:
                cost = a01["accuracy"].mean() - stl["accuracy"].mean()
                cost_text = f"acc {cost:+.3f}"
                cost_ok = cost >= -0.02
            gf_ratio = stl["gf"].mean() / a01["gf"].mean()
            gf_ok = gf_ratio >= 10
            ok = ok and cost_ok and gf_ok
            rows.append(
                {
                    "protocol": label,
                    "dataset": d,
                    "STL": f"{(stl['mse'] if regression else stl['accuracy']).mean():.4f}",
                    "α=0.1": f"{(a01['mse'] if regression else a01['accuracy']).mean():.4f}",
                    "cost α=0.1 vs STL": cost_text + ("" if cost_ok else " ✗"),
                    "GF STL / GF α=0.1": f"{gf_ratio:.1f}×" + ("" if gf_ok else " ✗"),
                    "degenerate seeds": f"{int(r['degenerate'].sum()) if 'degenerate' in r else 'n/a'} of {len(r)}",
                    "job time (s)": f"{(r['train_seconds'] + r['eval_seconds']).sum():.0f}",
                }
            )
        verdicts[label] = ok
    table = pd.DataFrame(rows)
    print(table.to_markdown(index=False))
    print()
    for label, ok in verdicts.items():
        print(f"- {label}: {'meets' if ok else 'does not meet'} the bar on every dataset")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "results"))

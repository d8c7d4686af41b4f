"""The paper grid's table per dataset with n and 95% intervals, from the
cells.parquet that `sweep-local run sweeps/paper.toml` wrote
(docs/reproduction.md).

    /opt/peer-venv/bin/python validation/paper_table.py results/paper
"""

import sys
from pathlib import Path

import pandas as pd

ROWS = {
    "regression": [("MSE", "mse"), ("R²", "r2"), ("GF", "gf"), ("GNF", "gnf"), ("R²(f, g)", "r2_fg")],
    "classification": [
        ("Accuracy", "accuracy"),
        ("F1", "f1"),
        ("GF", "gf"),
        ("GNF", "gnf"),
        ("R²(f, g)", "r2_fg"),
    ],
}


def num(v: float) -> str:
    return f"{v:.2e}" if v != 0 and abs(v) < 0.01 else f"{v:.4f}"


def entry(cell: pd.Series, m: str) -> str:
    mean, lo, hi, n = cell[f"{m}_mean"], cell[f"{m}_ci95_low"], cell[f"{m}_ci95_high"], cell[f"{m}_n"]
    if pd.isna(mean):
        return "—"
    if pd.isna(lo):
        return f"{num(mean)} (n={n})"
    return f"{num(mean)} [{num(lo)}, {num(hi)}] (n={n})"


def main(out: Path) -> None:
    cells = pd.read_parquet(out / "cells.parquet")
    for dataset, d in cells.groupby("dataset", sort=False):
        d = d.assign(order=d["alpha"].fillna(-1.0)).sort_values("order")
        kind = "classification" if d["accuracy_mean"].notna().any() else "regression"
        heads = ["STL" if pd.isna(a) else f"α = {a:g}" for a in d["alpha"]]
        print(f"\n### {dataset}\n")
        print("| | " + " | ".join(heads) + " |")
        print("|---|" + "---|" * len(heads))
        for label, m in ROWS[kind]:
            print(f"| {label} | " + " | ".join(entry(c, m) for _, c in d.iterrows()) + " |")
        if "degenerate_n" in d and d["degenerate_n"].sum() > 0:
            flagged = [
                f"{h}: {int(k)}" for h, k in zip(heads, d["degenerate_n"]) if k > 0
            ]
            print(f"\nDegenerate seeds: {', '.join(flagged)}.")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "results/paper"))

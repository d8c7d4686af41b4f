"""Pinned values for the `authors-code` protocol (docs/authors-code-facts.md).

Re-derives, from the files in ../shared/datasets, what the authors' Keras
code (wolfie00/surrogate-mtl @ 7a2fcb2) computes in its data preparation and
STL surrogate, so the Rust preset can be unit-tested against fixed numbers.
This is an independent re-implementation of the steps described in
docs/protocols.md, not the authors' code.

Run (pandas < 3 matters: the authors' in-place `fillna` on a column relies on
pre-copy-on-write semantics):

    python3 -m venv /opt/authors-venv
    /opt/authors-venv/bin/pip install "pandas<3" "numpy<2.3" scikit-learn
    /opt/authors-venv/bin/python validation/authors_facts.py [--data-dir DIR]
"""

import argparse
import os
import warnings

import numpy as np
import pandas as pd
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder, StandardScaler

warnings.simplefilter("ignore")
HERE = os.path.dirname(os.path.abspath(__file__))


def g10(v):
    """10 significant digits."""
    return f"{v:.10g}"


def wine(d):
    # The UCI red-wine file is ';'-separated with a header row.
    df = pd.read_csv(os.path.join(d, "wine-quality", "winequality-red.csv"), sep=";").dropna()
    train = df.sample(frac=0.8, random_state=42)  # authors' data.py:223
    test = df.drop(train.index)  # data.py:224 -> remaining rows, ascending index order
    perm = np.random.RandomState(42).permutation(len(df))
    print("## wine")
    print("rows", len(df), "train", len(train), "test", len(test))
    print("train first 10 (sample order):", list(train.index[:10]))
    print("train last 5 (sample order):", list(train.index[-5:]))
    print("test first 10:", list(test.index[:10]))
    print("test last 5:", list(test.index[-5:]))
    # pandas' sample without replacement == RandomState(42).permutation(n)[:k]
    print("train == permutation(1599)[:1279]:", bool((train.index.values == perm[: len(train)]).all()))
    print("test == sorted(permutation[1279:]):", bool((test.index.values == np.sort(perm[len(train):])).all()))
    # validation rows Keras takes: the last 10% of the training rows in sample order
    split_at = int(np.floor(len(train) * 0.9))
    print("keras fit rows", split_at, "validation rows", len(train) - split_at,
          "first validation index", train.index[split_at])
    ys = StandardScaler().fit(train[["quality"]])
    print("quality mean/scale (train):", g10(ys.mean_[0]), g10(ys.scale_[0]))


def adult(d):
    cols = ["age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
            "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
            "hours-per-week", "native-country", "income"]
    read = lambda f: pd.read_csv(os.path.join(d, "adult", f), names=cols, sep=",", encoding="latin-1")
    tr, te = read("adult.data").dropna(), read("adult.test").dropna()  # drops the '|1x3' line
    frames = []
    for df in (tr, te):
        df = df.replace(r"(^\s+|\s+$)", "", regex=True).replace("?", np.nan)
        for c in ["workclass", "occupation", "native-country"]:
            # each file is filled with ITS OWN mode (data.py:29-31)
            df[c] = df[c].fillna(df[c].mode()[0])
        frames.append(df)
    tr, te = frames
    print("## adult")
    print("train rows", len(tr), "test rows", len(te))
    for c in ["workclass", "occupation", "native-country"]:
        print(f"fill {c}: train mode {tr[c].mode()[0]!r}, test mode {te[c].mode()[0]!r}")
    xtr, xte = tr.drop(columns="income").copy(), te.drop(columns="income").copy()
    for j in [1, 3, 5, 6, 7, 8, 9, 13]:
        le = LabelEncoder().fit(xtr.iloc[:, j])  # classes_ = sorted unique training values
        unseen = sorted(set(xte.iloc[:, j]) - set(le.classes_))
        print(f"col {j} {cols[j]}: {len(le.classes_)} classes, first {list(le.classes_[:3])}, test-unseen {unseen}")
        xtr[cols[j]] = le.transform(xtr.iloc[:, j])
        xte[cols[j]] = le.transform(xte.iloc[:, j])
    a, b = xtr.values.astype(float), xte.values.astype(float)
    sc = StandardScaler().fit(a)  # data.py:86-87: all 14 columns, fitted on adult.data
    print("scaler mean:", [g10(v) for v in sc.mean_])
    print("scaler scale:", [g10(v) for v in sc.scale_])
    print("train row 0 raw:", list(a[0]))
    print("train row 0 model input:", [g10(v) for v in sc.transform(a[:1])[0]])
    print("test row 0 raw:", list(b[0]))
    ytr = tr["income"].map({"<=50K": 0, ">50K": 1})
    yte = te["income"].map({"<=50K.": 0, ">50K.": 1})
    print("positives train/test:", int(ytr.sum()), int(yte.sum()), "unmapped:", int(ytr.isna().sum() + yte.isna().sum()))


def titanic(d):
    # Our titanic.csv = the OpenML ARFF rows ('?' = missing); the authors read
    # hbiostat's titanic3.xls, assumed to hold the same rows in the same order.
    df = pd.read_csv(os.path.join(d, "titanic", "titanic.csv"), na_values=["?"], keep_default_na=False)
    df = df.drop(columns=["home.dest", "name", "body", "boat", "cabin", "ticket"])
    print("## titanic")
    print("columns after drop:", list(df.columns))
    miss_emb = list(df.index[df["embarked"].isna()])
    print("age mean (all 1309 rows):", g10(df["age"].mean()), "fare mean (all rows):", g10(df["fare"].mean()))
    df["age"] = df["age"].fillna(df["age"].mean())
    df["embarked"] = df["embarked"].bfill()  # == fillna(method='bfill')
    df["fare"] = df["fare"].fillna(df["fare"].mean())
    print("embarked missing at rows", miss_emb, "-> bfill values", list(df.loc[miss_emb, "embarked"]))
    y = df.pop("survived").values.astype(float)
    for j in [0, 1, 6]:
        le = LabelEncoder().fit(df.iloc[:, j])
        print(f"col {j} {df.columns[j]}: classes {list(le.classes_)}")
        df[df.columns[j]] = le.transform(df.iloc[:, j])
    idx = np.arange(len(df))
    tr, te = train_test_split(idx, test_size=0.2, random_state=42)
    print("train", len(tr), "test", len(te), "test first 5", list(te[:5]))
    x = df.values.astype(float)
    sc = StandardScaler().fit(x[tr][:, [2, 3, 4, 5]])
    print("age/sibsp/parch/fare train mean:", [g10(v) for v in sc.mean_])
    print("test row 0 raw (pclass,sex,age,sibsp,parch,fare,embarked):", list(x[te[0]]), "y", y[te[0]])


def logistic():
    X = np.array([[0.0, 1.0], [1.0, 0.5], [2.0, -0.5], [3.0, 0.0],
                  [0.5, 2.0], [2.5, 1.5], [1.5, -1.0], [3.5, 1.0]])
    y = np.array([0, 0, 1, 1, 0, 1, 0, 1])
    print("## logistic (sklearn", sklearn.__version__, ")")
    for name, m in [("default LogisticRegression()", LogisticRegression()),
                    ("converged (tol=1e-12, max_iter=10000)", LogisticRegression(tol=1e-12, max_iter=10000))]:
        m.fit(X, y)
        print(name, "n_iter", int(m.n_iter_[0]))
        print("  coef_", [g10(v) for v in m.coef_[0]], "intercept_", g10(m.intercept_[0]))
        print("  predict_proba[:3]", [[g10(v) for v in r] for r in m.predict_proba(X[:3])])
        print("  predict", list(m.predict(X)))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", default=os.environ.get(
        "SWEEP_DATA_DIR", os.path.join(HERE, "..", "..", "shared", "datasets")))
    a = p.parse_args()
    print("numpy", np.__version__, "pandas", pd.__version__, "sklearn", sklearn.__version__)
    wine(a.data_dir)
    adult(a.data_dir)
    titanic(a.data_dir)
    logistic()

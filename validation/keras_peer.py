#!/usr/bin/env python3
"""Keras 3 peer of the Rust worker's joint (MTL) training, for one job or many.

The model, loss, optimizer, callbacks and data follow docs/method.md section 1
and worker/src/{train,losses,model,optim}.rs, but the fit loop and callbacks
are Keras' own (`model.fit`, `EarlyStopping`, `ReduceLROnPlateau`), so the two
implementations can be compared as distributions over seeds (compare_peer.py).

Data: the same rows, in the same order, as worker/src/data builds them:
  * parsing and the housing feature derivation of loaders.rs, in float64;
  * the split of split.rs, which *is* numpy's legacy
    `RandomState(42).permutation(n)` (test = first ceil(0.2 n) rows of the
    permutation, train = the rest, in permutation order), i.e. scikit-learn's
    `train_test_split(test_size=0.2, random_state=42)`;
  * prep.rs' standardisation: mean and population std of the training rows
    (sequential float64 sums, std 1 where 0), applied in float64, then cast to
    float32; targets standardised with the training mean/std.
A self-check asserts the first split indices against split.rs' unit test.

Usage (one job, prints one JSON line):
    keras_peer.py --dataset wine --alpha 0.5 --seed 0
Many jobs, appended to a JSONL file, resumable:
    keras_peer.py --many --dataset wine --alphas 0.1 0.5 --seeds 0-19 --out out/keras.jsonl
"""

import os

# Single-threaded before numpy/torch are imported.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("KERAS_BACKEND", "torch")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "datasets"

WINE_FILE = "wine-quality/winequality-red.csv"
HOUSING_FILE = "california-housing/cal_housing.data"

# method.md section 1 defaults (shared/src/settings.rs).
HIDDEN = (512, 256, 128)
LEARNING_RATE = 1e-3
BETA1, BETA2, EPSILON = 0.9, 0.999, 1e-7
BATCH_SIZE = 32
MAX_EPOCHS = 100
VALIDATION_FRACTION = 0.1
PATIENCE = 3
LR_FACTOR = 0.1
LR_PATIENCE = 1
LR_MIN_DELTA = 1e-4
TEST_FRACTION = 0.2
SPLIT_SEED = 42


# --------------------------------------------------------------------------
# Data: loaders.rs + split.rs + prep.rs
# --------------------------------------------------------------------------

def _number(field):
    v = float(field.strip())
    if not math.isfinite(v):
        raise ValueError(f"`{field}` is not finite")
    return v


def load_wine_raw(data_dir):
    path = Path(data_dir) / WINE_FILE
    lines = path.read_text().splitlines()
    if not lines or "quality" not in lines[0]:
        raise ValueError(f"{path}: expected the header line naming `quality`")
    rows, target = [], []
    for line in lines[1:]:
        if not line.strip():
            continue
        fields = line.split(";")
        if len(fields) != 12:
            raise ValueError(f"{path}: expected 12 fields, found {len(fields)}")
        rows.append([_number(f) for f in fields[:11]])
        target.append(_number(fields[11]))
    return np.array(rows, dtype=np.float64), np.array(target, dtype=np.float64)


def load_housing_raw(data_dir):
    path = Path(data_dir) / HOUSING_FILE
    rows, target = [], []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        fields = line.split(",")
        if len(fields) != 9:
            raise ValueError(f"{path}: expected 9 fields, found {len(fields)}")
        lon, lat, age, rooms, bedrooms, population, households, income, value = (
            _number(f) for f in fields
        )
        if households <= 0.0:
            raise ValueError(f"{path}: households must be positive")
        # scikit-learn's fetch_california_housing features, as loaders.rs.
        rows.append([
            income,
            age,
            rooms / households,
            bedrooms / households,
            population,
            population / households,
            lat,
            lon,
        ])
        target.append(value / 100_000.0)
    return np.array(rows, dtype=np.float64), np.array(target, dtype=np.float64)


def train_test_split_indices(n, test_fraction=TEST_FRACTION, seed=SPLIT_SEED):
    """split.rs: numpy legacy RandomState(seed).permutation(n), test first."""
    n_test = math.ceil(test_fraction * n)
    perm = np.random.RandomState(seed).permutation(n)
    return perm[n_test:], perm[:n_test]


def _seq_sum(v):
    # Rust's `iter().sum()` adds left to right; np.sum is pairwise. cumsum is
    # sequential, so this reproduces the Rust statistics bit for bit.
    return float(np.cumsum(v, dtype=np.float64)[-1])


def mean_std(v):
    """prep.rs mean_std: mean and population std (1 where 0)."""
    v = np.asarray(v, dtype=np.float64)
    mu = _seq_sum(v) / len(v)
    d = v - mu
    var = _seq_sum(d * d) / len(v)
    sd = math.sqrt(var)
    return mu, (sd if sd > 0.0 else 1.0)


def preprocess(x_raw, y_raw):
    train, test = train_test_split_indices(len(y_raw))
    x_train = np.empty((len(train), x_raw.shape[1]), dtype=np.float32)
    x_test = np.empty((len(test), x_raw.shape[1]), dtype=np.float32)
    for j in range(x_raw.shape[1]):
        mu, sd = mean_std(x_raw[train, j])
        x_train[:, j] = ((x_raw[train, j] - mu) / sd).astype(np.float32)
        x_test[:, j] = ((x_raw[test, j] - mu) / sd).astype(np.float32)
    mu, sd = mean_std(y_raw[train])
    y_train = ((y_raw[train] - mu) / sd).astype(np.float32)
    y_test = ((y_raw[test] - mu) / sd).astype(np.float32)
    return x_train, y_train, x_test, y_test


def self_check_split():
    # The indices asserted by split.rs' `split_reproduces_scikit_learn_rows`.
    train, test = train_test_split_indices(1599)
    assert list(test[:8]) == [803, 124, 350, 682, 1326, 976, 1493, 706], test[:8]
    assert list(train[:8]) == [493, 354, 342, 834, 705, 522, 1590, 1404], train[:8]
    assert (len(train), len(test)) == (1279, 320)
    assert len(train_test_split_indices(392)[1]) == 79


def load_dataset(name, data_dir):
    self_check_split()
    if name == "wine":
        x, y = load_wine_raw(data_dir)
        assert x.shape == (1599, 11), x.shape
    elif name == "housing":
        x, y = load_housing_raw(data_dir)
        assert x.shape == (20640, 8), x.shape
    else:
        raise SystemExit(f"unknown dataset {name!r} (wine or housing)")
    return preprocess(x, y)


# --------------------------------------------------------------------------
# Model and training: Keras' own fit loop and callbacks
# --------------------------------------------------------------------------

def setup_torch():
    import torch

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set in this process
    return torch


def build_model(keras, inputs, alpha):
    from keras import layers, ops

    x = keras.Input(shape=(inputs,), name="x")
    h = x
    for width in HIDDEN:
        h = layers.Dense(width, activation="relu")(h)  # Glorot-uniform, zero bias
    f = layers.Dense(1, name="f")(h)
    g = layers.Dense(1, name="g")(x)
    out = layers.Concatenate(name="fg")([f, g])
    model = keras.Model(x, out)

    a = float(alpha)
    ln2 = math.log(2.0)

    def joint_loss(y_true, y_pred):
        y = ops.cast(y_true[:, 0], y_pred.dtype)
        fp, gp = y_pred[:, 0], y_pred[:, 1]
        d = fp - y
        # log(cosh(d)) without overflow: |d| + ln(1 + e^(−2|d|)) − ln 2 (losses.rs).
        ad = ops.abs(d)
        log_cosh = ad + ops.log1p(ops.exp(-2.0 * ad)) - ln2
        return a * log_cosh + (1.0 - a) * ops.square(gp - fp)

    opt = keras.optimizers.Adam(
        learning_rate=LEARNING_RATE, beta_1=BETA1, beta_2=BETA2, epsilon=EPSILON
    )
    model.compile(optimizer=opt, loss=joint_loss)
    return model


def run_job(data, dataset, alpha, seed, keras, verbose=0):
    x_train, y_train, x_test, y_test = data
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = build_model(keras, x_train.shape[1], alpha)
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=PATIENCE, min_delta=0.0),
        keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=LR_FACTOR, patience=LR_PATIENCE, min_delta=LR_MIN_DELTA
        ),
    ]
    start = time.perf_counter()
    history = model.fit(
        x_train,
        y_train.reshape(-1, 1),
        batch_size=BATCH_SIZE,
        epochs=MAX_EPOCHS,
        validation_split=VALIDATION_FRACTION,
        shuffle=True,
        callbacks=callbacks,
        verbose=verbose,
    )
    seconds = time.perf_counter() - start
    pred = model.predict(x_test, batch_size=2048, verbose=0)
    f = pred[:, 0].astype(np.float64)
    g = pred[:, 1].astype(np.float64)
    y = y_test.astype(np.float64)
    test_mse = float(np.mean((f - y) ** 2))
    gf = float(np.mean((g - f) ** 2))
    r2 = float(1.0 - np.sum((y - f) ** 2) / np.sum((y - y.mean()) ** 2))
    val_losses = [float(v) for v in history.history["val_loss"]]
    epochs = len(val_losses)
    lrs = history.history.get("learning_rate") or history.history.get("lr") or []
    keras_final_lr = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    # train.rs reports the rate after its loop: on an early stop the rate of the
    # last epoch (it never cuts on the stopping epoch); Keras' ReduceLROnPlateau
    # still cuts on that epoch, so its optimizer ends 10x lower there.
    stopped_early = epochs < MAX_EPOCHS
    final_lr = float(lrs[-1]) if (stopped_early and lrs) else keras_final_lr
    return {
        "dataset": dataset,
        "alpha": float(alpha),
        "seed": int(seed),
        "test_mse": test_mse,
        "gf": gf,
        "r2": r2,
        "epochs": epochs,
        "final_lr": final_lr,
        "keras_final_lr": keras_final_lr,
        "seconds": round(seconds, 3),
        "val_losses": val_losses,
        "n_fit": int(math.floor(len(y_train) * (1.0 - VALIDATION_FRACTION))),
        "n_train": int(len(y_train)),
        "n_test": int(len(y_test)),
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
    }


def parse_seeds(spec):
    """`0-19`, `0:20`, `3` or `1,4,7`."""
    out = []
    for part in spec.split(","):
        part = part.strip()
        if "-" in part:
            a, b = part.split("-")
            out.extend(range(int(a), int(b) + 1))
        elif ":" in part:
            a, b = part.split(":")
            out.extend(range(int(a), int(b)))
        elif part:
            out.append(int(part))
    return out


def done_keys(path):
    keys = set()
    if path.exists():
        for line in path.read_text().splitlines():
            line = line.strip()
            if not line:
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a kill: that job runs again
            keys.add((r["dataset"], round(float(r["alpha"]), 6), int(r["seed"])))
    return keys


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", required=True, nargs="+", choices=["wine", "housing"])
    p.add_argument("--alpha", type=float, help="one job: α")
    p.add_argument("--seed", type=int, help="one job: the seed")
    p.add_argument("--many", action="store_true", help="loop over --alphas × --seeds")
    p.add_argument("--alphas", type=float, nargs="+", default=[0.1, 0.5])
    p.add_argument("--seeds", default="0-19", help="e.g. 0-19, 0:20 or 1,4,7")
    p.add_argument("--out", type=Path, help="JSONL file to append to (with --many)")
    p.add_argument("--data-dir", type=Path, default=Path(os.environ.get("SWEEP_DATA_DIR", DEFAULT_DATA_DIR)))
    p.add_argument("--verbose", type=int, default=0, help="Keras fit verbosity")
    args = p.parse_args(argv)

    torch = setup_torch()
    import keras

    if keras.backend.backend() != "torch":
        print(f"warning: Keras backend is {keras.backend.backend()}, not torch", file=sys.stderr)

    if not args.many:
        if args.alpha is None or args.seed is None or len(args.dataset) != 1:
            p.error("one job needs one --dataset, --alpha and --seed (or use --many)")
        data = load_dataset(args.dataset[0], args.data_dir)
        r = run_job(data, args.dataset[0], args.alpha, args.seed, keras, args.verbose)
        line = json.dumps(r)
        print(line, flush=True)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            with args.out.open("a") as fh:
                fh.write(line + "\n")
        return 0

    if args.out is None:
        p.error("--many needs --out")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    seeds = parse_seeds(args.seeds)
    print(f"torch {torch.__version__}, keras {keras.__version__}, threads {torch.get_num_threads()}",
          file=sys.stderr, flush=True)
    for dataset in args.dataset:
        data = None
        for alpha in args.alphas:
            for seed in seeds:
                if (dataset, round(alpha, 6), seed) in done_keys(args.out):
                    print(f"skip {dataset} α={alpha} seed={seed}: already in {args.out}",
                          file=sys.stderr, flush=True)
                    continue
                if data is None:
                    data = load_dataset(dataset, args.data_dir)
                r = run_job(data, dataset, alpha, seed, keras, args.verbose)
                with args.out.open("a") as fh:
                    fh.write(json.dumps(r) + "\n")
                print(f"{dataset} α={alpha} seed={seed}: mse {r['test_mse']:.4f} gf {r['gf']:.5f} "
                      f"epochs {r['epochs']} lr {r['final_lr']:.0e} {r['seconds']:.1f}s",
                      file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

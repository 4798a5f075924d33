"""What every section of REPRODUCTION.md shares: the committed results, each sweep read once
(``tables``), the rows of the headline table (``ROWS``), a study's rows from one code version
(``one_version``, ``Study``), and the statistics the verdicts use (``ci95``, ``welch``, ``paired``).
"""
from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from rnnsweep import results
from rnnsweep.tables import ci95

HERE = Path(__file__).parent.parent  # reproduction/
RESULTS = HERE / "results"
FIGURES = HERE / "figures"
RUN = "python sweeps/{sweep}.py --results reproduction/results {args}"

def _amazon_note() -> str:
    """Note f, from seed 003's rows: what its models see on the sample."""
    a = load("amazon_food")
    a = a[a["status"] == "ok"]
    fit, held, test = (int(a[c].iloc[0]) for c in ("train_samples", "val_samples", "test_samples"))
    batch, epochs = int(a["batch_size"].iloc[0]), int(a["epochs"].iloc[0])
    steps = -(-fit // batch)
    same = a["test_accuracy"].nunique() == 1
    return (f"On the 7,567-row sample the time split leaves {fit + held:,} training reviews, {fit:,} after "
            f"validation_split=0.3: at batch {batch} that is {steps} optimizer steps an epoch, {steps * epochs} in all "
            "(the full file gives 204 an epoch). "
            + (f"All three models stay at the majority class: {pct(a['test_accuracy'].iloc[0])} % is the share of "
               f"positive reviews in the sample's test split ({test:,} reviews). The seed's conclusions about these "
               "models cannot be tested on the sample; run the sweep on the full Reviews.csv." if same else
               f"With so few steps their conclusions are weak evidence ({test:,} test reviews); run the sweep on the "
               "full Reviews.csv."))


# What differs from the seed, whatever the numbers say: footnotes under the table.
NOTES = {
    "a": "Keras's IMDB encoding rebuilt from the aclImdb reviews and Keras's published word index, because Keras's "
         "imdb.npz is not available offline: the same training order (checked on x_train[0]), the test split in "
         "another order (no effect on test accuracy).",
    "b": "GloVe 6B 50d instead of the seed's 100d (the 100d file is not available offline).",
    "c": "The first 7,567 rows of Reviews.csv instead of all 568,454 (the full file is not available offline); the "
         "same recipe (3-star dropped, repeats dropped, time split 80/20). On the full file: "
         "`python sweeps/amazon_food.py` with Reviews.csv in $RNNSWEEP_DATA.",
    "d": "The seed's split came from an unseeded random.shuffle, which cannot be replayed: rnnsweep shuffles with "
         "shuffle_seed=1, then splits as the seed did (train_test_split(test_size=0.2, random_state=42)).",
    "e": "Seed 001 ran this exact configuration twice, in two studies, and printed 56.72 and 68.69: its own single "
         "runs differ by 12 points, which is why each point here is run with several seeds.",
    "f": lambda: _amazon_note(),
    "g": "Seed 004's models use RMSprop and recurrent dropout, the two things Keras 3 computes differently from "
         "the seeds' tf.keras 2.x (docs/faithfulness.md, 'The seeds' framework'): under Keras 3 semantics they land "
         "4-5 points "
         "under the seed's numbers; the tf.keras 2 column and 'What the seeds' framework changes' below say how "
         "much of that gap the framework explains.",
}
KERAS_IMDB, GLOVE, SAMPLE, NAMES, TWICE = "a", "b", "c, f", "d", "a, e"

# (seed, study, the setting, sweep, trial filter, the seed's test accuracy, budget, command args, note) and, in
# PEER_KEYS, which runs of the seed's code on tf.keras 2 (reproduction/results/tf_keras2.csv) a row is about.
ROWS = [
    *[("001", "sequence_length", f"SimpleRNN(5), maxlen {n}", "imdb_grid",
       dict(study="sequence_length", maxlen=n), v, None, "--study sequence_length", TWICE if n == 30 else KERAS_IMDB)
      for n, v in ((30, 0.5672), (50, 0.5268), (80, 0.5636), (100, 0.5363), (150, 0.6382), (200, 0.6632))],
    *[("001", "hidden_size", f"SimpleRNN({u}), maxlen 200", "imdb_grid", dict(study="hidden_size", units=u), v,
       None, "--study hidden_size", KERAS_IMDB) for u, v in ((2, 0.6385), (5, 0.6632), (10, 0.7156), (20, 0.5489))],
    *[("001", "architecture", f"{a}(5), maxlen 30", "imdb_grid", dict(study="architecture", arch=a), v, None,
       "--study architecture", TWICE if a == "SimpleRNN" else KERAS_IMDB)
      for a, v in (("SimpleRNN", 0.6869), ("LSTM", 0.5490), ("GRU", 0.5272))],
    *[("002", "names", m, "names_gender", dict(study=s), v, None, f"--study {s}", NAMES)
      for m, s, v in (("1 bag of characters", "bag_of_characters", 0.7067), ("2 SimpleRNN", "simple_rnn", 0.8093),
                      ("3 SimpleRNN + dropout", "simple_rnn_dropout", 0.7904),
                      ("4 stacked SimpleRNN", "stacked_simple_rnn", 0.8068), ("5 BiLSTM(relu)", "bilstm", 0.7992))],
    *[("003", "amazon", m, "amazon_food", dict(study=s), v, None, f"--study {s}", SAMPLE)
      for m, s, v in (("1 LSTM(100)", "lstm", 0.9181), ("2 stacked LSTM(50) ×2", "stacked", 0.9259),
                      ("3 LSTM(50) ×3 + batch norm", "stacked_batch_norm", 0.9225))],
    *[("004", "stacked", m, "imdb_stacked", dict(arch=a, bidirectional=b), v, None, "--seeds 1-3", "a, g")
      for m, a, b, v in (("LSTM ×2", "LSTM", False, 0.8558), ("GRU ×2", "GRU", False, 0.8410),
                         ("BiLSTM ×2", "LSTM", True, 0.8671))],
    ("000", "grid", "GRU-32, batch 64 (the seed's best)", "imdb_grid",
     dict(study="grid", arch="GRU", units=32, batch_size=64), 0.8632, None, "--only GRU-32-bs64", GLOVE),
    ("000", "grid", "LSTM-64, batch 64 (unstable in the seed: loss 578,666)", "imdb_grid",
     dict(study="grid", arch="LSTM", units=64, batch_size=64), 0.5050, None, "--only LSTM-64-bs64", GLOVE),
]


@functools.cache
def tables(sweep: str, backend: str | None = "tensorflow") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sweep's (trials, epochs) of one ``training.backend``, read once: each trial with the code
    ``version`` that made it and its ``semantics``. Every section reads TensorFlow's rows (the default
    backend; rows from before the setting have none) unless it says otherwise: JAX rows are their own
    evidence, compared in their own section. Rows from before rnnsweep recorded its version are
    "unrecorded": ``one_version`` tells them apart where it can (a point whose seeds prepared their data
    differently). Only a sweep never run is empty; a file that cannot be read stops the page with the
    error that names it."""
    if not (RESULTS / sweep / "trials").is_dir():  # not run yet: empty tables with every column
        t, e = results.TRIAL_SCHEMA.empty_table().to_pandas(), results.EPOCH_SCHEMA.empty_table().to_pandas()
    else:
        t, e = results.load(str(RESULTS / sweep))
    if backend is not None:  # None: every backend's rows (a section that picks its studies by name)
        t = t[t["backend"].fillna("tensorflow") == backend]
    e = e[e["trial_id"].isin(t["trial_id"])]
    return t.assign(version=t["code_version"].fillna("unrecorded").str.replace("rnnsweep ", "", regex=False),
                    semantics=t["semantics"].fillna("keras3")), e


def load(sweep: str, backend: str = "tensorflow") -> pd.DataFrame:
    """The sweep's trials (``tables``)."""
    return tables(sweep, backend)[0]

def one_version(t: pd.DataFrame) -> tuple[pd.DataFrame, str, int]:
    """A study's rows from one code version: the version that covers the most of its points (then
    the most rows, then the newest); never pooled. Returns (rows, version, rows left out)."""
    ok = t[t["status"] == "ok"]
    if ok.empty:
        return t, "—", 0
    rank = ok.groupby("version").agg(points=("config_id", "nunique"), rows=("trial_id", "size"),
                                     newest=("finished_at", "max"))
    best = rank.sort_values(["points", "rows", "newest"], ascending=False).index[0]
    keep = t["version"] == best
    if best == "unrecorded":  # a point whose rows prepared the same data differently came from two versions:
        fresh = t[keep].sort_values("finished_at").groupby("config_id")["dataset_fingerprint"].last()
        keep &= t["config_id"].map(fresh).fillna("?") == t["dataset_fingerprint"].fillna("?")  # its newest one
    return t[keep], best, int((~keep).sum())


def pick(t: pd.DataFrame, where: dict, budget=None, semantics="keras3") -> pd.DataFrame:
    """The trials a row is about: its study (a shared trial is in each), setting values, budget and
    framework semantics."""
    t = t[t["budget"].isna()] if budget is None else t[t["budget"] == budget]
    t = t[t["semantics"] == semantics]
    for k, v in where.items():
        mask = t["study"].fillna("").str.split(",").map(lambda ls, v=v: v in ls) if k == "study" else t[k] == v
        t = t.loc[mask.astype(bool)]
    return t


def pct(x) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}"


def cell(acc) -> tuple[str, str, bool | None]:
    """('mean [lo, hi]', n, None) in percent from the ok trials' test accuracies."""
    mean, _, lo, hi, n = ci95(acc)
    if n == 0:
        return "not run yet", "0", None
    # An accuracy lies in [0, 1]; a t-interval of 2-3 seeds can overshoot it: shown clipped.
    shown = f"{pct(mean)} [{pct(max(lo, 0))}, {pct(min(hi, 1))}]"
    return (shown if n > 1 else f"{pct(mean)} (one seed)"), str(n), (lo, hi)


def peer_key(seed: str, where: dict) -> dict | None:
    """The seed's-code-on-tf.keras-2 runs a row is about (columns of tf_keras2.csv)."""
    if seed == "004":
        return dict(seed_notebook="004", arch=("Bi" if where["bidirectional"] else "") + where["arch"])
    if seed == "001":
        study = where["study"]
        return dict(seed_notebook="001", arch=where.get("arch", "SimpleRNN"),
                    maxlen=where.get("maxlen", 30 if study == "architecture" else 200), units=where.get("units", 5))
    return None


def peer_runs(peer: pd.DataFrame, seed: str, where: dict) -> pd.DataFrame:
    """The rows of tf_keras2.csv that are about this row of the table (none where there is no peer)."""
    key = peer_key(seed, where)
    if key is None:
        return peer.iloc[:0]
    for k, v in key.items():
        peer = peer[peer[k].astype(str) == str(v)]
    return peer


def load_peer() -> pd.DataFrame:
    f = RESULTS / "tf_keras2.csv"
    return pd.read_csv(f, dtype={"seed_notebook": str}) if f.exists() else pd.DataFrame(
        columns=["seed_notebook", "arch", "maxlen", "units", "seed", "test_accuracy"])

@functools.cache
def versions(sweep: str, backend: str = "tensorflow") -> dict:
    """(study, semantics) → (its rows from one version, the version, rows left out), per ``one_version``;
    rows still ``running`` are not evidence: left out before, never counted."""
    t = load(sweep, backend)
    t = t[t["status"] != "running"]
    out = {}
    for sem in ("keras3", "tf_keras2"):
        rows = t[t["semantics"] == sem]
        studies = {s for v in rows["study"].dropna() for s in v.split(",")} | {None}
        for study in studies:
            group = rows if study is None else pick(rows, {"study": study}, semantics=sem) if len(rows) else rows
            out[(study, sem)] = one_version(group) if len(group) else (group, "—", 0)
    return out


def study_of(sweep: str, where: dict):
    return where.get("study") if sweep != "imdb_stacked" else None  # seed 004's sweep is one study

def welch(a, b) -> tuple[float, float, float]:
    """Mean of a − b and its 95 % Welch interval (NaN when either side has fewer than 2 values)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = a.mean() - b.mean() if len(a) and len(b) else math.nan
    if len(a) < 2 or len(b) < 2:
        return d, math.nan, math.nan
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    df = (va + vb) ** 2 / ((va ** 2 / (len(a) - 1)) + (vb ** 2 / (len(b) - 1))) if va + vb > 0 else 1
    half = stats.t.ppf(0.975, df) * math.sqrt(va + vb)
    return d, d - half, d + half


def paired(a: pd.DataFrame, b: pd.DataFrame) -> tuple[float, float, float, int]:
    """Mean of a − b over the seeds both sides ran (same seed → same initial weights where the shapes
    agree), with its 95 % t-interval, and the number of pairs."""
    m = a[["seed", "test_accuracy"]].merge(b[["seed", "test_accuracy"]], on="seed", suffixes=("_a", "_b"))
    mean, _, lo, hi, n = ci95(m["test_accuracy_a"] - m["test_accuracy_b"])
    return mean, lo, hi, n


def outcome(lo: float, hi: float) -> str:
    """What a 95 % interval of a difference says of a claim that it is positive."""
    return "survives" if lo > 0 else "is contradicted" if hi < 0 else "does not survive the error bars"


def verdict(claim: str, a: pd.DataFrame, b: pd.DataFrame, label_a: str, label_b: str) -> str:
    """Does ``a`` beat ``b`` beyond the error bars? One line: the mean paired difference (by seed)
    and its 95 % CI; where the two sides share fewer than two seeds, Welch's unpaired interval, and
    the line says pairing was impossible."""
    a, b = a[a["status"] == "ok"], b[b["status"] == "ok"]
    if a.empty or b.empty:
        return f"- **{claim}**: not decided yet — {label_a} or {label_b} has not run."
    d, lo, hi, n = paired(a, b)
    how = f"paired by seed, n = {n} pairs"
    if n < 2:
        d, lo, hi = welch(a["test_accuracy"], b["test_accuracy"])
        how = (f"unpaired (the two sides share {n} seed{'s' if n != 1 else ''}: pairing impossible), "
               f"n = {len(a)}, {len(b)}")
    if math.isnan(lo):
        return (f"- **{claim}**: {label_a} − {label_b} = {pct(d)} points from single runs: one seed cannot "
                "tell (run more seeds: `--seeds 1-3`).")
    if lo == hi == d == 0:
        return (f"- **{claim}**: cannot be tested here — every run of both gives the same accuracy "
                f"({pct(float(a['test_accuracy'].mean()))}: the majority class; see note f).")
    return (f"- **{claim}**: {outcome(lo, hi)} — {label_a} − {label_b} = {pct(d)} points, "
            f"95 % CI [{pct(lo)}, {pct(hi)}] "
            f"({how}).")


def acc(t: pd.DataFrame) -> np.ndarray:
    return t[t["status"] == "ok"]["test_accuracy"].to_numpy()


class Study:
    """One study's rows from one code version, per semantics (``one_version``), to pick points from."""

    def __init__(self, sweep: str, study: str | None, backend: str = "tensorflow"):
        self.by_version = versions(sweep, backend)
        self.study = study

    def semantics(self) -> list[str]:
        return [sem for sem in ("keras3", "tf_keras2") if len(self.by_version.get((self.study, sem), ((),))[0])]

    def __call__(self, sem: str, **where) -> pd.DataFrame:
        rows = self.by_version.get((self.study, sem), (None,))[0]
        return pick(rows, where, semantics=sem) if rows is not None and len(rows) else load("none")


LABEL = {"keras3": "Keras 3 semantics", "tf_keras2": "tf.keras 2 semantics"}


def claims(study: Study, items) -> list[str]:
    """Each claim under each semantics the study has rows for: (claim, where_a, where_b, label_a, label_b)."""
    out = []
    for sem in study.semantics() or ["keras3"]:
        tag = f" ({LABEL[sem]})" if len(study.semantics()) > 1 or sem != "keras3" else ""
        out += [verdict(c + tag, study(sem, **wa), study(sem, **wb), la, lb) for c, wa, wb, la, lb in items]
    return out

"""Scoring a classifier on held-out cells: balanced accuracy with a bootstrap confidence interval,
and the check that flowd computes what PyTorch computes on a model file.

Balanced accuracy (the mean of the per-class recalls) is the metric because a rig's populations
are rarely balanced and plain accuracy rewards predicting the majority. The interval is a
percentile bootstrap (Efron & Tibshirani 1993) that resamples the held-out cells within each
class, so each resample keeps the test set's class balance.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np
from sklearn.metrics import balanced_accuracy_score, confusion_matrix


def balanced_accuracy_ci(truth: np.ndarray, pred: np.ndarray, level: float = 0.95, resamples: int = 2000,
                         seed: int = 0) -> tuple[float, float, float]:
    """(balanced accuracy, lower, upper) with a stratified percentile bootstrap interval."""
    rng = np.random.default_rng(seed)
    by_class = [np.flatnonzero(truth == c) for c in np.unique(truth)]
    stats = np.empty(resamples)
    for i in range(resamples):
        idx = np.concatenate([rng.choice(ix, len(ix)) for ix in by_class])
        stats[i] = balanced_accuracy_score(truth[idx], pred[idx])
    lo, hi = np.quantile(stats, [(1 - level) / 2, (1 + level) / 2])
    return float(balanced_accuracy_score(truth, pred)), float(lo), float(hi)


def confusion(truth: np.ndarray, pred: np.ndarray, num_classes: int) -> list[list[int]]:
    return confusion_matrix(truth, pred, labels=list(range(num_classes))).tolist()


def flowd_probabilities(flowd: str, model: str | Path, opd: np.ndarray) -> np.ndarray:
    """``flowd classify`` on OPD crops (nm); raises with flowd's stderr if it fails."""
    with tempfile.TemporaryDirectory() as tmp:
        x, p = Path(tmp) / "x.npy", Path(tmp) / "p.npy"
        np.save(x, np.ascontiguousarray(opd, np.float32))
        r = subprocess.run([flowd, "classify", "--model", str(model), "--input", str(x), "--out", str(p)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"flowd classify failed ({r.returncode}): {r.stderr.strip()}")
        return np.load(p)

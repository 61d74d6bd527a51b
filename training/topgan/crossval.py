"""How good is a classifier trained on a lab's few labelled cells? Cross-validation, because a lab
has no test set.

Stratified k-fold (k = min(5, N)): each fold trains the same recipe on the other folds' cells and
predicts its own, so every labelled cell is predicted once by a model that never saw it. The
out-of-fold predictions give a balanced accuracy with a stratified bootstrap 95 % interval
(:func:`topgan.evaluate.balanced_accuracy_ci`). With fewer than :data:`MIN_SHOTS` cells per class
the estimate is not made, and an interval wider than :data:`MAX_WIDTH` or reaching down to chance
is reported as "too few cells to tell" -- the honest answer at N = 1-5.

The estimate is for models trained on (k-1)/k of the cells, so it is slightly pessimistic for the
final model, which trains on all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .evaluate import balanced_accuracy_ci

#: Fewest labelled cells per class for which cross-validation says anything.
MIN_SHOTS = 3
#: An interval wider than this (balanced accuracy, 0-1) cannot tell a good model from a poor one.
MAX_WIDTH = 0.25


@dataclass
class CrossValidation:
    folds: int
    balanced_accuracy: float
    lower: float
    upper: float
    chance: float

    @property
    def conclusive(self) -> bool:
        return self.upper - self.lower <= MAX_WIDTH and self.lower > self.chance

    def sentence(self) -> str:
        s = (f"cross-validated balanced accuracy ({self.folds}-fold on the labelled cells): "
             f"{100 * self.balanced_accuracy:.1f} % (95 % interval {100 * self.lower:.1f}-{100 * self.upper:.1f} %)")
        if not self.conclusive:
            s += (f"; too few labelled cells to tell how good the model is (the interval spans "
                  f"{100 * (self.upper - self.lower):.0f} points or reaches chance, {100 * self.chance:.0f} %): label more cells")
        return s


def folds_of(label: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold number of each cell, every class dealt round-robin in a seeded order."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(label), np.int64)
    for c in np.unique(label):
        members = np.flatnonzero(label == c)
        fold[members[rng.permutation(len(members))]] = np.arange(len(members)) % folds
    return fold


def fold_plan(label: np.ndarray, num_classes: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """The k folds as (train positions, held-out positions) into ``label``, k = min(5, N); None
    when a class has fewer than :data:`MIN_SHOTS` cells. The folds are independent trainings, so
    a caller may run them in parallel (:mod:`topgan.workers`)."""
    shots = min(int((label == c).sum()) for c in range(num_classes))
    if shots < MIN_SHOTS:
        return None
    k = min(5, shots)
    fold = folds_of(label, k, seed)
    return [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(k)]


def score(label: np.ndarray, num_classes: int, plan: list[tuple[np.ndarray, np.ndarray]],
          predictions: list[np.ndarray], seed: int = 0) -> CrossValidation:
    """The balanced accuracy of the out-of-fold ``predictions`` (one array per fold of ``plan``)."""
    pred = np.empty(len(label), np.int64)
    for (_, held), p in zip(plan, predictions, strict=True):
        pred[held] = p
    acc, lo, hi = balanced_accuracy_ci(label, pred, seed=seed)
    return CrossValidation(len(plan), acc, lo, hi, 1.0 / num_classes)


"""The committed default model (models/topgan-default.safetensors, scripts/train-default-model):
it fits the live contract, flowd classifies twin cells exactly as the reference does (numpy for a
features model, PyTorch for a network; <= 1e-4), and it is accurate on cells it never saw,
at the daemon's default optics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import balanced_accuracy_score

from flowd_binary import REPO, flowd_binary, run_flowd
from topgan.evaluate import balanced_accuracy_ci, flowd_probabilities
from topgan.export import load_model_file, reference_probabilities

MODEL = REPO / "models" / "topgan-default.safetensors"

#: The twin seed of the fresh cells. The default model was trained on seeds 12 and 14 (labelled
#: and unlabelled cells), the experiment uses 12, 13, 15, 16 and 21 (docs/model-card.md,
#: docs/experiments.md): 99 is none of them, so every cell here is unseen.
FRESH_SEED = "99"

#: The accuracy the default model must keep on fresh cells (issue 13's CI guard). See
#: docs/model-card.md for what it scores here and live; 0.85 leaves room for the sampling error
#: of ≈ 300 cells (a 95 % interval of about ±3 points) and fails on a real regression of the
#: twin, the extractor, the engine's features or the model file.
MIN_BALANCED_ACCURACY = 0.85
MIN_CELLS = 300


@pytest.fixture(scope="module")
def fresh_cells(tmp_path_factory):
    """≈ 330 twin cells made the way the rig makes them (`flowd extract` at the daemon's default
    optics: 1024² holograms at 0.107 µm, crops 64 × 64 at 0.3 µm, ideal conditions). The
    concentration is twice the training sets' 16 000 cells/µL, which yields ≈ 1.2 whole cells
    per frame instead of ≈ 1, so the 270 frames cost ≈ 30 s of one core."""
    out = tmp_path_factory.mktemp("twin") / "cells.npz"
    r = run_flowd("extract", "--simulate", "270", "--seed", FRESH_SEED, "--concentration", "32000",
                  "--out", str(out))
    assert r.returncode == 0, r.stderr
    return np.load(out)


@pytest.fixture(scope="module")
def flowd_probs(fresh_cells):
    """What the daemon's engine gives for the fresh cells (`flowd classify`)."""
    return flowd_probabilities(flowd_binary(), MODEL, fresh_cells["opd"])


def test_the_default_model_fits_the_live_contract():
    """OPD crops of 64 × 64 at 0.3 µm in, the three classes out, within the live budget of
    ≈ 0.05 GFLOP per cell (a features model's 13 crop features and one linear layer cost far
    less; docs/model-card.md)."""
    _, meta = reference_probabilities(MODEL, np.zeros((1, 64, 64), np.float32))
    assert meta["classes"] == ["healthy", "primary_cancer", "metastatic_cancer"]
    assert meta["input"]["size"] == 64 and meta["input"]["pixel_um"] == pytest.approx(0.3)
    if "features" not in meta:
        model, _ = load_model_file(MODEL)
        flops = sum(2 * m.weight.numel() * (64 // 2 ** (i + 1)) ** 2 for i, m in
                    enumerate(x for x in model.features if isinstance(x, torch.nn.Conv2d)))
        assert flops < 0.06e9


def test_flowd_classifies_twin_cells_as_the_reference_does(fresh_cells, flowd_probs):
    torch.set_num_threads(2)
    want, _ = reference_probabilities(MODEL, fresh_cells["opd"])
    got = flowd_probs
    assert np.abs(got - want).max() <= 1e-4
    assert (got.argmax(1) == want.argmax(1)).all()


def test_the_default_model_is_accurate_on_fresh_twin_cells(fresh_cells, flowd_probs):
    _, meta = reference_probabilities(MODEL, fresh_cells["opd"][:1])
    assert list(fresh_cells["classes"]) == meta["classes"]
    truth = fresh_cells["label"]
    assert len(truth) >= MIN_CELLS and np.bincount(truth, minlength=3).min() >= MIN_CELLS // 4
    pred = flowd_probs.argmax(1)
    accuracy = balanced_accuracy_score(truth, pred)
    if accuracy < MIN_BALANCED_ACCURACY:  # the interval only to explain a failure (it costs seconds)
        _, lower, upper = balanced_accuracy_ci(truth, pred)
        pytest.fail(f"balanced accuracy {accuracy:.3f} (95 % interval {lower:.3f}-{upper:.3f}) "
                    f"on {len(truth)} fresh cells, below {MIN_BALANCED_ACCURACY}")

"""The committed default model (models/topgan-default.safetensors, scripts/train-default-model):
it fits the live contract and flowd classifies twin cells exactly as PyTorch does (<= 1e-4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from flowd_binary import REPO, flowd_binary, run_flowd
from topgan.evaluate import flowd_probabilities
from topgan.export import load_model_file
from topgan.finetune import predict

MODEL = REPO / "models" / "topgan-default.safetensors"


@pytest.fixture(scope="module")
def twin_cells(tmp_path_factory):
    """A few dozen real twin crops, made the way the rig makes them (flowd extract)."""
    out = tmp_path_factory.mktemp("twin") / "cells.npz"
    r = run_flowd("extract", "--simulate", "24", "--seed", "99", "--concentration", "16000",
                  "--out", str(out))
    assert r.returncode == 0, r.stderr
    return np.load(out)["opd"]


def test_the_default_model_fits_the_live_contract():
    model, meta = load_model_file(MODEL)
    assert meta["classes"] == ["healthy", "primary_cancer", "metastatic_cancer"]
    assert meta["input"]["size"] == 64 and meta["input"]["pixel_um"] == pytest.approx(0.3)
    flops = sum(2 * m.weight.numel() * (64 // 2 ** (i + 1)) ** 2 for i, m in
                enumerate(x for x in model.features if isinstance(x, torch.nn.Conv2d)))
    assert flops < 0.06e9  # ≈ 0.05 GFLOP per cell: the live budget


def test_flowd_classifies_twin_cells_as_pytorch_does(twin_cells):
    torch.set_num_threads(2)
    model, meta = load_model_file(MODEL)
    want = predict(model, twin_cells, meta["input"]["opd_scale_nm"])
    got = flowd_probabilities(flowd_binary(), MODEL, twin_cells)
    assert len(twin_cells) >= 10
    assert np.abs(got - want).max() <= 1e-4
    assert (got.argmax(1) == want.argmax(1)).all()

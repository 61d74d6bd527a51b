"""flowd's inference engine computes what PyTorch computes, on every architecture that
``topgan.parity`` builds: max |dp| <= 1e-4 in fp32, the same labels."""

from __future__ import annotations

import numpy as np
import pytest

from flowd_binary import run_flowd
from topgan.parity import ARCHITECTURES, TOLERANCE, build


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return {c["name"]: c for c in build(tmp_path_factory.mktemp("parity"))}


@pytest.mark.parametrize("arch", ARCHITECTURES, ids=lambda a: a.name)
@pytest.mark.parametrize("batch", [1, 5])
def test_flowd_matches_pytorch(cases, arch, batch, tmp_path):
    case = cases[arch.name]
    out = tmp_path / "p.npy"
    result = run_flowd("classify", "--model", case["model"], "--input", case["x"], "--out", str(out),
                       "--batch", str(batch))
    assert result.returncode == 0, result.stderr
    got, want = np.load(out), np.load(case["p"])
    assert got.dtype == np.float32 and got.shape == want.shape
    assert np.abs(got - want).max() <= TOLERANCE
    assert (got.argmax(1) == want.argmax(1)).all()


def test_the_parity_inputs_are_not_trivial(cases):
    """Parity on near-uniform probabilities would prove little: the reference outputs must
    spread over (0, 1) and pick different classes for different crops."""
    for case in cases.values():
        p = np.load(case["p"])
        assert p.max() - p.min() > 0.3, case["name"]
        assert len(set(p.argmax(1))) >= 2, case["name"]


def test_classify_handles_an_empty_batch(cases, tmp_path):
    case = cases[ARCHITECTURES[0].name]
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((0, 64, 64), np.float32))
    result = run_flowd("classify", "--model", case["model"], "--input", str(x), "--out", str(tmp_path / "p.npy"))
    assert result.returncode == 0, result.stderr
    assert np.load(tmp_path / "p.npy").shape == (0, 3)


@pytest.mark.parametrize("array, complaint", [
    (np.zeros((2, 32, 32), np.float32), "expected float32 [N, 64, 64]"),
    (np.zeros((2, 64, 64), np.float64), "unsupported dtype '<f8'"),
    (np.zeros((64, 64), np.float32), "expected float32 [N, 64, 64]"),
], ids=["wrong-size", "float64", "2-d"])
def test_classify_rejects_inputs_that_do_not_fit_the_model(cases, tmp_path, array, complaint):
    case = cases[ARCHITECTURES[0].name]
    x = tmp_path / "x.npy"
    np.save(x, array)
    result = run_flowd("classify", "--model", case["model"], "--input", str(x), "--out", str(tmp_path / "p.npy"))
    assert result.returncode == 1
    assert complaint in result.stderr
    assert not (tmp_path / "p.npy").exists()

"""``topgan dataset``: a dataset file from recorded runs (.rtdc), one pure-culture run per class.

The runs here are written with dclab's own writer in flowd's layout (qpi_pha in rad, area_um,
qpi_dm, userdef features named by run.json, [qpi] wavelength, [imaging] pixel size), small enough
to make in milliseconds; the interop tests check that flowd's files have that layout.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from dclab.rtdc_dataset import RTDCWriter

from topgan import data as datamod
from topgan.cli import main

WAVELENGTH_NM = 633.0


def write_run(folder: Path, opd_nm: float, n: int, *, size: int = 16, pixel_um: float = 0.25,
              with_phase: bool = True, seed: int = 0) -> Path:
    """A run directory with cells.rtdc (cells of peak OPD ≈ `opd_nm`) and its run.json."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    yy, xx = np.mgrid[0:size, 0:size] - (size - 1) / 2
    disc = np.clip(1 - np.hypot(yy, xx) ** 2 / (size / 3) ** 2, 0, None)
    opd = (opd_nm * disc[None] * rng.uniform(0.9, 1.1, (n, 1, 1))).astype(np.float32)
    path = folder / "cells.rtdc"
    with RTDCWriter(path, mode="reset") as w:
        w.store_metadata({"experiment": {"sample": folder.name, "run index": 1, "date": "2026-12-03",
                                         "time": "12:00:00", "event count": n},
                          "imaging": {"pixel size": pixel_um, "frame rate": 200, "roi size x": size,
                                      "roi size y": size},
                          "qpi": {"wavelength": WAVELENGTH_NM},
                          "setup": {"channel width": 110, "chip region": "channel", "flow rate": 0.01,
                                    "medium": "culture medium"}})
        if with_phase:
            w.store_feature("qpi_pha", opd * np.float32(2 * np.pi / WAVELENGTH_NM))
        w.store_feature("area_um", np.linspace(20, 200, n))
        w.store_feature("qpi_dm", np.full(n, opd_nm / 10))
        w.store_feature("userdef0", np.full(n, opd_nm / 2))      # mean_opd_nm, per run.json
        w.store_feature("index", np.arange(1, n + 1))
    (folder / "run.json").write_text(json.dumps({"rtdc_userdef": ["mean_opd_nm"]}))
    return path


@pytest.fixture
def runs(tmp_path) -> dict[str, Path]:
    return {name: write_run(tmp_path / name, opd, 12, seed=i)
            for i, (name, opd) in enumerate([("healthy", 200), ("primary", 300), ("metastatic", 400),
                                              ("mixed", 250)])}


def test_one_run_per_class_makes_a_labelled_dataset_that_finetune_reads(runs, tmp_path, capsys):
    out = tmp_path / "cells.npz"
    rc = main(["dataset", "--class", f"healthy={runs['healthy']}", "--class", f"primary_cancer={runs['primary']}",
               "--class", f"metastatic_cancer={runs['metastatic']}", "--unlabelled", str(runs["mixed"]),
               "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    data = datamod.load(out, need_labels=True)
    assert data.classes == ["healthy", "primary_cancer", "metastatic_cancer"]
    assert data.label.tolist() == [0] * 12 + [1] * 12 + [2] * 12 + [-1] * 12
    assert data.pixel_um == pytest.approx(0.25) and data.size == 16
    # Phase back to OPD with the run's wavelength: the peaks are the cells' OPD.
    peaks = data.opd.max(axis=(1, 2))
    assert np.all((peaks[:12] > 170) & (peaks[:12] < 230)) and np.all((peaks[24:36] > 350) & (peaks[24:36] < 450))
    assert set(data.features) == {"area_um2", "dry_mass_pg", "mean_opd_nm"}
    np.testing.assert_allclose(data.features["dry_mass_pg"][:12], 20)
    np.testing.assert_allclose(data.features["mean_opd_nm"][12:24], 150)


def test_a_gate_drops_cells_outside_a_feature_range_and_a_held_out_run_goes_to_the_test_file(runs, tmp_path):
    out, test = tmp_path / "train.npz", tmp_path / "test.npz"
    second_healthy = write_run(tmp_path / "healthy2", 210, 8, seed=9)
    rc = main(["dataset", "--class", f"healthy={runs['healthy']},{second_healthy}",
               "--class", f"primary_cancer={runs['primary']}", "--gate", "area_um=50:150",
               "--hold-out", str(second_healthy), "--out", str(out), "--test-out", str(test)])
    assert rc == 0
    train, held = datamod.load(out), datamod.load(test)
    assert np.all((train.features["area_um2"] >= 50) & (train.features["area_um2"] <= 150))
    # 12 cells per run at areas linspace(20, 200, 12): 6 of them in 50..150.
    assert train.label.tolist() == [0] * 6 + [1] * 6
    assert held.label.tolist() == [0] * 4 and held.classes == ["healthy", "primary_cancer"]


@pytest.mark.parametrize("problem", ["missing", "not_rtdc", "no_phase", "crop_size", "pixel_size"])
def test_bad_input_is_a_clear_error_that_names_the_file(problem, runs, tmp_path, capsys):
    other = {
        "missing": lambda: tmp_path / "nowhere" / "cells.rtdc",
        "not_rtdc": lambda: _text_file(tmp_path / "notes.rtdc"),
        "no_phase": lambda: write_run(tmp_path / "nophase", 300, 5, with_phase=False),
        "crop_size": lambda: write_run(tmp_path / "big", 300, 5, size=32),
        "pixel_size": lambda: write_run(tmp_path / "coarse", 300, 5, pixel_um=0.3),
    }[problem]()
    expected = {"missing": "no such file", "not_rtdc": "not a readable .rtdc", "no_phase": "no qpi_pha",
                "crop_size": "crops are 32x32", "pixel_size": "pixel size 0.3"}[problem]
    rc = main(["dataset", "--class", f"healthy={runs['healthy']}", "--class", f"primary_cancer={other}",
               "--out", str(tmp_path / "x.npz")])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("topgan: error: ") and "Traceback" not in err
    assert str(other) in err and expected in err, err
    assert not (tmp_path / "x.npz").exists()


def test_a_malformed_class_or_gate_argument_says_what_was_expected(runs, tmp_path, capsys):
    for args in (["--class", "healthy"], ["--class", f"healthy={runs['healthy']}", "--gate", "area_um=9"],
                 ["--class", f"healthy={runs['healthy']}", "--gate", "nope=1:2"]):
        assert main(["dataset", *args, "--out", str(tmp_path / "x.npz")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("topgan: error: ") and "Traceback" not in err, err


def _text_file(path: Path) -> Path:
    path.write_text("not HDF5\n")
    return path

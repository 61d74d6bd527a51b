"""flowd's OPD maps against qpretrieve (the reference implementation) and the twin's truth.

The same simulated 1024² 8-bit holograms go through `flowd reconstruct` (via FLOWD_BIN) and
through qpretrieve 0.7 with its defaults (disk filter, radius 1/3 of the sideband distance,
mean subtraction, padding to 2048²), both divided by the reference's field. qpretrieve stops at
the wrapped phase; its wrap count is taken from flowd's map (an integer per pixel, so this
cannot hide a disagreement in the fraction of a turn that both compute), and its background
offset is removed with the median of the cell-free pixels.
"""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import qpretrieve

WAVELENGTH_NM = 633.0
INSIDE_NM = 20.0
BORDER = 16


def flowd_bin() -> str:
    path = os.environ.get("FLOWD_BIN")
    if not path or not os.access(path, os.X_OK):
        pytest.fail(
            "FLOWD_BIN must name the built flowd binary (make test sets it; or run "
            "`swift build -c release --product flowd` and FLOWD_BIN=$PWD/.build/release/flowd)"
        )
    return path


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> Path:
    """Six simulated frames with several cells each, written by `flowd simulate`."""
    out = tmp_path_factory.mktemp("twin")
    subprocess.run(
        [flowd_bin(), "simulate", "--frames", "6", "--size", "1024", "--seed", "7",
         "--concentration", "12000", "--out", str(out)],
        check=True, capture_output=True, text=True)
    return out


def reconstruct(folder: Path, frame: int, tmp: Path):
    opd_path, cells_path = tmp / f"opd_{frame}.npy", tmp / f"cells_{frame}.json"
    subprocess.run(
        [flowd_bin(), "reconstruct", "--hologram", str(folder / "holograms" / f"{frame:06d}.npy"),
         "--reference", str(folder / "reference.npy"), "--out", str(opd_path), "--cells", str(cells_path)],
        check=True, capture_output=True, text=True)
    return np.load(opd_path), json.loads(cells_path.read_text())


def qpretrieve_opd(folder: Path, frame: int, guide: np.ndarray) -> np.ndarray:
    hologram = np.load(folder / "holograms" / f"{frame:06d}.npy").astype(float)
    reference = np.load(folder / "reference.npy").astype(float)
    holo = qpretrieve.OffAxisHologram(hologram)
    holo.run_pipeline(filter_name="disk", filter_size=1 / 3)
    ref = qpretrieve.OffAxisHologram(reference)
    ref.process_like(holo)
    # qpretrieve 0.7 keeps a leading stack axis: (1, y, x).
    phase = np.angle(np.squeeze(holo.field) / np.squeeze(ref.field))
    opd = phase * WAVELENGTH_NM / (2 * np.pi)
    opd -= np.median(opd[np.abs(guide) < 5])
    return opd + WAVELENGTH_NM * np.round((guide - opd) / WAVELENGTH_NM)


def test_flowd_binary_is_given():
    assert os.access(flowd_bin(), os.X_OK)


@pytest.mark.parametrize("frame", [2, 4, 5])
def test_mean_opd_per_cell_agrees_with_qpretrieve_within_1_percent(simulated, tmp_path, frame):
    ours, report = reconstruct(simulated, frame, tmp_path)
    theirs = qpretrieve_opd(simulated, frame, ours)
    assert ours.shape == (1024, 1024) and ours.dtype == np.float32
    assert report["cells"], "the frame should show cells"
    for cell in report["cells"]:
        x, y, w, h = cell["bbox"]
        region = (slice(y, y + h), slice(x, x + w))
        mask = ours[region] > INSIDE_NM
        mean_ours, mean_theirs = ours[region][mask].mean(), theirs[region][mask].mean()
        assert abs(mean_ours - mean_theirs) <= 0.01 * abs(mean_theirs), (cell, mean_ours, mean_theirs)
        # The features in CELLS.json are those of the map.
        assert cell["features"]["mean_opd_nm"] == pytest.approx(mean_ours, rel=0.03)


@pytest.mark.parametrize("frame", range(6))
def test_opd_matches_the_twins_truth_within_2_nm_rms(simulated, tmp_path, frame):
    ours, _ = reconstruct(simulated, frame, tmp_path)
    truth = np.load(simulated / "truth" / f"opd_{frame:06d}.npy")
    # Within BORDER px of the frame edge the FFT's periodic boundary distorts the map of cells
    # cut by the edge (docs/reconstruction.md, Limits); they are flagged touches_edge.
    inside = truth > INSIDE_NM
    inside[:BORDER] = inside[-BORDER:] = False
    inside[:, :BORDER] = inside[:, -BORDER:] = False
    assert inside.sum() > 10000
    rms = float(np.sqrt(np.mean((ours[inside] - truth[inside]) ** 2)))
    assert rms <= 2.0, rms


def test_simulated_folder_layout_and_tiff_holograms(simulated):
    import tifffile

    npy = np.load(simulated / "holograms" / "000000.npy")
    tif = tifffile.imread(simulated / "holograms" / "000000.tif")
    assert npy.dtype == np.uint8 and tif.dtype == np.uint16
    assert np.array_equal(npy.astype(np.uint16), tif)
    lines = (simulated / "truth.jsonl").read_text().splitlines()
    assert len(lines) == 6
    cells = [c for line in lines for c in json.loads(line)["cells"]]
    assert cells and {"id", "class", "label", "x", "y"} <= set(cells[0])


def test_extract_writes_a_dataset_np_load_reads(simulated, tmp_path):
    out = tmp_path / "cells.npz"
    subprocess.run([flowd_bin(), "extract", "--holograms", str(simulated), "--out", str(out)],
                   check=True, capture_output=True, text=True)
    data = np.load(out)
    n = len(data["label"])
    assert data["opd"].shape == (n, 64, 64) and data["opd"].dtype == np.float32
    assert data["label"].dtype == np.int64
    assert list(data["classes"]) == ["healthy", "primary_cancer", "metastatic_cancer"]
    for name in ["area_um2", "mean_opd_nm", "max_opd_nm", "phase_volume_um3", "dry_mass_pg"]:
        assert data[name].shape == (n,)
    assert np.allclose(data["dry_mass_pg"], data["phase_volume_um3"] / 0.18, rtol=1e-4)


def test_reconstruct_refuses_bad_input_with_a_reason(tmp_path):
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((3, 4, 5), dtype=np.float32))
    result = subprocess.run(
        [flowd_bin(), "reconstruct", "--hologram", str(bad), "--reference", str(bad), "--out", str(tmp_path / "o.npy")],
        capture_output=True, text=True)
    assert result.returncode != 0
    assert "2-D" in result.stderr


def test_reconstruct_reads_16_bit_tiff_like_npy(simulated, tmp_path):
    ours, _ = reconstruct(simulated, 1, tmp_path)
    subprocess.run(
        [flowd_bin(), "reconstruct", "--hologram", str(simulated / "holograms" / "000001.tif"),
         "--reference", str(simulated / "reference.tif"), "--out", str(tmp_path / "tif.npy")],
        check=True, capture_output=True, text=True)
    # Not bit-identical: each process plans its FFTs anew (FFTW_MEASURE may pick another
    # algorithm), which changes the last float bits.
    assert np.allclose(np.load(tmp_path / "tif.npy"), ours, atol=1e-3)

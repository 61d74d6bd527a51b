"""Each run's cells.rtdc (issue 14, part 1): dclab's format, beside cells.fcs, the same cells.

A short `flowd demo` (the twin as a camera, `flowd run` with the default model) writes a run;
dclab 0.73 (the reference reader of the .rtdc format, also behind DCscope) must find no
integrity violation in its cells.rtdc, read the phase images, the dclab features and the
classifier's scores, and count exactly the cells the FCS file and the run's counts hold. A run
killed with SIGKILL leaves a file that dclab opens with every cell of the last flush, and the
next daemon leaves it untouched.
"""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import time
import warnings
from pathlib import Path

import dclab
import flowio
import numpy as np
import pytest
from scipy import ndimage
from dclab.rtdc_dataset.check import IntegrityChecker

from flowd_harness import DEFAULT_MODEL, hermetic_env
from test_interop_record import drain_cells, simulate, start, stop

CLASSES = ["healthy", "primary_cancer", "metastatic_cancer"]
IDS = {"healthy": "hea", "primary_cancer": "pri", "metastatic_cancer": "met"}


@pytest.fixture(scope="module")
def demo_run(flowd_bin, tmp_path_factory) -> dict:
    """One short demo (60 frames of 512² at the model's 0.25 µm): its summary JSON."""
    out = tmp_path_factory.mktemp("rtdc-demo")
    summary_path = out / "summary.json"
    result = subprocess.run(
        [str(flowd_bin), "demo", "--duration", "3", "--rate", "20", "--size", "512", "--pixel-um", "0.25",
         "--concentration", "20000", "--model", str(DEFAULT_MODEL), "--out", str(out / "runs"),
         "--summary-json", str(summary_path)],
        capture_output=True, text=True, timeout=300, env=hermetic_env(), stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(summary_path.read_text())


def test_the_demo_summary_names_the_rtdc_file_beside_the_fcs_file(demo_run):
    rtdc = Path(demo_run["rtdc_path"])
    assert rtdc.name == "cells.rtdc" and rtdc.is_file()
    assert rtdc.parent == Path(demo_run["fcs_path"]).parent


def test_dclab_integrity_check_finds_no_violation(demo_run):
    cues = IntegrityChecker(demo_run["rtdc_path"]).check()
    violations = [cue.msg for cue in cues if cue.level == "violation"]
    assert violations == []


def test_dclab_reads_images_features_and_scores_of_every_counted_cell(demo_run):
    path = Path(demo_run["rtdc_path"])
    fcs = flowio.FlowData(str(path.parent / "cells.fcs"))
    run = json.loads((path.parent / "run.json").read_text())
    with dclab.new_dataset(path) as ds:
        n = len(ds)
        assert n == fcs.event_count == run["counts"]["cells"]["total"] == demo_run["cells_counted"] > 0
        assert run["rtdc_events"] == n and run["rtdc_file"] == "cells.rtdc"

        phase = ds["qpi_pha"]
        assert phase.shape == (n, 64, 64) and phase.dtype == np.float32
        assert ds.config["imaging"]["roi size x"] == ds.config["imaging"]["roi size y"] == 64
        assert ds.config["imaging"]["pixel size"] == pytest.approx(0.3)  # the default model's input.pixel_um
        assert ds.config["qpi"]["wavelength"] == pytest.approx(633)
        assert ds.config["experiment"]["event count"] == n
        # OPD of a few hundred nm: a phase of ≈ 1–4 rad at the cell, ≈ 0 in the background.
        peaks = np.array([phase[i].max() for i in range(n)])
        assert np.all((peaks > 0.3) & (peaks < 12)), peaks
        assert abs(float(np.median(phase[0][:4, :4]))) < 0.3

        # The redrawn masks cover the measured areas (to within the resampling of the edges).
        pixel_area = ds.config["imaging"]["pixel size"] ** 2
        mask_area = np.array([ds["mask"][i].sum() for i in range(n)]) * pixel_area
        ratio = mask_area / ds["area_um"]
        assert 0.8 < np.median(ratio) < 1.25, ratio

        fcs_values = np.asarray(fcs.as_array(preprocess=False)).reshape(n, fcs.channel_count)
        column = {name: fcs_values[:, i] for i, name in enumerate(fcs.pnn_labels)}
        np.testing.assert_allclose(ds["area_um"], column["area_um2"], rtol=1e-6)
        np.testing.assert_allclose(ds["qpi_dm"], column["dry_mass_pg"], rtol=1e-6)
        # Refocusing is on by default: each cell's focus distance is dclab's qpi_focus.
        np.testing.assert_allclose(ds["qpi_focus"], column["focus_um"], rtol=1e-6, equal_nan=True)
        np.testing.assert_array_equal(ds["index"], np.arange(1, n + 1))
        assert np.all(np.diff(ds["time"]) >= 0)

        scores = np.stack([ds[f"ml_score_{IDS[name]}"] for name in CLASSES], axis=1)
        np.testing.assert_allclose(scores.sum(axis=1), 1, atol=1e-5)
        for i, name in enumerate(CLASSES):
            np.testing.assert_allclose(scores[:, i], column[f"prob_{name}"], rtol=1e-6)
        # dclab's ml_class: the largest score's index, classes in the order of their ids sorted.
        by_id = sorted(CLASSES, key=IDS.get)
        expected = [by_id.index(CLASSES[i]) for i in scores.argmax(axis=1)]
        np.testing.assert_array_equal(ds["ml_class"], expected)

        # userdef features: what run.json says each one holds.
        userdef = {name: ds[f"userdef{i}"] for i, name in enumerate(run["rtdc_userdef"])}
        np.testing.assert_allclose(userdef["mean_opd_nm"], column["mean_opd_nm"], rtol=1e-6)
        np.testing.assert_allclose(userdef["velocity_um_s"], column["velocity_um_s"], rtol=1e-6, equal_nan=True)
        np.testing.assert_array_equal(userdef["class"], column["class"])


def test_the_objects_that_are_not_cells_are_in_rejects_rtdc_with_their_reason(demo_run):
    """At lab conditions the sample holds debris, doublets and sperm: each object the daemon
    rejected is counted by reason and recorded, with its image, in rejects.rtdc (quality
    control); the counts and the file agree reason by reason."""
    folder = Path(demo_run["rtdc_path"]).parent
    run = json.loads((folder / "run.json").read_text())
    rejected = run["counts"]["cells"]["objects_rejected_by_reason"]
    assert sum(rejected.values()) > 0, "the lab twin's demo must show rejected objects"
    cues = IntegrityChecker(str(folder / "rejects.rtdc")).check()
    assert [cue.msg for cue in cues if cue.level == "violation"] == []
    with dclab.new_dataset(folder / "rejects.rtdc") as ds:
        n = len(ds)
        assert n == sum(rejected.values()) == run["rejects_events"]
        assert not any(name.startswith("ml_score_") for name in ds.features_innate)
        assert ds["qpi_pha"].shape == (n, 64, 64)
        reasons = np.asarray(ds[f"userdef{run['rejects_userdef'].index('reason')}"], int)
        names, counts = np.unique([run["reject_reasons"][r] for r in reasons], return_counts=True)
        assert dict(zip(names, counts.tolist())) == rejected
        np.testing.assert_array_equal(ds["index"], np.arange(1, n + 1))


def test_a_sigkilled_run_keeps_every_flushed_cell_and_the_next_start_leaves_it_alone(flowd, flowd_bin):
    d = start(flowd, settings={"record.flush_interval_s": 0.1, "record.sample": "SW480 culture"}, control=False)
    simulate(flowd_bin, d, 40)
    d.wait_accounted({"twin": 40}, timeout=30)
    [run] = d.runs()
    deadline = time.monotonic() + 20
    while True:  # dclab reads the file while the daemon writes it (HDF5 SWMR)
        drain_cells(d)
        with dclab.new_dataset(run / "cells.rtdc") as ds:
            on_disk = len(ds)
        if d.cells and on_disk == len(d.cells):
            break
        assert time.monotonic() < deadline, f"{on_disk} events in cells.rtdc, {len(d.cells)} cells published"
        time.sleep(0.05)
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()

    path = run / "cells.rtdc"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with dclab.new_dataset(path) as ds:
        assert len(ds) == on_disk == len(ds["qpi_pha"])
        assert ds.config["experiment"]["sample"] == "SW480 culture"
        np.testing.assert_allclose(ds["qpi_dm"], [c["features"]["dry_mass_pg"] for c in d.cells], rtol=1e-6)

    again = start(flowd, settings={"record.dir": str(d.record_dir)}, control=False)
    again.stop()
    runs = sorted(d.record_dir.iterdir())
    assert len(runs) == 2 and run in runs
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_new_run_takes_the_sample_name_of_the_control_command(flowd, flowd_bin):
    d = start(flowd)
    reply = d.control({"command": "new-run", "sample": "MDA-MB-231 pure culture"}, d.endpoint)
    assert reply["ok"] is True, reply
    rtdc = Path(reply["rtdc_path"])
    for bad in ({"command": "new-run", "sample": ""}, {"command": "new-run", "sample": "a\nb"},
                {"command": "status", "sample": "x"}):
        refused = d.control(bad, d.endpoint)
        assert refused["ok"] is False and "sample" in refused["error"], refused
    d.stop()
    with dclab.new_dataset(rtdc) as ds:
        assert ds.config["experiment"]["sample"] == "MDA-MB-231 pure culture"
        assert ds.config["experiment"]["run index"] == 2
    assert json.loads((rtdc.parent / "run.json").read_text())["sample"] == "MDA-MB-231 pure culture"


def test_sampled_events_keep_the_raw_hologram_and_qpretrieve_reconstructs_the_cell_from_it(flowd, flowd_bin):
    """record.hologram_every: 2 — events 1, 3, 5 … carry the hologram around the cell and the
    reference there (dclab's qpi_oah, qpi_oah_bg); qpretrieve turns them into the cell's phase
    again, and its dry mass is the one flowd recorded."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import qpretrieve
        from skimage.restoration import unwrap_phase
    d = start(flowd, settings={"record.hologram_every": 2}, control=False)
    simulate(flowd_bin, d, 40)
    d.wait_accounted({"twin": 40}, timeout=30)
    stop(d)
    [run] = d.runs()
    pixel_um, frame_side, side = 0.25, 256, 128  # the twin's hologram; 64 × 0.3 µm → 77 px → 128
    with dclab.new_dataset(run / "cells.rtdc") as ds:
        n = len(ds)
        assert n >= 6
        assert not [cue.msg for cue in IntegrityChecker(run / "cells.rtdc").check() if cue.level == "violation"]
        holograms, references = ds["qpi_oah"], ds["qpi_oah_bg"]
        assert holograms.shape == references.shape == (n, side, side)
        sampled = [i for i in range(n) if holograms[i].any()]
        assert sampled == list(range(0, n, 2)) and all(references[i].any() for i in sampled)
        assert not any(references[i].any() for i in range(1, n, 2))
        ratios = []
        for i in sampled:
            holo = qpretrieve.OffAxisHologram(holograms[i].astype(float))
            holo.run_pipeline(filter_name="disk", filter_size=1 / 3)
            ref = qpretrieve.OffAxisHologram(references[i].astype(float))
            ref.process_like(holo)
            opd = unwrap_phase(np.angle(np.squeeze(holo.field) / np.squeeze(ref.field))) * 633 / (2 * np.pi)
            opd -= np.median(np.r_[opd[:8].ravel(), opd[-8:].ravel(), opd[:, :8].ravel(), opd[:, -8:].ravel()])
            # The cell sits at its recorded centroid, in the tile centred on it (shifted inwards
            # at the frame's edge); the carrier's half plane may give it the conjugate sign.
            x, y = (float(ds[k][i]) / pixel_um for k in ("pos_x", "pos_y"))
            cx, cy = (v - min(max(round(v) - side // 2, 0), frame_side - side) for v in (x, y))
            if opd[int(cy), int(cx)] < 0:
                opd = -opd
            labels, _ = ndimage.label(opd > 20)
            cell = labels == labels[int(cy), int(cx)]
            assert labels[int(cy), int(cx)] > 0, f"no cell at the recorded centroid of event {i + 1}"
            dry_mass_pg = opd[cell].sum() * 1e-3 * pixel_um**2 / 0.18
            ratios.append(dry_mass_pg / float(ds["qpi_dm"][i]))
    # Seen: all 12 within 0.4 % (256² twin frames, uint8, ideal twin).
    assert np.max(np.abs(np.array(ratios) - 1)) < 0.02, np.round(ratios, 4)

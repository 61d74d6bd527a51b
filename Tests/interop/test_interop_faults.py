"""Faults, short form (issue 7 part 4; `scripts/soak` repeats them and docs/reliability.md
describes them): power loss (SIGKILL) and a restart, a full disk under the record directory,
and the model file cut short on disk while it serves.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import flowio
import flowkit
import numpy as np
import pytest

from flowd_harness import DEFAULT_MODEL, SMALL_TWIN_OPTICS, camera, tcp
from load_harness import Replayer, capture_twin_frames, drain, metric, small_tmpfs


def start(flowd, *, args=(), **settings):
    return flowd(inputs=["pull+bind:tcp://127.0.0.1:{port0}"], args=list(args), settings={
        **SMALL_TWIN_OPTICS, "model.path": str(DEFAULT_MODEL), **settings})


def stream_until_cells(d, cam: Replayer, sub, cells: list, at_least: int, timeout: float = 60) -> None:
    """Sends frames in batches of 10 until `at_least` more cells were published."""
    target = len(cells) + at_least
    deadline = time.monotonic() + timeout
    while len(cells) < target:
        assert time.monotonic() < deadline, f"{len(cells)} cells, wanted {target}\n{d.stderr()[-3000:]}"
        cam.send(10)
        d.wait_accounted({cam.name: cam.sent}, timeout=30)
        time.sleep(0.1)
        drain(sub, cells, [])


def test_sigkill_mid_run_leaves_a_readable_fcs_and_a_restart_starts_a_new_run(flowd, flowd_bin):
    frames = capture_twin_frames(flowd_bin, 30)
    d = start(flowd, **{"record.flush_interval_s": 0.1})
    sub, cells = d.subscribe_cells(), []
    stream_until_cells(d, Replayer(d, frames), sub, cells, 10)
    [interrupted] = d.runs()
    deadline = time.monotonic() + 20
    while (flushed := flowio.FlowData(str(interrupted / "cells.fcs")).event_count) < len(cells):  # one flush on
        assert time.monotonic() < deadline
        time.sleep(0.05)
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    while sub.poll(500):  # every cell published before the kill
        drain(sub, cells, [])

    # The interrupted run is readable up to its last flush: a prefix of the published cells.
    data, sample = flowio.FlowData(str(interrupted / "cells.fcs")), flowkit.Sample(str(interrupted / "cells.fcs"))
    assert flushed <= data.event_count == sample.event_count <= len(cells)
    classes = json.loads(data.text["flowd_classes"])
    on_disk = np.asarray(data.as_array(preprocess=False)).reshape(data.event_count, data.channel_count)
    assert [classes[int(i)] for i in on_disk[:, 2]] == [c["label"] for c in cells[:data.event_count]]

    # The restarted daemon records into the same directory: a new run beside the old one.
    again = start(flowd, **{"record.dir": str(d.record_dir)})
    again.record_dir = d.record_dir
    sub2, cells2 = again.subscribe_cells(), []
    stream_until_cells(again, Replayer(again, frames), sub2, cells2, 5)
    final, _, rc = again.stop()
    assert rc == 0
    runs = again.runs()
    assert len(runs) == 2 and runs[0] == interrupted
    fcs = runs[1] / "cells.fcs"
    assert flowio.FlowData(str(fcs)).event_count == flowkit.Sample(str(fcs)).event_count == final["cells"]["total"]
    assert json.loads((interrupted / "run.json").read_text()).get("end_reason") is None  # it never ended
    new_run = json.loads((runs[1] / "run.json").read_text())
    assert new_run["end_reason"] == "stopped"
    assert new_run["counts"]["cells"]["total"] == final["cells"]["total"] > 0


@pytest.fixture
def small_disk(tmp_path):
    """A 512 KiB tmpfs, or a skip saying why it cannot be mounted here."""
    try:
        with small_tmpfs(tmp_path / "small-disk", 512) as path:
            yield path
    except PermissionError as error:
        pytest.skip(f"a full disk needs a small tmpfs: {error}")


def fill(disk: Path) -> Path:
    """Writes a file that takes every free byte of `disk`."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        return filler
    finally:
        os.close(fd)


def test_a_full_disk_is_an_error_in_the_log_and_metrics_while_cells_keep_coming(flowd, flowd_bin, small_disk):
    frames = capture_twin_frames(flowd_bin, 30)
    d = start(flowd, args=["--set", "metrics.listen=127.0.0.1:{port1}"],
              **{"record.dir": str(small_disk), "record.flush_interval_s": 0.1})
    sub, cells = d.subscribe_cells(), []
    cam = Replayer(d, frames)
    stream_until_cells(d, cam, sub, cells, 5)
    assert metric(d.ports[1], "flowd_record_errors_total") == 0

    filler = fill(small_disk)
    deadline = time.monotonic() + 60
    while metric(d.ports[1], "flowd_record_errors_total") == 0:  # once the FCS file needs a new page
        assert time.monotonic() < deadline, d.stderr()[-3000:]
        stream_until_cells(d, cam, sub, cells, 10)
    log = d.stderr()
    assert "recording: cannot write" in log and "No space left on device" in log, log[-3000:]
    stream_until_cells(d, cam, sub, cells, 10)  # publishing goes on while the disk is full

    filler.unlink()
    d.wait_counts(lambda c: "recording works again" in d.stderr(), timeout=20, what="recording working again")
    final, _, rc = d.stop()
    assert rc == 0 and camera(final, "load")["dropped"] == 0
    # Nothing was lost: the cells published while the disk was full reached it once it had room.
    [run] = [p for p in small_disk.iterdir() if p.is_dir()]
    assert flowio.FlowData(str(run / "cells.fcs")).event_count == final["cells"]["total"] >= len(cells)


def test_a_model_file_cut_short_on_disk_does_not_touch_the_serving_model(flowd, flowd_bin, tmp_path):
    frames = capture_twin_frames(flowd_bin, 30)
    model = tmp_path / "serving.safetensors"
    shutil.copy(DEFAULT_MODEL, model)
    d = start(flowd, args=["--set", "control.endpoint=tcp://127.0.0.1:{port1}"], **{"model.path": str(model)})
    endpoint = tcp(d.ports[1])
    sub, cells = d.subscribe_cells(), []
    cam = Replayer(d, frames)
    stream_until_cells(d, cam, sub, cells, 5)

    os.truncate(model, model.stat().st_size // 2)  # cut short in place, as a failed copy would
    before = len(cells)
    stream_until_cells(d, cam, sub, cells, 10)
    labels = {"healthy", "primary_cancer", "metastatic_cancer", "unknown"}
    assert all(c["label"] in labels and set(c["probabilities"]) == labels - {"unknown"} for c in cells[before:])

    reply = d.control({"command": "reload-model", "path": str(model)}, endpoint)
    assert reply["ok"] is False and "truncated" in reply["error"], reply
    assert d.control({"command": "status"}, endpoint)["model_path"] == str(model)
    stream_until_cells(d, cam, sub, cells, 5)  # still serving, with the model it loaded at start
    final, _, rc = d.stop()
    assert rc == 0 and camera(final, "load")["dropped"] == 0

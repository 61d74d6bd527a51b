"""The durable record of every cell, the control socket and SIGHUP, end to end.

`flowd simulate --publish` (the digital twin as a PUSH camera) feeds `flowd run` with the
default model (models/topgan-default.safetensors); a SUB collects every `cell` message. Pins
down issue 6 parts 3 and 4: each run's `<record dir>/<run id>/cells.fcs` opens in flowio and
FlowKit with one event per published cell (= the final counts' total); SIGTERM writes
everything; `status`, `new-run`, `snapshot` and `reload-model` (a good and a bad model, also
while frames stream, without a dropped frame); SIGHUP reloads the config and the model.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import flowio
import flowkit
import numpy as np
from safetensors.numpy import load_file, save_file
from safetensors import safe_open

from flowd_harness import REPO, camera, tcp

MODEL = REPO / "models" / "topgan-default.safetensors"

#: A small, busy twin: 256² frames at 0.25 µm, 3 mm/s at 200 fps (60 px per frame).
TWIN = ["--size", "256", "--seed", "11", "--pixel-um", "0.25", "--concentration", "20000", "--velocity-um-s", "3000"]
#: The twin's displacement per frame, px: 3000 µm/s / 200 fps / 0.25 µm.
PIXELS_PER_FRAME = 60.0


def start(flowd, *, settings: dict | None = None, args: list[str] = (), control: bool = True):
    """A daemon with the default model, a PULL input for the twin, and a SUB for its `cell`s."""
    args = list(args)
    if control:
        args += ["--set", "control.endpoint=tcp://127.0.0.1:{port1}"]
    d = flowd(inputs=["pull+bind:tcp://127.0.0.1:{port0}"], args=args, settings={
        "reconstruction.pixel_um": 0.25, "tracking.velocity_px": PIXELS_PER_FRAME, "tracking.gate_px": 32,
        **({"model.path": str(MODEL)} if not any("--config" == a for a in args) else {}),
        **(settings or {}),
    })
    d.cell_sub = d.subscribe_cells()
    d.cells = []
    d.endpoint = tcp(d.ports[1]) if control else None
    return d


def simulate(flowd_bin, d, frames: int, rate: float = 100, wait: bool = True):
    command = [str(flowd_bin), "simulate", *TWIN, "--frames", str(frames), "--publish", tcp(d.ports[0]),
               "--rate", str(rate)]
    if wait:
        subprocess.run(command, check=True, capture_output=True, timeout=120)
        return None
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def drain_cells(d, until_final: bool = False) -> None:
    """Moves every `cell` message that arrived into `d.cells` (up to the final counts)."""
    while d.cell_sub.poll(2000 if until_final else 0):
        topic, body = d.cell_sub.recv_multipart()
        message = json.loads(body)
        if topic == b"cell":
            d.cells.append(message)
        elif until_final and message["final"]:
            return


def stop(d) -> dict:
    final, _, rc = d.stop()
    assert rc == 0, d.stderr()
    drain_cells(d, until_final=True)
    return final


def read_fcs(path: Path):
    """(flowio's view, FlowKit's view) of one FCS file."""
    return flowio.FlowData(str(path)), flowkit.Sample(str(path))


def events(data: flowio.FlowData) -> np.ndarray:
    return np.asarray(data.as_array(preprocess=False)).reshape(data.event_count, data.channel_count)


def run_json(run: Path) -> dict:
    return json.loads((run / "run.json").read_text())


def test_fcs_holds_one_event_per_published_cell_in_flowio_and_flowkit(flowd, flowd_bin):
    # A long flush interval: only the SIGTERM path can have written the cells of the last second.
    d = start(flowd, settings={"record.flush_interval_s": 1}, control=False)
    simulate(flowd_bin, d, 60)
    d.wait_accounted({"twin": 60}, timeout=30)
    final = stop(d)

    cells = d.cells
    assert len(cells) >= 20
    assert final["cells"]["total"] == len(cells)
    [run] = d.runs()
    data, sample = read_fcs(run / "cells.fcs")
    assert data.event_count == len(cells) == sample.event_count
    names = data.pnn_labels
    assert names == sample.pnn_labels
    assert names[:6] == ["Time", "camera", "class", "prob_healthy", "prob_primary_cancer", "prob_metastatic_cancer"]
    values = events(data)
    column = {name: values[:, i] for i, name in enumerate(names)}
    classes = json.loads(data.text["flowd_classes"])
    cameras = json.loads(data.text["flowd_cameras"])
    assert classes == ["healthy", "primary_cancer", "metastatic_cancer", "unknown", "unclassified"]
    assert cameras == ["twin"]
    # The events are the cells, in the order published.
    assert [classes[int(i)] for i in column["class"]] == [c["label"] for c in cells]
    assert set(column["camera"]) == {0}
    for name in ("healthy", "primary_cancer", "metastatic_cancer"):
        np.testing.assert_allclose(column[f"prob_{name}"], [c["probabilities"][name] for c in cells], rtol=1e-6)
    for feature in ("area_um2", "dry_mass_pg", "mean_opd_nm", "max_opd_nm"):
        np.testing.assert_allclose(column[feature], [c["features"][feature] for c in cells], rtol=1e-6)
    np.testing.assert_array_equal(column["frames_seen"], [c["frames_seen"] for c in cells])
    assert np.all(np.diff(column["Time"]) >= 0)
    np.testing.assert_array_equal(sample.get_events(source="raw"), values)

    metadata = run_json(run)
    assert metadata["run_id"] == run.name and metadata["end_reason"] == "stopped"
    assert metadata["counts"]["final"] is True
    for key in ("total", "by_class"):
        assert metadata["counts"]["cells"][key] == final["cells"][key]
    assert metadata["counts"]["frames"] == final["frames"]
    assert metadata["events_recorded"] == len(cells)
    assert metadata["model"] == {"path": str(MODEL), "sha256": hashlib.sha256(MODEL.read_bytes()).hexdigest(),
                                 "classes": classes[:3]}
    assert metadata["config"]["model.path"] == str(MODEL) and metadata["config"]["record.flush_interval_s"] == 1
    assert not list(run.glob("*.tmp"))


def test_cells_reach_the_disk_without_a_shutdown_and_sigkill_leaves_a_readable_file(flowd, flowd_bin):
    d = start(flowd, settings={"record.flush_interval_s": 0.1}, control=False)
    simulate(flowd_bin, d, 40)
    d.wait_accounted({"twin": 40}, timeout=30)
    [run] = d.runs()
    deadline = time.monotonic() + 20
    while True:  # the periodic flush writes what was published, with no signal
        drain_cells(d)
        on_disk = flowio.FlowData(str(run / "cells.fcs")).event_count
        if d.cells and on_disk == len(d.cells):
            break
        assert time.monotonic() < deadline, f"{on_disk} events on disk, {len(d.cells)} cells published"
        time.sleep(0.05)
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    data, sample = read_fcs(run / "cells.fcs")
    assert data.event_count == sample.event_count == on_disk
    classes = json.loads(data.text["flowd_classes"])
    assert [classes[int(i)] for i in events(data)[:, 2]] == [c["label"] for c in d.cells[:on_disk]]


def test_control_status_new_run_and_snapshot(flowd, flowd_bin):
    d = start(flowd)
    status = d.control({"command": "status"}, d.endpoint)
    assert status["ok"] is True
    first = Path(status["run_dir"])
    assert status["run_id"] == first.name and status["fcs_path"] == str(first / "cells.fcs")
    assert first.parent == d.record_dir
    assert status["model_path"] == str(MODEL)
    assert status["model_sha256"] == hashlib.sha256(MODEL.read_bytes()).hexdigest()
    assert status["classes"] == ["healthy", "primary_cancer", "metastatic_cancer"]
    assert status["counts"]["v"] == 1 and status["uptime_s"] > 0

    simulate(flowd_bin, d, 40)
    d.wait_accounted({"twin": 40}, timeout=30)
    deadline = time.monotonic() + 30  # received is not yet processed: wait for the first cells
    while d.control({"command": "status"}, d.endpoint)["counts"]["cells"]["total"] == 0:
        assert time.monotonic() < deadline, "no cell counted"
        time.sleep(0.05)
    snapshot = d.control({"command": "snapshot"}, d.endpoint)
    assert snapshot["ok"] is True and snapshot["run_id"] == first.name
    counted = run_json(first)["counts"]["cells"]["total"]
    # Every cell counted at the snapshot is on disk (and maybe some published since).
    assert flowio.FlowData(snapshot["fcs_path"]).event_count >= counted > 0

    new_run = d.control({"command": "new-run"}, d.endpoint)
    assert new_run["ok"] is True and new_run["previous_run_id"] == first.name
    second = Path(new_run["run_dir"])
    assert second.name > first.name
    ended = run_json(first)
    assert ended["end_reason"] == "new-run"
    assert flowio.FlowData(str(first / "cells.fcs")).event_count == ended["counts"]["cells"]["total"]
    status = d.control({"command": "status"}, d.endpoint)
    assert status["run_id"] == second.name
    assert camera(status["counts"], "twin")["received"] == 40, "frame counters go on"

    simulate(flowd_bin, d, 40)
    d.wait_accounted({"twin": 80}, timeout=30)
    final = stop(d)
    assert d.runs() == [first, second]
    in_second = flowio.FlowData(str(second / "cells.fcs")).event_count
    assert in_second == final["cells"]["total"] == run_json(second)["counts"]["cells"]["total"]
    # The cell counts restarted with the second run: the two runs' cells are all the cells.
    assert ended["counts"]["cells"]["total"] > 0 and in_second > 0
    assert ended["counts"]["cells"]["total"] + in_second == len(d.cells)
    assert camera(final, "twin")["received"] == 80


def test_malformed_control_requests_get_ok_false_and_the_socket_keeps_answering(flowd):
    d = start(flowd)
    for request, reason in [
        (b"not json", "not JSON"),
        (b'{"command": "reboot"}', "unknown command"),
        (b'{"command": 7}', "command"),
        (b'{"command": "reload-model", "path": 3}', "path"),
        (b'{"command": "status", "extra": 1}', "extra"),
        ([b'{"command": "status"}', b"second part"], "2 parts"),
    ]:
        reply = d.control(request, d.endpoint)
        assert reply["ok"] is False and reason in reply["error"], (request, reply)
    assert d.control({"command": "status"}, d.endpoint)["ok"] is True
    cli = subprocess.run([str(d.binary), "control", "--connect", d.endpoint, "status"], capture_output=True, text=True,
                         timeout=30)
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["run_id"] == d.runs()[0].name


def other_classes_model(path: Path) -> Path:
    """The default model with its class names in another order: valid, but not swappable."""
    with safe_open(str(MODEL), "np") as f:
        metadata = f.metadata()
    spec = json.loads(metadata["topgan"])
    spec["classes"] = list(reversed(spec["classes"]))
    save_file(load_file(str(MODEL)), str(path), metadata={**metadata, "topgan": json.dumps(spec)})
    return path


def test_reload_model_swaps_a_good_model_and_refuses_a_bad_one(flowd, flowd_bin, tmp_path):
    d = start(flowd)
    copy = tmp_path / "copy.safetensors"
    shutil.copy(MODEL, copy)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    for path, reason in [(bad, f"model {bad}"), (tmp_path / "missing.safetensors", "cannot read model"),
                         (other_classes_model(tmp_path / "reversed.safetensors"), "classes")]:
        reply = d.control({"command": "reload-model", "path": str(path)}, d.endpoint)
        assert reply["ok"] is False and reason in reply["error"], reply
        assert d.control({"command": "status"}, d.endpoint)["model_path"] == str(MODEL), "the old model keeps serving"
    cli = subprocess.run([str(d.binary), "control", "--connect", d.endpoint, "reload-model", "--path", str(bad)],
                         capture_output=True, text=True, timeout=30)
    assert cli.returncode == 1 and json.loads(cli.stdout)["ok"] is False

    reply = d.control({"command": "reload-model", "path": str(copy)}, d.endpoint)
    assert reply["ok"] is True and reply["model_path"] == str(copy)
    assert d.control({"command": "status"}, d.endpoint)["model_path"] == str(copy)
    simulate(flowd_bin, d, 30)  # the new model classifies
    d.wait_accounted({"twin": 30}, timeout=30)
    final = stop(d)
    assert final["cells"]["total"] == len(d.cells) > 0
    assert all(set(c["probabilities"]) == {"healthy", "primary_cancer", "metastatic_cancer"} for c in d.cells)
    [run] = d.runs()
    changes = run_json(run)["changes"]
    assert [(c["key"], c["value"], c["cells_before"]) for c in changes] == [("model.path", str(copy), 0)]


def test_model_reload_under_load_drops_no_frame(flowd, flowd_bin, tmp_path):
    frames = 300
    d = start(flowd)
    copies = []
    for name in ("a", "b"):
        copies.append(tmp_path / f"{name}.safetensors")
        shutil.copy(MODEL, copies[-1])
    sender = simulate(flowd_bin, d, frames, rate=100, wait=False)
    mid_stream = reloads = 0
    try:
        while sender.poll() is None:
            before = camera(d.control({"command": "status"}, d.endpoint)["counts"], "twin")["received"]
            reply = d.control({"command": "reload-model", "path": str(copies[reloads % 2])}, d.endpoint)
            assert reply["ok"] is True, reply
            reloads += 1
            after = camera(d.control({"command": "status"}, d.endpoint)["counts"], "twin")["received"]
            mid_stream += 0 < before and after < frames
            drain_cells(d)
    finally:
        sender.wait(timeout=60)
    assert sender.returncode == 0
    assert mid_stream >= 2, f"only {mid_stream} of {reloads} reloads happened while frames streamed"
    d.wait_accounted({"twin": frames}, timeout=30)
    final = stop(d)
    twin = camera(final, "twin")
    assert twin["received"] == frames and twin["dropped"] == 0 and twin["malformed"] == 0
    assert twin["rejected_by_reason"] == {}
    [run] = d.runs()
    assert flowio.FlowData(str(run / "cells.fcs")).event_count == len(d.cells) == final["cells"]["total"] > 0
    assert len(run_json(run)["changes"]) == reloads


def test_sighup_reloads_the_config_and_the_model(flowd, flowd_bin, tmp_path):
    first, second = tmp_path / "first.safetensors", tmp_path / "second.safetensors"
    shutil.copy(MODEL, first)
    shutil.copy(MODEL, second)
    config = tmp_path / "flowd.yaml"
    config.write_text(f"model:\n  path: {first}\nclassify:\n  min_confidence: 0.5\ningest:\n  queue_capacity: 64\n")
    d = start(flowd, args=["--config", str(config)])
    assert d.control({"command": "status"}, d.endpoint)["model_path"] == str(first)

    def hangup_and_wait_for(line: str):
        d.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while line not in d.stderr():
            d._check_alive()
            assert time.monotonic() < deadline, f"no log line {line!r} after SIGHUP\n{d.stderr()[-3000:]}"
            time.sleep(0.05)

    config.write_text(f"model:\n  path: {second}\nclassify:\n  min_confidence: 0.9\ningest:\n  queue_capacity: 32\n")
    hangup_and_wait_for("SIGHUP: config reloaded")
    assert "ingest.queue_capacity changed from 64 to 32: needs restart" in d.stderr()
    assert d.control({"command": "status"}, d.endpoint)["model_path"] == str(second)
    [run] = d.runs()
    assert [(c["key"], c["value"]) for c in run_json(run)["changes"]] == [
        ("model.path", str(second)), ("classify.min_confidence", 0.9)]

    config.write_text("model: [not yaml\n")
    hangup_and_wait_for("SIGHUP: config rejected, nothing changed")
    config.write_text(f"model:\n  path: {tmp_path / 'missing.safetensors'}\nclassify:\n  min_confidence: 0.2\n")
    hangup_and_wait_for("SIGHUP: model rejected, nothing changed")
    assert d.control({"command": "status"}, d.endpoint)["model_path"] == str(second)
    assert len(run_json(run)["changes"]) == 2

    simulate(flowd_bin, d, 30)  # still serving
    d.wait_accounted({"twin": 30}, timeout=30)
    final = stop(d)
    assert final["cells"]["total"] == len(d.cells) > 0
    # min_confidence 0.9 is in force: a cell below it is unknown.
    for c in d.cells:
        assert (c["label"] == "unknown") == (max(c["probabilities"].values()) < 0.9)

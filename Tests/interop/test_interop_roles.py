"""One camera's frames spread over worker processes and one aggregator (`flowd run --role`;
docs/scale-out.md), on loopback.

The twin camera (`flowd simulate --publish ... --bind`) PUSHes its frames round-robin to two
`--role worker` daemons, which reconstruct and measure them and PUSH each frame's detections to
one `--role aggregator`, which puts them back in `seq` order, tracks, classifies, counts,
records, publishes on ZeroMQ and streams to JetStream (its own `nats-server` on 127.0.0.1).
The count must agree with the twin's truth, and the stream, the `cell` messages and the record
must hold the same cells, each once. A worker killed mid-run (SIGKILL): the run goes on with
the other, the frames it took with it are counted lost by reason, no cell is counted twice.
Frames a worker's full queue drops are reported to the aggregator at once, under their reason.
Bad detections, and detections of a camera the aggregator does not take, are counted and
logged by reason.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import flowio
import zmq

from flowd_harness import camera, free_port, load_truth, malformed_by_reason, tcp, true_cell
from test_interop_jetstream import RIG, assert_stream_holds_exactly, nats_server, read_fleet  # noqa: F401 (fixture)
from test_interop_record import MODEL, PIXELS_PER_FRAME, TWIN, drain_cells, stop

#: What workers and the aggregator must agree on: the optics, and the model (its crop size).
OPTICS = {"reconstruction.pixel_um": 0.25, "model.path": str(MODEL)}


def aggregator(flowd, settings: dict | None = None):
    """A `--role aggregator` listening on its port0, with a SUB for its `cell`s."""
    d = flowd(args=["--role", "aggregator", "--set", "scale_out.listen=tcp://127.0.0.1:{port0}"], settings={
        **OPTICS, "tracking.velocity_px": PIXELS_PER_FRAME, "tracking.gate_px": 32, "scale_out.cameras": "twin",
        **(settings or {})})
    d.cell_sub = d.subscribe_cells()
    d.cells = []
    return d


def worker(flowd, aggregator_port: int, camera_port: int):
    """A `--role worker` with one frame worker, taking frames from the camera's bound PUSH."""
    return flowd(inputs=[f"pull:tcp://127.0.0.1:{camera_port}"], settings={
        **OPTICS, "role": "worker", "scale_out.aggregator": tcp(aggregator_port), "workers": 1})


def twin_camera(flowd_bin, port: int, frames: int, rate: float, out: Path) -> subprocess.Popen:
    """The twin as a camera that binds a PUSH socket: each frame goes to one connected worker."""
    return subprocess.Popen(
        [str(flowd_bin), "simulate", *TWIN, "--frames", str(frames), "--publish", tcp(port), "--socket", "push",
         "--bind", "--rate", str(rate), "--out", str(out), "--format", "npy", "--no-truth-maps"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def frames_accounted(counts: dict) -> int:
    """Frames the aggregator has put in order: returned by a worker, or given up as lost."""
    c = camera(counts, "twin")
    return c["received"] + c.get("rejected_by_reason", {}).get("not_returned", 0)


def finish(agg, workers, sent: int) -> dict:
    """Waits until the aggregator accounted for every frame sent, stops the workers, then the
    aggregator; returns its final counts."""
    agg.wait_counts(lambda c: frames_accounted(c) >= sent, timeout=60, what=f"{sent} frames put in order")
    for w in workers:
        if w.proc.poll() is None:
            _, _, rc = w.stop()
            assert rc == 0, w.stderr()
    return stop(agg)


def test_two_workers_and_an_aggregator_count_as_the_truth_and_stream_exactly_the_counted_cells(
        flowd, flowd_bin, nats_server, tmp_path):
    agg = aggregator(flowd, {"nats.url": nats_server.url, "nats.rig": RIG})
    port = free_port()
    workers = [worker(flowd, agg.ports[0], port) for _ in range(2)]
    sent = 400
    cam = twin_camera(flowd_bin, port, sent, rate=100, out=tmp_path / "camera")
    assert cam.wait(timeout=60) == 0, cam.stderr.read()
    final = finish(agg, workers, sent)

    # Both workers took frames, and none was lost.
    for w in workers:
        assert camera(w.last_counts, "twin")["received"] > sent / 4, "the camera's PUSH spreads frames round-robin"
    twin = final["cameras"]["twin"]
    assert twin["received"] == sent and twin["gaps"] == 0 and twin["rejected_by_reason"] == {}

    # The count against the twin's truth: the cells wholly in view in at least one frame.
    frames, countable = load_truth(tmp_path / "camera")
    assert len(frames) == sent
    error = (len(agg.cells) - len(countable)) / len(countable)
    assert len(countable) >= 200 and abs(error) <= 0.005, (len(agg.cells), len(countable))
    assert final["cells"]["total"] == len(agg.cells)

    # The stream, the `cell` messages and the record hold the same cells, each once.
    [run] = agg.runs()
    messages, counts, _ = read_fleet(nats_server.url)
    assert_stream_holds_exactly(messages, agg.cells, run.name)
    assert counts["final"] is True and counts["cells"]["total"] == len(agg.cells)
    assert flowio.FlowData(str(run / "cells.fcs")).event_count == len(agg.cells)
    assert [c["cell_id"] for c in agg.cells] == list(range(len(agg.cells)))


def test_a_worker_killed_mid_run_loses_only_its_frames_in_flight_counted_by_reason(flowd, flowd_bin, tmp_path):
    # The reorder timeout shorter than its default (2 s), so that the test waits less for the
    # aggregator to give the lost frames up; still longer than a worker's slowest frame here.
    agg = aggregator(flowd, {"scale_out.reorder_timeout_s": 1})
    port = free_port()
    workers = [worker(flowd, agg.ports[0], port) for _ in range(2)]
    sent = 400
    cam = twin_camera(flowd_bin, port, sent, rate=100, out=tmp_path / "camera")
    agg.wait_counts(lambda c: frames_accounted(c) >= 100, timeout=30, what="100 frames")
    workers[0].proc.send_signal(signal.SIGKILL)
    workers[0].proc.wait(timeout=10)
    assert cam.wait(timeout=60) == 0, cam.stderr.read()
    final = finish(agg, workers[1:], sent)

    twin = final["cameras"]["twin"]
    lost = twin["rejected_by_reason"].get("not_returned", 0)
    # Every frame sent is accounted for: returned, or given up by reason (never a silent gap).
    assert twin["received"] + lost == sent
    assert twin["gaps"] == lost and lost < sent / 4, twin
    assert camera(workers[1].last_counts, "twin")["received"] > sent / 2, "the other worker took the rest"
    # A worker killed between two frames took none with it; one killed mid-frame, a few.
    assert lost == 0 or "not_returned" in agg.stderr()

    # No cell counted twice: no two published cells are the same true cell.
    frames, _ = load_truth(tmp_path / "camera")
    matched = [true_cell(frames, c["seq"], c["x_px"], c["y_px"]) for c in agg.cells]
    ids = [m["id"] for m in matched if m is not None]
    assert len(ids) == len(set(ids)), "a cell was counted twice"
    assert len(ids) >= 0.95 * len(agg.cells)
    assert final["cells"]["total"] == len(agg.cells) > 100


def test_frames_a_worker_drops_are_reported_at_once_so_the_aggregator_never_waits_for_them(flowd, flowd_bin, tmp_path):
    # A reorder timeout far longer than the run: had the worker not reported its drops, the
    # aggregator would hold every later frame until it expired, and the wait below would fail.
    agg = aggregator(flowd, {"scale_out.reorder_timeout_s": 120})
    port = free_port()
    w = flowd(inputs=[f"pull:tcp://127.0.0.1:{port}"], settings={
        **OPTICS, "role": "worker", "scale_out.aggregator": tcp(agg.ports[0]), "workers": 1,
        "ingest.queue_capacity": 1})
    sent = 300
    cam = twin_camera(flowd_bin, port, sent, rate=3000, out=tmp_path / "camera")
    assert cam.wait(timeout=60) == 0, cam.stderr.read()
    final = finish(agg, [w], sent)

    dropped = camera(w.last_counts, "twin")["dropped"]
    assert dropped > 0, "the one-frame queue at 3000 frames/s must overflow for this test to mean anything"
    twin = final["cameras"]["twin"]
    # Every frame put in order, the dropped ones under their reason; none given up, none waited for.
    assert twin["received"] == sent and twin["gaps"] == 0
    assert twin["rejected_by_reason"] == {"queue_full": dropped}, twin

    # No cell counted twice across the gaps the drops leave.
    frames, _ = load_truth(tmp_path / "camera")
    matched = [true_cell(frames, c["seq"], c["x_px"], c["y_px"]) for c in agg.cells]
    ids = [m["id"] for m in matched if m is not None]
    assert len(ids) == len(set(ids)), "a cell was counted twice"


def test_bad_detections_and_unknown_cameras_are_counted_by_reason_and_never_stop_the_aggregator(flowd):
    agg = aggregator(flowd, {"model.path": "none"})
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 1000)
    push.connect(tcp(agg.ports[0]))
    header = {"v": 1, "camera": "twin", "seq": 0, "rows": 256, "cols": 256, "held_ns": 1000, "crop_size": 0,
              "objects": []}
    push.send_multipart([b"not json", b""])
    push.send_multipart([json.dumps(header).encode()])  # one part
    push.send_multipart([json.dumps({**header, "crop_size": 4, "objects": [
        {"x": 1, "y": 2, "bbox": [0, 0, 3, 3], "touches_edge": False, "residues": 0, "refocus_failed": False,
         "features": {k: 1.0 for k in ("area_um2", "mean_opd_nm", "max_opd_nm", "phase_volume_um3", "dry_mass_pg",
                                       "aspect_ratio", "ellipse_fill")}}]}).encode(), b"\0" * 7])
    push.send_multipart([json.dumps({**header, "v": 9}).encode(), b""])
    push.send_multipart([json.dumps({**header, "seq": "zero"}).encode(), b""])
    push.send_multipart([json.dumps({**header, "camera": "intruder"}).encode(), b""])
    push.send_multipart([json.dumps(header).encode(), b""])  # a good one, still taken afterwards
    counts = agg.wait_counts(lambda c: camera(c, "twin")["received"] == 1, timeout=10, what="the good detection")
    assert malformed_by_reason(counts) == {
        "detection_not_json": 1, "wrong_part_count": 1, "crop_size_mismatch": 1, "unsupported_version": 1,
        "bad_detection": 1, "unknown_camera": 1}
    assert counts["cameras"]["other"]["malformed_by_reason"]["unknown_camera"] == 1
    final = stop(agg)
    assert final["cameras"]["twin"]["received"] == 1
    log = agg.stderr()
    for reason in ("detection_not_json", "crop_size_mismatch", "unsupported_version", "this aggregator takes twin"):
        assert reason in log
    push.close()
    ctx.term()


def test_a_role_without_its_endpoint_is_refused_with_the_key_it_needs(flowd_bin):
    for role, key in (("worker", "scale_out.aggregator"), ("aggregator", "scale_out.listen")):
        result = subprocess.run([str(flowd_bin), "run", "--role", role], capture_output=True, text=True, timeout=30)
        assert result.returncode == 78 and key in result.stderr, result.stderr
    result = subprocess.run([str(flowd_bin), "run", "--role", "boss"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 78 and "all, worker, aggregator" in result.stderr


def test_the_role_template_unit_is_flowd_service_with_the_role_and_scores_at_most_2(tmp_path):
    """systemd/flowd@.service (`flowd@worker`, `flowd@aggregator`) runs `flowd run --role %i`
    under exactly the hardening of flowd.service (no line drifts), and scores ≤ 2.0 in
    `systemd-analyze security` for both roles."""
    import re
    import shutil

    from flowd_harness import REPO
    template = (REPO / "systemd" / "flowd@.service").read_text()
    single = (REPO / "systemd" / "flowd.service").read_text()

    def settings(unit: str) -> list[str]:
        return [line for line in unit.splitlines() if line and not line.startswith("#")]

    differ = {line.split("=", 1)[0] for line in set(settings(template)) ^ set(settings(single))}
    assert differ == {"Description", "ExecStart", "StateDirectory"}, differ
    assert "ExecStart=/usr/local/bin/flowd run --role %i --config /etc/flowd/%i.yaml" in template
    if shutil.which("systemd-analyze") is None:
        return
    for role in ("worker", "aggregator"):
        unit = tmp_path / f"flowd@{role}.service"
        unit.write_text(template)
        result = subprocess.run(["systemd-analyze", "security", "--offline=true", str(unit)],
                                capture_output=True, text=True, timeout=60)
        match = re.search(rf"Overall exposure level for flowd@{role}\.service: ([0-9.]+)", result.stdout + result.stderr)
        assert match and float(match.group(1)) <= 2.0, result.stdout + result.stderr

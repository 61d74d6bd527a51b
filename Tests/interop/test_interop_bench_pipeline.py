"""`flowd bench pipeline` in its short form: a real `flowd run` fed by the bench's camera over
loopback. Its report must account for every frame and agree with itself; no timing is asserted
(benchmarks live in scripts/bench-pipeline and docs/benchmarks.md).
"""

from __future__ import annotations

import json
import subprocess

import pytest

from flowd_harness import REPO, hermetic_env

MODEL = REPO / "models" / "topgan-default.safetensors"

TRIAL_KEYS = {
    "rate", "workers", "worker_processes", "inference_threads_per_worker", "blas_core", "load_average", "window_seconds", "frames",
    "drops", "drops_total", "frames_per_second", "cells_per_second", "classified_per_second", "latency_ms",
    "stages_ms", "cpu_ms_per_frame", "fft_only_ms", "queue_depth_max", "queue_capacity", "sender_max_lateness_ms",
    "cells_published", "cells_true", "labels", "met",
}


def bench(flowd_bin, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [flowd_bin, "bench", "pipeline", "--model", str(MODEL), *args], capture_output=True, text=True,
        timeout=240, env=hermetic_env(), stdin=subprocess.DEVNULL, cwd=REPO)


def test_short_run_reports_every_key_with_consistent_figures(flowd_bin):
    result = bench(flowd_bin, "--seconds", "2", "--size", "256", "--warmup", "1", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)

    assert report["size"] == 256 and report["seconds"] == 2 and report["model"] == str(MODEL)
    assert report["cells_in_view_per_frame"] > 0
    assert report["twin_conditions"] == "ideal" and report["refocus"] == "off"
    assert set(report["bar"]) == {"min_frames_per_second_of_rate", "max_drops", "max_latency_p99_ms"}
    [trial] = report["trials"]
    assert set(trial) == TRIAL_KEYS
    assert trial["rate"] == 200

    frames = trial["frames"]
    assert frames["sent"] == frames["not_sent"] + frames["received"] + frames["dropped"] + frames["malformed"]
    assert frames["received"] == frames["processed"] + frames["rejected"]
    assert 0 < frames["processed_in_window"] <= frames["processed"]
    # The daemon sees a frame not sent as a gap in seq, unless no later frame arrived.
    assert frames["seq_gaps"] <= frames["not_sent"]
    assert trial["drops"] == {
        "not_sent": frames["not_sent"], "queue_full": frames["dropped"], "malformed": frames["malformed"],
        "rejected": frames["rejected"],
    }
    assert trial["drops_total"] == sum(trial["drops"].values())

    latency = trial["latency_ms"]
    assert 0 <= latency["p50"] <= latency["p99"] <= latency["max"]
    assert latency["cells"] <= trial["cells_published"]
    assert abs(trial["cells_per_second"] * trial["window_seconds"] - latency["cells"]) < 1e-6 * max(1, latency["cells"])
    assert trial["classified_per_second"] >= 0
    labels = trial["labels"]
    assert labels["agree"] + labels["disagree"] + labels["unknown"] + labels["unmatched"] == trial["cells_published"]
    matched = labels["agree"] + labels["disagree"] + labels["unknown"]
    assert labels["accuracy"] == pytest.approx(labels["agree"] / matched if matched else 0.0)
    assert abs(trial["frames_per_second"] * trial["window_seconds"] - frames["processed_in_window"]) < 1e-6

    assert trial["workers"] >= 1 and trial["inference_threads_per_worker"] >= 1 and trial["blas_core"]
    assert 0 <= trial["queue_depth_max"] <= trial["queue_capacity"]
    assert set(trial["stages_ms"]) == {"frame", "reconstruct", "classify"}
    assert set(trial["cpu_ms_per_frame"]) == {"daemon", "camera_and_subscriber"}
    assert 0 < trial["fft_only_ms"] < trial["cpu_ms_per_frame"]["daemon"], "the daemon does at least one FFT per frame"
    assert len(trial["load_average"]) == 2

    bar = report["bar"]
    assert trial["met"] == (
        trial["frames_per_second"] >= bar["min_frames_per_second_of_rate"] * trial["rate"]
        and trial["drops_total"] <= bar["max_drops"] and latency["p99"] <= bar["max_latency_p99_ms"])
    assert report["sustainable_rate"] == (trial["rate"] if trial["met"] else None)


def test_a_missing_model_is_refused_before_anything_runs(flowd_bin, tmp_path):
    missing = tmp_path / "none.safetensors"
    result = subprocess.run(
        [flowd_bin, "bench", "pipeline", "--model", str(missing), "--seconds", "1"], capture_output=True, text=True,
        timeout=60, env=hermetic_env(), stdin=subprocess.DEVNULL)
    assert result.returncode != 0
    assert str(missing) in result.stderr

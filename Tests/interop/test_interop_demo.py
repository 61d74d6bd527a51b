"""`flowd demo`, short: two child processes (the twin as a camera, `flowd run` with the default
model) over loopback ZeroMQ, and a summary against the twin's ground truth, as JSON too."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

from flowd_harness import DEFAULT_MODEL, hermetic_env, load_truth


def test_a_short_demo_writes_a_summary_that_agrees_with_the_ground_truth(flowd_bin, tmp_path):
    """60 frames of 1024² at the daemon's default optics (0.107 µm pixels, which the default
    model's crops are cut from) and `flowd demo`'s lab conditions: every frame reaches the daemon,
    the count agrees with the truth (±1 cell), the accuracy is well above chance, and the JSON
    has every key of issue 6 with values consistent with each other and with truth.jsonl."""
    summary_path = tmp_path / "summary.json"
    result = subprocess.run(
        [str(flowd_bin), "demo", "--duration", "3", "--rate", "20", "--size", "1024",
         "--concentration", "25000", "--model", str(DEFAULT_MODEL), "--out", str(tmp_path / "runs"),
         "--summary-json", str(summary_path)],
        capture_output=True, text=True, timeout=300, env=hermetic_env(), stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Summary against the twin's ground truth" in result.stdout
    assert "\x1b" not in result.stdout  # a pipe gets plain lines

    s = json.loads(summary_path.read_text())
    for key in ("cells_true", "cells_counted", "counting_error", "accuracy", "confusion", "classes", "fcs_path",
                "balanced_accuracy", "confusion_columns", "frames_sent", "frames_received", "frames_dropped"):
        assert key in s, key
    assert (s["frames_sent"], s["frames_received"], s["frames_dropped"], s["frames_malformed"]) == (60, 60, 0, 0)

    run_dir = Path(s["run_dir"])
    assert run_dir.parent == tmp_path / "runs"
    frames, countable = load_truth(run_dir / "camera")
    assert len(frames) == 60 and s["cells_true"] == len(countable) >= 30
    assert abs(s["cells_counted"] - s["cells_true"]) <= 1
    assert s["counting_error"] == (s["cells_counted"] - s["cells_true"]) / s["cells_true"]
    assert s["cell_messages"] == s["cells_counted"]

    assert s["classes"] == ["healthy", "primary_cancer", "metastatic_cancer"]
    assert s["confusion_columns"][:3] == s["classes"]
    assert len(s["confusion"]) == 3 and all(len(row) == len(s["confusion_columns"]) for row in s["confusion"])
    classified = sum(map(sum, s["confusion"]))
    assert classified == s["cells_matched"] + s["cells_counted_twice"]
    right = sum(s["confusion"][i][i] for i in range(3))
    assert s["accuracy"] == right / classified and s["accuracy"] >= 0.7
    assert 0 < s["balanced_accuracy"] <= 1

    if s["fcs_path"] is None:
        assert s["fcs_note"]
    else:
        assert Path(s["fcs_path"]).is_file() and Path(s["fcs_path"]).name == "cells.fcs"


def test_ctrl_c_stops_the_demo_early_and_it_still_scores_what_was_sent(flowd_bin, tmp_path):
    """SIGINT (Ctrl-C) reaches the demo, which stops the camera (its truth then covers exactly
    the frames it sent), lets the daemon account for them, stops it, and prints the summary."""
    summary_path = tmp_path / "summary.json"
    demo = subprocess.Popen(
        [str(flowd_bin), "demo", "--duration", "600", "--rate", "20", "--size", "256", "--pixel-um", "0.25",
         "--model", str(DEFAULT_MODEL), "--out", str(tmp_path / "runs"), "--summary-json", str(summary_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=hermetic_env(), stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        truth = None
        while time.monotonic() < deadline and demo.poll() is None:
            truth = next((tmp_path / "runs").glob("*/camera/truth.jsonl"), None)
            if truth is not None and len(truth.read_text().splitlines()) >= 10:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the demo's camera sent no 10 frames within 60 s")
        demo.send_signal(signal.SIGINT)
        out, err = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 0, out[-3000:] + err[-3000:]
    assert "stopped early by a signal" in out
    s = json.loads(summary_path.read_text())
    assert 10 <= s["frames_sent"] < 12000
    assert s["frames_received"] == s["frames_sent"] == len(truth.read_text().splitlines())

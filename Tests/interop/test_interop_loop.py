"""The lab's loop in CI, reduced (issue 14): three pure-culture runs → cells.rtdc → `topgan
dataset` → `topgan finetune` → `topgan export` → `flowd control reload-model` on a running
daemon → a mixed sample classified by the new model. The full-size loop, with the acceptance
comparison against `flowd extract` crops, is scripts/lab-loop (docs/workflow.md has its numbers);
this one runs every step for real on a few dozen cells and checks the hand-overs."""

from __future__ import annotations

import hashlib

from flowd_harness import DEFAULT_MODEL
from lab_loop import LoopSize, run_loop


def test_pure_culture_runs_become_a_model_that_is_deployed_live(flowd_bin, tmp_path):
    report = run_loop(flowd_bin, tmp_path / "loop",
                      LoopSize(frames_per_class=30, mixed_frames=60, shots=5, epochs=2, seed=0, rate=100))
    assert all(n >= 5 for n in report["cells_per_class_in_training_set"].values()), report
    # The swap: while frames streamed, none dropped or rejected, and run.json names both models.
    assert report["frames_received"] == report["frames_sent"] == 60
    assert report["frames_dropped"] == 0 and report["frames_rejected"] == 0
    assert report["model_at_start_sha256"] == hashlib.sha256(DEFAULT_MODEL.read_bytes()).hexdigest()
    assert report["model_swapped_in_sha256"] == report["swap_reply_sha256"] == report["new_model_file_sha256"]
    assert report["swap_at"] and report["swap_since_s"] > 0
    # The new model labelled the cells after the swap; every mixed cell was scored.
    assert report["cells_after_swap"] > 0 and report["mixed_cells_matched_to_truth"] >= 0.9 * report["mixed_cells"]
    assert 0 <= report["unknown_after_swap"] <= report["cells_after_swap"]
    for key in ("balanced_accuracy_runs_model", "balanced_accuracy_extract_model", "balanced_accuracy_live_after_swap"):
        assert 0 <= report[key] <= 1, report

"""The live pipeline end to end: `flowd simulate --publish` (the digital twin as a PUSH camera)
→ `flowd run` → a SUB gets one `cell` message per cell, as many as the twin's ground truth has
cells wholly in view, and the final `counts` agrees; with the default model, the labels agree
with the truth.
"""

from __future__ import annotations

import subprocess

from flowd_harness import (
    DEFAULT_MODEL, EX_UNAVAILABLE, SMALL_TWIN, SMALL_TWIN_OPTICS, camera, free_port, hermetic_env,
    load_truth, stop_and_collect_cells, tcp, true_cell,
)


def test_simulated_camera_to_cell_messages(flowd, flowd_bin, tmp_path):
    """Without a model: one `cell` message per countable true cell, labelled unclassified."""
    d = flowd(inputs=["pull+bind:tcp://127.0.0.1:{port0}"], settings=SMALL_TWIN_OPTICS)
    sub = d.subscribe_cells()

    subprocess.run([flowd_bin, "simulate", *SMALL_TWIN, "--frames", "60", "--publish", tcp(d.ports[0]),
                    "--rate", "100", "--out", str(tmp_path / "camera")], check=True, capture_output=True)
    _, truth = load_truth(tmp_path / "camera")
    final, cells = stop_and_collect_cells(d, sub, {"twin": 60})
    assert len(truth) >= 20
    assert abs(len(cells) - len(truth)) <= 1, f"{len(cells)} cells published, truth {len(truth)}"
    assert final["cells"]["by_class"] == {"unclassified": len(cells)}
    assert [c["cell_id"] for c in cells] == list(range(len(cells)))
    assert all(c["v"] == 1 and c["label"] == "unclassified" and c["frames_seen"] >= 1 for c in cells)
    assert camera(final, "twin")["received"] == 60
    assert camera(final, "twin")["rejected_by_reason"] == {}


def test_camera_process_to_classified_cells_against_its_ground_truth(flowd, flowd_bin, tmp_path):
    """The camera in its own process writes its ground truth as it sends (truth.jsonl in --out);
    `flowd run` with the default model publishes each countable true cell once, every cell
    message lies on a true cell of the frame it names (`seq`), no true cell twice, and the
    labels agree with the true classes well above chance (the model card: 91 % balanced
    accuracy at this pixel size, the one it was trained at)."""
    folder = tmp_path / "camera"
    d = flowd(inputs=["pull+bind:tcp://127.0.0.1:{port0}"], args=["--model", str(DEFAULT_MODEL)],
              settings=SMALL_TWIN_OPTICS)
    sub = d.subscribe_cells()
    subprocess.run([flowd_bin, "simulate", *SMALL_TWIN, "--frames", "200", "--publish", tcp(d.ports[0]),
                    "--rate", "100", "--out", str(folder)], check=True, capture_output=True, timeout=120)
    frames, countable = load_truth(folder)
    assert sorted(frames) == list(range(200))
    _, cells = stop_and_collect_cells(d, sub, {"twin": 200})
    assert len(countable) >= 80
    assert abs(len(cells) - len(countable)) <= 1, f"{len(cells)} cells published, truth {len(countable)}"
    owners = [true_cell(frames, c["seq"], c["x_px"], c["y_px"]) for c in cells]
    assert all(owner is not None for owner in owners), "a cell message lies on no true cell"
    ids = [owner["id"] for owner in owners]
    assert len(set(ids)) == len(ids), "a true cell was published twice"
    classes = {"healthy", "primary_cancer", "metastatic_cancer"}
    assert {c["label"] for c in cells} <= classes | {"unknown"}
    assert all(set(c["probabilities"]) == classes for c in cells)
    right = sum(c["label"] == owner["class"] for c, owner in zip(cells, owners))
    assert right / len(cells) >= 0.75, f"{right} of {len(cells)} labelled right"


def test_a_model_that_does_not_load_stops_the_daemon_at_start_up(flowd_bin, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    result = subprocess.run(
        [flowd_bin, "run", "--model", str(bad), "--publish", tcp(free_port()), "--set", "metrics.listen=off"],
        capture_output=True, text=True, timeout=30, env=hermetic_env(), stdin=subprocess.DEVNULL)
    assert result.returncode == EX_UNAVAILABLE
    assert f"model {bad}" in result.stderr

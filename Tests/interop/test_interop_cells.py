"""The live pipeline end to end: `flowd simulate --publish` (the digital twin as a PUSH camera)
→ `flowd run` (no model) → a SUB gets one `cell` message per cell, as many as the twin's ground
truth has cells wholly in view, and the final `counts` agrees.
"""

from __future__ import annotations

import json
import subprocess


from flowd_harness import EX_UNAVAILABLE, camera, free_port, hermetic_env, tcp

#: A small, busy twin: 256² frames at 0.25 µm, 3 mm/s at 200 fps (60 px per frame).
TWIN = ["--frames", "60", "--size", "256", "--seed", "11", "--pixel-um", "0.25", "--concentration", "20000",
        "--velocity-um-s", "3000"]


def test_simulated_camera_to_cell_messages(flowd, flowd_bin, tmp_path):
    folder = tmp_path / "twin"
    subprocess.run([flowd_bin, "simulate", *TWIN, "--format", "npy", "--no-truth-maps", "--out", str(folder)],
                   check=True, capture_output=True)
    meta = json.loads((folder / "twin.json").read_text())
    truth = {cell["id"] for line in (folder / "truth.jsonl").read_text().splitlines()
             for cell in json.loads(line)["cells"] if cell["fully_inside"]}

    d = flowd(inputs=["pull+bind:tcp://127.0.0.1:{port0}"], settings={
        "reconstruction.pixel_um": 0.25, "tracking.velocity_px": meta["pixels_per_frame"], "tracking.gate_px": 32,
    })
    sub = d.subscribe_cells()

    subprocess.run([flowd_bin, "simulate", *TWIN, "--publish", tcp(d.ports[0]), "--rate", "100"],
                   check=True, capture_output=True)
    d.wait_accounted({"twin": 60}, timeout=30)
    final, _, rc = d.stop()
    assert rc == 0, d.stderr()

    cells = []
    while sub.poll(2000):
        topic, body = sub.recv_multipart()
        message = json.loads(body)
        if topic == b"cell":
            cells.append(message)
        elif message["final"]:
            break
    assert len(truth) >= 20
    assert abs(len(cells) - len(truth)) <= 1, f"{len(cells)} cells published, truth {len(truth)}"
    assert final["cells"]["total"] == len(cells)
    assert final["cells"]["by_class"] == {"unclassified": len(cells)}
    assert [c["cell_id"] for c in cells] == list(range(len(cells)))
    assert all(c["v"] == 1 and c["label"] == "unclassified" and c["frames_seen"] >= 1 for c in cells)
    assert camera(final, "twin")["received"] == 60
    assert camera(final, "twin")["rejected_by_reason"] == {}


def test_a_model_that_does_not_load_stops_the_daemon_at_start_up(flowd_bin, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    result = subprocess.run(
        [flowd_bin, "run", "--model", str(bad), "--publish", tcp(free_port()), "--set", "metrics.listen=off"],
        capture_output=True, text=True, timeout=30, env=hermetic_env(), stdin=subprocess.DEVNULL)
    assert result.returncode == EX_UNAVAILABLE
    assert f"model {bad}" in result.stderr

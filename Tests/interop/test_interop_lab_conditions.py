"""The daemon at lab conditions (issue 9): the twin's lab preset (cells at random depths of a
30 µm channel with Poiseuille speeds, debris, doublets and sperm in the sample, a drifting
reference arm) → `flowd run` with no speed guess: each labelled cell counted once, every one
refocused (`focus_um`) with its own speed (`velocity_um_s`), nothing that is not a cell counted
as one, and the reference's drift visible in /metrics, where its refresh is counted too."""

from __future__ import annotations

import statistics
import subprocess
import urllib.request

from flowd_harness import SMALL_TWIN, free_port, load_truth, stop_and_collect_cells, tcp, true_cell


def metrics(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        lines = response.read().decode().splitlines()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in lines if line and not line.startswith("#")}


def test_lab_conditions_each_cell_once_refocused_with_its_speed_and_no_debris_counted(flowd, flowd_bin, tmp_path):
    port = free_port()
    d = flowd(inputs=["pull+bind:tcp://127.0.0.1:{port0}"],
              settings={"reconstruction.pixel_um": 0.25, "tracking.gate_px": 32, "metrics.listen": f"127.0.0.1:{port}",
                        "reconstruction.reference_refresh_s": 0.5, "reconstruction.reference_frames": 9})
    sub = d.subscribe_cells()
    folder = tmp_path / "camera"
    subprocess.run([flowd_bin, "simulate", *SMALL_TWIN, "--conditions", "lab", "--frames", "120", "--publish",
                    tcp(d.ports[0]), "--rate", "40", "--out", str(folder)], check=True, capture_output=True, timeout=180)
    d.wait_accounted({"twin": 120}, timeout=60)
    scraped = metrics(port)
    final, cells = stop_and_collect_cells(d, sub, {"twin": 120})
    frames, countable = load_truth(folder)
    labelled = set(countable)
    assert len(labelled) >= 15
    assert abs(len(cells) - len(labelled)) <= 1, f"{len(cells)} cells published, {len(labelled)} true cells"
    owners = [true_cell(frames, c["seq"], c["x_px"], c["y_px"]) for c in cells]
    assert all(o is None or o["label"] >= 0 for o in owners), "a debris, doublet or sperm was counted as a cell"
    assert sum(o is not None for o in owners) >= len(cells) - 1
    # Refocused: the focus distance found agrees with the twin's within 0.5 µm for most cells.
    errors = [abs(c["features"]["focus_um"] - o["focus_um"]) for c, o in zip(cells, owners)
              if o is not None and "focus_um" in c["features"]]
    assert len(errors) >= 0.9 * len(cells)
    assert statistics.median(errors) <= 0.5
    speeds = [c["features"]["velocity_um_s"] for c in cells if "velocity_um_s" in c["features"]]
    assert len(speeds) >= 0.8 * len(cells)
    assert statistics.pstdev(speeds) / statistics.mean(speeds) > 0.05, "Poiseuille speeds differ from cell to cell"
    assert "objects_rejected_by_reason" in final["cells"]
    assert scraped['flowd_background_rms_nm{camera="twin"}'] > 0
    assert scraped['flowd_reference_refreshes_total{camera="twin"}'] >= 1

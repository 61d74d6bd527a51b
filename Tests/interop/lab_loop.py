"""The lab's loop, end to end (issue 14, docs/workflow.md): from a rig's cells to a deployed model.

1. A live `flowd run` records each of three pure-culture runs of the twin (`flowd simulate
   --publish --mixture healthy=1`, …), named with `flowd control new-run --sample NAME`, into
   one record directory (one daemon per run: each twin seed has its own optical background,
   which a daemon learns once per camera; a rig's background stays);
2. `topgan dataset` makes the training set of their cells.rtdc files, `topgan finetune --shots N`
   trains a classifier on it and `topgan export` writes the model file;
3. a mixed sample streams into a daemon started with the default model, and `flowd control
   reload-model` swaps the new model in while it streams;
4. the mixed run is scored against the twin's truth: the new model's balanced accuracy on its
   recorded crops, against the same recipe (same pretrained GAN, shots, epochs, seed) trained on
   `flowd extract` crops of the same cells (the loop loses nothing if the two agree); no frame
   dropped or rejected during the swap; run.json names both models with the swap's time.

The comparison is paired: `flowd extract --simulate` reconstructs each pure culture's own twin
stream (same seed, mixture and frames as its run), and its crops are put in the order of the
run's cells by true cell, so that `--shots N --seed S` draws the same cells on both sides. The
difference between the two models is then what recording, `.rtdc` and `topgan dataset` change
in the crops (the daemon's median reference against the twin's cell-free one, the tracker's
choice among equally large views, float32 phase), not which N cells were drawn: with
different cells, the spread between 25-shot draws (63–73 % with the pretrained GAN, 51–67 % from
scratch; docs/workflow.md) would swamp a 3-point criterion.

`run_loop` is the one implementation: scripts/lab-loop runs it at full size and prints the
report; Tests/interop/test_interop_loop.py runs a reduced version in CI.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import dclab
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from flowd_harness import REPO, Flowd, camera, hermetic_env, load_truth, tcp, true_cell  # noqa: E402

CLASSES = ["healthy", "primary_cancer", "metastatic_cancer"]
#: The twin: 256² frames of 0.25 µm, 3 mm/s at 200 fps (60 px per frame), dense.
TWIN = ["--size", "256", "--pixel-um", "0.25", "--concentration", "20000", "--velocity-um-s", "3000"]
DAEMON = {"reconstruction.pixel_um": 0.25, "tracking.velocity_px": 60.0, "tracking.gate_px": 32,
          "record.flush_interval_s": 0.2}


@dataclass
class LoopSize:
    frames_per_class: int = 400
    mixed_frames: int = 600
    shots: int = 25
    epochs: int = 24              # `topgan finetune --recipe cnn`'s default (training/topgan/cli.py)
    seed: int = 0
    rate: float = 100
    #: The GAN the recipe fine-tunes from (relative to the repository); "" trains from scratch.
    pretrained: str = "training/pretrained/sperm-gan.pt"
    #: `topgan finetune --mode`: full (the CNN recipe's default) or probe (a convex fit on the GAN's
    #: frozen features: no SGD, so the same cells give the same model to within their crops).
    mode: str = "full"


def pure_twin(size: LoopSize, index: int, name: str) -> list[str]:
    """The twin options of the pure culture of class `name` (the `index`-th): its run and its
    `flowd extract` see the same cells in the same frames."""
    return ["--mixture", f"{name}=1", "--seed", str(size.seed + 100 + index)]


def finetune_recipe(size: LoopSize) -> list[str]:
    """`topgan finetune`'s options for the loop's recipe, the same on both sides. (--no-cv: the
    cross-validated estimate trains the recipe 5 more times and changes nothing in the model;
    the mixed run is the test.)"""
    recipe = ["--recipe", "cnn", "--shots", str(size.shots), "--epochs", str(size.epochs), "--seed", str(size.seed),
              "--mode", size.mode, "--no-cv"]
    return recipe + (["--pretrained", str(REPO / size.pretrained)] if size.pretrained else [])


def topgan(*args: str) -> str:
    """Runs the `topgan` CLI of this repository; its output."""
    env = hermetic_env({"PYTHONPATH": str(REPO / "training")})
    result = subprocess.run([sys.executable, "-m", "topgan.cli", "--quiet", *args], capture_output=True, text=True,
                            env=env, timeout=3600)
    if result.returncode != 0:
        raise AssertionError(f"topgan {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def simulate(flowd_bin: Path, d: Flowd, frames: int, twin: list[str], out: Path, rate: float,
             wait: bool = True) -> subprocess.Popen:
    """The twin (`TWIN` + `twin`: mixture and seed) as a PUSH camera into `d`, its truth written to `out`."""
    command = [str(flowd_bin), "simulate", *TWIN, *twin, "--frames", str(frames),
               "--publish", tcp(d.ports[0]), "--rate", str(rate), "--out", str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if wait:
        _, err = proc.communicate(timeout=3600)
        assert proc.returncode == 0, err
    return proc


def control(flowd_bin: Path, d: Flowd, *args: str) -> dict:
    result = subprocess.run([str(flowd_bin), "control", "--connect", d.endpoint, *args], capture_output=True,
                            text=True, timeout=120)
    reply = json.loads(result.stdout)
    assert result.returncode == 0 and reply["ok"], (args, result.stdout, result.stderr)
    return reply


def true_cells(rtdc: Path, truth_folder: Path) -> list[dict | None]:
    """The true cell (truth.jsonl's entry) under each event of a recorded run, None where none is."""
    frames, _ = load_truth(truth_folder)
    with dclab.new_dataset(rtdc) as ds:
        pixel = ds.config["qpi"]["pixel size raw"]
        return [true_cell(frames, int(frame), x / pixel, y / pixel)
                for frame, x, y in zip(ds["frame"], ds["pos_x"], ds["pos_y"])]


def truth_labels(rtdc: Path, truth_folder: Path) -> np.ndarray:
    """The true class index of each event of a recorded run (-1: no true cell under it)."""
    return np.array([CLASSES.index(c["class"]) if c and c["class"] in CLASSES else -1
                     for c in true_cells(rtdc, truth_folder)])


def balanced_accuracy(truth: np.ndarray, predicted: np.ndarray) -> float:
    known = truth >= 0
    recalls = [float((predicted[known & (truth == c)] == c).mean()) for c in range(len(CLASSES))
               if (known & (truth == c)).any()]
    return float(np.mean(recalls))


def offline_predictions(checkpoint: Path, rtdc: Path) -> np.ndarray:
    """A classifier's class per event of a run, from its recorded crops (qpi_pha → OPD)."""
    sys.path.insert(0, str(REPO / "training"))
    from topgan.finetune import load_classifier, predict
    model, ckpt = load_classifier(str(checkpoint))
    return predict(model, recorded_opd(rtdc), ckpt["opd_scale_nm"]).argmax(1)


def live_daemon(flowd_bin: Path, work: Path, name: str) -> Flowd:
    """A `flowd run` with the default model, a PULL input and a control socket, recording into
    the loop's one record directory."""
    d = Flowd(flowd_bin, work / name, inputs=["pull+bind:tcp://127.0.0.1:{port0}"],
              args=["--set", "control.endpoint=tcp://127.0.0.1:{port1}"],
              settings={"model.path": "", "record.dir": str(work / "runs"), **DAEMON})
    d.workdir.mkdir(parents=True, exist_ok=True)
    d.start()
    d.endpoint = tcp(d.ports[1])
    return d


def paired(run_cells: list[dict | None], extracted: dict[str, np.ndarray], name: str) -> tuple[list[int], list[int]]:
    """(events of a run, cells of its `flowd extract` file) that are the same true cells of
    class `name`, in the run's order; `run_cells` are the run's `true_cells`."""
    position = {int(t): k for k, t in enumerate(extracted["truth_id"]) if extracted["truth_class"][k] == name}
    events = [k for k, c in enumerate(run_cells) if c and c["id"] in position]
    return events, [position[run_cells[k]["id"]] for k in events]


def recorded_opd(rtdc: Path) -> np.ndarray:
    """A run's recorded crops as OPD, nm (qpi_pha · λ/2π)."""
    with dclab.new_dataset(rtdc) as ds:
        return np.asarray(ds["qpi_pha"][:], np.float32) * np.float32(ds.config["qpi"]["wavelength"] / (2 * np.pi))


def extract_like(flowd_bin: Path, work: Path, size: LoopSize, pure: dict[str, Path]) -> tuple[Path, dict]:
    """The same cells as the runs' dataset, as `flowd extract` crops them: each pure culture's
    twin stream through `flowd extract --simulate` (labelled from its truth, into
    `extract-<class>.npz`), its cells in the order of the run's events by true cell, then those
    the run did not record, as many as the run has. Returns the dataset file and how well the
    pairing held: cells paired, cells per class, and the paired crops' mean |ΔOPD| (nm) and
    mean OPD of each side."""
    parts, pairs, differences, means = [], 0, [], []
    for index, name in enumerate(CLASSES):
        extracted = work / f"extract-{name}.npz"
        subprocess.run([str(flowd_bin), "extract", "--simulate", str(size.frames_per_class), *TWIN,
                        *pure_twin(size, index, name), "--out", str(extracted)], check=True, capture_output=True,
                       timeout=3600)
        with np.load(extracted) as archive:
            arrays = dict(archive)
        run_cells = true_cells(pure[name], work / f"truth-{name}")
        events, order = paired(run_cells, arrays, name)
        recorded = recorded_opd(pure[name])[events]
        differences.append(np.abs(recorded - arrays["opd"][order]).mean(axis=(1, 2)))
        means.append((recorded.mean(), arrays["opd"][order].mean()))
        pairs += len(order)
        taken = set(order)
        order += [k for k, c in enumerate(arrays["truth_class"]) if c == name and k not in taken]
        keep = np.array(order[:len(run_cells)], np.int64)
        n = len(arrays["truth_id"])
        parts.append({k: v[keep] for k, v in arrays.items() if getattr(v, "shape", ())[:1] == (n,)}
                     | {"label": np.full(len(keep), index, np.int64), "pixel_um": arrays["pixel_um"]})
    names = [k for k in parts[0] if k not in ("pixel_um", "truth_class")]
    dataset = {k: np.concatenate([p[k] for p in parts]) for k in names}
    dataset |= {"classes": np.array(CLASSES), "pixel_um": parts[0]["pixel_um"]}
    path = work / "extract.npz"
    np.savez_compressed(path, **dataset)
    return path, {"cells_paired": pairs,
                  "cells_per_class": [int((dataset["label"] == c).sum()) for c in range(len(CLASSES))],
                  "crop_mean_abs_difference_nm": float(np.concatenate(differences).mean()),
                  "crop_mean_opd_nm_runs_extract": [float(np.mean([m[i] for m in means])) for i in (0, 1)]}


def run_loop(flowd_bin: Path, work: Path, size: LoopSize) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    # 1. Three pure-culture runs, each named by its sample.
    pure = {}
    for i, name in enumerate(CLASSES):
        d = live_daemon(flowd_bin, work, f"daemon-{name}")
        try:
            run = control(flowd_bin, d, "new-run", "--sample", f"{name} pure culture")
            simulate(flowd_bin, d, size.frames_per_class, pure_twin(size, i, name), work / f"truth-{name}", size.rate)
            d.wait_accounted({"twin": size.frames_per_class}, timeout=600)
            assert d.stop()[2] == 0, d.stderr()
        finally:
            d.close()
        pure[name] = Path(run["rtdc_path"])

    # 2. Dataset, fine-tuning, export; and the same recipe on `flowd extract` crops of the same
    # cells.
    dataset = work / "runs.npz"
    topgan("dataset", *sum((["--class", f"{n}={p}"] for n, p in pure.items()), []), "--out", str(dataset))
    with np.load(dataset) as arrays:
        per_class = [int((arrays["label"] == c).sum()) for c in range(len(CLASSES))]
    recipe = finetune_recipe(size)
    topgan("finetune", "--data", str(dataset), "--out", str(work / "runs.pt"), *recipe)
    model = work / "runs.safetensors"
    topgan("export", str(work / "runs.pt"), "--out", str(model))
    extracted, pairing = extract_like(flowd_bin, work, size, pure)
    topgan("finetune", "--data", str(extracted), "--out", str(work / "extract.pt"), *recipe)

    # 3. The mixed sample streams; the new model is swapped in while it does.
    d = live_daemon(flowd_bin, work, "daemon-mixed")
    try:
        mixed = control(flowd_bin, d, "new-run", "--sample", "mixed sample")
        camera_proc = simulate(flowd_bin, d, size.mixed_frames,
                               ["--mixture", "healthy=1,primary_cancer=1,metastatic_cancer=1", "--seed",
                                str(size.seed + 300)], work / "truth-mixed", size.rate, wait=False)
        d.wait_counts(lambda c: c["cells"]["total"] >= 5, timeout=600, what="the mixed run's first cells")
        swap = control(flowd_bin, d, "reload-model", "--path", str(model))
        _, err = camera_proc.communicate(timeout=3600)
        assert camera_proc.returncode == 0, err
        counts = d.wait_accounted({"twin": size.mixed_frames}, timeout=600)
        final, _, rc = d.stop()
        assert rc == 0, d.stderr()
    finally:
        d.close()

    # 4. The score.
    frames = camera(final or counts, "twin")
    rtdc = Path(mixed["rtdc_path"])
    run_json = json.loads((rtdc.parent / "run.json").read_text())
    truth = truth_labels(rtdc, work / "truth-mixed")
    swap_change = next(c for c in run_json["changes"] if c["key"] == "model.path")
    after = slice(swap_change["cells_before"], None)
    with dclab.new_dataset(rtdc) as ds:
        # The daemon's fused probabilities (up to classify.max_views views per cell) and its
        # label (index into run.json's classes: the model's, then unknown, unclassified).
        live_scores = np.stack([ds[f"ml_score_{i}"] for i in ("hea", "pri", "met")], axis=1)[after]
        live_labels = np.asarray(ds[f"userdef{run_json['rtdc_userdef'].index('class')}"], int)[after]
    runs_accuracy = balanced_accuracy(truth, offline_predictions(work / "runs.pt", rtdc))
    extract_accuracy = balanced_accuracy(truth, offline_predictions(work / "extract.pt", rtdc))
    return {
        "size": asdict(size),
        "cells_per_class_in_training_set": dict(zip(CLASSES, per_class)),
        "extract_cells_per_class": dict(zip(CLASSES, pairing["cells_per_class"])),
        "cells_paired": pairing["cells_paired"],
        "crop_mean_abs_difference_nm": pairing["crop_mean_abs_difference_nm"],
        "crop_mean_opd_nm_runs_extract": pairing["crop_mean_opd_nm_runs_extract"],
        "mixed_cells": int(len(truth)), "mixed_cells_matched_to_truth": int((truth >= 0).sum()),
        "balanced_accuracy_runs_model": runs_accuracy,
        "balanced_accuracy_extract_model": extract_accuracy,
        "difference_points": round(100 * (runs_accuracy - extract_accuracy), 2),
        "balanced_accuracy_live_after_swap": balanced_accuracy(truth[after], live_scores.argmax(1)),
        "unknown_after_swap": int((live_labels == len(CLASSES)).sum()),
        "cells_after_swap": int(len(live_labels)),
        "frames_sent": size.mixed_frames, "frames_received": frames["received"], "frames_dropped": frames["dropped"],
        "frames_rejected": sum(frames.get("rejected_by_reason", {}).values()),
        "model_at_start_sha256": run_json["model"]["sha256"],
        "model_swapped_in_sha256": swap_change["model"]["sha256"],
        "swap_at": swap_change["at"], "swap_since_s": swap_change["since_s"],
        "swap_reply_sha256": swap["model_sha256"],
        "new_model_file_sha256": hashlib.sha256(model.read_bytes()).hexdigest(),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--flowd", default=os.environ.get("FLOWD_BIN", str(REPO / ".build/release/flowd")))
    p.add_argument("--work", required=True, help="folder for the runs, datasets and models")
    for field, default in asdict(LoopSize()).items():
        p.add_argument("--" + field.replace("_", "-"), type=type(default), default=default)
    args = p.parse_args()
    size = LoopSize(**{f: getattr(args, f) for f in asdict(LoopSize())})
    started = time.monotonic()
    report = run_loop(Path(args.flowd), Path(args.work), size)
    report["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

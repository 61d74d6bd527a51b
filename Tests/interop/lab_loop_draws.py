"""Two measurements on a finished loop's folder (`scripts/lab-loop --work DIR`), for
docs/workflow.md ("Why the first measurement missed"):

1. each pure culture's recorded crops (cells.rtdc) against `flowd extract`'s crops of the same
   true cells: mean OPD, dry mass, area, and the background the reference leaves at the crop
   border (its mean and each crop's spread), nm;
2. the loop's recipe on other draws (`--seeds`) of both sides' cells, each scored on the mixed
   run: how far the balanced accuracy moves with which cells were drawn, against how far the
   two sides differ for the same draw.

Usage: .venv/bin/python Tests/interop/lab_loop_draws.py --work DIR --seeds 1,2,3
       [--shots 25] [--epochs 24] [--pretrained training/pretrained/sperm-gan.pt | --pretrained ""] [--mode probe]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import dclab
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lab_loop import (CLASSES, LoopSize, balanced_accuracy, finetune_recipe, offline_predictions, paired,  # noqa: E402
                      recorded_opd, topgan, true_cells, truth_labels)

BORDER_PX = 4


def runs_by_sample(work: Path) -> dict[str, Path]:
    """The loop's runs' cells.rtdc by sample name (run.json's `sample`)."""
    runs = {}
    for meta in (work / "runs").glob("*/run.json"):
        runs[json.loads(meta.read_text()).get("sample", "")] = meta.parent / "cells.rtdc"
    return runs


def border(opd: np.ndarray) -> np.ndarray:
    """The outer `BORDER_PX` pixels of each crop, [N, pixels]."""
    keep = np.ones(opd.shape[1:], bool)
    keep[BORDER_PX:-BORDER_PX, BORDER_PX:-BORDER_PX] = False
    return opd[:, keep]


def compare_crops(work: Path, runs: dict[str, Path]) -> None:
    print("class: paired cells | mean OPD nm | dry mass pg | area µm² | border mean nm | border sd nm "
          "(recorded / extract) | mean |ΔOPD| nm")
    for name in CLASSES:
        rtdc = runs[f"{name} pure culture"]
        with np.load(work / f"extract-{name}.npz") as archive:
            extracted = dict(archive)
        events, cells = paired(true_cells(rtdc, work / f"truth-{name}"), extracted, name)
        recorded, cut = recorded_opd(rtdc)[events], extracted["opd"][cells]
        with dclab.new_dataset(rtdc) as ds:
            mass, area = np.asarray(ds["qpi_dm"])[events], np.asarray(ds["area_um"])[events]
        rows = [(recorded.mean(), cut.mean()), (mass.mean(), extracted["dry_mass_pg"][cells].mean()),
                (area.mean(), extracted["area_um2"][cells].mean()), (border(recorded).mean(), border(cut).mean()),
                (border(recorded).std(1).mean(), border(cut).std(1).mean())]
        print(f"{name}: {len(events)} | " + " | ".join(f"{a:.2f} / {b:.2f}" for a, b in rows)
              + f" | {np.abs(recorded - cut).mean():.2f}")


def compare_draws(work: Path, runs: dict[str, Path], seeds: list[int], size: LoopSize) -> None:
    mixed = runs["mixed sample"]
    truth = truth_labels(mixed, work / "truth-mixed")
    differences = []
    for seed in seeds:
        recipe = finetune_recipe(LoopSize(shots=size.shots, epochs=size.epochs, seed=seed, pretrained=size.pretrained,
                                          mode=size.mode))
        scores = []
        for side in ("runs", "extract"):
            checkpoint = work / f"draw-{seed}-{side}.pt"
            topgan("finetune", "--data", str(work / f"{side}.npz"), "--out", str(checkpoint), *recipe)
            scores.append(100 * balanced_accuracy(truth, offline_predictions(checkpoint, mixed)))
        differences.append(scores[0] - scores[1])
        print(f"seed {seed}: runs {scores[0]:.1f} %, extract {scores[1]:.1f} %, difference {differences[-1]:+.1f} points",
              flush=True)
    print(f"difference over {len(seeds)} draws: mean {np.mean(differences):+.2f}, "
          f"sd {np.std(differences, ddof=1) if len(seeds) > 1 else float('nan'):.2f} points")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", required=True, type=Path, help="a finished loop's --work folder")
    p.add_argument("--seeds", default="", help="draws to train on both sides, e.g. 1,2,3 (none: crops only)")
    defaults = LoopSize()
    p.add_argument("--shots", type=int, default=defaults.shots)
    p.add_argument("--epochs", type=int, default=defaults.epochs)
    p.add_argument("--pretrained", default=defaults.pretrained, help='the GAN, relative to the repository; "": from scratch')
    p.add_argument("--mode", default=defaults.mode, help="topgan finetune --mode (full, probe)")
    args = p.parse_args()
    runs = runs_by_sample(args.work)
    compare_crops(args.work, runs)
    if args.seeds:
        size = LoopSize(shots=args.shots, epochs=args.epochs, pretrained=args.pretrained, mode=args.mode)
        compare_draws(args.work, runs, [int(s) for s in args.seeds.split(",")], size)
    return 0


if __name__ == "__main__":
    sys.exit(main())

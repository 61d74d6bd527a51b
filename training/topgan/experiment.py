"""The paper's claim, tested on the digital twin: does GAN pretraining on unlabelled sperm cells
help a classifier learn from a few labelled cells?

Rubin et al. (2019) report 90-99 % accuracy from small training sets and better results than
classic small-data methods. Here, on one fixed labelled dataset and one fixed sperm dataset from
the twin (parameters frozen before any training and recorded with the results):

- a balanced test set (``test_per_class`` cells per class) is held out once, by a fixed seed;
- for every N labelled cells per class and every seed, the training cells are drawn from the rest
  (:func:`topgan.data.sample_shots`, nested in N) and every method trains on exactly those cells:
  ``topgan`` (discriminator of a GAN pretrained on sperm, fine-tuned), ``scratch`` (the same
  network from its random initialisation), ``features`` (handcrafted QPI features + logistic
  regression) and ``target-gan`` (a GAN pretrained on unlabelled cells of the target classes --
  the rest of the labelled file with its labels ignored -- as a reference point for how much a
  closer unlabelled population would give);
- the metric is balanced accuracy (mean recall over classes) on the test set, reported as mean
  +- sd over seeds, with confusion matrices.

Every (method, N, seed) result is cached as JSON in ``<out>/runs/``, and the GANs as checkpoints,
so an interrupted run resumes where it stopped and a larger grid reuses what a smaller one did.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score, confusion_matrix
from tqdm import tqdm

from .data import CellDataset, DataError, balanced_split, sample_shots
from .features import feature_matrix, fit_logistic
from .finetune import FinetuneConfig, finetune, predict
from .pretrain import PretrainConfig, pretrain

METHODS = ("topgan", "scratch", "features", "target-gan")
LABELS = {"topgan": "TOP-GAN (GAN on sperm)", "scratch": "same CNN from scratch",
          "features": "QPI features + logistic regression", "target-gan": "GAN on unlabelled target cells (reference)"}
TEST_SEED = 20261127


@dataclass
class ExperimentConfig:
    shots: list[int] = field(default_factory=lambda: [1, 2, 5, 10, 25, 50])
    seeds: int = 5
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    test_per_class: int = 200
    gan: PretrainConfig = field(default_factory=PretrainConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)


def run_one(method: str, shots: int, seed: int, labelled: CellDataset, pool: np.ndarray, test: np.ndarray,
            features: np.ndarray | None, gans: dict[str, Path], cfg: ExperimentConfig) -> dict:
    """One (method, N, seed) cell of the grid: train on N cells per class, score on the test set."""
    k = len(labelled.classes)
    train = pool[sample_shots(labelled.label[pool], k, shots, seed)]
    t0 = time.time()
    if method == "features":
        clf = fit_logistic(features[train], labelled.label[train], seed)
        pred = clf.predict(features[test])
    else:
        ft = FinetuneConfig(**{**asdict(cfg.finetune), "seed": seed})
        pretrained = {"topgan": gans.get("sperm"), "target-gan": gans.get("target"), "scratch": None}[method]
        model, ckpt = finetune(labelled, train, ft, pretrained, progress=False)
        pred = predict(model, labelled.opd[test], ckpt["opd_scale_nm"]).argmax(1)
    truth = labelled.label[test]
    return {"method": method, "shots": shots, "seed": seed, "train_cells": len(train),
            "balanced_accuracy": float(balanced_accuracy_score(truth, pred)),
            "confusion": confusion_matrix(truth, pred, labels=list(range(k))).tolist(),
            "seconds": round(time.time() - t0, 2)}


def run(labelled: CellDataset, sperm: CellDataset | None, out: Path, cfg: ExperimentConfig,
        records: dict | None = None, progress: bool = True) -> list[dict]:
    """Runs (or resumes) the grid; writes ``results.md``, ``accuracy.png``, ``confusion.png`` and
    ``results.json``; returns every finished run."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "runs").mkdir(exist_ok=True)
    k = len(labelled.classes)
    counts = [int((labelled.label == c).sum()) for c in range(k)]
    need = cfg.test_per_class + max(cfg.shots)
    if min(counts) < need:
        raise DataError(f"{labelled.path}: the experiment needs {cfg.test_per_class} test + {max(cfg.shots)} "
                        f"training cells per class; the classes have {counts}")
    test, pool = balanced_split(labelled.label, k, cfg.test_per_class, TEST_SEED)
    pool = pool[labelled.label[pool] >= 0]
    gans: dict[str, Path] = {}
    gan_info: dict[str, dict] = {}

    def describe(ckpt: dict) -> dict:  # what a GAN actually trained on (a reused checkpoint may differ from cfg)
        return {"epochs": ckpt["epoch"], "cells": ckpt["cells"], "data": ckpt["data"], "config": ckpt["config"],
                "steps": len(ckpt["history"]["loss_D"])}

    if "topgan" in cfg.methods:
        if sperm is None:
            raise DataError("method topgan needs --sperm (the unlabelled pretraining population)")
        gans["sperm"] = out / "gan-sperm.pt"
        gan_info["sperm"] = describe(pretrain(sperm, gans["sperm"], cfg.gan, resume=True, progress=progress))
    if "target-gan" in cfg.methods:
        gans["target"] = out / "gan-target.pt"
        gan_info["target"] = describe(pretrain(labelled.subset(pool), gans["target"], cfg.gan, resume=True,
                                               progress=progress))
    features = feature_matrix(labelled) if "features" in cfg.methods else None

    # Seeds outermost: an interrupted run has every N and method for its first seeds.
    grid = [(n, s, m) for s in range(cfg.seeds) for n in cfg.shots for m in cfg.methods]
    results = []
    for n, s, m in tqdm(grid, desc="experiment", disable=not progress):
        path = out / "runs" / f"{m}-N{n}-seed{s}.json"
        if path.exists():
            results.append(json.loads(path.read_text()))
            continue
        r = run_one(m, n, s, labelled, pool, test, features, gans, cfg)
        path.write_text(json.dumps(r))
        results.append(r)
        if progress:
            tqdm.write(f"{m:>10} N={n:<3} seed {s}: balanced accuracy {r['balanced_accuracy']:.3f} ({r['seconds']} s)")
    summary = {"config": asdict(cfg), "classes": labelled.classes, "class_counts": counts,
               "test_cells": len(test), "pool_cells": len(pool), "labelled_data": labelled.path,
               "sperm_data": sperm.path if sperm else None, "sperm_cells": len(sperm) if sperm else 0,
               "gans": gan_info, "records": records or {}, "runs": results}
    (out / "results.json").write_text(json.dumps(summary, indent=1))
    report(summary, out)
    return results


def table(runs: list[dict], methods: list[str], shots: list[int]) -> str:
    """Markdown: one row per method, one column per N, mean +- sd (number of seeds)."""
    lines = ["| method | " + " | ".join(f"N = {n}" for n in shots) + " |",
             "|---|" + "---|" * len(shots)]
    for m in methods:
        cells = []
        for n in shots:
            acc = [r["balanced_accuracy"] for r in runs if r["method"] == m and r["shots"] == n]
            cells.append(f"{100 * np.mean(acc):.1f} ± {100 * np.std(acc, ddof=1) if len(acc) > 1 else 0:.1f} ({len(acc)})"
                         if acc else "—")
        lines.append(f"| {LABELS.get(m, m)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(summary: dict, out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    runs, cfg = summary["runs"], summary["config"]
    methods, shots = cfg["methods"], cfg["shots"]
    md = ["# TOP-GAN small-training-set experiment", "",
          f"Balanced accuracy (%) on {summary['test_cells']} held-out twin cells "
          f"({cfg['test_per_class']} per class, chance {100 / len(summary['classes']):.1f} %), "
          "mean ± sd over seeds (number of seeds in brackets); N = labelled cells per class.", "",
          table(runs, methods, shots), "",
          f"Classes: {', '.join(summary['classes'])}. Labelled file: {summary['labelled_data']} "
          f"(class counts {summary['class_counts']}); sperm file: {summary['sperm_data']} ({summary['sperm_cells']} cells).", "",
          "Configuration:", "", "```json", json.dumps({k: cfg[k] for k in ("gan", "finetune", "test_per_class", "seeds")}, indent=1),
          "```", "", "GANs as trained (epochs, cells, steps):", "", "```json", json.dumps(summary.get("gans", {}), indent=1),
          "```", "", "Twin and data provenance:", "", "```json", json.dumps(summary["records"], indent=1), "```"]
    (out / "results.md").write_text("\n".join(md) + "\n")

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for m in methods:
        xs, mu, sd = [], [], []
        for n in shots:
            acc = [r["balanced_accuracy"] for r in runs if r["method"] == m and r["shots"] == n]
            if acc:
                xs.append(n); mu.append(100 * np.mean(acc)); sd.append(100 * np.std(acc))
        if xs:
            ax.errorbar(xs, mu, yerr=sd, marker="o", capsize=3, label=LABELS.get(m, m))
    ax.axhline(100 / len(summary["classes"]), color="gray", ls=":", label="chance")
    ax.set_xscale("log"); ax.set_xticks(shots); ax.set_xticklabels([str(n) for n in shots])
    ax.set_xlabel("labelled cells per class (N)"); ax.set_ylabel("balanced accuracy, %")
    ax.legend(fontsize=7); ax.grid(alpha=0.3); fig.tight_layout(); fig.savefig(out / "accuracy.png", dpi=100)
    plt.close(fig)

    # Confusion matrices summed over seeds, rows normalised: methods x N.
    fig, axes = plt.subplots(len(methods), len(shots), figsize=(1.6 * len(shots), 1.6 * len(methods)), squeeze=False)
    short = [c[:4] for c in summary["classes"]]
    for i, m in enumerate(methods):
        for j, n in enumerate(shots):
            ax = axes[i][j]
            cms = [np.array(r["confusion"]) for r in runs if r["method"] == m and r["shots"] == n]
            ax.set_xticks([]); ax.set_yticks([])
            if cms:
                cm = sum(cms).astype(float)
                cm /= cm.sum(1, keepdims=True).clip(min=1)
                ax.imshow(cm, vmin=0, vmax=1, cmap="Blues")
                for a in range(len(cm)):
                    for b in range(len(cm)):
                        ax.text(b, a, f"{cm[a, b]:.2f}", ha="center", va="center", fontsize=6)
            if i == 0:
                ax.set_title(f"N = {n}", fontsize=8)
            if j == 0:
                ax.set_ylabel(m, fontsize=7)
                ax.set_yticks(range(len(short))); ax.set_yticklabels(short, fontsize=6)
            if i == len(methods) - 1:
                ax.set_xticks(range(len(short))); ax.set_xticklabels(short, fontsize=6)
    fig.suptitle("confusion (rows: true class, columns: predicted; summed over seeds)", fontsize=8)
    fig.tight_layout(); fig.savefig(out / "confusion.png", dpi=100); plt.close(fig)

"""The paper's claim, tested on the digital twin: does GAN pretraining on unlabelled sperm cells
help a classifier learn from a few labelled cells -- and what does help?

Rubin et al. (2019) report 90-99 % accuracy from small training sets and better results than
classic small-data methods. The experiment, made to be fair:

- **two twin files**: a *validation* file, on which every method's hyper-parameters are chosen
  once for all N (the grid of :data:`TUNING`, scored by mean balanced accuracy over N and seeds,
  with never more labels than the N being scored), and a *test* file, which is touched only with
  the chosen values;
- in each file a balanced test set is held out by a fixed seed; for every N labelled cells per
  class and every seed the training cells are drawn from the rest (:func:`topgan.data.sample_shots`,
  nested in N), and every method trains on exactly those cells; the rest of the pool, labels
  ignored, is the rig's *unlabelled* population (a run produces it for free);
- the metric is balanced accuracy on the test set; every comparison is a paired bootstrap 95 %
  interval (:func:`bootstrap_mean`) that resamples both the seeds and the test cells.

Methods (:data:`METHODS`): the classic baselines (QPI features + logistic regression / RBF SVM),
the from-scratch CNN, TOP-GAN as published (GAN trunk transferred, new linear head, every layer
fine-tuned), linear probes of frozen trunks (untrained, a GAN trained on noise, the sperm GAN, a
GAN on unlabelled target cells), the hybrid (sperm-GAN features + QPI features) and
self-training of the feature classifier on the unlabelled target cells.

Every (method, N, seed) result, predictions included, is cached as JSON in
``<out>/<phase>/runs/`` and every GAN as a checkpoint, so an interrupted run resumes where it
stopped and a larger grid reuses what a smaller one did.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import QuantileTransformer, StandardScaler
from sklearn.svm import SVC
from tqdm import tqdm

from .data import CellDataset, DataError, balanced_split, fit_opd_scale, sample_shots
from .features import crop_features, feature_matrix
from .finetune import FinetuneConfig, finetune, predict
from .pretrain import PretrainConfig, load_discriminator, pretrain
from .probe import Standardiser, pooled_features
from .semisupervised import fit_semisupervised
from . import twinsupervised

TEST_SEED = 20261127
VIEWS = 8  # D4 views of each labelled cell for the trunk probes


@dataclass(frozen=True)
class Method:
    """``kind`` linear: ``inputs`` (``qpi``, ``qpi+``, ``crop`` -- :func:`topgan.features.crop_features`,
    what a version-2 model file computes --, ``trunk:<gan>``, ``twin`` -- the parameters the
    twin-supervised regressor ``--gan twin=PATH`` measures, :mod:`topgan.twinsupervised` -- and/or
    ``twin-pooled``, that regressor's pooled trunk features) standardised then ``classifier``;
    ``scaler`` ``labelled`` (the classic way, statistics of the N training cells), ``unlabelled``
    (statistics of the rig's unlabelled cells) or ``quantile`` (each feature mapped through its
    quantiles among the unlabelled cells to a standard normal); ``classifier`` ``lr``, ``svm`` or
    ``gmm`` (:mod:`topgan.semisupervised`); ``selftrain``: pseudo-labels on unlabelled cells.
    ``kind`` cnn: :func:`topgan.finetune.finetune` from ``gan`` (None = from scratch)."""
    label: str
    kind: str
    inputs: tuple[str, ...] = ()
    classifier: str = "lr"
    scaler: str = "unlabelled"
    selftrain: bool = False
    gan: str | None = None


METHODS: dict[str, Method] = {
    "features-lr": Method("QPI features + logistic regression (baseline)", "linear", ("qpi",), "lr", "labelled"),
    "features-svm": Method("QPI features + RBF SVM (baseline)", "linear", ("qpi",), "svm", "labelled"),
    "scratch": Method("CNN from scratch (tuned)", "cnn"),
    "topgan": Method("TOP-GAN as published (sperm GAN, fine-tuned)", "cnn", gan="sperm"),
    "probe-untrained": Method("untrained trunk, linear probe (control)", "linear", ("trunk:untrained",)),
    "probe-noise": Method("GAN trained on noise, linear probe (control)", "linear", ("trunk:noise",)),
    "probe-sperm": Method("sperm GAN, linear probe", "linear", ("trunk:sperm",)),
    "probe-target": Method("GAN on unlabelled target cells, linear probe", "linear", ("trunk:target",)),
    "features-lr-u": Method("QPI features + LR, standardised on unlabelled cells", "linear", ("qpi",)),
    "hybrid": Method("hybrid: sperm-GAN features + QPI features, LR", "linear", ("qpi", "trunk:sperm")),
    "features+-lr-u": Method("QPI + scale-texture features, LR, standardised on unlabelled cells", "linear",
                             ("qpi+",)),
    "features+-selftrain": Method("QPI + scale-texture features, LR, self-trained on unlabelled cells", "linear",
                                  ("qpi+",), selftrain=True),
    "hybrid+": Method("hybrid: sperm-GAN features + QPI + scale-texture features, LR", "linear",
                      ("qpi+", "trunk:sperm")),
    "features-selftrain": Method("QPI features + LR, self-trained on unlabelled cells", "linear", ("qpi",),
                                 selftrain=True),
    "hybrid-selftrain": Method("hybrid, self-trained on unlabelled cells", "linear", ("qpi", "trunk:sperm"),
                               selftrain=True),
    "features-crop": Method("crop features + LR, standardised on unlabelled cells (the default recipe)", "linear",
                            ("crop",)),
    "features-gmm": Method("QPI features, Gaussian mixture fitted by EM with the unlabelled cells", "linear",
                           ("qpi",), "gmm", "quantile"),
    "twin-lr": Method("twin-supervised trunk: regressed phantom parameters + LR, standardised on unlabelled cells",
                      "linear", ("twin",)),
    "twin-pooled-lr": Method("twin-supervised trunk: pooled trunk features + LR, standardised on unlabelled cells",
                             "linear", ("twin-pooled",)),
    "twin+crop-lr": Method("regressed phantom parameters and crop features, LR, standardised on unlabelled cells "
                           "(diagnostic: no model file carries both)", "linear", ("crop", "twin")),
}

#: The hyper-parameters chosen on the validation file, per classifier kind.
TUNING = {
    "lr": [{"C": c} for c in (0.01, 0.1, 1.0, 10.0)],
    "svm": [{"C": c} for c in (0.3, 1.0, 10.0, 100.0)],
    "gmm": [{"ridge": r} for r in (0.01, 0.1, 1.0)],  # added to the shared covariance's diagonal
    "cnn": [{"epochs": e} for e in (8, 24)],  # epochs of 256 augmented views; lr 1e-3 (AdamW, cosine)
}


@dataclass
class ExperimentConfig:
    shots: list[int] = field(default_factory=lambda: [1, 2, 5, 10, 25, 50])
    seeds: int = 10
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    test_per_class: int = 200
    validation_shots: list[int] = field(default_factory=lambda: [2, 5, 10, 25])
    validation_seeds: int = 5
    validation_test_per_class: int = 100
    cnn_validation_shots: list[int] = field(default_factory=lambda: [10])
    cnn_validation_seeds: int = 2
    selftrain_rounds: int = 3
    selftrain_fraction: float = 0.2   # of the unlabelled cells added per round
    gan: PretrainConfig = field(default_factory=PretrainConfig)
    control_gan_steps: int = 320      # the noise and target-cell GANs (a smaller budget, reported)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)


class Split:
    """One twin file prepared for the grid: test and pool indices, QPI features and the frozen
    trunks' pooled features of every cell (computed once; the linear methods reuse them)."""

    def __init__(self, data: CellDataset, test_per_class: int, trunks: dict[str, Path], needed: set[str]):
        k = len(data.classes)
        self.data = data
        self.test, rest = balanced_split(data.label, k, test_per_class, TEST_SEED)
        self.pool = rest[data.label[rest] >= 0]
        self.unlabelled = rest            # labels never read: the rig's unlabelled cells
        self.inputs: dict[str, np.ndarray] = {}
        if "qpi" in needed:
            self.inputs["qpi"] = feature_matrix(data)[None].astype(np.float32)
        if "crop" in needed:
            self.inputs["crop"] = crop_features(data.opd, data.pixel_um)[None].astype(np.float32)
        if "qpi+" in needed:
            self.inputs["qpi+"] = feature_matrix(data, extended=True)[None].astype(np.float32)
        if needed & {"twin", "twin-pooled"}:
            if "twin" not in trunks:
                raise DataError("the twin-supervised methods need --gan twin=PATH (python -m topgan.twinsupervised)")
            model, ckpt = twinsupervised.load(trunks["twin"])
            if "twin" in needed:
                self.inputs["twin"] = twinsupervised.regress(model, ckpt, data.opd, VIEWS).astype(np.float32)
            if "twin-pooled" in needed:
                self.inputs["twin-pooled"] = pooled_features(model.features, data.opd, ckpt["opd_scale_nm"], VIEWS)
        scale = fit_opd_scale(data.opd)
        for name in sorted(n.split(":")[1] for n in needed if n.startswith("trunk:")):
            netD, _ = load_discriminator(trunks[name])
            self.inputs[f"trunk:{name}"] = pooled_features(netD.features, data.opd, scale, VIEWS)


def fit_linear(method: Method, split: Split, train: np.ndarray, params: dict, seed: int,
               cfg: ExperimentConfig) -> np.ndarray:
    """Predicted labels of the split's test cells for a linear method trained on ``train``."""
    y = split.data.label[train]
    blocks_train, blocks_test, blocks_unl = [], [], []
    for name in method.inputs:
        x = split.inputs[name]
        views = x.shape[0]
        if method.scaler == "quantile":
            z = QuantileTransformer(output_distribution="normal", n_quantiles=min(200, len(split.unlabelled)),
                                    random_state=0).fit(x[0][split.unlabelled]).transform
        else:
            z = Standardiser(x[0][split.unlabelled] if method.scaler == "unlabelled" else x[0][train])
        blocks_train.append(np.concatenate([z(x[v][train]) for v in range(views)]))
        blocks_test.append(z(x[0][split.test]))
        blocks_unl.append(z(x[0][split.unlabelled]))
    # Inputs with fewer views (QPI features are invariant to the symmetries) repeat their view.
    rows = max(len(b) for b in blocks_train)
    xtr = np.concatenate([np.tile(b, (rows // len(b), 1)) for b in blocks_train], 1)
    ytr = np.tile(y, rows // len(y))
    xte, xun = np.concatenate(blocks_test, 1), np.concatenate(blocks_unl, 1)

    if method.classifier == "gmm":
        return fit_semisupervised(xtr, ytr, xun, len(split.data.classes), params["ridge"]).predict(xte)

    def classifier():
        if method.classifier == "svm":
            return make_pipeline(StandardScaler(), SVC(C=params["C"], gamma="scale", random_state=seed))
        return LogisticRegression(C=params["C"], max_iter=3000, random_state=seed)

    clf = classifier().fit(xtr, ytr)
    if method.selftrain:
        # Self-training (Yarowsky 1995; Lee 2013's pseudo-labels): each round adds the unlabelled
        # cells the current classifier is surest of, the same share of every predicted class so
        # that one class cannot swallow the pool, and refits on labelled + pseudo-labelled cells.
        for r in range(1, cfg.selftrain_rounds + 1):
            p = clf.predict_proba(xun)
            guess, sure = p.argmax(1), p.max(1)
            take = []
            for c in np.unique(guess):
                members = np.flatnonzero(guess == c)
                keep = int(len(members) * min(1.0, cfg.selftrain_fraction * r))
                take.append(members[np.argsort(-sure[members])[:keep]])
            take = np.concatenate(take)
            clf = classifier().fit(np.concatenate([xtr, xun[take]]), np.concatenate([ytr, guess[take]]))
    return clf.predict(xte)


def fit_cnn(method: Method, split: Split, train: np.ndarray, params: dict, seed: int, gans: dict[str, Path],
            cfg: ExperimentConfig) -> np.ndarray:
    ft = replace(cfg.finetune, seed=seed, **params)
    model, ckpt = finetune(split.data, train, ft, gans[method.gan] if method.gan else None, progress=False)
    return predict(model, split.data.opd[split.test], ckpt["opd_scale_nm"]).argmax(1)


def run_one(name: str, params: dict, shots: int, seed: int, split: Split, gans: dict[str, Path],
            cfg: ExperimentConfig) -> dict:
    """One (method, hyper-parameters, N, seed) cell: train on N cells per class, score on the test set."""
    method = METHODS[name]
    k = len(split.data.classes)
    train = split.pool[sample_shots(split.data.label[split.pool], k, shots, seed)]
    t0 = time.process_time()
    if method.kind == "cnn":
        pred = fit_cnn(method, split, train, params, seed, gans, cfg)
    else:
        pred = fit_linear(method, split, train, params, seed, cfg)
    truth = split.data.label[split.test]
    return {"method": name, "params": params, "shots": shots, "seed": seed, "train_cells": len(train),
            "balanced_accuracy": float(balanced_accuracy_score(truth, pred)), "pred": pred.tolist(),
            "cpu_seconds": round(time.process_time() - t0, 2)}


def cached(path: Path, compute) -> dict:
    if path.exists():
        return json.loads(path.read_text())
    r = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(r))
    return r


def param_key(params: dict) -> str:
    return "-".join(f"{k}{v:g}" for k, v in sorted(params.items()))


def tune(split: Split, gans: dict[str, Path], cfg: ExperimentConfig, out: Path, progress: bool) -> dict[str, dict]:
    """Per method, the hyper-parameters with the best mean validation balanced accuracy over the
    validation N and seeds (CNNs: fewer N and seeds, they cost minutes per run)."""
    chosen, scores = {}, {}
    for name in cfg.methods:
        method = METHODS[name]
        grid = TUNING["cnn" if method.kind == "cnn" else method.classifier]
        shots = cfg.cnn_validation_shots if method.kind == "cnn" else cfg.validation_shots
        seeds = cfg.cnn_validation_seeds if method.kind == "cnn" else cfg.validation_seeds
        mean = {}
        for params in grid:
            acc = [cached(out / "runs" / f"{name}-{param_key(params)}-N{n}-seed{s}.json",
                          lambda: run_one(name, params, n, s, split, gans, cfg))["balanced_accuracy"]
                   for s in range(seeds) for n in shots]
            mean[param_key(params)] = float(np.mean(acc))
        best = max(grid, key=lambda p: mean[param_key(p)])
        chosen[name], scores[name] = best, mean
        if progress:
            tqdm.write(f"validation {name}: {mean} -> {best}")
    (out / "chosen.json").write_text(json.dumps({"chosen": chosen, "validation_scores": scores}, indent=1))
    return chosen


def train_gans(cfg: ExperimentConfig, needed: set[str], sperm: CellDataset | None, target: CellDataset,
               out: Path, gans: dict[str, Path], progress: bool) -> dict[str, dict]:
    """The GANs the methods need, trained (or resumed) with one configuration: the sperm GAN, a
    GAN on noise (control: images of uniform noise in the input range) and a GAN on the unlabelled
    target cells (both for about ``control_gan_steps`` steps); ``untrained`` is the DCGAN initialisation. A path given in ``gans``
    (e.g. the committed sperm GAN) is used as it is."""
    info = {}
    for name in sorted(needed):
        path = gans.get(name, out / f"gan-{name}.pt")
        if name not in gans:
            if name == "sperm" and sperm is None:
                raise DataError("the sperm-GAN methods need --sperm or --sperm-gan")
            source = {"sperm": sperm, "target": target, "untrained": target, "noise": noise_like(sperm or target)}[name]
            control = math.ceil(cfg.control_gan_steps / math.ceil(len(source) / cfg.gan.batch_size))
            gcfg = replace(cfg.gan, epochs={"sperm": cfg.gan.epochs, "untrained": 0}.get(name, control))
            if name == "noise":
                gcfg = replace(gcfg, opd_scale_nm=1.0)  # noise already spans [-1, 1]
            pretrain(source, path, gcfg, resume=True, progress=progress)
        gans[name] = path
        info[name] = trunk_info(path)
    return info


def trunk_info(path: Path) -> dict:
    """What the report says of a GAN or twin-supervised checkpoint: its data, cells and training."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if ckpt.get("kind") == twinsupervised.KIND:
        return {"path": str(path), "kind": ckpt["kind"], "epochs": len(ckpt["history"]), "cells": ckpt["cells"],
                "data": ckpt["data"], "opd_scale_nm": ckpt["opd_scale_nm"],
                "validation_r2": ckpt.get("validation_r2"), "train_seconds": ckpt.get("train_seconds")}
    return {"path": str(path), "epochs": ckpt["epoch"], "cells": ckpt["cells"], "data": ckpt["data"],
            "steps": len(ckpt["history"]["loss_D"]), "opd_scale_nm": ckpt["opd_scale_nm"]}


def noise_like(data: CellDataset) -> CellDataset:
    """As many crops of uniform noise in [-1, 1] as ``data`` has: the GAN-on-noise control."""
    rng = np.random.default_rng(7)
    opd = rng.uniform(-1, 1, data.opd.shape).astype(np.float32)
    return CellDataset(opd, np.full(len(opd), -1), data.classes, data.pixel_um, {}, "uniform noise")


def run(labelled: CellDataset, validation: CellDataset, sperm: CellDataset | None, out: Path,
        cfg: ExperimentConfig, records: dict | None = None, gans: dict[str, Path] | None = None,
        progress: bool = True, report_only: bool = False) -> dict:
    """Tunes on ``validation``, runs (or resumes) the test grid on ``labelled``; writes
    ``results.md``, ``accuracy.png`` and ``results.json``; returns the summary. With
    ``report_only`` nothing is trained: the report covers the cached runs (fewer seeds where a
    method was stopped early; the tables say how many)."""
    out.mkdir(parents=True, exist_ok=True)
    k = len(labelled.classes)
    if validation.classes != labelled.classes:
        raise DataError(f"the validation file's classes {validation.classes} differ from {labelled.classes}")
    for data, per_class, shots in ((labelled, cfg.test_per_class, cfg.shots),
                                   (validation, cfg.validation_test_per_class, cfg.validation_shots)):
        counts = [int((data.label == c).sum()) for c in range(k)]
        if min(counts) < per_class + max(shots):
            raise DataError(f"{data.path}: needs {per_class} test + {max(shots)} training cells per class; "
                            f"the classes have {counts}")
    unknown = set(cfg.methods) - set(METHODS)
    if unknown:
        raise DataError(f"unknown method(s) {sorted(unknown)}; choose from {', '.join(METHODS)}")
    methods = [METHODS[m] for m in cfg.methods]
    needed_inputs = {i for m in methods for i in m.inputs}
    needed_gans = {i.split(":")[1] for i in needed_inputs if i.startswith("trunk:")} | {m.gan for m in methods if m.gan}
    gans = dict(gans or {})
    test_split_pool = np.setdiff1d(np.arange(len(labelled)), balanced_split(labelled.label, k, cfg.test_per_class,
                                                                             TEST_SEED)[0])
    if report_only:
        return report_cached(labelled, validation, sperm, out, cfg, records or {}, gans)
    gan_info = train_gans(cfg, needed_gans, sperm, labelled.subset(test_split_pool), out, gans, progress)
    if "twin" in gans:
        gan_info["twin"] = trunk_info(gans["twin"])

    val = Split(validation, cfg.validation_test_per_class, gans, needed_inputs)
    chosen = tune(val, gans, cfg, out / "validation", progress)
    test = Split(labelled, cfg.test_per_class, gans, needed_inputs)
    grid = [(n, s, m) for s in range(cfg.seeds) for n in cfg.shots for m in cfg.methods]
    runs = []
    for n, s, m in tqdm(grid, desc="experiment", disable=not progress):
        path = out / "test" / "runs" / f"{m}-{param_key(chosen[m])}-N{n}-seed{s}.json"
        fresh = not path.exists()
        r = cached(path, lambda: run_one(m, chosen[m], n, s, test, gans, cfg))
        runs.append(r)
        if progress and fresh:
            tqdm.write(f"{m:>18} N={n:<3} seed {s}: {r['balanced_accuracy']:.3f} ({r['cpu_seconds']} s CPU)")
    return summarise(labelled, validation, sperm, out, cfg, records or {}, chosen, gan_info, runs)


def summarise(labelled: CellDataset, validation: CellDataset, sperm: CellDataset | None, out: Path,
              cfg: ExperimentConfig, records: dict, chosen: dict, gan_info: dict, runs: list[dict]) -> dict:
    test, rest = balanced_split(labelled.label, len(labelled.classes), cfg.test_per_class, TEST_SEED)
    summary = {"config": asdict(cfg), "chosen": chosen, "classes": labelled.classes,
               "test_cells": len(test), "unlabelled_cells": len(rest), "labelled_data": labelled.path,
               "validation_data": validation.path, "sperm_data": sperm.path if sperm else None,
               "gans": gan_info, "records": records, "truth": labelled.label[test].tolist(), "runs": runs}
    (out / "results.json").write_text(json.dumps(summary))
    report(summary, out)
    return summary


def report_cached(labelled: CellDataset, validation: CellDataset, sperm: CellDataset | None, out: Path,
                  cfg: ExperimentConfig, records: dict, gans: dict[str, Path]) -> dict:
    """The report of every cached test run of ``cfg.methods`` (one hyper-parameter setting per
    method: the validation choice recorded with the runs), without training anything."""
    runs, chosen = [], {}
    for name in cfg.methods:
        for path in sorted((out / "test" / "runs").glob(f"{name}-*-N*-seed*.json")):
            r = json.loads(path.read_text())
            if r["method"] == name and r["shots"] in cfg.shots and r["seed"] < cfg.seeds:
                runs.append(r)
                chosen[name] = r["params"]
    gan_info = {name: trunk_info(path) for name, path in gans.items()}
    return summarise(labelled, validation, sperm, out, cfg, records, chosen, gan_info, runs)


def bootstrap_mean(truth: np.ndarray, score: np.ndarray, resamples: int = 2000,
                   seed: int = 0) -> tuple[float, float, float]:
    """Mean over seeds of the balanced (per-class averaged) mean of ``score`` [S, cells], with a
    95 % bootstrap interval: each resample draws the seeds (rows) with replacement and the test
    cells with replacement within each class. ``score`` = correct (0/1) gives balanced accuracy;
    correct(a) - correct(b) on the same rows (same seeds, same training cells) gives the paired
    difference of two methods, both resampled with the same draw."""
    rng = np.random.default_rng(seed)
    by_class = [np.flatnonzero(truth == c) for c in np.unique(truth)]
    s = len(score)
    rows = rng.integers(0, s, (resamples, s))                       # [B, S] the seeds drawn
    stats = np.zeros(resamples)
    for ix in by_class:
        cells = ix[rng.integers(0, len(ix), (resamples, len(ix)))]  # [B, n_c] the cells drawn
        per_seed = score[:, cells].mean(2)                           # [S, B]
        stats += np.take_along_axis(per_seed.T, rows, 1).mean(1) / len(by_class)
    point = float(np.mean([score[:, ix].mean() for ix in by_class]))
    lo, hi = np.quantile(stats, [0.025, 0.975])
    return point, float(lo), float(hi)


def predictions(runs: list[dict], method: str, shots: int, seeds: set[int] | None = None) -> dict[int, list[int]]:
    """Seed -> predicted test labels of ``method`` at N = ``shots`` (only ``seeds`` if given)."""
    return {r["seed"]: r["pred"] for r in runs
            if r["method"] == method and r["shots"] == shots and (seeds is None or r["seed"] in seeds)}


def table(summary: dict) -> str:
    """Markdown: one row per method, one column per N, mean balanced accuracy with its bootstrap
    95 % interval (seeds and test cells resampled)."""
    runs, shots, truth = summary["runs"], summary["config"]["shots"], np.array(summary["truth"])
    lines = ["| method | " + " | ".join(f"N = {n}" for n in shots) + " |", "|---|" + "---|" * len(shots)]
    for m in summary["config"]["methods"]:
        cells = []
        for n in shots:
            p = predictions(runs, m, n)
            if not p:
                cells.append("—")
                continue
            acc, lo, hi = bootstrap_mean(truth, (np.array(list(p.values())) == truth).astype(np.float32))
            few = f" ({len(p)} seeds)" if len(p) < summary["config"]["seeds"] else ""
            cells.append(f"{100 * acc:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]{few}")
        lines.append(f"| {METHODS[m].label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def comparisons(summary: dict, reference: str = "features-lr") -> str:
    """Markdown: every method minus ``reference``, per N, paired bootstrap 95 % interval (points)."""
    runs, shots, truth = summary["runs"], summary["config"]["shots"], np.array(summary["truth"])
    lines = [f"| method − {METHODS[reference].label} | " + " | ".join(f"N = {n}" for n in shots) + " |",
             "|---|" + "---|" * len(shots)]
    for m in summary["config"]["methods"]:
        if m == reference:
            continue
        cells = []
        for n in shots:
            a = predictions(runs, m, n)
            b = predictions(runs, reference, n, set(a))
            if not b:
                cells.append("—")
                continue
            both = sorted(b)  # the seeds both methods ran: the same training cells, paired
            a, b = np.array([a[s] for s in both]), np.array([b[s] for s in both])
            d, lo, hi = bootstrap_mean(truth, (a == truth).astype(np.float32) - (b == truth).astype(np.float32))
            mark = " ✔" if lo > 0 else (" ✘" if hi < 0 else "")
            cells.append(f"{100 * d:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]{mark}")
        lines.append(f"| {METHODS[m].label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(summary: dict, out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cfg, runs = summary["config"], summary["runs"]
    # The classic baseline when it ran, else the default recipe of `topgan finetune`.
    reference = next((m for m in ("features-lr", "features-crop") if m in cfg["methods"]), "features-lr")
    md = ["# Few-shot experiment", "",
          f"Balanced accuracy (%) on {summary['test_cells']} held-out twin cells ({cfg['test_per_class']} per "
          f"class, chance {100 / len(summary['classes']):.1f} %), mean over {cfg['seeds']} seeds with a bootstrap "
          "95 % interval (seeds and test cells resampled); N = labelled cells per class.", "",
          table(summary), "",
          f"Paired differences to {METHODS[reference].label} (points; ✔ interval above 0, ✘ below):", "",
          comparisons(summary, reference), "",
          "Hyper-parameters chosen on the validation file:", "", "```json", json.dumps(summary["chosen"]), "```", "",
          f"Labelled file: {summary['labelled_data']}; validation file: {summary['validation_data']}; "
          f"unlabelled target cells: {summary['unlabelled_cells']}.", "",
          "GANs as trained:", "", "```json", json.dumps(summary["gans"], indent=1), "```", "",
          "Configuration:", "", "```json", json.dumps({k: v for k, v in cfg.items() if k != "methods"}, indent=1), "```",
          "", "Twin and data provenance:", "", "```json", json.dumps(summary["records"], indent=1), "```"]
    (out / "results.md").write_text("\n".join(md) + "\n")
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for m in cfg["methods"]:
        xs, mu = [], []
        for n in cfg["shots"]:
            acc = [r["balanced_accuracy"] for r in runs if r["method"] == m and r["shots"] == n]
            if acc:
                xs.append(n); mu.append(100 * np.mean(acc))
        if xs:
            ax.plot(xs, mu, marker="o", label=METHODS[m].label)
    ax.axhline(100 / len(summary["classes"]), color="gray", ls=":", label="chance")
    ax.set_xscale("log"); ax.set_xticks(cfg["shots"]); ax.set_xticklabels([str(n) for n in cfg["shots"]])
    ax.set_xlabel("labelled cells per class (N)"); ax.set_ylabel("balanced accuracy, %")
    ax.legend(fontsize=6); ax.grid(alpha=0.3); fig.tight_layout(); fig.savefig(out / "accuracy.png", dpi=100)
    plt.close(fig)

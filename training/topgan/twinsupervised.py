"""A twin-supervised trunk: teach the network to *measure* a cell's physics on the twin, then
classify with a few labels (issue 13; docs/experiments.md, "A twin-supervised trunk").

Why: with 25 labelled cells per class the features recipe (13 QPI features, logistic regression)
reaches ≈ 88 % balanced accuracy per crop on the lab twin, while a classifier that sees the
twin's generative parameters reaches ≈ 98 % (docs/simulator.md, "The Bayes ceiling"): the step
from image to features loses the information. The twin knows, for every cell it draws, the hidden
parameters (``PhantomParameters``: size, shape, nucleus ratio, nucleoli, the Δn's, the texture's
strength and grain), and ``flowd extract --simulate`` writes them as ``phantom_<name>`` arrays.
So a network can learn, with as many labels as CPU time allows, to regress them from the crop.

1. **Pretraining data** without class information: ``flowd extract --simulate ... --conditions lab
   --class-parameters broad``, where all three populations share one wide distribution
   (docs/simulator.md, "The broad set"), so the trunk learns to measure, not to classify.
2. **Regressor**: the DCGAN-discriminator trunk of :mod:`topgan.model` (as the shipped network)
   with a global-average-pool head and one linear layer to the :data:`TARGETS`, each standardised
   with the pretraining set's mean and deviation; mean squared error, AdamW, cosine learning rate,
   flips, quarter turns and shifts of up to 3 px (:mod:`topgan.augment`; the parameters do not
   change under them).
3. **Few-shot classifier**: logistic regression on the regressed parameters of the N labelled
   cells (their 8 square symmetries), standardised with the unlabelled cells' statistics, as the
   features recipe does (``twin-lr`` in :mod:`topgan.experiment`).

Regression head, standardisation and logistic regression are all affine, so the classifier is
one linear layer on the pooled trunk: :func:`fold_classifier` folds them into an ordinary
``global_pool`` :class:`~topgan.model.TopGanClassifier`, which ``topgan export`` writes as a
version-1 model file (docs/model-format.md).

Caveat: the trunk learns the twin's own phantom model. On the twin that is optimistic; on real
cells it is only as good as the phantom model's match to them.

``python -m topgan.twinsupervised --data broad.npz --validation val.npz --out twin.pt`` trains
one and prints the validation file's R² per parameter.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .augment import augment
from .data import CellDataset, DataError, fit_opd_scale, load as load_dataset, normalise
from .model import TopGanClassifier
from .probe import D4, Standardiser, d4_view

KIND = "topgan-twin-regressor"

#: The hidden parameters regressed, in ``PhantomParameters.names`` order (Sources/Simulator/
#: PhantomParameters.swift); ``flowd extract --simulate`` writes each as ``phantom_<name>``.
TARGETS = ("diameter_um", "aspect", "height_ratio", "nucleus_ratio", "nucleoli", "nucleolus_diameter_um",
           "cytoplasm_delta_n", "nucleus_delta_n", "nucleolus_delta_n", "texture_delta_n", "texture_length_um")


@dataclass
class TwinConfig:
    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    ndf: int = 32                 # the shipped network's width (≈ 0.05 GFLOP per 64x64 crop)
    max_shift: int = 3
    seed: int = 0
    opd_scale_nm: float = 0.0     # 0 = fitted to the pretraining crops (data.fit_opd_scale)


def load_targets(path: str | Path) -> tuple[CellDataset, np.ndarray]:
    """The crops of a pretraining file that have hidden parameters (labelled cells of the twin),
    and those parameters [N, len(TARGETS)] in physical units. Refuses a file without them."""
    data = load_dataset(path)
    with np.load(path, allow_pickle=False) as archive:
        missing = [t for t in TARGETS if f"phantom_{t}" not in archive.files]
        if missing:
            raise DataError(f"{path}: no phantom_{missing[0]} (and {len(missing) - 1} more); the hidden parameters "
                            "come from `flowd extract --simulate ...` of a flowd that writes them")
        targets = np.stack([np.asarray(archive[f"phantom_{t}"], np.float64) for t in TARGETS], 1)
    keep = np.isfinite(targets).all(1)
    if not keep.any():
        raise DataError(f"{path}: no crop has hidden parameters (only sperm, debris or doublets?)")
    return data.subset(np.flatnonzero(keep)), targets[keep]


def regressor(size: int, ndf: int) -> TopGanClassifier:
    """The trunk with a global-pool head and one output per target (no dropout: a regressor)."""
    return TopGanClassifier(len(TARGETS), size, ndf, True, "global_pool", dropout=0.0)


def train(data: CellDataset, targets: np.ndarray, cfg: TwinConfig, progress: bool = True) -> tuple[TopGanClassifier, dict]:
    """Fits the regressor to the standardised ``targets`` of ``data``'s crops; returns it in eval
    mode with its checkpoint dict (what ``torch.save`` writes and :func:`load` reads)."""
    torch.manual_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    mean, sd = targets.mean(0), targets.std(0)
    sd = np.where(sd > 0, sd, 1.0)  # a constant target (e.g. one texture length) stays at 0
    y = torch.as_tensor((targets - mean) / sd, dtype=torch.float32)
    scale = cfg.opd_scale_nm or fit_opd_scale(data.opd)
    x = normalise(data.opd, scale)
    model = regressor(data.size, cfg.ndf)
    steps_per_epoch = math.ceil(len(x) / cfg.batch_size)
    optimiser = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, cfg.epochs * steps_per_epoch)
    history = []
    for epoch in range(cfg.epochs):
        model.train()
        t0, losses = time.time(), []
        order = torch.randperm(len(x), generator=generator)
        for i in range(0, len(x), cfg.batch_size):
            batch = order[i:i + cfg.batch_size]
            if len(batch) < 2:  # batch norm needs two
                continue
            loss = nn.functional.mse_loss(model(augment(x[batch], generator, cfg.max_shift)), y[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            losses.append(loss.item())
        history.append(float(np.mean(losses)))
        if progress:
            print(f"epoch {epoch + 1}/{cfg.epochs}: loss {history[-1]:.4f} ({time.time() - t0:.0f} s)", flush=True)
    ckpt = {"kind": KIND, "targets": list(TARGETS), "mean": mean, "sd": sd, "image_size": data.size,
            "pixel_um": data.pixel_um, "opd_scale_nm": scale, "ndf": cfg.ndf, "config": asdict(cfg),
            "cells": len(x), "data": data.path, "history": history, "state_dict": model.state_dict()}
    return model.eval(), ckpt


def load(path: str | Path) -> tuple[TopGanClassifier, dict]:
    """A checkpoint of :func:`train` as a model in eval mode, with its checkpoint dict."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # a truncated file, not a checkpoint at all
        raise ValueError(f"{path}: not a readable checkpoint ({error})") from error
    if not isinstance(ckpt, dict) or ckpt.get("kind") != KIND:
        raise ValueError(f"{path}: not a twin-supervised regressor (python -m topgan.twinsupervised)")
    model = regressor(ckpt["image_size"], ckpt["ndf"])
    model.load_state_dict(ckpt["state_dict"])
    return model.eval(), ckpt


@torch.no_grad()
def regress(model: TopGanClassifier, ckpt: dict, opd: np.ndarray, views: int = 1, batch: int = 256) -> np.ndarray:
    """[views, N, len(TARGETS)]: the regressed parameters in physical units for the first
    ``views`` square symmetries of each crop (view 0 is the crop as it is)."""
    model.eval()
    chunks = []
    for i in range(0, len(opd), batch):
        x = normalise(opd[i:i + batch], ckpt["opd_scale_nm"])
        chunks.append(np.stack([model(d4_view(x, *D4[v])).numpy() for v in range(views)]))
    out = np.concatenate(chunks, 1) if chunks else np.zeros((views, 0, len(TARGETS)), np.float32)
    return out * ckpt["sd"] + ckpt["mean"]


def r_squared(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per column, 1 - residual variance / variance of the truth (0 for a constant column)."""
    residual = ((predicted - truth) ** 2).mean(0)
    variance = truth.var(0)
    return np.where(variance > 0, 1 - residual / np.where(variance > 0, variance, 1), 0.0)


def fold_classifier(model: TopGanClassifier, ckpt: dict, z: Standardiser, weight: np.ndarray, bias: np.ndarray,
                    classes: list[str]) -> TopGanClassifier:
    """The classifier logits = weight · z(regress(crop)) + bias as one network: the trunk, global
    pooling and a single linear layer (regression head, de-standardisation, standardisation ``z``
    and the logistic regression multiplied out), a ``global_pool`` classifier for ``topgan export``."""
    head = model.head[-1]
    w_reg = head.weight.detach().double().numpy()          # [P, C], standardised targets
    b_reg = head.bias.detach().double().numpy()            # [P]
    gain = ckpt["sd"] / z.sd                               # physical -> z units, per target
    w = weight @ (gain[:, None] * w_reg)                   # [K, C]
    b = weight @ (gain * b_reg + (ckpt["mean"] - z.mean) / z.sd) + bias
    folded = TopGanClassifier(len(classes), ckpt["image_size"], ckpt["ndf"], True, "global_pool", dropout=0.0)
    folded.features.load_state_dict(model.features.state_dict())
    last = folded.head[-1]
    with torch.no_grad():
        last.weight.copy_(torch.as_tensor(w, dtype=torch.float32))
        last.bias.copy_(torch.as_tensor(b, dtype=torch.float32))
    return folded.eval()


def fit_classifier(model: TopGanClassifier, ckpt: dict, data: CellDataset, train_index: np.ndarray,
                   unlabelled_index: np.ndarray, c: float = 1.0, seed: int = 0,
                   measured: np.ndarray | None = None) -> TopGanClassifier:
    """The few-shot classifier (``topgan finetune --recipe twin``), folded into one network:
    logistic regression (``c``) on the regressed parameters of the cells ``train_index`` in their 8
    square symmetries, standardised with the cells ``unlabelled_index`` (labels not read).
    ``measured`` may pass ``regress(model, ckpt, data.opd, 8)`` when already computed."""
    from sklearn.linear_model import LogisticRegression
    x = regress(model, ckpt, data.opd, len(D4)) if measured is None else measured
    z = Standardiser(x[0][unlabelled_index])
    rows = np.concatenate([z(x[v][train_index]) for v in range(len(x))])
    clf = LogisticRegression(C=c, max_iter=3000, random_state=seed).fit(rows, np.tile(data.label[train_index], len(x)))
    return fold_classifier(model, ckpt, z, clf.coef_, clf.intercept_, list(data.classes))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m topgan.twinsupervised", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="pretraining file (flowd extract --simulate ... --class-parameters broad)")
    p.add_argument("--validation", help="a file with hidden parameters on which to report R² per parameter")
    p.add_argument("--out", required=True, help="checkpoint to write (.pt)")
    p.add_argument("--epochs", type=int, default=TwinConfig.epochs)
    p.add_argument("--batch-size", type=int, default=TwinConfig.batch_size)
    p.add_argument("--lr", type=float, default=TwinConfig.lr)
    p.add_argument("--ndf", type=int, default=TwinConfig.ndf)
    p.add_argument("--seed", type=int, default=TwinConfig.seed)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        data, targets = load_targets(args.data)
        validation = load_targets(args.validation) if args.validation else None
    except DataError as error:
        p.error(str(error))
    print(f"{len(data)} crops with hidden parameters from {args.data}", flush=True)
    cfg = TwinConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, ndf=args.ndf, seed=args.seed)
    t0 = time.time()
    model, ckpt = train(data, targets, cfg)
    ckpt["train_seconds"] = round(time.time() - t0, 1)
    if validation is not None:
        vdata, vtargets = validation
        r2 = r_squared(regress(model, ckpt, vdata.opd)[0], vtargets)
        ckpt["validation_r2"] = dict(zip(TARGETS, r2.round(3).tolist()))
        print("validation R²: " + ", ".join(f"{t} {v:.2f}" for t, v in ckpt["validation_r2"].items()))
    torch.save(ckpt, args.out)
    print(f"wrote {args.out} ({ckpt['train_seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

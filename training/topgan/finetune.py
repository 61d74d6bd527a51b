"""TOP-GAN step 2: transfer the discriminator and fine-tune it on a few labelled cells.

Rubin et al. (2019) keep the pretrained discriminator's convolutional layers and replace its last
layer with a classifier for the target classes, then train on a handful of labelled OPD maps per
class. Two ways to do that here:

- ``full`` (default): every layer trains, the transferred trunk at ``trunk_lr_scale`` (0.1) times
  the head's learning rate, so that the features the GAN learnt are adjusted, not overwritten,
  by a few noisy gradients;
- ``frozen``: only the new head trains; the trunk, batch-norm statistics included, stays exactly
  as the GAN left it (the purest test of what the pretraining learnt);
- ``probe``: the trunk stays frozen and the head is a linear probe (:mod:`topgan.probe`): the
  trunk's globally pooled features of the eight symmetries of each labelled cell, standardised
  with the statistics of the file's unlabelled cells, L2 logistic regression (``probe_c``); the
  standardisation is folded into the head's linear layer, so the result is an ordinary
  ``global_pool`` classifier that ``topgan export`` writes for flowd.

Without a pretrained GAN the same network is trained from PyTorch's default (Kaiming-uniform)
initialisation, every layer at the full learning rate: the from-scratch baseline the paper
compares against. (DCGAN's N(0, 0.02) suits a GAN, not a classifier trained from nothing.)

The input scale (``opd_scale_nm``, 0 = fitted) is fitted to every cell of the labelled file,
labels ignored (:func:`topgan.data.fit_opd_scale`), also for a pretrained trunk: the GAN saw its
own population filling the input range, and so does the classifier.

Few-shot training sets are tiny (3 cells for N = 1), so an "epoch" here is a fixed budget of
``max(len(train), samples_per_epoch)`` augmented views (:mod:`topgan.augment`), drawn by cycling
through the shuffled training cells: every N gets the same number of gradient steps, and a batch
never holds fewer than ``batch_size`` images (batch norm needs a few).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from .augment import augment
from .data import CellDataset, DataError, fit_opd_scale, normalise
from .model import TopGanClassifier
from .probe import D4, Standardiser, pooled_features
from .pretrain import load_discriminator

MODES = ("full", "frozen", "probe")


@dataclass
class FinetuneConfig:
    epochs: int = 20
    batch_size: int = 32
    samples_per_epoch: int = 256
    lr: float = 1e-3
    trunk_lr_scale: float = 0.1
    weight_decay: float = 1e-4
    mode: str = "full"
    head: str = "linear"
    dropout: float = 0.5
    max_shift: int = 3
    probe_c: float = 0.1          # probe mode: inverse L2 strength of the logistic regression
    seed: int = 0
    ndf: int = 32                 # from-scratch only; a pretrained trunk keeps its own
    opd_scale_nm: float = 0.0     # 0 = fitted to the labelled file's cells (data.fit_opd_scale)


def load_pretrained(data: CellDataset, pretrained: str | Path):
    """The pretrained discriminator, refused with a clear error when it cannot serve ``data``:
    another crop size, another pixel size, or (a classifier checkpoint) other classes."""
    netD, ckpt = load_discriminator(pretrained)
    if netD.image_size != data.size:
        raise DataError(f"{pretrained} was trained on {netD.image_size}x{netD.image_size} crops but the "
                        f"labelled data has {data.size}x{data.size}; extract with the same crop size")
    if abs(float(ckpt.get("pixel_um", data.pixel_um)) - data.pixel_um) > 1e-6:
        raise DataError(f"{pretrained} was trained on crops at {ckpt['pixel_um']:g} µm per pixel but {data.path} "
                        f"has {data.pixel_um:g} µm; extract with the same crop pixel size")
    if "classes" in ckpt and list(ckpt["classes"]) != list(data.classes):
        raise DataError(f"{pretrained} classifies {list(ckpt['classes'])} but {data.path} has classes "
                        f"{list(data.classes)}; fine-tune from the GAN instead, or label the same classes")
    return netD, ckpt


def build_classifier(data: CellDataset, cfg: FinetuneConfig, pretrained: str | Path | None,
                     opd_scale_nm: float) -> tuple[TopGanClassifier, dict]:
    """The classifier and its provenance: the transferred GAN discriminator with a fresh head, or
    (``pretrained=None``) the same architecture from PyTorch's default initialisation."""
    torch.manual_seed(cfg.seed)
    num_classes = len(data.classes)
    if pretrained is not None:
        netD, ckpt = load_pretrained(data, pretrained)
        model = TopGanClassifier.from_discriminator(netD, num_classes, cfg.head, cfg.dropout)
        return model, {"pretrained": str(pretrained), "opd_scale_nm": opd_scale_nm,
                       "gan_opd_scale_nm": ckpt["opd_scale_nm"], "ndf": ckpt["config"]["ndf"],
                       "gan_data": ckpt.get("data", "")}
    model = TopGanClassifier(num_classes, data.size, cfg.ndf, True, cfg.head, cfg.dropout)
    return model, {"pretrained": None, "opd_scale_nm": opd_scale_nm, "ndf": cfg.ndf}


def finetune(data: CellDataset, train_index: np.ndarray, cfg: FinetuneConfig,
             pretrained: str | Path | None = None, progress: bool = True,
             unlabelled_index: np.ndarray | None = None) -> tuple[TopGanClassifier, dict]:
    """Trains on ``data`` cells ``train_index``; returns the model (eval mode) and a checkpoint dict
    (``topgan export`` reads it). ``unlabelled_index`` (default: every cell) are the cells whose
    feature statistics standardise the probe; their labels are never read."""
    if cfg.mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {cfg.mode!r}")
    if cfg.mode == "probe":
        if pretrained is None:
            raise DataError("mode probe needs --pretrained (a GAN or classifier checkpoint): it trains no trunk")
        cfg = replace(cfg, head="global_pool")
    model, origin = build_classifier(data, cfg, pretrained, cfg.opd_scale_nm or fit_opd_scale(data.opd))
    if cfg.mode == "probe":
        reference = np.arange(len(data)) if unlabelled_index is None else unlabelled_index
        fit_probe_head(model, data, train_index, reference, origin["opd_scale_nm"], cfg)
        return model.eval(), checkpoint(model, data, train_index, origin, cfg, [])
    x = normalise(data.opd[train_index], origin["opd_scale_nm"])
    y = torch.as_tensor(data.label[train_index])

    from_scratch = pretrained is None
    if cfg.mode == "frozen" and not from_scratch:
        for p in model.features.parameters():
            p.requires_grad_(False)
        groups = [{"params": model.head.parameters(), "lr": cfg.lr}]
    else:
        trunk_lr = cfg.lr if from_scratch else cfg.lr * cfg.trunk_lr_scale
        groups = [{"params": model.features.parameters(), "lr": trunk_lr},
                  {"params": model.head.parameters(), "lr": cfg.lr}]
    opt = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(max(len(x), cfg.samples_per_epoch) / cfg.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs * steps_per_epoch)
    criterion = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(cfg.seed)
    history = []
    bar = tqdm(range(cfg.epochs), desc="finetune", disable=not progress, leave=False)
    for _ in bar:
        model.train()
        if cfg.mode == "frozen" and not from_scratch:
            model.features.eval()  # keep the GAN's batch-norm statistics
        order = torch.cat([torch.randperm(len(x), generator=gen)
                           for _ in range(math.ceil(steps_per_epoch * cfg.batch_size / len(x)))])
        losses = []
        for i in range(steps_per_epoch):
            idx = order[i * cfg.batch_size:(i + 1) * cfg.batch_size]
            batch = augment(x[idx], gen, cfg.max_shift)
            loss = criterion(model(batch), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
        history.append(float(np.mean(losses)))
        bar.set_postfix(loss=f"{history[-1]:.3f}")
    model.eval()
    return model, checkpoint(model, data, train_index, origin, cfg, history)


def fit_probe_head(model: TopGanClassifier, data: CellDataset, train_index: np.ndarray, reference: np.ndarray,
                   opd_scale_nm: float, cfg: FinetuneConfig) -> None:
    """Probe mode: logistic regression on the standardised pooled trunk features of the D4 views
    of the training cells, written into the ``global_pool`` head's linear layer as
    W' = W / sd, b' = b - W' mean (the same logits, no standardisation op needed in the file)."""
    # Imported here: scikit-learn takes seconds to import, and the worker processes of
    # topgan.workers, which import this module, mostly train the other modes.
    from sklearn.linear_model import LogisticRegression
    views = len(D4)
    feats = pooled_features(model.features, data.opd[train_index], opd_scale_nm, views)
    z = Standardiser(pooled_features(model.features, data.opd[reference], opd_scale_nm, 1)[0])
    y = np.tile(data.label[train_index], views)
    clf = LogisticRegression(C=cfg.probe_c, max_iter=3000, random_state=cfg.seed)
    clf.fit(z(feats.reshape(-1, feats.shape[-1])), y)
    coef, bias = clf.coef_, clf.intercept_
    if coef.shape[0] == 1:  # scikit-learn's binary form: one logit; softmax([-l/2, l/2]) = sigmoid(l)
        coef, bias = np.concatenate([-coef / 2, coef / 2]), np.array([-bias[0] / 2, bias[0] / 2])
    linear = model.head[-1]
    with torch.no_grad():
        w = coef / z.sd
        linear.weight.copy_(torch.as_tensor(w, dtype=torch.float32))
        linear.bias.copy_(torch.as_tensor(bias - w @ z.mean, dtype=torch.float32))


def checkpoint(model: TopGanClassifier, data: CellDataset, train_index: np.ndarray, origin: dict,
               cfg: FinetuneConfig, history: list[float]) -> dict:
    return {"kind": "topgan-classifier", "classes": data.classes, "image_size": data.size,
            "pixel_um": data.pixel_um, "opd_scale_nm": origin["opd_scale_nm"], "ndf": origin["ndf"],
            "origin": origin, "config": asdict(cfg), "train_index": np.asarray(train_index).tolist(),
            "data": data.path, "history": history, "state_dict": model.state_dict()}


def load_classifier(path: str | Path) -> tuple[TopGanClassifier, dict]:
    """A ``topgan finetune`` checkpoint as a model in eval mode, with its checkpoint dict."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # a truncated file, not a checkpoint at all
        raise ValueError(f"{path}: not a readable checkpoint ({error})") from error
    if not isinstance(ckpt, dict) or ckpt.get("kind") != "topgan-classifier":
        raise ValueError(f"{path}: not a `topgan finetune` checkpoint")
    cfg = ckpt["config"]
    model = TopGanClassifier(len(ckpt["classes"]), ckpt["image_size"], ckpt["ndf"], True, cfg["head"], cfg["dropout"])
    model.load_state_dict(ckpt["state_dict"])
    return model.eval(), ckpt


@torch.no_grad()
def predict(model: TopGanClassifier, opd: np.ndarray, opd_scale_nm: float, batch: int = 256) -> np.ndarray:
    """Softmax probabilities [N, classes] for OPD crops in nm, exactly as flowd computes them."""
    model.eval()
    out = [torch.softmax(model(normalise(opd[i:i + batch], opd_scale_nm)), 1) for i in range(0, len(opd), batch)]
    return torch.cat(out).numpy() if out else np.zeros((0, model.head[-1].out_features), np.float32)

"""TOP-GAN step 2: transfer the discriminator and fine-tune it on a few labelled cells.

Rubin et al. (2019) keep the pretrained discriminator's convolutional layers and replace its last
layer with a classifier for the target classes, then train on a handful of labelled OPD maps per
class. Two ways to do that here:

- ``full`` (default): every layer trains, the transferred trunk at ``trunk_lr_scale`` (0.1) times
  the head's learning rate, so that the features the GAN learnt are adjusted, not overwritten,
  by a few noisy gradients;
- ``frozen``: only the new head trains; the trunk, batch-norm statistics included, stays exactly
  as the GAN left it (the purest test of what the pretraining learnt).

Without a pretrained GAN the same network is trained from its random DCGAN initialisation, every
layer at the full learning rate: the from-scratch baseline the paper compares against.

Few-shot training sets are tiny (3 cells for N = 1), so an "epoch" here is a fixed budget of
``max(len(train), samples_per_epoch)`` augmented views (:mod:`topgan.augment`), drawn by cycling
through the shuffled training cells: every N gets the same number of gradient steps, and a batch
never holds fewer than ``batch_size`` images (batch norm needs a few).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from .augment import augment
from .data import CellDataset, check_size, normalise
from .model import TopGanClassifier
from .pretrain import dcgan_init, load_discriminator

MODES = ("full", "frozen")


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
    seed: int = 0
    ndf: int = 32                 # from-scratch only; a pretrained trunk keeps its own
    opd_scale_nm: float = 600.0   # from-scratch only; a pretrained trunk keeps its own


def build_classifier(num_classes: int, image_size: int, cfg: FinetuneConfig,
                     pretrained: str | Path | None) -> tuple[TopGanClassifier, dict]:
    """The classifier and its provenance: the transferred GAN discriminator with a fresh head, or
    (``pretrained=None``) the same architecture from a DCGAN initialisation."""
    torch.manual_seed(cfg.seed)
    if pretrained is not None:
        netD, ckpt = load_discriminator(pretrained)
        if netD.image_size != image_size:
            raise ValueError(f"{pretrained} was trained on {netD.image_size}x{netD.image_size} crops but the "
                             f"labelled data has {image_size}x{image_size}; extract with the same crop size")
        model = TopGanClassifier.from_discriminator(netD, num_classes, cfg.head, cfg.dropout)
        return model, {"pretrained": str(pretrained), "opd_scale_nm": ckpt["opd_scale_nm"],
                       "ndf": ckpt["config"]["ndf"], "gan_data": ckpt.get("data", "")}
    model = TopGanClassifier(num_classes, image_size, cfg.ndf, True, cfg.head, cfg.dropout)
    model.features.apply(dcgan_init)
    return model, {"pretrained": None, "opd_scale_nm": cfg.opd_scale_nm, "ndf": cfg.ndf}


def finetune(data: CellDataset, train_index: np.ndarray, cfg: FinetuneConfig,
             pretrained: str | Path | None = None, progress: bool = True) -> tuple[TopGanClassifier, dict]:
    """Trains on ``data`` cells ``train_index``; returns the model (eval mode) and a checkpoint dict
    (``topgan export`` reads it)."""
    if cfg.mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {cfg.mode!r}")
    num_classes = len(data.classes)
    model, origin = build_classifier(num_classes, data.size, cfg, pretrained)
    if pretrained is not None:
        check_size(data, model.image_size, str(pretrained))
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
    ckpt = {"kind": "topgan-classifier", "classes": data.classes, "image_size": data.size,
            "pixel_um": data.pixel_um, "opd_scale_nm": origin["opd_scale_nm"], "ndf": origin["ndf"],
            "origin": origin, "config": asdict(cfg), "train_index": np.asarray(train_index).tolist(),
            "data": data.path, "history": history, "state_dict": model.state_dict()}
    return model, ckpt


def load_classifier(path: str | Path) -> tuple[TopGanClassifier, dict]:
    """A ``topgan finetune`` checkpoint as a model in eval mode, with its checkpoint dict."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
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

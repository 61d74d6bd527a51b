"""The semi-supervised CNN recipe: the features recipe teaches the GAN-initialised CNN on the rig's
own unlabelled cells, then the CNN keeps learning from its own confident guesses.

With 25 labelled cells per class the crop-feature classifier (:mod:`topgan.featuremodel`) is
≈ 3.5 points below what it reaches with all labels, while the same CNN fine-tuned on 900 labelled
cells per class reaches ≈ 90.5 % (docs/model-card.md): the network has the capacity, it lacks
labels. Every run of the rig produces thousands of unlabelled cells, so:

1. the teacher: the features recipe fitted on the N labelled cells gives class probabilities for
   every unlabelled cell (knowledge distillation, Hinton et al. 2015);
2. the student: the sperm-GAN discriminator trunk with a fresh head (TOP-GAN's transfer, Rubin et
   al. 2019) trains on the labelled cells (their labels) together with the unlabelled ones, whose
   target is a mix of the teacher's probabilities and the student's own prediction on a weakly
   augmented view (flips, quarter turns, small shifts), kept only where the target's largest
   probability reaches ``threshold``, while the loss is taken on a strongly augmented view (any
   rotation, OPD noise): FixMatch's confidence-thresholded consistency (Sohn et al. 2020). Cells
   rotate freely in flow and the camera adds noise, so both augmentations keep the class.

The result is an ordinary version-1 model file (the DCGAN trunk + linear head, ≈ 0.05 GFLOP per
cell): "OPD crop in, probabilities out", no features needed at inference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .augment import augment
from .data import normalise


@dataclass
class SemiConfig:
    steps: int = 400
    labelled_batch: int = 16
    unlabelled_batch: int = 48
    lr: float = 1e-3
    trunk_lr_scale: float = 1.0
    weight_decay: float = 1e-4
    threshold: float = 0.8        # FixMatch's confidence threshold on the unlabelled targets
    teacher_weight: float = 1.0   # target = w * teacher + (1 - w) * student(weak view)
    teacher_decay: bool = True    # w falls linearly from teacher_weight to 0 over the training
    unlabelled_weight: float = 1.0
    noise_nm: float = 5.0         # strong view: Gaussian OPD noise (nm, per pixel)
    any_rotation: bool = True     # strong view: rotation by any angle (bilinear) after the D4 view
    soft: bool = False            # unlabelled loss against the target distribution, not its argmax
    max_shift: int = 3
    seed: int = 0


def rotate(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rotates each image of [B,1,S,S] by ``angles`` (radians) about its centre, bilinear, zero
    (background OPD) outside."""
    cos, sin = torch.cos(angles), torch.sin(angles)
    theta = torch.stack([torch.stack([cos, -sin, torch.zeros_like(cos)], 1),
                         torch.stack([sin, cos, torch.zeros_like(cos)], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def strong(x: torch.Tensor, gen: torch.Generator, cfg: SemiConfig, opd_scale_nm: float) -> torch.Tensor:
    """The strong view: D4 + shift, then any rotation and OPD noise (input units: nm / scale)."""
    x = augment(x, gen, cfg.max_shift)
    if cfg.any_rotation:
        x = rotate(x, torch.rand(len(x), generator=gen) * (2 * math.pi))
    if cfg.noise_nm > 0:
        x = x + torch.randn(x.shape, generator=gen) * (cfg.noise_nm / opd_scale_nm)
    return x.clamp(-1.0, 1.0)


def train(model: torch.nn.Module, opd: np.ndarray, labelled: np.ndarray, label: np.ndarray, unlabelled: np.ndarray,
          teacher: np.ndarray, opd_scale_nm: float, cfg: SemiConfig, every=None) -> list[float]:
    """Trains ``model`` (in place) on the cells ``labelled`` (classes ``label``) and ``unlabelled``
    (the teacher's probabilities ``teacher`` [U, K]); returns the loss per 50 steps. ``every``
    (optional) is called with the step count after every 50 steps (progress, learning curves)."""
    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    xl, yl = normalise(opd[labelled], opd_scale_nm), torch.as_tensor(label)
    xu, pt = normalise(opd[unlabelled], opd_scale_nm), torch.as_tensor(teacher, dtype=torch.float32)
    groups = [{"params": model.features.parameters(), "lr": cfg.lr * cfg.trunk_lr_scale},
              {"params": model.head.parameters(), "lr": cfg.lr}]
    opt = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.steps)
    history, losses = [], []
    for step in range(cfg.steps):
        il = torch.randint(0, len(xl), (cfg.labelled_batch,), generator=gen)
        iu = torch.randint(0, len(xu), (cfg.unlabelled_batch,), generator=gen)
        w = cfg.teacher_weight * (1 - step / cfg.steps if cfg.teacher_decay else 1.0)
        if w < 1:
            model.eval()
            with torch.no_grad():
                student = torch.softmax(model(augment(xu[iu], gen, cfg.max_shift)), 1)
            target = w * pt[iu] + (1 - w) * student
        else:
            target = pt[iu]
        confidence, hard = target.max(1)
        mask = (confidence >= cfg.threshold).float()
        model.train()
        logits = model(torch.cat([augment(xl[il], gen, cfg.max_shift), strong(xu[iu], gen, cfg, opd_scale_nm)]))
        loss_l = F.cross_entropy(logits[:cfg.labelled_batch], yl[il])
        per_cell = F.cross_entropy(logits[cfg.labelled_batch:], target if cfg.soft else hard, reduction="none")
        loss_u = (per_cell * mask).mean()
        loss = loss_l + cfg.unlabelled_weight * loss_u
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if len(losses) == 50:
            history.append(float(np.mean(losses)))
            losses = []
            if every is not None:
                every(step + 1)
                model.train()
    model.eval()
    return history

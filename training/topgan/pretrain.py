"""TOP-GAN step 1: a DCGAN trained on unlabelled OPD maps.

Rubin et al. (Medical Image Analysis 57, 2019) train a GAN on thousands of unlabelled OPD maps of
another cell type (sperm cells), because unlabelled cells are cheap and labelled cancer cells are
not. To tell real OPD maps from generated ones the discriminator must learn what OPD maps of cells
look like -- edges, smooth optical thickness, internal structure -- and those features are what
the few-shot classifier reuses (:mod:`topgan.finetune`).

The GAN is the DCGAN of Radford et al. (ICLR 2016), written as in PyTorch's DCGAN example:
a generator of transposed 4x4 stride-2 convolutions with batch norm and ReLU ending in tanh (so
its images live in [-1, 1], the range of the model contract's clamp(opd / opd_scale_nm, -1, 1)),
the discriminator of :mod:`topgan.model`, N(0, 0.02) initialisation, Adam(lr 2e-4, beta1 0.5) and
the non-saturating binary cross-entropy loss. The real crops are randomly flipped and turned by
multiples of 90 degrees, which multiplies a small unlabelled set by up to eight.

The checkpoint (``gan.pt``) holds both networks, both optimisers, the epoch, the loss history and
the data's ``opd_scale_nm`` / ``pixel_um``; ``--resume`` continues from it, and every epoch writes
``<out>.losses.png`` and ``<out>.samples.png`` next to it.
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
from .model import DCGANDiscriminator, trunk_depth


class DCGANGenerator(nn.Module):
    """z [N,nz] -> image [N,1,S,S] in [-1,1]: project to a 4x4 map of ``ngf * 2**(depth-1)``
    channels, then halve the channels and double the map until S (PyTorch's DCGAN example)."""

    def __init__(self, image_size: int = 64, nz: int = 100, ngf: int = 32):
        super().__init__()
        depth = trunk_depth(image_size)
        channels = ngf * 2 ** (depth - 1)
        layers: list[nn.Module] = [nn.ConvTranspose2d(nz, channels, 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(channels), nn.ReLU(True)]
        for _ in range(depth - 1):
            layers += [nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(channels // 2), nn.ReLU(True)]
            channels //= 2
        layers += [nn.ConvTranspose2d(channels, 1, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.nz = nz

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z.view(len(z), self.nz, 1, 1))


def dcgan_init(m: nn.Module) -> None:
    """Radford et al. 2016, section 4: weights from N(0, 0.02); batch-norm scales from N(1, 0.02)."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


@dataclass
class PretrainConfig:
    epochs: int = 12            # 5000 crops: 1872 steps, ≈ 17 min of one core (docs/experiments.md)
    batch_size: int = 32
    ndf: int = 32
    ngf: int = 32
    nz: int = 100
    lr: float = 2e-4
    beta1: float = 0.5
    seed: int = 0
    opd_scale_nm: float = 0.0   # 0 = fitted to the data (data.fit_opd_scale)
    max_cells: int = 0          # 0 = every cell in the file
    augment: bool = True        # random flips / 90-degree turns of the real crops


def build(image_size: int, cfg: PretrainConfig) -> tuple[DCGANGenerator, DCGANDiscriminator]:
    torch.manual_seed(cfg.seed)
    netG = DCGANGenerator(image_size, cfg.nz, cfg.ngf)
    netD = DCGANDiscriminator(image_size, cfg.ndf)
    netG.apply(dcgan_init)
    netD.apply(dcgan_init)
    return netG, netD


def load_discriminator(path: str | Path) -> tuple[DCGANDiscriminator, dict]:
    """The trained discriminator of a ``pretrain`` checkpoint and the checkpoint's metadata
    (``image_size``, ``opd_scale_nm``, ``pixel_um``, ``config``). A ``finetune`` checkpoint is
    accepted too (its trunk, with a fresh real/fake layer; its metadata then has ``classes``), so
    that a lab can fine-tune a shipped classifier further on its own labels."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # a truncated file, not a checkpoint at all
        raise ValueError(f"{path}: not a readable checkpoint ({error})") from error
    kind = ckpt.get("kind") if isinstance(ckpt, dict) else None
    if kind == "topgan-classifier":
        netD = DCGANDiscriminator(ckpt["image_size"], ckpt["ndf"])
        netD.features.load_state_dict({k[len("features."):]: v for k, v in ckpt["state_dict"].items()
                                       if k.startswith("features.")})
        return netD, {**ckpt, "config": {"ndf": ckpt["ndf"]}}
    if kind != "topgan-gan":
        raise ValueError(f"{path}: not a `topgan pretrain` or `topgan finetune` checkpoint")
    netD = DCGANDiscriminator(ckpt["image_size"], ckpt["config"]["ndf"])
    netD.load_state_dict(ckpt["netD"])
    return netD, ckpt


def resumable(path: Path, data: CellDataset, cfg: PretrainConfig) -> dict:
    """The GAN checkpoint ``--resume`` continues, refused with a clear error when it was trained
    on crops of another size or pixel, or with other network widths (it cannot continue then)."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:
        raise ValueError(f"{path}: not a readable checkpoint to resume ({error})") from error
    if not isinstance(ckpt, dict) or ckpt.get("kind") != "topgan-gan":
        raise ValueError(f"{path}: not a `topgan pretrain` checkpoint to resume; choose another --out")
    mine = (data.size, round(data.pixel_um, 6), cfg.ndf, cfg.ngf, cfg.nz)
    theirs = (ckpt["image_size"], round(float(ckpt["pixel_um"]), 6), ckpt["config"]["ndf"], ckpt["config"]["ngf"],
              ckpt["config"]["nz"])
    if mine != theirs:
        raise DataError(f"{path} was trained on {theirs[0]}x{theirs[0]} crops at {theirs[1]:g} µm (ndf {theirs[2]}, "
                        f"ngf {theirs[3]}, nz {theirs[4]}) but --resume was asked with {mine[0]}x{mine[0]} crops at "
                        f"{mine[1]:g} µm (ndf {mine[2]}, ngf {mine[3]}, nz {mine[4]}); resume with the same data and "
                        "widths, or choose another --out")
    return ckpt


def pretrain(data: CellDataset, out: str | Path, cfg: PretrainConfig, resume: bool = False,
             progress: bool = True) -> dict:
    """Trains the GAN on every crop of ``data`` (labels ignored); returns the checkpoint dict."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cfg.opd_scale_nm:
        cfg = replace(cfg, opd_scale_nm=fit_opd_scale(data.opd))
    images = normalise(data.opd, cfg.opd_scale_nm)
    if cfg.max_cells and len(images) > cfg.max_cells:
        keep = np.random.default_rng(cfg.seed).permutation(len(images))[:cfg.max_cells]
        images = images[np.sort(keep)]
    netG, netD = build(data.size, cfg)
    criterion = nn.BCEWithLogitsLoss()
    optD = torch.optim.Adam(netD.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
    optG = torch.optim.Adam(netG.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
    fixed_noise = torch.randn(64, cfg.nz, generator=torch.Generator().manual_seed(cfg.seed + 1))
    history: dict[str, list[float]] = {"loss_D": [], "loss_G": [], "D_x": [], "D_G_z": []}
    start = 0
    if resume and out.exists():
        ckpt = resumable(out, data, cfg)
        netG.load_state_dict(ckpt["netG"]); netD.load_state_dict(ckpt["netD"])
        optG.load_state_dict(ckpt["optG"]); optD.load_state_dict(ckpt["optD"])
        history, start = ckpt["history"], ckpt["epoch"]
        torch.set_rng_state(ckpt["rng"])
    else:
        torch.manual_seed(cfg.seed)

    aug_gen = torch.Generator().manual_seed(cfg.seed + start)
    def checkpoint(epoch: int) -> dict:
        return {"kind": "topgan-gan", "epoch": epoch, "image_size": data.size, "config": asdict(cfg),
                "opd_scale_nm": cfg.opd_scale_nm, "pixel_um": data.pixel_um, "cells": len(images),
                "data": data.path, "netG": netG.state_dict(), "netD": netD.state_dict(),
                "optG": optG.state_dict(), "optD": optD.state_dict(), "history": history,
                "rng": torch.get_rng_state()}

    # Real label 1, fake label 0, as in the DCGAN example.
    batches = max(1, math.ceil(len(images) / cfg.batch_size))
    ckpt: dict = {}
    for epoch in range(start, cfg.epochs):
        order = torch.randperm(len(images))
        bar = tqdm(range(batches), desc=f"pretrain epoch {epoch + 1}/{cfg.epochs}", disable=not progress, leave=False)
        for i in bar:
            real = images[order[i * cfg.batch_size:(i + 1) * cfg.batch_size]]
            if cfg.augment:
                # Cells in flow have no preferred orientation, so the 8 symmetries of the square
                # multiply a small unlabelled set without teaching the generator anything false.
                real = augment(real, aug_gen, max_shift=0)
            b = len(real)
            # (1) Update D: maximise log D(x) + log(1 - D(G(z))).
            netD.zero_grad()
            out_real = netD(real)
            errD_real = criterion(out_real, torch.ones(b))
            fake = netG(torch.randn(b, cfg.nz))
            out_fake = netD(fake.detach())
            errD_fake = criterion(out_fake, torch.zeros(b))
            (errD_real + errD_fake).backward()
            optD.step()
            # (2) Update G: maximise log D(G(z)) (the non-saturating loss).
            netG.zero_grad()
            errG = criterion(netD(fake), torch.ones(b))
            errG.backward()
            optG.step()
            history["loss_D"].append(float(errD_real.detach() + errD_fake.detach()))
            history["loss_G"].append(float(errG.detach()))
            history["D_x"].append(float(torch.sigmoid(out_real.detach()).mean()))
            history["D_G_z"].append(float(torch.sigmoid(out_fake.detach()).mean()))
            bar.set_postfix(loss_D=f"{history['loss_D'][-1]:.3f}", loss_G=f"{history['loss_G'][-1]:.3f}")
        ckpt = checkpoint(epoch + 1)
        torch.save(ckpt, out)
        plot_losses(history, batches, out.with_suffix(".losses.png"))
        with torch.no_grad():
            netG.eval()
            plot_samples(netG(fixed_noise), images[:32], out.with_suffix(".samples.png"))
            netG.train()
        if progress:
            tqdm.write(f"epoch {epoch + 1}/{cfg.epochs}: loss_D {np.mean(history['loss_D'][-batches:]):.3f} "
                       f"loss_G {np.mean(history['loss_G'][-batches:]):.3f} "
                       f"D(x) {np.mean(history['D_x'][-batches:]):.2f} D(G(z)) {np.mean(history['D_G_z'][-batches:]):.2f}")
    if not ckpt and out.exists():  # resumed a finished run
        ckpt = torch.load(out, map_location="cpu", weights_only=False)
    elif not ckpt:  # --epochs 0: the untrained initialisation, the control for "does pretraining matter"
        ckpt = checkpoint(0)
        torch.save(ckpt, out)
    return ckpt


def plot_losses(history: dict, batches_per_epoch: int, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 3.5))
    steps = np.arange(1, len(history["loss_D"]) + 1) / batches_per_epoch
    for key in ("loss_D", "loss_G"):
        ax.plot(steps, history[key], lw=0.6, label=key)
    ax.set_xlabel("epoch"); ax.set_ylabel("BCE loss"); ax.legend(); ax.set_title("DCGAN pretraining")
    fig.tight_layout(); fig.savefig(path, dpi=90); plt.close(fig)


def plot_samples(fake: torch.Tensor, real: torch.Tensor, path: Path) -> None:
    """Generated maps (left) next to real ones (right), on the same [-1, 1] colour scale."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def grid(x: torch.Tensor, cols: int) -> np.ndarray:
        x = x[: (len(x) // cols) * cols, 0].numpy()
        rows = len(x) // cols
        return x.reshape(rows, cols, *x.shape[1:]).transpose(0, 2, 1, 3).reshape(rows * x.shape[1], cols * x.shape[2])

    fig, axes = plt.subplots(1, 2, figsize=(10, 5))
    for ax, img, title in ((axes[0], grid(fake[:32], 8), "generated"), (axes[1], grid(real, 8), "real")):
        ax.imshow(img, cmap="gray", vmin=-1, vmax=1); ax.set_title(title); ax.axis("off")
    fig.tight_layout(); fig.savefig(path, dpi=80); plt.close(fig)

"""Parity between PyTorch and flowd's inference engine on random models of the model format.

Builds seeded random TOP-GAN classifiers of several architectures (DCGAN trunks with ndf 32 and
64, 64x64 and 128x128 inputs, with and without batch norm, linear and pooling heads), exports
each with :mod:`topgan.export`, and writes OPD inputs and PyTorch's softmax probabilities next to
it. ``flowd classify`` must reproduce them to max |dp| <= 1e-4 in fp32.

Batch-norm statistics are randomised too (a fresh BatchNorm2d has mean 0 and variance 1, which
would hide a wrong fold), and the inputs overshoot the clamp range on purpose.

    python -m topgan.parity --out DIR [--flowd .build/release/flowd]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .export import export_classifier
from .model import TopGanClassifier

TOLERANCE = 1e-4
PIXEL_UM = 0.3
OPD_SCALE_NM = 400.0


@dataclass(frozen=True)
class Architecture:
    name: str
    image_size: int
    ndf: int
    batchnorm: bool
    head: str
    classes: int = 3


ARCHITECTURES = [
    Architecture("dcgan64-ndf64-bn-linear", 64, 64, True, "linear"),
    Architecture("dcgan64-ndf32-bn-linear", 64, 32, True, "linear"),
    Architecture("dcgan64-ndf64-nobn-linear", 64, 64, False, "linear", classes=2),
    Architecture("dcgan64-ndf32-bn-globalpool", 64, 32, True, "global_pool"),
    Architecture("dcgan64-ndf32-nobn-avgpool", 64, 32, False, "avgpool", classes=4),
    Architecture("dcgan128-ndf32-bn-linear", 128, 32, True, "linear"),
    Architecture("dcgan128-ndf64-bn-globalpool", 128, 64, True, "global_pool", classes=5),
    Architecture("dcgan128-ndf32-nobn-avgpool", 128, 32, False, "avgpool", classes=2),
]


def random_model(arch: Architecture, seed: int) -> TopGanClassifier:
    """A classifier with seeded random weights and batch-norm statistics, in eval mode.

    He initialisation (He et al. 2015) keeps the activations' scale through the trunk, so that
    different inputs give clearly different outputs (PyTorch's default init shrinks them layer by
    layer until every crop gets the same probabilities, which would make parity trivial).
    """
    torch.manual_seed(seed)
    model = TopGanClassifier(arch.classes, arch.image_size, arch.ndf, arch.batchnorm, arch.head)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, a=0.2, nonlinearity="leaky_relu")
                if m.bias is not None:
                    m.bias.uniform_(-0.1, 0.1)
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.eps = 1e-5
    return model.eval()


def calibrate(model: TopGanClassifier, opd: np.ndarray, spread: float = 2.5) -> None:
    """Scales the last linear layer so the logits vary by about ``spread`` across the inputs,
    and centres each class's logit: the probabilities then span (0, 1) instead of sitting near
    1/classes, and different crops get different labels."""
    x = torch.from_numpy(opd).unsqueeze(1).div(OPD_SCALE_NM).clamp(-1, 1)
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    with torch.no_grad():
        std = float(model(x).std())
        last.weight.mul_(spread / max(std, 1e-12))
        last.bias.mul_(spread / max(std, 1e-12))
        last.bias.sub_(model(x).mean(0))


def random_opd(n: int, size: int, seed: int) -> np.ndarray:
    """OPD crops in nm: a smooth cell-like bump plus noise, overshooting +-opd_scale_nm."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size - 0.5
    bump = np.exp(-(x**2 + y**2) / 0.05)
    height = rng.uniform(0.2, 1.6, size=(n, 1, 1)) * OPD_SCALE_NM
    return (bump * height + rng.normal(0, 0.25 * OPD_SCALE_NM, size=(n, size, size))).astype(np.float32)


def pytorch_probabilities(model: nn.Module, opd: np.ndarray) -> np.ndarray:
    """The reference: clamp(opd / opd_scale_nm, -1, 1) -> model -> softmax, in fp32."""
    x = torch.from_numpy(opd).unsqueeze(1).div(OPD_SCALE_NM).clamp(-1, 1)
    with torch.no_grad():
        return torch.softmax(model(x), dim=1).numpy().astype(np.float32)


def build(out: Path, n: int = 12, architectures=ARCHITECTURES) -> list[dict]:
    """Writes <name>.safetensors, <name>.x.npy and <name>.p.npy for each architecture."""
    out.mkdir(parents=True, exist_ok=True)
    cases = []
    for i, arch in enumerate(architectures):
        model = random_model(arch, seed=1000 + i)
        opd = random_opd(n, arch.image_size, seed=2000 + i)
        calibrate(model, opd)
        classes = [f"class{j}" for j in range(arch.classes)]
        model_path = out / f"{arch.name}.safetensors"
        export_classifier(model, model_path, classes, PIXEL_UM, OPD_SCALE_NM)
        np.save(out / f"{arch.name}.x.npy", opd)
        np.save(out / f"{arch.name}.p.npy", pytorch_probabilities(model, opd))
        cases.append({"name": arch.name, "model": str(model_path), "x": str(out / f"{arch.name}.x.npy"),
                      "p": str(out / f"{arch.name}.p.npy")})
    return cases


def run_flowd(flowd: str, model: str, x: str, out: str, batch: int = 5) -> np.ndarray:
    """``flowd classify``; raises with flowd's stderr if it fails."""
    result = subprocess.run([flowd, "classify", "--model", model, "--input", x, "--out", out, "--batch", str(batch)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"flowd classify failed ({result.returncode}): {result.stderr.strip()}")
    return np.load(out)


def check(flowd: str, cases: list[dict], workdir: Path) -> list[dict]:
    """Max |dp| between flowd and PyTorch for each case."""
    report = []
    for case in cases:
        got = run_flowd(flowd, case["model"], case["x"], str(workdir / f"{case['name']}.flowd.npy"))
        want = np.load(case["p"])
        report.append({"name": case["name"], "max_abs_dp": float(np.abs(got - want).max()),
                       "labels_agree": bool((got.argmax(1) == want.argmax(1)).all())})
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="directory for the models and arrays")
    parser.add_argument("--flowd", help="flowd binary to check against PyTorch (omit to only build)")
    args = parser.parse_args(argv)
    cases = build(args.out)
    if not args.flowd:
        print(json.dumps(cases, indent=1))
        return 0
    report = check(args.flowd, cases, args.out)
    for r in report:
        print(f"{r['name']:32s} max|dp| = {r['max_abs_dp']:.2e}  labels agree: {r['labels_agree']}")
    return 0 if all(r["max_abs_dp"] <= TOLERANCE for r in report) else 1


if __name__ == "__main__":
    sys.exit(main())

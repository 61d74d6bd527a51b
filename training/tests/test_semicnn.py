"""The semi-supervised CNN of issue 13 (topgan.semicnn): its strong view rotates cells as flow
does, and the student learns the classes from the teacher's confident labels on unlabelled cells,
not only from the few labelled ones."""

from __future__ import annotations

import math

import numpy as np
import torch

from topgan.model import TopGanClassifier
from topgan.semicnn import SemiConfig, rotate, train


def test_a_quarter_turn_moves_every_pixel_exactly():
    """On a 64 × 64 grid a rotation by π/2 about the centre maps pixel centres onto pixel centres,
    so the bilinear rotation equals the exact one (torch.rot90, counter-clockwise in the image's
    row-column axes), and 0 leaves the crop unchanged (both to float rounding)."""
    x = torch.rand(3, 1, 64, 64)
    assert (rotate(x, torch.zeros(3)) - x).abs().max() < 1e-5
    turned = rotate(x, torch.full((3,), math.pi / 2))
    assert (turned - torch.rot90(x, 1, dims=(-2, -1))).abs().max() < 1e-5


def blobs(label: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """16 × 16 crops (nm) of round cells whose class is their radius (2.5, 4 or 5.5 pixels, ± 0.6),
    at any brightness (150-450 nm) and off centre by up to 2 pixels: one example per class does
    not pin the classes down."""
    yy, xx = np.mgrid[0:16, 0:16] - 7.5
    crops = []
    for c in label:
        cy, cx = rng.uniform(-2, 2, 2)
        radius = 2.5 + 1.5 * c + rng.uniform(-0.6, 0.6)
        crops.append(rng.uniform(150, 450) * (np.hypot(yy - cy, xx - cx) < radius) + rng.normal(0, 5, (16, 16)))
    return np.stack(crops).astype(np.float32)


def test_the_student_learns_the_teachers_confident_labels():
    """One labelled cell per class, 150 unlabelled cells: a teacher that is right and confident
    (0.9) on them teaches the student to tell new cells apart (0.84 on 90 new cells); with a
    threshold above every confidence the teacher is ignored and the same training reaches 0.76."""
    rng = np.random.default_rng(1)
    label = np.repeat(np.arange(3), 51)
    opd = blobs(label, rng)
    labelled = np.array([0, 51, 102])
    unlabelled = np.setdiff1d(np.arange(len(label)), labelled)
    teacher = np.full((len(unlabelled), 3), 0.05)
    teacher[np.arange(len(unlabelled)), label[unlabelled]] = 0.9
    test_label = np.repeat(np.arange(3), 30)
    test = torch.as_tensor(blobs(test_label, rng) / 500.0).unsqueeze(1)

    def accuracy(threshold: float) -> float:
        torch.manual_seed(0)
        model = TopGanClassifier(3, image_size=16, ndf=8)
        cfg = SemiConfig(steps=120, labelled_batch=3, unlabelled_batch=24, threshold=threshold, teacher_decay=False,
                         noise_nm=2.0)
        train(model, opd, labelled, label[labelled], unlabelled, teacher, 500.0, cfg)
        with torch.no_grad():
            return float((model(test).argmax(1).numpy() == test_label).mean())

    taught, alone = accuracy(0.8), accuracy(0.95)
    assert taught >= 0.8
    assert taught > alone + 0.05

"""Augmentation that suits cells in flow.

A suspended cell has no preferred orientation in the channel and the segmenter centres it only to
about a pixel, so its class cannot depend on mirror images, 90-degree turns or small shifts: the
eight symmetries of the square (the dihedral group D4) plus a shift of up to ``max_shift`` pixels
are free extra views of every labelled cell. They are exact (no interpolation), so the OPD values
the network sees stay the ones the reconstruction measured. Shifted-in borders are background,
OPD 0, as around every crop.
"""

from __future__ import annotations

import torch


def augment(x: torch.Tensor, generator: torch.Generator, max_shift: int = 3) -> torch.Tensor:
    """Random flip, 90-degree rotation and integer shift per image of a [B,1,S,S] batch."""
    out = torch.empty_like(x)
    b, _, s, _ = x.shape
    flips = torch.randint(0, 2, (b,), generator=generator)
    turns = torch.randint(0, 4, (b,), generator=generator)
    shifts = torch.randint(-max_shift, max_shift + 1, (b, 2), generator=generator)
    for i in range(b):
        img = x[i]
        if flips[i]:
            img = img.flip(-1)
        img = torch.rot90(img, int(turns[i]), dims=(-2, -1))
        dy, dx = int(shifts[i, 0]), int(shifts[i, 1])
        shifted = torch.zeros_like(img)
        shifted[:, max(dy, 0):s + min(dy, 0), max(dx, 0):s + min(dx, 0)] = \
            img[:, max(-dy, 0):s + min(-dy, 0), max(-dx, 0):s + min(-dx, 0)]
        out[i] = shifted
    return out

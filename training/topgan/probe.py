"""A frozen trunk as a feature extractor, and a linear classifier on its standardised features.

The linear probe (e.g. Chen et al., "A Simple Framework for Contrastive Learning", ICML 2020,
section 4) is the standard way to ask what a pretrained network learnt: freeze it, take its
features, fit a linear classifier. Here the feature of a crop is the global average of the
trunk's last map (``C`` numbers per crop, C = 8 ndf), which flowd's format can compute
(``avgpool2d`` global, then ``linear``).

The features are standardised before the classifier, with the mean and spread of *unlabelled*
cells of the target population (the rig produces those for free). Without that, an untrained
DCGAN trunk (weights N(0, 0.02)) outputs features a thousand times smaller than their differences
matter to a regularised classifier, and the classifier collapses to one class -- the "untrained
trunk stays at chance" control of earlier versions measured that, not the trunk.

Labelled cells are used with their eight square symmetries (flips and 90-degree turns; cells in
flow have no orientation), so N = 1 already gives the classifier 8 views per class.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .data import normalise

#: The eight symmetries of the square (dihedral group D4) as (flip, quarter turns).
D4 = [(f, t) for f in (False, True) for t in range(4)]


def d4_view(x: torch.Tensor, flip: bool, turns: int) -> torch.Tensor:
    """One symmetry of a [N,1,S,S] batch."""
    return torch.rot90(x.flip(-1) if flip else x, turns, dims=(-2, -1))


@torch.no_grad()
def pooled_features(trunk: nn.Module, opd: np.ndarray, opd_scale_nm: float, views: int = 1,
                    batch: int = 256) -> np.ndarray:
    """[views, N, C]: the trunk's last map averaged over space, for the first ``views`` D4
    symmetries of each crop (view 0 is the crop as it is). The trunk runs in eval mode."""
    trunk.eval()
    out = np.zeros((views, len(opd), 0), np.float32)
    chunks = []
    for i in range(0, len(opd), batch):
        x = normalise(opd[i:i + batch], opd_scale_nm)
        chunks.append(np.stack([trunk(d4_view(x, *D4[v])).mean((2, 3)).numpy() for v in range(views)]))
    return np.concatenate(chunks, 1) if chunks else out


class Standardiser:
    """z = (x - mean) / sd with statistics of reference rows (unlabelled cells); sd floored so
    constant columns stay 0 instead of dividing by zero."""

    def __init__(self, reference: np.ndarray):
        self.mean = reference.mean(0)
        sd = reference.std(0)
        self.sd = np.where(sd > 1e-12 * (np.abs(self.mean) + 1), sd, 1.0)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.sd

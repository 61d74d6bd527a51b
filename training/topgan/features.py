"""The classic small-data baseline: handcrafted QPI features and a linear classifier.

Before deep learning, QPI cell classification used a few interpretable numbers per cell -- projected
area, dry mass, OPD statistics, texture -- and a simple classifier (e.g. logistic regression or an
SVM); Rubin et al. (2019) compare TOP-GAN against such methods. Simple models need little data,
which is exactly why they are the baseline to beat when only a few labelled cells exist.

Features: the seven global features ``flowd extract`` measures (area, mean and max OPD, phase
volume, dry mass, aspect ratio, ellipse fill) plus texture from the crop itself, inside the cell
(OPD > 10 % of its maximum): OPD standard deviation, skewness and kurtosis, the mean gradient
magnitude and the mean |Laplacian| (fine structure: nucleoli, granularity), the fraction of the
cell above half its maximum (a large optically dense nucleus) and the OPD-weighted radius of
gyration. They are standardised and fed to L2-regularised logistic regression.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .data import FEATURES, CellDataset

TEXTURE = ("opd_sd_nm", "opd_skew", "opd_kurtosis", "grad_mean", "laplacian_mean", "dense_fraction",
           "gyration_radius_px")


def texture_features(opd: np.ndarray) -> np.ndarray:
    """[N,S,S] OPD (nm) -> [N, len(TEXTURE)] texture features inside each cell."""
    out = np.zeros((len(opd), len(TEXTURE)), np.float64)
    s = opd.shape[-1]
    yy, xx = np.mgrid[0:s, 0:s]
    for i, img in enumerate(opd.astype(np.float64)):
        mask = img > 0.1 * img.max()
        v = img[mask]
        if v.size < 3:
            continue
        sd = v.std() + 1e-9
        gy, gx = np.gradient(img)
        lap = np.abs(4 * img - np.roll(img, 1, 0) - np.roll(img, -1, 0) - np.roll(img, 1, 1) - np.roll(img, -1, 1))
        w = np.clip(img, 0, None) * mask
        cy, cx = (w * yy).sum() / w.sum(), (w * xx).sum() / w.sum()
        out[i] = (sd, ((v - v.mean()) ** 3).mean() / sd**3, ((v - v.mean()) ** 4).mean() / sd**4,
                  np.hypot(gx, gy)[mask].mean(), lap[mask].mean(), (v > 0.5 * v.max()).mean(),
                  np.sqrt((w * ((yy - cy) ** 2 + (xx - cx) ** 2)).sum() / w.sum()))
    return out


def feature_matrix(data: CellDataset) -> np.ndarray:
    """[N, F]: the extract features present in the file, then the texture features."""
    global_ = [data.features[k] for k in FEATURES if k in data.features]
    columns = np.stack(global_, 1).astype(np.float64) if global_ else np.zeros((len(data), 0))
    return np.concatenate([columns, texture_features(data.opd)], 1)


def fit_logistic(x: np.ndarray, y: np.ndarray, seed: int = 0, c: float = 1.0):
    """Standardise, then L2 logistic regression (C = 1): with a handful of cells per class the
    regularisation matters more than the exact C."""
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000, random_state=seed)).fit(x, y)

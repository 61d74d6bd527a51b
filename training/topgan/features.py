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


def cells_inside(opd: np.ndarray):
    """(index, crop, cell mask, OPD values inside) for each crop with a positive peak whose cell
    (OPD > 10 % of the crop's maximum) has at least 3 pixels; the features of the others stay 0.
    NaN pixels (a failed unwrap) count as background (0), as in flowd."""
    for i, img in enumerate(np.nan_to_num(opd.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)):
        mask = img > 0.1 * img.max()
        if img.max() > 0 and mask.sum() >= 3:
            yield i, img, mask, img[mask]


def texture_features(opd: np.ndarray) -> np.ndarray:
    """[N,S,S] OPD (nm) -> [N, len(TEXTURE)] texture features inside each cell."""
    out = np.zeros((len(opd), len(TEXTURE)), np.float64)
    s = opd.shape[-1]
    yy, xx = np.mgrid[0:s, 0:s]
    for i, img, mask, v in cells_inside(opd):
        sd = v.std() + 1e-9
        gy, gx = np.gradient(img)
        lap = np.abs(4 * img - np.roll(img, 1, 0) - np.roll(img, -1, 0) - np.roll(img, 1, 1) - np.roll(img, -1, 1))
        w = np.clip(img, 0, None) * mask
        cy, cx = (w * yy).sum() / w.sum(), (w * xx).sum() / w.sum()
        out[i] = (sd, ((v - v.mean()) ** 3).mean() / sd**3, ((v - v.mean()) ** 4).mean() / sd**4,
                  np.hypot(gx, gy)[mask].mean(), lap[mask].mean(), (v > 0.5 * v.max()).mean(),
                  np.sqrt((w * ((yy - cy) ** 2 + (xx - cx) ** 2)).sum() / w.sum()))
    return out


#: The shape features measured on the crop alone (:func:`shape_features`): crop-measured stand-ins
#: for the global features ``flowd extract`` writes from the full field.
SHAPE = ("area_um2", "mean_opd_nm", "max_opd_nm", "opd_integral_nm_um2", "aspect_ratio", "ellipse_fill")

#: The feature set a model file of format version 2 names (``"extractor": "qpi-crop", "version": 1``):
#: :data:`SHAPE` then :data:`TEXTURE`, all from the 64 x 64 OPD crop alone, so that flowd's engine
#: computes them (Sources/Inference/CropFeatures.swift) exactly as :func:`crop_features` does.
CROP_FEATURES = SHAPE + TEXTURE
CROP_EXTRACTOR, CROP_EXTRACTOR_VERSION = "qpi-crop", 1


def shape_features(opd: np.ndarray, pixel_um: float) -> np.ndarray:
    """[N,S,S] OPD (nm) -> [N, len(SHAPE)], inside the cell mask of :func:`cells_inside`:

    - ``area_um2``: mask pixels x pixel_um²; ``mean_opd_nm``, ``max_opd_nm``: OPD inside;
    - ``opd_integral_nm_um2``: the OPD summed over the mask x pixel_um², proportional to the
      phase volume and the dry mass (Barer 1952: dry mass = integral / refraction increment);
    - ``aspect_ratio``, ``ellipse_fill``: from the second moments of the mask's pixels, each pixel
      a unit square (its own variance 1/12 added to each eigenvalue, which also keeps a one-pixel
      line finite): sqrt(l1 / l2), and the mask's area over the area 4 pi sqrt(l1 l2) of the
      ellipse with the same moments (1 for a filled ellipse)."""
    out = np.zeros((len(opd), len(SHAPE)), np.float64)
    s = opd.shape[-1]
    yy, xx = np.mgrid[0:s, 0:s]
    for i, img, mask, v in cells_inside(opd):
        n = float(mask.sum())
        dy, dx = yy[mask] - yy[mask].mean(), xx[mask] - xx[mask].mean()
        cyy, cxx, cxy = (dy * dy).mean() + 1 / 12, (dx * dx).mean() + 1 / 12, (dx * dy).mean()
        half_trace, det = (cyy + cxx) / 2, cyy * cxx - cxy * cxy
        root = np.sqrt(max(half_trace * half_trace - det, 0.0))
        l1, l2 = half_trace + root, half_trace - root
        out[i] = (n * pixel_um ** 2, v.mean(), v.max(), v.sum() * pixel_um ** 2, np.sqrt(l1 / l2),
                  n / (4 * np.pi * np.sqrt(l1 * l2)))
    return out


def crop_features(opd: np.ndarray, pixel_um: float) -> np.ndarray:
    """[N,S,S] OPD (nm) -> [N, len(CROP_FEATURES)], float64: what a version-2 model file's engine
    computes from each crop before its standardisation and linear layer."""
    return np.concatenate([shape_features(opd, pixel_um), texture_features(opd)], 1)


#: Difference-of-Gaussians scales (px, at 0.3 µm: 0.2-1.7 µm) of :func:`scale_features`.
DOG_SIGMAS = (0.7, 1.4, 2.8)
SCALE = tuple(f"dog{s:g}_rel" for s in DOG_SIGMAS) + ("highpass_rel", "opd_q25_rel", "opd_q50_rel", "opd_q75_rel",
                                                     "dense70_fraction")


def scale_features(opd: np.ndarray) -> np.ndarray:
    """[N,S,S] OPD (nm) -> [N, len(SCALE)]: texture by scale and the shape of the OPD histogram,
    all relative to the cell's own OPD so that thickness does not masquerade as texture.

    - ``dog<s>_rel``: RMS of the band G_s - G_2s (difference of Gaussians, Marr & Hildreth 1980)
      inside the cell over its mean OPD: refractive-index texture at about 2.4 s px (the twin's
      correlation lengths 0.9-1.5 µm and nucleoli of 1-1.2 µm sit in these bands);
    - ``highpass_rel``: RMS of opd - G_0.7 inside the cell over its mean OPD (finest grain);
    - ``opd_q25/50/75_rel``: quantiles of OPD / peak OPD inside the cell (a large dense nucleus
      lifts them); ``dense70_fraction``: the share of the cell above 70 % of its peak."""
    from scipy.ndimage import gaussian_filter
    out = np.zeros((len(opd), len(SCALE)), np.float64)
    for i, img, mask, v in cells_inside(opd):
        mean = v.mean() + 1e-9
        blurred = {s: gaussian_filter(img, s) for s in (0.7,) + DOG_SIGMAS + tuple(2 * s for s in DOG_SIGMAS)}
        bands = [np.sqrt(((blurred[s] - blurred[2 * s])[mask] ** 2).mean()) / mean for s in DOG_SIGMAS]
        high = np.sqrt(((img - blurred[0.7])[mask] ** 2).mean()) / mean
        q = np.quantile(v / v.max(), [0.25, 0.5, 0.75])
        out[i] = (*bands, high, *q, (v > 0.7 * v.max()).mean())
    return out


def feature_matrix(data: CellDataset, extended: bool = False) -> np.ndarray:
    """[N, F]: the extract features present in the file, then the texture features (and, with
    ``extended``, the :func:`scale_features`)."""
    global_ = [data.features[k] for k in FEATURES if k in data.features]
    columns = np.stack(global_, 1).astype(np.float64) if global_ else np.zeros((len(data), 0))
    blocks = [columns, texture_features(data.opd)] + ([scale_features(data.opd)] if extended else [])
    return np.concatenate(blocks, 1)


def fit_logistic(x: np.ndarray, y: np.ndarray, seed: int = 0, c: float = 1.0):
    """Standardise, then L2 logistic regression (C = 1): with a handful of cells per class the
    regularisation matters more than the exact C."""
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000, random_state=seed)).fit(x, y)

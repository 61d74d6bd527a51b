"""The features recipe: QPI features measured on the crop, standardised with the rig's unlabelled
cells, L2 logistic regression -- the best few-shot recipe of docs/experiments.md, as a model file.

At N = 25 labelled cells per class this recipe reaches ≈ 88 % balanced accuracy per crop on the
ideal twin where fine-tuning the GAN-pretrained CNN reaches ≈ 71 % (docs/experiments.md). Its
model file (format version 2, docs/model-format.md) is still "OPD crop in, probabilities out":
it names the feature extractor (:data:`topgan.features.CROP_FEATURES`, which flowd's engine
computes from the crop), and carries the standardisation (mean, scale) and the linear layer, so

    p = softmax(((f(crop) - mean) / scale) W^T + b).

The standardisation uses the statistics of *unlabelled* cells of the same population (every cell
of the labelled file but the held-out ones, labels never read): with N = 1-2 labelled cells that
is 8 points better than the N cells' own statistics, and never worse (docs/experiments.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data import CellDataset
from .features import CROP_EXTRACTOR, CROP_EXTRACTOR_VERSION, CROP_FEATURES, crop_features

KIND = "topgan-feature-classifier"
#: Inverse L2 strength of the logistic regression, chosen on the validation twin for the 14
#: extract + texture features (C ∈ {0.01, 0.1, 1, 10} → 1, docs/experiments.md).
DEFAULT_C = 1.0


@dataclass
class FeatureClassifier:
    """softmax(((crop_features(crop) - mean) / scale) @ weight.T + bias), in float64."""
    classes: list[str]
    size: int
    pixel_um: float
    mean: np.ndarray      # [F]
    scale: np.ndarray     # [F], > 0
    weight: np.ndarray    # [K, F]
    bias: np.ndarray      # [K]
    opd_scale_nm: float   # the OPD range of the training cells (data.fit_opd_scale); informative

    def logits(self, opd: np.ndarray) -> np.ndarray:
        z = (crop_features(opd, self.pixel_um) - self.mean) / self.scale
        return z @ self.weight.T + self.bias

    def predict_proba(self, opd: np.ndarray) -> np.ndarray:
        """[N, K] softmax probabilities for OPD crops in nm, exactly as flowd computes them."""
        logits = self.logits(opd)
        p = np.exp(logits - logits.max(1, keepdims=True))
        return p / p.sum(1, keepdims=True)

    def checkpoint(self) -> dict:
        """What ``topgan finetune`` saves (``torch.save``) and ``topgan export`` reads."""
        return {"kind": KIND, "classes": list(self.classes), "image_size": self.size, "pixel_um": self.pixel_um,
                "opd_scale_nm": self.opd_scale_nm, "mean": self.mean, "scale": self.scale, "weight": self.weight,
                "bias": self.bias}

    @classmethod
    def from_checkpoint(cls, ckpt: dict) -> "FeatureClassifier":
        return cls(list(ckpt["classes"]), int(ckpt["image_size"]), float(ckpt["pixel_um"]), np.asarray(ckpt["mean"]),
                   np.asarray(ckpt["scale"]), np.asarray(ckpt["weight"]), np.asarray(ckpt["bias"]),
                   float(ckpt["opd_scale_nm"]))


def fit(data: CellDataset, train_index: np.ndarray, unlabelled_index: np.ndarray, opd_scale_nm: float,
        c: float = DEFAULT_C, seed: int = 0, features: np.ndarray | None = None) -> FeatureClassifier:
    """Fits the recipe on ``data`` cells ``train_index``, standardised with the cells
    ``unlabelled_index`` (their labels are not read). ``features`` may pass
    ``crop_features(data.opd, data.pixel_um)`` when it is already computed (cross-validation)."""
    from sklearn.linear_model import LogisticRegression

    from .probe import Standardiser
    x = crop_features(data.opd, data.pixel_um) if features is None else features
    z = Standardiser(x[unlabelled_index])
    clf = LogisticRegression(C=c, max_iter=3000, random_state=seed).fit(z(x[train_index]), data.label[train_index])
    weight, bias = clf.coef_, clf.intercept_
    if weight.shape[0] == 1:  # scikit-learn's binary form: one logit; softmax([-l/2, l/2]) = sigmoid(l)
        weight, bias = np.concatenate([-weight / 2, weight / 2]), np.array([-bias[0] / 2, bias[0] / 2])
    return FeatureClassifier(list(data.classes), data.size, float(data.pixel_um), z.mean, z.sd, weight, bias,
                             opd_scale_nm)


def export(model: FeatureClassifier, path: str | Path) -> dict:
    """Writes the model file (format version 2 with ``features``); returns its metadata object.
    The tensors are F32 (the format's dtypes); the engine computes the features and applies the
    standardisation in double precision, as :func:`load` does."""
    import torch
    from safetensors.torch import save_file

    from .export import FORMAT
    meta = {"format": FORMAT, "version": 2, "classes": list(model.classes),
            "input": {"size": int(model.size), "pixel_um": float(model.pixel_um),
                      "opd_scale_nm": float(model.opd_scale_nm)},
            "features": {"extractor": CROP_EXTRACTOR, "version": CROP_EXTRACTOR_VERSION, "names": list(CROP_FEATURES),
                         "mean": "features.mean", "scale": "features.scale"},
            "layers": [{"op": "linear", "weight": "head.weight", "bias": "head.bias"}]}
    tensors = {"features.mean": model.mean, "features.scale": model.scale, "head.weight": model.weight,
               "head.bias": model.bias}
    save_file({k: torch.as_tensor(np.ascontiguousarray(v), dtype=torch.float32) for k, v in tensors.items()},
              str(path), metadata={"topgan": json.dumps(meta)})
    return meta


def load(path: str | Path) -> tuple[FeatureClassifier, dict]:
    """A version-2 features model file as a :class:`FeatureClassifier` (the float32 tensors the
    file holds, computed in float64 as the engine does) and its metadata."""
    from safetensors import safe_open
    from safetensors.numpy import load_file
    with safe_open(str(path), framework="np") as f:
        meta = json.loads(f.metadata()["topgan"])
    tensors = {k: v.astype(np.float64) for k, v in load_file(str(path)).items()}
    spec = meta.get("features")
    if meta.get("version") != 2 or not spec:
        raise ValueError(f"{path}: not a features model file (format version 2 with \"features\")")
    if (spec["extractor"], spec["version"], list(spec["names"])) != (CROP_EXTRACTOR, CROP_EXTRACTOR_VERSION,
                                                                     list(CROP_FEATURES)):
        raise ValueError(f"{path}: features {spec['extractor']} v{spec['version']} are not this package's "
                         f"{CROP_EXTRACTOR} v{CROP_EXTRACTOR_VERSION}")
    (linear,) = meta["layers"]
    model = FeatureClassifier(meta["classes"], meta["input"]["size"], meta["input"]["pixel_um"],
                              tensors[spec["mean"]], tensors[spec["scale"]], tensors[linear["weight"]],
                              tensors[linear["bias"]], meta["input"]["opd_scale_nm"])
    return model, meta

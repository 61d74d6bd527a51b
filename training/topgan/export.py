"""Export a trained classifier to flowd's model file (docs/model-format.md).

The file is safetensors: the weights under their PyTorch state_dict names, plus
``__metadata__["topgan"]``, a JSON object that names the classes, the input scaling and the
ordered list of ops that flowd's inference engine runs. Only the tensors that the ops name are
written (BatchNorm's ``num_batches_tracked`` counter, for one, is not).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

FORMAT = "topgan-classifier"
VERSION = 1
#: safetensors dtypes flowd reads, by the torch dtype that is written for them.
DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def _square(value, what: str, name: str) -> int:
    """PyTorch allows per-axis (h, w) values; the format has one value for both axes."""
    if isinstance(value, tuple):
        if len(set(value)) != 1:
            raise ValueError(f"{name}: {what} {value} is not square; flowd's format has one value per op")
        value = value[0]
    return int(value)


def describe(modules: Iterable[tuple[str, nn.Module]]) -> tuple[list[dict], list[str]]:
    """The ``layers`` list for ``(state_dict prefix, module)`` pairs in execution order, and the
    names of the tensors it references."""
    layers: list[dict] = []
    tensors: list[str] = []

    def ref(name: str) -> str:
        tensors.append(name)
        return name

    for prefix, m in modules:
        p = f"{prefix}." if prefix else ""
        if isinstance(m, nn.Conv2d):
            if m.groups != 1 or _square(m.dilation, "dilation", prefix) != 1 or m.padding_mode != "zeros":
                raise ValueError(f"{prefix}: only plain convolutions (groups=1, dilation=1, zero padding) are supported")
            op = {"op": "conv2d", "weight": ref(p + "weight"),
                  "stride": _square(m.stride, "stride", prefix), "padding": _square(m.padding, "padding", prefix)}
            if m.bias is not None:
                op["bias"] = ref(p + "bias")
        elif isinstance(m, nn.BatchNorm2d):
            if not m.track_running_stats or not m.affine:
                raise ValueError(f"{prefix}: batchnorm2d needs affine=True and running statistics")
            for t in ("weight", "bias", "running_mean", "running_var"):
                ref(p + t)
            op = {"op": "batchnorm2d", "prefix": prefix, "eps": m.eps}
        elif isinstance(m, nn.LeakyReLU):
            op = {"op": "leaky_relu", "slope": m.negative_slope}
        elif isinstance(m, nn.ReLU):
            op = {"op": "relu"}
        elif isinstance(m, nn.Dropout):
            op = {"op": "dropout"}
        elif isinstance(m, nn.AdaptiveAvgPool2d):
            if _square(m.output_size, "output_size", prefix) != 1:
                raise ValueError(f"{prefix}: only AdaptiveAvgPool2d(1) (global pooling) is supported")
            op = {"op": "avgpool2d", "global": True}
        elif isinstance(m, nn.AvgPool2d):
            if _square(m.padding, "padding", prefix) != 0 or m.ceil_mode:
                raise ValueError(f"{prefix}: avgpool2d must have padding 0 and ceil_mode False")
            op = {"op": "avgpool2d", "kernel": _square(m.kernel_size, "kernel", prefix),
                  "stride": _square(m.stride, "stride", prefix)}
        elif isinstance(m, nn.Flatten):
            op = {"op": "flatten"}
        elif isinstance(m, nn.Linear):
            op = {"op": "linear", "weight": ref(p + "weight")}
            if m.bias is not None:
                op["bias"] = ref(p + "bias")
        else:
            raise ValueError(f"{prefix}: {type(m).__name__} has no op in flowd's model format")
        layers.append(op)
    return layers, tensors


def metadata(layers: list[dict], classes: list[str], size: int, pixel_um: float, opd_scale_nm: float) -> dict:
    """The ``__metadata__["topgan"]`` object (docs/model-format.md)."""
    if not classes or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be distinct and non-empty; got {classes}")
    if opd_scale_nm <= 0 or pixel_um <= 0:
        raise ValueError("opd_scale_nm and pixel_um must be positive")
    return {"format": FORMAT, "version": VERSION, "classes": list(classes),
            "input": {"size": int(size), "pixel_um": float(pixel_um), "opd_scale_nm": float(opd_scale_nm)},
            "layers": layers}


def export(modules: Iterable[tuple[str, nn.Module]], state_dict: dict[str, torch.Tensor], path: str | Path,
           classes: list[str], size: int, pixel_um: float, opd_scale_nm: float, dtype: str = "F32") -> dict:
    """Writes the model file; returns the metadata object it holds.

    ``modules`` are the leaf modules in execution order with their state_dict prefixes
    (``TopGanClassifier.modules_in_order()``); ``dtype`` is F32, F16 or BF16.
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}; got {dtype}")
    layers, names = describe(modules)
    meta = metadata(layers, classes, size, pixel_um, opd_scale_nm)
    tensors = {n: state_dict[n].detach().to(DTYPES[dtype]).contiguous().cpu() for n in names}
    save_file(tensors, str(path), metadata={"topgan": json.dumps(meta)})
    return meta


def export_classifier(model, path: str | Path, classes: list[str], pixel_um: float, opd_scale_nm: float,
                      dtype: str = "F32") -> dict:
    """Exports a :class:`topgan.model.TopGanClassifier` (or any module with ``modules_in_order``
    and ``image_size``)."""
    return export(model.modules_in_order(), model.state_dict(), path, classes, model.image_size,
                  pixel_um, opd_scale_nm, dtype)


def load_model_file(path: str | Path):
    """Reads a model file back into a :class:`topgan.model.TopGanClassifier` (eval mode) and its
    metadata: the round trip of :func:`export_classifier`, and the PyTorch reference for checking
    flowd on a committed model. Only files of this package's architectures (a DCGAN trunk plus
    one of :data:`topgan.model.HEADS`) can be rebuilt."""
    from safetensors import safe_open

    from .model import TopGanClassifier

    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["topgan"])
        tensors = {k: f.get_tensor(k).to(torch.float32) for k in f.keys()}
    ops = [layer["op"] for layer in meta["layers"]]
    head = "avgpool" if "relu" in ops else "global_pool" if any(l.get("global") for l in meta["layers"]) else "linear"
    ndf = tensors["features.0.weight"].shape[0]
    batchnorm = "batchnorm2d" in ops
    model = TopGanClassifier(len(meta["classes"]), meta["input"]["size"], ndf, batchnorm, head)
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    if unexpected or any(not k.endswith("num_batches_tracked") for k in missing):
        raise ValueError(f"{path}: tensors do not fit a TopGanClassifier (missing {missing}, unexpected {unexpected})")
    return model.eval(), meta


def reference_probabilities(path: str | Path, opd: np.ndarray) -> tuple[np.ndarray, dict]:
    """What flowd must compute for a model file of either kind, and its metadata: a features
    model (version 2 with ``features``) through :mod:`topgan.featuremodel` in numpy, a network
    through :func:`load_model_file` in PyTorch."""
    from . import featuremodel
    from .finetune import predict
    with open(path, "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    if "features" in json.loads(header["__metadata__"]["topgan"]):
        model, meta = featuremodel.load(path)
        return model.predict_proba(opd), meta
    model, meta = load_model_file(path)
    return predict(model, opd, meta["input"]["opd_scale_nm"]), meta

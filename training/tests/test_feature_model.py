"""Model format version 2, the features model (docs/model-format.md): `topgan finetune --recipe
features` writes it, flowd's engine computes the qpi-crop features from the crop and classifies
exactly as the numpy reference (topgan.featuremodel) does, and the loader refuses a features
description it cannot compute."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from flowd_binary import run_flowd
from topgan import data as datamod, featuremodel
from topgan.cli import main, parser
from topgan.features import CROP_FEATURES, crop_features

SIZE = 64
CLASSES = ["healthy", "primary", "metastatic"]


def cells(n_per_class: int, seed: int) -> dict:
    """64 × 64 cell-like crops (nm) at 0.3 µm: an elliptic body whose class sets its size and a
    dense off-centre nucleus, rough texture, background noise, one cell cut by the crop's edge."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] - (SIZE - 1) / 2
    opd, label = [], []
    for c in range(3):
        for _ in range(n_per_class):
            a, b = 12 * rng.uniform(0.8, 1.2) * (1 + 0.15 * c), 10 * rng.uniform(0.8, 1.2)
            t = rng.uniform(0, np.pi)
            u, v = xx * np.cos(t) + yy * np.sin(t), -xx * np.sin(t) + yy * np.cos(t)
            body = 180 * np.sqrt(np.clip(1 - (u / a) ** 2 - (v / b) ** 2, 0, None))
            nucleus = (60 + 60 * c) * np.exp(-((xx - rng.normal(0, 2)) ** 2 + (yy - rng.normal(0, 2)) ** 2) / 30)
            img = body + nucleus * (body > 0) + rng.normal(0, 4 + 3 * c, (SIZE, SIZE)) * (body > 0)
            opd.append(img + rng.normal(0, 1.5, (SIZE, SIZE)))
            label.append(c)
    opd = np.array(opd, np.float32)
    opd[0] = np.roll(opd[0], 27, axis=1)  # a cell across the crop's edge: the Laplacian wraps there
    return {"opd": opd, "label": np.array(label, np.int64), "classes": np.array(CLASSES),
            "pixel_um": np.array(0.3, np.float32)}


def odd_crops() -> np.ndarray:
    """Crops at the definitions' edges: a NaN pixel, nothing (all 0), a negative peak, a cell of
    3 pixels in a line, a one-pixel cell (features 0)."""
    base = cells(1, 7)["opd"][1]
    nan = base.copy()
    nan[30, 30] = np.nan
    line = np.zeros((SIZE, SIZE), np.float32)
    line[10, 5:8] = 100
    dot = np.zeros((SIZE, SIZE), np.float32)
    dot[3, 3] = 50
    return np.stack([nan, np.zeros_like(base), -np.abs(base), line, dot]).astype(np.float32)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cells")
    np.savez(d / "labelled.npz", **cells(30, 1))
    return d


@pytest.fixture(scope="module")
def fitted(files):
    data = datamod.load(files / "labelled.npz")
    test, rest = datamod.balanced_split(data.label, 3, 10, 0)
    train = datamod.sample_shots(data.label, 3, 10, 0, exclude=test)
    return featuremodel.fit(data, train, rest, 400.0), data, test


def test_the_features_are_the_documented_ones_and_finite(files):
    opd = np.concatenate([cells(2, 3)["opd"], odd_crops()])
    x = crop_features(opd, 0.3)
    assert x.shape == (len(opd), 13) and np.isfinite(x).all()
    nan, empty, negative, line, dot = x[-5:]
    assert (empty == 0).all() and (negative == 0).all() and (dot == 0).all()  # no cell of 3 pixels or more
    assert (nan != 0).all()
    # The line of 3 pixels: coordinate variance 2/3 along it, 0 across, + 1/12 each: aspect 3.
    area, aspect = line[CROP_FEATURES.index("area_um2")], line[CROP_FEATURES.index("aspect_ratio")]
    assert area == pytest.approx(3 * 0.09) and aspect == pytest.approx(3.0)


def test_flowd_computes_the_features_model_as_numpy_does(fitted, tmp_path):
    """Parity ≤ 1e-4 in probability on crops the model never saw and on the odd crops, for the
    fitted model and for one whose random head weighs every feature alike (a feature computed
    differently by the engine cannot hide behind a small weight)."""
    model, _, _ = fitted
    rng = np.random.default_rng(5)
    blunt = featuremodel.FeatureClassifier(CLASSES, SIZE, 0.3, model.mean, model.scale,
                                           rng.normal(0, 1, model.weight.shape), rng.normal(0, 1, 3), 400.0)
    crops = np.concatenate([cells(10, 11)["opd"], odd_crops()])
    np.save(tmp_path / "x.npy", crops)
    for name, m in (("fitted", model), ("random", blunt)):
        path = tmp_path / f"{name}.safetensors"
        featuremodel.export(m, path)
        reference, meta = featuremodel.load(path)
        assert meta["version"] == 2 and meta["features"]["names"] == list(CROP_FEATURES)
        result = run_flowd("classify", "--model", str(path), "--input", str(tmp_path / "x.npy"),
                           "--out", str(tmp_path / "p.npy"))
        assert result.returncode == 0, result.stderr
        got, want = np.load(tmp_path / "p.npy"), reference.predict_proba(crops)
        assert np.abs(got - want).max() <= 1e-4, name
        assert np.abs(want - m.predict_proba(crops)).max() <= 1e-4  # the file's F32 tensors change nothing


def test_the_fitted_model_learns_the_classes(fitted):
    model, data, test = fitted
    assert (model.predict_proba(data.opd[test]).argmax(1) == data.label[test]).mean() >= 0.8


def test_topgan_finetune_recipe_features_exports_version_2(files, tmp_path, capsys):
    out = tmp_path / "clf.pt"
    assert main(["--quiet", "finetune", "--recipe", "features", "--data", str(files / "labelled.npz"), "--shots", "10",
                 "--test-per-class", "5", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "cross-validated balanced accuracy (5-fold" in printed and "balanced accuracy on 15 held-out cells" in printed
    assert main(["export", str(out), "--out", str(tmp_path / "m.safetensors")]) == 0
    assert "format version 2" in capsys.readouterr().out
    _, meta = featuremodel.load(tmp_path / "m.safetensors")
    assert meta["features"]["extractor"] == "qpi-crop" and meta["layers"] == [
        {"op": "linear", "weight": "head.weight", "bias": "head.bias"}]


def _rewrite(path, out, change_meta=None, change_tensor=None):
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header, data = json.loads(raw[8:8 + n]), bytearray(raw[8 + n:])
    if change_meta:
        meta = json.loads(header["__metadata__"]["topgan"])
        change_meta(meta)
        header["__metadata__"]["topgan"] = json.dumps(meta)
    if change_tensor:
        name, index, value = change_tensor
        begin = header[name]["data_offsets"][0] + 4 * index
        data[begin:begin + 4] = struct.pack("<f", value)
    text = json.dumps(header).encode()
    out.write_bytes(struct.pack("<Q", len(text)) + text + bytes(data))


@pytest.mark.parametrize("meta, tensor, complaint", [
    (lambda m: m["features"].update(extractor="qpi-crop-plus"), None,
     'extractor "qpi-crop-plus" version 1 is unknown; this flowd computes "qpi-crop" version 1'),
    (lambda m: m["features"].update(version=2), None, "version 2 is unknown"),
    (lambda m: m["features"]["names"].reverse(), None, "features.names must list qpi-crop version 1's features in order"),
    (lambda m: m.update(version=1), None, "metadata features needs format version 2"),
    (lambda m: m.update(version=3), None, "this flowd reads versions 1–2"),
    (lambda m: m["features"].update(mean="nothing"), None, "tensor 'nothing' is missing"),
    (None, ("features.scale", 4, 0.0), "features.scale: tensor 'features.scale' element 4 is 0.0; every scale must be positive"),
    (lambda m: m["layers"].insert(0, {"op": "conv2d", "weight": "head.weight", "stride": 1, "padding": 0}), None,
     "needs a [C, H, W] input"),
])
def test_flowd_refuses_a_features_model_it_cannot_compute(fitted, tmp_path, meta, tensor, complaint):
    good = tmp_path / "good.safetensors"
    featuremodel.export(fitted[0], good)
    bad = tmp_path / "bad.safetensors"
    _rewrite(good, bad, meta, tensor)
    np.save(tmp_path / "x.npy", np.zeros((1, SIZE, SIZE), np.float32))
    result = run_flowd("classify", "--model", str(bad), "--input", str(tmp_path / "x.npy"), "--out", str(tmp_path / "p.npy"))
    assert result.returncode == 1 and complaint in result.stderr, result.stderr

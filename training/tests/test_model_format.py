"""The model file contract (docs/model-format.md): what ``topgan.export`` writes, and that
``flowd classify`` rejects every malformed file with a message naming the tensor, op or byte
offset at fault, and exit status 1 (never a crash)."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import torch
from safetensors import safe_open

from flowd_binary import run_flowd
from topgan.export import export_classifier
from topgan.model import TopGanClassifier


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    torch.manual_seed(0)
    model = TopGanClassifier(2, image_size=16, ndf=8, head="linear").eval()
    path = tmp_path_factory.mktemp("model") / "small.safetensors"
    export_classifier(model, path, ["healthy", "cancer"], pixel_um=0.3, opd_scale_nm=400)
    return path


@pytest.fixture(scope="module")
def crops(tmp_path_factory):
    path = tmp_path_factory.mktemp("x") / "x.npy"
    np.save(path, np.random.default_rng(0).normal(0, 200, (3, 16, 16)).astype(np.float32))
    return path


def read(path):
    """(header dict, data bytes) of a safetensors file."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def write(path, header, data):
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


def edit_metadata(header, change):
    meta = json.loads(header["__metadata__"]["topgan"])
    change(meta)
    header["__metadata__"]["topgan"] = json.dumps(meta)


def test_export_writes_the_documented_metadata(model_file):
    with safe_open(str(model_file), "pt") as f:
        meta = json.loads(f.metadata()["topgan"])
        names = set(f.keys())
    assert meta["format"] == "topgan-classifier" and meta["version"] == 1
    assert meta["classes"] == ["healthy", "cancer"]
    assert meta["input"] == {"size": 16, "pixel_um": 0.3, "opd_scale_nm": 400.0}
    assert [op["op"] for op in meta["layers"]] == [
        "conv2d", "leaky_relu", "conv2d", "batchnorm2d", "leaky_relu", "flatten", "dropout", "linear"]
    assert meta["layers"][0] == {"op": "conv2d", "weight": "features.0.weight", "bias": "features.0.bias",
                                 "stride": 2, "padding": 1}
    assert meta["layers"][3] == {"op": "batchnorm2d", "prefix": "features.3", "eps": 1e-5}
    assert not any(n.endswith("num_batches_tracked") for n in names)


def test_the_valid_file_classifies(model_file, crops, tmp_path):
    result = run_flowd("classify", "--model", str(model_file), "--input", str(crops), "--out", str(tmp_path / "p.npy"))
    assert result.returncode == 0, result.stderr
    assert np.allclose(np.load(tmp_path / "p.npy").sum(1), 1, atol=1e-6)


def missing_tensor(header, data):
    del header["features.2.weight"]
    return header, data


def shape_mismatch(header, data):
    header["features.3.bias"]["shape"] = [8]
    return header, data


def unknown_op(header, data):
    edit_metadata(header, lambda m: m["layers"].insert(2, {"op": "maxpool2d", "kernel": 2}))
    return header, data


def nan_weight(header, data):
    begin = header["head.2.weight"]["data_offsets"][0]
    data = data[:begin] + struct.pack("<f", float("nan")) + data[begin + 4:]
    return header, data


def infinite_weight(header, data):
    begin = header["features.0.weight"]["data_offsets"][0]
    data = data[:begin + 8] + struct.pack("<f", float("inf")) + data[begin + 12:]
    return header, data


def wrong_dtype(header, data):
    header["features.0.bias"]["dtype"] = "I32"
    return header, data


def missing_metadata(header, data):
    del header["__metadata__"]
    return header, data


def wrong_version(header, data):
    edit_metadata(header, lambda m: m.update(version=3))
    return header, data


def class_count_mismatch(header, data):
    edit_metadata(header, lambda m: m.update(classes=["a", "b", "c"]))
    return header, data


MALFORMED = [
    (missing_tensor, "tensor 'features.2.weight' is missing from the file"),
    (shape_mismatch, "tensor 'features.3.bias' has shape [8], expected [16]"),
    (unknown_op, "layers[2]: unknown op \"maxpool2d\""),
    (nan_weight, "tensor 'head.2.weight': element 0 (byte offset"),
    (infinite_weight, "tensor 'features.0.weight': element 2 (byte offset"),
    (wrong_dtype, "tensor 'features.0.bias' has dtype I32; supported: F32, F16, BF16"),
    (missing_metadata, "no __metadata__[\"topgan\"] entry"),
    (wrong_version, "metadata version is 3; this flowd reads versions 1–2"),
    (class_count_mismatch, "the model has 3 classes"),
]


@pytest.mark.parametrize("corrupt, message", MALFORMED, ids=[c.__name__ for c, _ in MALFORMED])
def test_malformed_model_is_rejected(model_file, crops, tmp_path, corrupt, message):
    header, data = read(model_file)
    bad = tmp_path / "bad.safetensors"
    write(bad, *corrupt(header, data))
    result = run_flowd("classify", "--model", str(bad), "--input", str(crops), "--out", str(tmp_path / "p.npy"))
    assert result.returncode == 1, result.stderr
    assert message in result.stderr
    assert not (tmp_path / "p.npy").exists()


def test_truncated_file_is_rejected(model_file, crops, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(model_file.read_bytes()[:-100])
    result = run_flowd("classify", "--model", str(bad), "--input", str(crops), "--out", str(tmp_path / "p.npy"))
    assert result.returncode == 1
    assert "past the end of the file" in result.stderr and "truncated file?" in result.stderr


def test_bad_header_length_is_rejected(model_file, crops, tmp_path):
    raw = bytearray(model_file.read_bytes())
    raw[:8] = struct.pack("<Q", len(raw) * 2)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(bytes(raw))
    result = run_flowd("classify", "--model", str(bad), "--input", str(crops), "--out", str(tmp_path / "p.npy"))
    assert result.returncode == 1
    assert "bad header length at byte offset 0" in result.stderr


def test_a_file_that_is_not_safetensors_is_rejected(crops, tmp_path):
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"\x08\x07\x12\x07pytorch" + bytes(100))
    result = run_flowd("classify", "--model", str(bad), "--input", str(crops), "--out", str(tmp_path / "p.npy"))
    assert result.returncode == 1
    assert "bad header length at byte offset 0" in result.stderr

"""`flowd bench inference --json` reports what docs/benchmarks.md records, and the OpenBLAS
kernel it ran on: chosen by flowd from the CPU flags unless the operator chose one."""

from __future__ import annotations

import json

import pytest
import torch

from flowd_binary import run_flowd
from topgan.export import export_classifier
from topgan.model import TopGanClassifier


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "m.safetensors"
    export_classifier(TopGanClassifier(3, image_size=32, ndf=8).eval(), path, ["a", "b", "c"], 0.3, 400)
    return path


def bench(model_file, env=None, unset=()):
    result = run_flowd("bench", "inference", "--model", str(model_file), "--batch", "1,4", "--seconds", "0.2", "--json",
                       env=env, unset=unset)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def test_json_report_has_the_documented_fields(model_file):
    report, log = bench(model_file)
    for key in ("blas_core", "blas_selection", "threads", "cores", "gflop_per_image", "sgemm_peak_gflops"):
        assert key in report
    assert [b["batch"] for b in report["batches"]] == [1, 4]
    for b in report["batches"]:
        assert b["iterations"] > 0
        assert 0 < b["latency_ms_p50"] <= b["latency_ms_p99"] <= b["latency_ms_max"]
        assert b["images_per_second"] > 0 and b["gflops"] > 0
    assert report["blas_core"] in log, "the BLAS core must appear in the log too"


def test_flowd_picks_the_kernel_from_the_cpu_flags(model_file):
    flags = set(next(l for l in open("/proc/cpuinfo") if l.startswith("flags")).split(":")[1].split())
    report, _ = bench(model_file, unset=("OPENBLAS_CORETYPE", "FLOWD_OPENBLAS_DETECTED_CORE"))
    avx512 = {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"} <= flags
    if avx512 and "avx512_bf16" in flags:
        assert report["blas_core"] == "Cooperlake"
    elif avx512:
        assert report["blas_core"] in ("SkylakeX", "Cooperlake", "SapphireRapids")
    elif {"avx2", "fma"} <= flags:
        assert report["blas_core"] not in ("Prescott", "Core2", "Nehalem", "Sandybridge")


def test_an_operator_chosen_kernel_is_respected(model_file):
    report, _ = bench(model_file, env={"OPENBLAS_CORETYPE": "Haswell"}, unset=("FLOWD_OPENBLAS_DETECTED_CORE",))
    assert report["blas_core"] == "Haswell"
    assert "set by the operator" in report["blas_selection"]

"""A daemon classifies out of the box (issue 14, part 5): the default model is the default.

`flowd run` with no model option labels cells with the default model (logged at start-up, its
sha256 in run.json); `make install DESTDIR=…` stages a tree whose unit's ExecStart, run under
the harness's NOTIFY_SOCKET as systemd would run it, reaches READY with the installed default
model in service; `make uninstall` removes it again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import signal
import subprocess
from pathlib import Path

from flowd_harness import DEFAULT_MODEL, REPO, free_port, hermetic_env, tcp
from test_interop_record import drain_cells, simulate, start
from test_interop_systemd import NotifySocket

CLASSES = {"healthy", "primary_cancer", "metastatic_cancer", "unknown"}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_twin(flowd, flowd_bin, model_path: str):
    """30 twin frames through a daemon with `model.path` = `model_path`: its cells and run.json."""
    d = start(flowd, settings={"model.path": model_path}, control=False)
    simulate(flowd_bin, d, 30)
    d.wait_accounted({"twin": 30}, timeout=30)
    d.stop()
    drain_cells(d, until_final=True)
    [run] = d.runs()
    assert d.cells
    return d, json.loads((run / "run.json").read_text())


def test_flowd_run_without_a_model_option_classifies_with_the_default_model(flowd, flowd_bin):
    d, run = run_twin(flowd, flowd_bin, "")
    assert {c["label"] for c in d.cells} <= CLASSES
    assert all(set(c["probabilities"]) == CLASSES - {"unknown"} for c in d.cells)
    assert run["model"]["sha256"] == sha256(DEFAULT_MODEL)
    assert "the installed default model" in d.stderr() and run["model"]["sha256"] in d.stderr()


def test_model_path_none_runs_without_a_classifier(flowd, flowd_bin):
    d, run = run_twin(flowd, flowd_bin, "none")
    assert {c["label"] for c in d.cells} == {"unclassified"}
    assert run.get("model") is None  # absent: no model


def test_make_install_stages_a_tree_whose_unit_reaches_ready_with_the_default_model(flowd_bin, tmp_path):
    stage = tmp_path / "stage"
    make = ["make", "-C", str(REPO), "-o", "build", f"SWIFT_RELEASE={flowd_bin}", f"DESTDIR={stage}", "PREFIX=/usr/local"]
    result = subprocess.run([*make, "install"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    binary = stage / "usr/local/bin/flowd"
    model = stage / "usr/local/share/flowd/topgan-default.safetensors"
    unit = stage / "etc/systemd/system/flowd.service"
    config = stage / "etc/flowd/flowd.yaml"
    assert os.access(binary, os.X_OK) and sha256(model) == sha256(DEFAULT_MODEL)
    assert config.read_text() == (REPO / "config/flowd.yaml").read_text()

    [exec_start] = [line.split("=", 1)[1] for line in unit.read_text().splitlines() if line.startswith("ExecStart=")]
    argv = shlex.split(exec_start)
    assert argv[:4] == ["/usr/local/bin/flowd", "run", "--config", "/etc/flowd/flowd.yaml"]
    # The unit's command inside the staged tree, on free ports, recording under tmp_path.
    argv = [str(stage) + a if a.startswith("/") else a for a in argv]
    control = tcp(free_port())
    argv += ["--set", f"publish.endpoint={tcp(free_port())}", "--set", f"control.endpoint={control}",
             "--set", "metrics.listen=off", "--set", f"record.dir={tmp_path / 'runs'}"]
    notify = NotifySocket(abstract=True)
    proc = subprocess.Popen(argv, env=hermetic_env(notify.env()), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        ready = notify.wait_for("READY", "1", timeout=30)
        assert ready.get("MAINPID") == str(proc.pid)
        status = subprocess.run([str(binary), "control", "status", "--connect", control],
                                capture_output=True, text=True, timeout=30)
        assert status.returncode == 0, status.stderr
        reply = json.loads(status.stdout)
        assert reply["model_path"] == str(model) and reply["model_sha256"] == sha256(DEFAULT_MODEL)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
        notify.close()
    assert proc.returncode == 0, stderr
    assert "the installed default model" in stderr

    result = subprocess.run([*make, "uninstall"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not binary.exists() and not model.exists() and not unit.exists() and not config.exists()

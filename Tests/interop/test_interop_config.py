"""`flowd run` configuration: a YAML file, FLOWD_* environment variables and the command line.

Pins down issue 2: "The config file lives in config/, with every key documented and defaulted.
It can be overridden from the environment or the command line, and a validation error names
the key." Configuration errors exit 78 (EX_CONFIG) before anything is bound.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest
import zmq

from flowd_harness import EX_CONFIG, REPO, camera, frame_parts, free_port, hermetic_env, tcp


def _yaml(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def test_yaml_config_file_sets_inputs_publish_endpoint_limits_and_log_level(flowd, tmp_path):
    """With only `--config`, flowd takes its inputs (two of them, as a YAML list), its publish
    endpoint and cadence, its frame limits and its log level from the file."""
    pull_port, rep_port, pub_port = free_port(), free_port(), free_port()
    config = _yaml(tmp_path / "flowd.yaml", f"""\
        inputs:
          - pull+bind:{tcp(pull_port)}
          - rep:{tcp(rep_port)}
        publish:
          endpoint: {tcp(pub_port)}
          counts_interval_s: 0.05
        ingest:
          max_rows: 16
          max_cols: 16
          queue_capacity: 8
        log:
          level: warning
        """)
    d = flowd(args=["--config", str(config)], counts_interval_s=None, pass_publish=False,
              ports=[pull_port, rep_port], publish_port=pub_port)
    push = d.socket(zmq.PUSH)
    push.connect(tcp(pull_port))
    push.send_multipart(frame_parts(np.zeros((16, 16), np.uint8), camera="in-limits"))
    push.send_multipart(frame_parts(np.zeros((17, 4), np.uint8), camera="too-tall"))
    req = d.socket(zmq.REQ)
    req.setsockopt(zmq.RCVTIMEO, 5000)
    req.connect(tcp(rep_port))
    req.send_multipart(frame_parts(np.zeros((4, 17), np.uint16), camera="too-wide"))
    assert req.recv() == b"OK"
    c = d.wait_counts(lambda c: len(c["cameras"]) == 3)
    assert camera(c, "in-limits")["received"] == 1
    assert camera(c, "too-tall")["malformed_by_reason"] == {"shape_too_large": 1}
    assert camera(c, "too-wide")["malformed_by_reason"] == {"shape_too_large": 1}
    _, _, rc = d.stop()
    assert rc == 0
    assert " info " not in d.stderr(), "log.level: warning must silence info lines:\n" + d.stderr()


def test_environment_overrides_the_file_and_the_command_line_overrides_both(flowd, tmp_path):
    """Precedence, lowest first: file, FLOWD_* environment, command line.

    The file's cadence (one hour) is overridden by FLOWD_PUBLISH_COUNTS_INTERVAL_S, so counts
    arrive at all; its publish endpoint is overridden by `--publish`; ingest.max_rows is 4 in
    the file, 8 in the environment and 12 on the command line, so a 12-row frame is received
    and a 13-row frame is rejected.
    """
    unused = free_port()
    config = _yaml(tmp_path / "flowd.yaml", f"""\
        publish:
          endpoint: {tcp(unused)}
          counts_interval_s: 3600
        ingest:
          max_rows: 4
        """)
    d = flowd(
        inputs=["pull+bind:tcp://127.0.0.1:{port0}"],
        args=["--config", str(config), "--set", "ingest.max_rows=12"],
        counts_interval_s=None,
        env={"FLOWD_PUBLISH_COUNTS_INTERVAL_S": "0.05", "FLOWD_INGEST_MAX_ROWS": "8"},
    )
    push = d.socket(zmq.PUSH)
    push.connect(tcp(d.ports[0]))
    push.send_multipart(frame_parts(np.zeros((12, 2), np.uint8), camera="rows-12"))
    push.send_multipart(frame_parts(np.zeros((13, 2), np.uint8), camera="rows-13"))
    c = d.wait_counts(lambda c: len(c["cameras"]) == 2)
    assert camera(c, "rows-12")["received"] == 1
    assert camera(c, "rows-13")["malformed_by_reason"] == {"shape_too_large": 1}
    _, _, rc = d.stop()
    assert rc == 0


def test_the_shipped_config_file_is_valid(flowd):
    """config/flowd.yaml, which documents every key with its default, is accepted as it is."""
    shipped = REPO / "config" / "flowd.yaml"
    assert shipped.is_file(), f"{shipped} is missing"
    d = flowd(inputs=["pull+bind:tcp://127.0.0.1:{port0}"], args=["--config", str(shipped)])
    _, _, rc = d.stop()
    assert rc == 0


BAD_FILE_VALUES = [
    ("ingest:\n  queue_capacity: 0\n", ["ingest.queue_capacity", "0"]),
    ("publish:\n  counts_interval_s: 0.01\n", ["publish.counts_interval_s", "0.01"]),
    ("publish:\n  endpoint: http://example.org\n", ["publish.endpoint"]),
    ("log:\n  level: loud\n", ["log.level", "loud"]),
    ("inputs:\n  - camera:tcp://127.0.0.1:5555\n", ["inputs", "camera:tcp://127.0.0.1:5555"]),
    ("ingest:\n  queue_capacty: 8\n", ["ingest.queue_capacty", "did you mean ingest.queue_capacity"]),
    ("publsh:\n  endpoint: tcp://127.0.0.1:5560\n", ["publsh.endpoint", "did you mean publish.endpoint"]),
    ("inputs: [\n", ["YAML"]),
]


def _run_expecting_config_error(flowd_bin, args, env=None, cwd=None) -> str:
    proc = subprocess.run([str(flowd_bin), "run", *args], env=hermetic_env(env), cwd=cwd,
                          capture_output=True, text=True, timeout=10)
    assert proc.returncode == EX_CONFIG, (
        f"expected exit {EX_CONFIG} (EX_CONFIG), got {proc.returncode}\n{proc.stderr}")
    return proc.stderr


@pytest.mark.parametrize("text,named", BAD_FILE_VALUES, ids=[n[0] for _, n in BAD_FILE_VALUES])
def test_a_bad_config_file_exits_78_naming_the_key_and_the_file(flowd_bin, tmp_path, text, named):
    """A bad value, an unknown key (with a 'did you mean' hint) or broken YAML in the config
    file stops flowd at start-up with exit 78 and a message naming the key and the file."""
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    stderr = _run_expecting_config_error(flowd_bin, ["--config", str(config)])
    for word in named:
        assert word in stderr, f"message does not name {word!r}: {stderr}"
    assert str(config) in stderr, f"message does not name the file: {stderr}"


@pytest.mark.parametrize(
    "args,env,named",
    [
        ([], {"FLOWD_INGEST_QUEUE_CAPACITY": "abc"}, ["ingest.queue_capacity", "FLOWD_INGEST_QUEUE_CAPACITY", "abc"]),
        ([], {"FLOWD_LOG_LEVEL": "verbose"}, ["log.level", "FLOWD_LOG_LEVEL", "verbose"]),
        (["--set", "ingest.max_rows=-3"], {}, ["ingest.max_rows", "-3"]),
        (["--set", "ingest.queu_capacity=3"], {}, ["ingest.queu_capacity", "did you mean ingest.queue_capacity"]),
        (["--set", "no-equals-sign"], {}, ["--set", "no-equals-sign"]),
        (["--input", "pull"], {}, ["--input", "pull"]),
        (["--input", "push:tcp://127.0.0.1:5555"], {}, ["push:tcp://127.0.0.1:5555"]),
        (["--publish", "127.0.0.1:5560"], {}, ["publish.endpoint", "127.0.0.1:5560"]),
        (["--config", "/nonexistent/flowd.yaml"], {}, ["/nonexistent/flowd.yaml"]),
    ],
    ids=["env-queue-abc", "env-log-level", "set-negative", "set-unknown", "set-no-equals", "input-no-endpoint",
         "input-bad-mode", "publish-no-transport", "missing-file"],
)
def test_a_bad_environment_variable_or_option_exits_78_naming_the_key(flowd_bin, args, env, named):
    """Environment variables and command-line options are validated like the file: exit 78,
    naming the key and where the value came from."""
    stderr = _run_expecting_config_error(flowd_bin, args, env)
    for word in named:
        assert word in stderr, f"message does not name {word!r}: {stderr}"

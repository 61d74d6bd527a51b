"""The flowd binary the inference tests drive.

``$FLOWD_BIN`` when set (``make test`` sets it to the release build). Otherwise the tests build
the release binary themselves (``swift build -c release --product flowd``, incremental) so that
they never run a stale one, and fail, never skip, if that is impossible: these tests are the
acceptance check of the model contract and must not pass vacuously.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@functools.cache
def flowd_binary() -> str:
    env = os.environ.get("FLOWD_BIN")
    if env:
        if not (Path(env).is_file() and os.access(env, os.X_OK)):
            pytest.fail(f"FLOWD_BIN={env} is not an executable file; build it with `swift build -c release --product flowd`")
        return env
    try:
        build = subprocess.run(["swift", "build", "-c", "release", "--product", "flowd"], cwd=REPO,
                               capture_output=True, text=True, timeout=3600)
    except (OSError, subprocess.TimeoutExpired) as error:
        pytest.fail(f"FLOWD_BIN is unset and `swift build -c release --product flowd` could not run: {error}")
    path = REPO / ".build" / "release" / "flowd"
    if build.returncode != 0 or not os.access(path, os.X_OK):
        pytest.fail("FLOWD_BIN is unset and `swift build -c release --product flowd` failed:\n"
                    + (build.stderr or build.stdout)[-4000:])
    return str(path)


def run_flowd(*args: str, env: dict[str, str] | None = None, unset: tuple[str, ...] = (),
              timeout: float = 600) -> subprocess.CompletedProcess:
    """Runs flowd with ``args``, the environment plus ``env`` minus ``unset``; returns the
    completed process (stdout/stderr as text)."""
    full_env = {k: v for k, v in {**os.environ, **(env or {})}.items() if k not in unset}
    return subprocess.run([flowd_binary(), *args], capture_output=True, text=True, timeout=timeout, env=full_env)

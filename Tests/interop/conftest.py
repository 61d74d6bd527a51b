"""Fixtures of the flowd interop tests: the daemon binary, and a factory of running daemons.

The binary is `$FLOWD_BIN` (the Makefile passes the release build), else the repository's
release build, else its debug build. A missing binary is a failure, never a skip: these tests
are the acceptance check of the wire contract and must not pass vacuously.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flowd_harness import REPO, Flowd


@pytest.fixture(scope="session")
def flowd_bin() -> Path:
    env = os.environ.get("FLOWD_BIN")
    if env:
        path = Path(env)
        if not (path.is_file() and os.access(path, os.X_OK)):
            pytest.fail(f"FLOWD_BIN={env} is not an executable file; build it with `swift build -c release`")
        return path
    candidates = [REPO / ".build" / "release" / "flowd", REPO / ".build" / "debug" / "flowd"]
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    pytest.fail(
        "no flowd binary: set FLOWD_BIN or build one (`make build`, or `swift build`); looked for "
        + ", ".join(str(p) for p in candidates)
    )


@pytest.fixture
def flowd(flowd_bin, tmp_path):
    """Factory: `flowd(inputs=[...], settings={...}, env={...})` → a started :class:`Flowd`.

    Every daemon it made is killed (if still running) and its sockets closed at teardown.
    """
    made: list[Flowd] = []

    def make(*, start: bool = True, wait_for_counts: bool = True, **kwargs) -> Flowd:
        workdir = tmp_path / f"flowd{len(made)}"
        workdir.mkdir()
        daemon = Flowd(flowd_bin, workdir, **kwargs)
        made.append(daemon)
        if start:
            daemon.start(wait_for_counts=wait_for_counts)
        return daemon

    yield make
    for daemon in made:
        daemon.close()

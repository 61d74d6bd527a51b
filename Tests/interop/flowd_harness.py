"""Drives a real `flowd run` process over real sockets, for the interop tests.

A :class:`Flowd` starts the daemon on free loopback ports, subscribes to its `counts` topic
before it starts (so no message is missed once the first has arrived), captures its stderr to
a file, and stops it with a signal, collecting the final `counts`. Nothing here sleeps to wait
for the daemon: every wait polls for an observable condition with a deadline, and a failed wait
says what it saw last and shows the daemon's log.
"""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import zmq

#: The repository root.
REPO = Path(__file__).resolve().parents[2]

#: Exit status of flowd when an endpoint cannot be bound or connected (EX_UNAVAILABLE).
EX_UNAVAILABLE = 69
#: Exit status of flowd on a configuration error (EX_CONFIG).
EX_CONFIG = 78

#: Variables of the test runner's own environment that would change flowd's behaviour.
_HERMETIC_DROP = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM", "LISTEN_FDS", "LISTEN_PID")


def hermetic_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The runner's environment without systemd's or flowd's variables, plus `extra`."""
    env = {
        k: v for k, v in os.environ.items() if k not in _HERMETIC_DROP and not k.startswith("FLOWD_")
    }
    env.update(extra or {})
    return env


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now.

    Chosen below the kernel's ephemeral range: a socket that connects to a port in that range
    before anyone listens on it (the counts subscriber does, and ZeroMQ keeps retrying) can be
    given that same port as its own source port and connect to itself (TCP simultaneous open),
    silently never reaching the daemon.
    """
    low, _ = _ephemeral_range()
    top = low - 1 if low > 12000 else 65535
    bottom = 10000 if low > 12000 else 61000
    for _ in range(200):
        port = random.randint(bottom, top)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free TCP port found")


def tcp(port: int) -> str:
    return f"tcp://127.0.0.1:{port}"


def frame_parts(array: np.ndarray, **header) -> list[bytes]:
    """Frame message v1 for `array`, as pyzmq's send_array recipe writes it (plus `header`)."""
    array = np.ascontiguousarray(array)
    fields = dict(dtype=str(array.dtype), shape=list(array.shape))
    fields.update(header)
    return [json.dumps(fields).encode(), array.tobytes()]


def send_array(sock: zmq.Socket, array: np.ndarray, flags: int = 0) -> None:
    """pyzmq's documented `send_array` recipe, verbatim: header is dtype and shape only."""
    md = dict(dtype=str(array.dtype), shape=array.shape)
    sock.send_json(md, flags | zmq.SNDMORE)
    sock.send(array, flags)


def camera(counts: dict, name: str) -> dict:
    """The counters of camera `name`, zeros if the camera is not (yet) in `counts`."""
    return counts["cameras"].get(
        name, {"received": 0, "malformed": 0, "dropped": 0, "gaps": 0, "malformed_by_reason": {}, "bytes": 0}
    )


def accounted(counts: dict, name: str) -> int:
    """received + malformed + dropped of camera `name`: every message flowd got from it."""
    c = camera(counts, name)
    return c["received"] + c["malformed"] + c["dropped"]


def malformed_by_reason(counts: dict) -> dict[str, int]:
    """Malformed messages by reason code, summed over all cameras."""
    total: dict[str, int] = {}
    for c in counts["cameras"].values():
        for reason, n in c["malformed_by_reason"].items():
            total[reason] = total.get(reason, 0) + n
    return total


class FlowdExited(AssertionError):
    pass


class Flowd:
    """One `flowd run` process with a `counts` subscriber.

    `inputs` and `args` may contain `{port0}`, `{port1}`, … placeholders, replaced by free
    ports (see :attr:`ports`); when flowd cannot bind one of them because another process took
    it in the meantime (exit 69), the start is retried on fresh ports. With `ports` or
    `publish_port` given (say, written into a config file), those are used as they are.
    `pass_publish=False` leaves the publish endpoint to the config; the subscriber still
    connects to `publish_port`. `curve_client` = (public key, secret key, flowd's public key)
    makes the `counts` subscriber a CurveZMQ client, for a daemon with `curve.server_key` set.
    """

    def __init__(
        self,
        binary: Path,
        workdir: Path,
        inputs: Iterable[str] = (),
        args: Iterable[str] = (),
        settings: dict[str, object] | None = None,
        env: dict[str, str] | None = None,
        counts_interval_s: float | None = 0.05,
        publish: bool = True,
        pass_publish: bool = True,
        ports: list[int] | None = None,
        publish_port: int | None = None,
        curve_client: tuple[bytes, bytes, bytes] | None = None,
    ):
        self.binary = Path(binary).resolve()
        self.workdir = Path(workdir)
        self.input_templates = list(inputs)
        self.arg_templates = list(args)
        self.settings: dict[str, object] = {}
        if counts_interval_s is not None:  # None: leave cadence and staleness to the config
            self.settings = {"publish.counts_interval_s": counts_interval_s, "ingest.stale_after_s": 86400}
        # The metrics port and the control socket default to fixed ports; tests run daemons side
        # by side (a test that needs one passes its own endpoint).
        self.settings["metrics.listen"] = "off"
        self.settings["control.endpoint"] = ""
        #: Where this daemon records its runs (never the user's state directory).
        self.record_dir = self.workdir / "runs"
        self.settings["record.dir"] = str(self.record_dir)
        self.settings.update(settings or {})
        # Without a model of their own (`--model`, or model.path in a `--config` file), the
        # daemons of the tests run without a classifier, as before the default model became
        # the default (issue 14); the tests of the default model say so.
        if "model.path" not in self.settings and not {"--config", "--model"} & set(self.arg_templates):
            self.settings["model.path"] = "none"
        self.env = hermetic_env(env)
        self.with_publish = publish
        self.pass_publish = pass_publish
        self.fixed_ports = ports is not None or publish_port is not None
        self.ports: list[int] = list(ports or [])
        self.publish_port: int | None = publish_port
        self.curve_client = curve_client
        self.proc: subprocess.Popen | None = None
        self.ctx = zmq.Context()
        self.sub: zmq.Socket | None = None
        self._sockets: list[zmq.Socket] = []
        self.last_counts: dict | None = None
        self.messages: list[dict] = []
        self._stderr_path = self.workdir / "flowd.stderr"
        self._stderr_file = None
        self.returncode: int | None = None

    # -- life cycle -----------------------------------------------------------------------------

    def command(self) -> list[str]:
        subst = {f"port{i}": p for i, p in enumerate(self.ports)}
        cmd = [str(self.binary), "run"]
        for spec in self.input_templates:
            cmd += ["--input", spec.format(**subst)]
        if self.with_publish and self.pass_publish:
            cmd += ["--publish", tcp(self.publish_port)]
        for key, value in self.settings.items():
            cmd += ["--set", f"{key}={value}"]
        cmd += [a.format(**subst) for a in self.arg_templates]
        return cmd

    def start(self, wait_for_counts: bool = True, attempts: int = 3) -> "Flowd":
        """Starts flowd and, with `wait_for_counts`, returns once its first `counts` arrived."""
        templates = " ".join(self.input_templates + self.arg_templates)
        n_ports = sum(1 for i in range(16) if f"{{port{i}}}" in templates)
        if self.fixed_ports:
            attempts = 1
        for attempt in range(attempts):
            if not self.fixed_ports:
                self.ports = [free_port() for _ in range(n_ports)]
                self.publish_port = free_port()
            self._spawn()
            if not wait_for_counts:
                return self
            try:
                self.wait_counts(lambda c: True, timeout=10, what="the first counts message")
                return self
            except FlowdExited:
                self._close_sub()
                if self.returncode == EX_UNAVAILABLE and attempt + 1 < attempts:
                    continue  # a port was taken by someone else between free_port() and bind
                raise
            except BaseException:
                self._close_sub()  # never leave a daemon behind
                raise
        raise AssertionError("unreachable")

    def _spawn(self) -> None:
        if self.with_publish:
            self.sub = self.ctx.socket(zmq.SUB)
            self.sub.setsockopt(zmq.RCVHWM, 0)
            self.sub.setsockopt(zmq.LINGER, 0)
            self.sub.setsockopt(zmq.RECONNECT_IVL, 10)
            self.sub.setsockopt(zmq.SUBSCRIBE, b"counts")
            if self.curve_client:
                self.sub.curve_publickey, self.sub.curve_secretkey, self.sub.curve_serverkey = self.curve_client
            self.sub.connect(tcp(self.publish_port))
        if self._stderr_file:
            self._stderr_file.close()
        self._stderr_file = open(self._stderr_path, "wb")
        self.returncode = None
        self.proc = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, stdout=self._stderr_file, stderr=self._stderr_file,
            env=self.env, cwd=self.workdir,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stderr(self) -> str:
        if self._stderr_file:
            self._stderr_file.flush()
        try:
            return self._stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _tail(self, n: int = 40) -> str:
        lines = self.stderr().splitlines()
        return "\n".join(lines[-n:])

    def _check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None and self.returncode is None:
            self.returncode = self.proc.returncode
        if self.returncode is not None:
            raise FlowdExited(
                f"flowd exited with status {self.returncode}; command: {' '.join(self.command())}\n"
                f"--- flowd stderr (tail) ---\n{self._tail()}"
            )

    # -- counts ---------------------------------------------------------------------------------

    def _receive(self, timeout_ms: int) -> dict | None:
        if not self.sub.poll(timeout_ms):
            return None
        topic, body = self.sub.recv_multipart()
        assert topic == b"counts", f"unexpected topic {topic!r}"
        message = json.loads(body)
        self.messages.append(message)
        self.last_counts = message
        return message

    def wait_counts(self, predicate: Callable[[dict], bool], timeout: float = 10.0, what: str = "") -> dict:
        """The first `counts` message (from now on) for which `predicate` holds."""
        deadline = time.monotonic() + timeout
        while True:
            message = self._receive(50)
            if message is not None and predicate(message):
                return message
            if message is None:
                self._check_alive()
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no counts message with {what or 'the expected content'} within {timeout} s; last one:\n"
                    f"{json.dumps(self.last_counts, indent=1, sort_keys=True)}\n"
                    f"--- flowd stderr (tail) ---\n{self._tail()}"
                )

    def wait_accounted(self, expected: dict[str, int], timeout: float = 10.0) -> dict:
        """Waits until every camera in `expected` has accounted for at least that many messages."""
        return self.wait_counts(
            lambda c: all(accounted(c, name) >= n for name, n in expected.items()),
            timeout, what=f"received+malformed+dropped reaching {expected}",
        )

    # -- stopping -------------------------------------------------------------------------------

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> tuple[dict | None, float, int]:
        """Sends `sig`; returns (the final counts, seconds from signal to exit, exit status).

        Reads counts messages while waiting, so that the final one is in :attr:`messages`.
        """
        assert self.proc is not None and self.proc.poll() is None, "flowd is not running"
        start = time.monotonic()
        self.proc.send_signal(sig)
        final = None
        exited_at = None
        while True:
            if exited_at is None and self.proc.poll() is not None:
                exited_at = time.monotonic()
            if self.with_publish:
                message = self._receive(10)
                if message is not None and message.get("final") is True:
                    final = message
            elif exited_at is None:
                time.sleep(0.01)
            now = time.monotonic()
            if exited_at is not None and (final is not None or not self.with_publish or now - exited_at > 1.0):
                break
            if now - start > timeout:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"flowd did not exit within {timeout} s of signal {sig}\n{self._tail()}")
        # Anything published after the final message would have arrived by now (the socket
        # lingered and closed before the process exited).
        if self.with_publish:
            while self._receive(50) is not None:
                pass
        self.returncode = self.proc.returncode
        return final, exited_at - start, self.proc.returncode

    def subscribe_cells(self) -> zmq.Socket:
        """A SUB for the `cell` and `counts` topics, returned once a counts message came through
        it: from then on no cell can be missed. Closed with the harness."""
        sub = self.socket(zmq.SUB)
        sub.setsockopt(zmq.RCVHWM, 0)
        for topic in (b"cell", b"counts"):
            sub.setsockopt(zmq.SUBSCRIBE, topic)
        sub.connect(tcp(self.publish_port))
        assert sub.poll(10_000), "no counts message reached the cell subscriber"
        sub.recv_multipart()
        return sub

    def runs(self) -> list[Path]:
        """The run directories recorded so far, oldest first."""
        return sorted(p for p in self.record_dir.iterdir() if p.is_dir()) if self.record_dir.exists() else []

    def control(self, request: dict | bytes | list[bytes], endpoint: str, timeout: float = 30.0,
                curve_client: tuple[bytes, bytes, bytes] | None = None) -> dict:
        """Sends one request to the control socket at `endpoint` (a dict as JSON, raw bytes, or a
        list of parts) and returns the decoded JSON reply. `curve_client` = (public key, secret
        key, flowd's public key) makes the request a CurveZMQ client's, as in the constructor."""
        sock = self.socket(zmq.REQ)
        sock.setsockopt(zmq.RCVTIMEO, int(timeout * 1000))
        if curve_client:
            sock.curve_publickey, sock.curve_secretkey, sock.curve_serverkey = curve_client
        sock.connect(endpoint)
        if isinstance(request, dict):
            sock.send_json(request)
        elif isinstance(request, list):
            sock.send_multipart(request)
        else:
            sock.send(request)
        try:
            reply = sock.recv_json()
        except zmq.Again:
            self._check_alive()
            raise AssertionError(f"no control reply to {request!r} within {timeout} s\n{self._tail()}")
        finally:
            self._sockets.remove(sock)
            sock.close(linger=0)
        return reply

    def socket(self, kind: int) -> zmq.Socket:
        """A sender socket in this harness's context, closed (LINGER 0) with the harness."""
        sock = self.ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        self._sockets.append(sock)
        return sock

    def _close_sub(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.sub is not None:
            self.sub.close(linger=0)
            self.sub = None

    def close(self) -> None:
        self._close_sub()
        for sock in self._sockets:
            sock.close(linger=0)
        self.ctx.term()
        if self._stderr_file:
            self._stderr_file.close()


# -- the full pipeline: the twin as a camera, cells out, the ground truth ----------------------

#: The default classifier, loaded by the tests that run the full pipeline.
DEFAULT_MODEL = REPO / "models" / "topgan-default.safetensors"

#: A small, busy twin for `flowd simulate`: 256² frames at 0.25 µm (the default model's pixel
#: size), 3 mm/s at 200 fps: 60 px per frame.
SMALL_TWIN = ["--size", "256", "--seed", "11", "--pixel-um", "0.25", "--concentration", "20000",
              "--velocity-um-s", "3000"]
#: The daemon's settings for SMALL_TWIN.
SMALL_TWIN_OPTICS = {"reconstruction.pixel_um": 0.25, "tracking.velocity_px": 60, "tracking.gate_px": 32}


class Watcher:
    """`flowd watch` as a child process whose stdout lines are read on a thread."""

    def __init__(self, flowd_bin, *args: str):
        self.proc = subprocess.Popen([str(flowd_bin), "watch", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=hermetic_env(), stdin=subprocess.DEVNULL)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, predicate, timeout: float = 20) -> str:
        """The first line from now on for which `predicate` holds."""
        seen = []
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"flowd watch printed no such line within {timeout} s; saw {seen[-5:]}") from None
            seen.append(line)
            if predicate(line):
                return line

    def finish(self, timeout: float = 20) -> tuple[int, list[str]]:
        """Waits for the exit; the status and the lines not read yet."""
        rc = self.proc.wait(timeout=timeout)
        rest = []
        while True:
            try:
                rest.append(self.lines.get(timeout=1))
            except queue.Empty:
                return rc, rest


def stop_and_collect_cells(d: Flowd, sub: zmq.Socket, sent: dict[str, int]) -> tuple[dict, list[dict]]:
    """Once every camera in `sent` has accounted for its frames, stops the daemon (SIGTERM) and
    returns its final `counts` and every `cell` message `sub` got before it. The daemon must
    exit cleanly, and its final count must equal the cell messages."""
    d.wait_accounted(sent, timeout=60)
    final, _, rc = d.stop()
    assert rc == 0, d.stderr()
    cells = []
    while sub.poll(5000):
        topic, body = sub.recv_multipart()
        message = json.loads(body)
        if topic == b"cell":
            cells.append(message)
        elif message["final"]:
            sub.close()
            assert final["cells"]["total"] == len(cells)
            return final, cells
    raise AssertionError(f"no final counts after {len(cells)} cells")


def load_truth(folder: Path) -> tuple[dict[int, list[dict]], dict[int, str]]:
    """truth.jsonl of a `flowd simulate` folder: the cells per frame index, and the countable
    cells (of the labelled classes, wholly in view in at least one frame: flowd's counting rule;
    debris, doublets and sperm are counted as rejected objects) with their class."""
    frames: dict[int, list[dict]] = {}
    for line in (Path(folder) / "truth.jsonl").read_text().splitlines():
        entry = json.loads(line)
        frames[entry["frame"]] = entry["cells"]
    countable = {cell["id"]: cell["class"] for cells in frames.values() for cell in cells
                 if cell["fully_inside"] and cell["label"] >= 0}
    return frames, countable


def true_cell(frames: dict[int, list[dict]], seq: int, x: float, y: float) -> dict | None:
    """The true cell under a published centroid: in frame `seq`, the nearest centre within its
    cell's extent, or None."""
    best = None
    for cell in frames.get(seq, []):
        distance = ((cell["x"] - x) ** 2 + (cell["y"] - y) ** 2) ** 0.5
        if distance < cell["extent_px"] and (best is None or distance < best[0]):
            best = (distance, cell)
    return best[1] if best else None

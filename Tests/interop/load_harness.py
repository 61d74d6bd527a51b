"""Paced load, resident memory and fault helpers, shared by the overload and fault tests (short
forms, in `make test`) and `scripts/soak` (long forms, with the figures of docs/reliability.md).

Frames come from the digital twin once (`flowd simulate --publish` into a PULL socket here) and
are then replayed at any rate with fresh `seq` numbers, so the sender is never the bottleneck:
replaying a prepared message costs microseconds, processing it milliseconds.
"""

from __future__ import annotations

import contextlib
import json
import math
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import zmq

from flowd_harness import SMALL_TWIN, Flowd, camera, free_port, tcp


def capture_twin_frames(flowd_bin: Path, frames: int, twin: list[str] = SMALL_TWIN) -> list[tuple[dict, bytes]]:
    """`frames` messages of `flowd simulate` (header, pixels), as it publishes them."""
    ctx = zmq.Context.instance()
    pull = ctx.socket(zmq.PULL)
    pull.setsockopt(zmq.LINGER, 0)
    port = free_port()
    pull.bind(tcp(port))
    sender = subprocess.Popen(
        [str(flowd_bin), "simulate", *twin, "--frames", str(frames), "--publish", tcp(port), "--rate", "1000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    captured = []
    try:
        while len(captured) < frames:
            assert pull.poll(30_000), f"flowd simulate sent {len(captured)} of {frames} frames"
            header, pixels = pull.recv_multipart()
            captured.append((json.loads(header), pixels))
    finally:
        sender.wait(timeout=30)
        pull.close()
    return captured


class Replayer:
    """Sends captured frames to a daemon's PULL input as camera `name`, `seq` counting up."""

    def __init__(self, d: Flowd, frames: list[tuple[dict, bytes]], name: str = "load"):
        self.d = d
        self.frames = frames
        self.name = name
        self.seq = 0
        self.sent = 0
        self.sock = d.socket(zmq.PUSH)
        self.sock.connect(tcp(d.ports[0]))

    def reconnect(self) -> None:
        """Closes the connection (the camera goes away) and opens a new one (it comes back)."""
        self.d._sockets.remove(self.sock)
        self.sock.close(linger=0)
        self.sock = self.d.socket(zmq.PUSH)
        self.sock.connect(tcp(self.d.ports[0]))

    def skip(self, n: int) -> None:
        """The next `n` sequence numbers are never sent (a gap of `n` frames)."""
        self.seq += n

    def send(self, count: int) -> None:
        for _ in range(count):
            header, pixels = self.frames[self.seq % len(self.frames)]
            fields = {**header, "camera": self.name, "seq": self.seq}
            self.sock.send_multipart([json.dumps(fields).encode(), pixels], copy=False)
            self.seq += 1
            self.sent += 1

    def paced(self, rate_hz: float, seconds: float, every: float = 0.25, on_tick=None, burst: int = 8) -> None:
        """Sends at `rate_hz` for `seconds`, catching up in bursts of at most `burst` frames when
        behind; calls `on_tick()` every `every` seconds. A rate the daemon is meant to keep up
        with takes `burst=1`: on a loaded machine the sender oversleeps, and a burst of catch-up
        frames into a short queue would be dropped although the rate on average is sustainable."""
        start = time.monotonic()
        base = self.sent
        next_tick = start
        while (now := time.monotonic()) - start < seconds:
            behind = int((now - start) * rate_hz) + 1 - (self.sent - base)
            if behind > 0:
                self.send(min(behind, burst))
            if on_tick and now >= next_tick:
                on_tick()
                next_tick += every
            time.sleep(min(1.0 / rate_hz, 0.005))


def rss_kib(pid: int) -> int:
    """Resident memory of `pid`, KiB (VmRSS of /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")


def percentile(values: list[float], q: float) -> float:
    """The `q`-th percentile (0–100) by nearest rank; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def drain(sub: zmq.Socket, cells: list[dict], counts: list[dict]) -> None:
    """Moves every message waiting on a `cell`+`counts` subscriber into `cells` / `counts`."""
    while sub.poll(0):
        topic, body = sub.recv_multipart()
        (cells if topic == b"cell" else counts).append(json.loads(body))


@dataclass
class OverloadResult:
    """What one overload run measured (docs/reliability.md, "Overload")."""
    frame_px: int
    sustainable_fps: float
    overload_fps: float
    seconds: float
    sent: int
    received: int
    dropped: int
    malformed: int
    queue_capacity: int
    rss_kib: list[int] = field(default_factory=list)
    rss_growth_after_warmup: float = 0.0
    latency_p50_ms: float = math.nan
    latency_p99_ms: float = math.nan
    latency_max_ms: float = math.nan
    cells: int = 0
    recovery_sent: int = 0
    recovery_received: int = 0
    recovery_dropped: int = 0
    recovery_cells: int = 0

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "rss_kib"} | {
            "rss_kib_first": self.rss_kib[0], "rss_kib_last": self.rss_kib[-1], "rss_kib_max": max(self.rss_kib)}


def measure_sustainable_fps(d: Flowd, replayer: Replayer, seconds: float, queue_capacity: int) -> float:
    """Frames per second the daemon processes when saturated.

    Sends at a rising rate (×2 from 200 fps) until at least a fifth of the frames sent are
    dropped: then the workers were busy all along, the queue stayed full, and a frame was
    admitted exactly when a worker took one, so the admitted frames (less the queue's fill) over
    the time are the processing rate. A few drops alone do not show saturation: the sender's
    bursts can overflow a short queue at a rate the workers keep up with, and a rate measured
    there would be too low for "3× the sustainable rate" to overload anything.
    """
    rate = 200.0
    while True:
        before = camera(d.wait_accounted({replayer.name: replayer.sent}, timeout=60), replayer.name)
        sent_before = replayer.sent
        start = time.monotonic()
        replayer.paced(rate, seconds)
        after = camera(d.wait_accounted({replayer.name: replayer.sent}, timeout=60), replayer.name)
        if after["dropped"] - before["dropped"] >= (replayer.sent - sent_before) / 5:
            return max(1.0, after["received"] - before["received"] - queue_capacity) / (time.monotonic() - start)
        assert rate < 1e5, f"no frame dropped even at {rate} fps"
        rate *= 2


def overload(d: Flowd, frames: list[tuple[dict, bytes]], *, queue_capacity: int, measure_s: float,
             overload_s: float, warmup_s: float, recovery_s: float, factor: float = 3.0) -> OverloadResult:
    """Measures the sustainable rate, overloads at `factor` times it for `overload_s` (RSS sampled
    every 0.25 s, growth taken from the end of `warmup_s`), then sends at a normal rate, a quarter
    of the sustainable one (room for the other load of a shared machine), for `recovery_s`. `d` must have a PULL input on {port0} and queue `queue_capacity`."""
    sub = d.subscribe_cells()
    cells: list[dict] = []
    counts: list[dict] = []
    replayer = Replayer(d, frames)
    sustainable = measure_sustainable_fps(d, replayer, measure_s, queue_capacity)
    drain(sub, cells, counts)
    cells.clear()

    rss: list[tuple[float, int]] = []  # (seconds into the overload, KiB)

    def sample() -> None:
        rss.append((time.monotonic() - start, rss_kib(d.pid)))
        drain(sub, cells, counts)

    before = camera(d.wait_accounted({replayer.name: replayer.sent}, timeout=30), replayer.name)
    sent_before = replayer.sent
    start = time.monotonic()
    replayer.paced(factor * sustainable, overload_s, on_tick=sample)
    during = camera(d.wait_accounted({replayer.name: replayer.sent}, timeout=60), replayer.name)
    sample()
    overload_cells = list(cells)
    latencies = [c["latency_ms"] for c in overload_cells]
    after_warmup = [kib for t, kib in rss if t >= warmup_s] or [rss[-1][1]]
    result = OverloadResult(
        frame_px=frames[0][0]["shape"][0], sustainable_fps=sustainable, overload_fps=factor * sustainable,
        seconds=overload_s, sent=replayer.sent - sent_before,
        received=during["received"] - before["received"], dropped=during["dropped"] - before["dropped"],
        malformed=during["malformed"] - before["malformed"], queue_capacity=queue_capacity, rss_kib=[kib for _, kib in rss],
        rss_growth_after_warmup=max(after_warmup) / after_warmup[0] - 1,
        latency_p50_ms=percentile(latencies, 50), latency_p99_ms=percentile(latencies, 99),
        latency_max_ms=max(latencies, default=math.nan), cells=len(overload_cells))

    # Let the queue drain, then the normal rate: nothing may be dropped, and counts advance.
    d.wait_counts(lambda c: queue_empty(d), timeout=60, what="an empty queue")
    cells.clear()
    replayer.paced(sustainable / 4, recovery_s, burst=1)
    after = camera(d.wait_accounted({replayer.name: replayer.sent}, timeout=60), replayer.name)
    d.wait_counts(lambda c: queue_empty(d), timeout=60, what="an empty queue")
    drain(sub, cells, counts)
    result.recovery_sent = replayer.sent - (sent_before + result.sent)
    result.recovery_received = after["received"] - during["received"]
    result.recovery_dropped = after["dropped"] - during["dropped"]
    result.recovery_cells = len(cells)
    return result


def queue_empty(d: Flowd) -> bool:
    """Whether the daemon's latest status line reports an empty processing queue."""
    lines = [l for l in d.stderr().splitlines() if "; queue " in l]
    return bool(lines) and "; queue 0/" in lines[-1]


def metric(port: int, name: str) -> float:
    """The value of the unlabelled Prometheus sample `name` at http://127.0.0.1:`port`/metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise AssertionError(f"no {name} in /metrics")


@contextlib.contextmanager
def small_tmpfs(path: Path, size_kib: int):
    """A tmpfs of `size_kib` KiB mounted at `path` (a full disk on demand); raises PermissionError
    where mounting is not allowed (not root, or no CAP_SYS_ADMIN in a container)."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise PermissionError(f"cannot mount a tmpfs at {path}: {done.stderr.strip() or done.returncode}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)

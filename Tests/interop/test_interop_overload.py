"""Overload and misbehaving cameras, short form (issue 7 part 3; `scripts/soak` runs the long form
and docs/reliability.md gives its figures).

Twin frames (256², the default model) are replayed into `flowd run` at three times the rate it
was just measured to sustain: memory stays put, every excess frame is counted as dropped (the
queue is full), the frames that are processed come out with finite latency, and at a normal
rate afterwards nothing is dropped. A camera that skips sequence numbers, goes away and comes
back is reported in `counts` (gaps, seconds since its last frame) and in the log (stale).
"""

from __future__ import annotations

import math

from flowd_harness import DEFAULT_MODEL, SMALL_TWIN_OPTICS, camera
from load_harness import Replayer, capture_twin_frames, overload

QUEUE = 8
#: Resident memory the short overload may add, KiB: allocator and socket buffers settling, and
#: what is made on first use while it runs (each refocusing window size's propagator and FFTW
#: plans, the .rtdc writer's chunk cache): measured 17.8 MiB once, on a busy machine.
MEMORY_SLACK_KIB = 24 * 1024


def start(flowd, **settings):
    return flowd(inputs=["pull+bind:tcp://127.0.0.1:{port0}"], settings={
        **SMALL_TWIN_OPTICS, "model.path": str(DEFAULT_MODEL), "ingest.queue_capacity": QUEUE, **settings})


def test_three_times_the_sustainable_rate_drops_the_excess_and_recovers(flowd, flowd_bin):
    frames = capture_twin_frames(flowd_bin, 40)
    d = start(flowd)
    result = overload(d, frames, queue_capacity=QUEUE, measure_s=1.0, overload_s=4.0, warmup_s=1.5,
                      recovery_s=2.0)

    assert result.sustainable_fps > 0
    # Every frame sent is accounted for, and the excess is dropped as "queue full", not lost.
    assert result.received + result.dropped + result.malformed == result.sent
    assert result.malformed == 0 and result.dropped > 0, result.as_dict()
    # Memory stays put: far less growth than the frames it dropped would take if any were kept.
    # (The ≤ 5 % figure needs a longer warm-up than a short test has: scripts/soak measures it.)
    growth_kib = max(result.rss_kib) - result.rss_kib[0]
    dropped_kib = result.dropped * len(frames[0][1]) / 1024
    assert growth_kib < MEMORY_SLACK_KIB < dropped_kib / 4, result.as_dict()
    assert result.cells > 0 and math.isfinite(result.latency_p99_ms), result.as_dict()
    # The queue stayed bounded: the status lines never report more than its capacity.
    depths = [int(line.split("; queue ")[1].split("/")[0]) for line in d.stderr().splitlines() if "; queue " in line]
    assert depths and max(depths) <= QUEUE
    # Recovered: at a normal rate (a quarter of the sustainable one) nothing is dropped and cells keep coming.
    assert result.recovery_dropped == 0 and result.recovery_received == result.recovery_sent > 0, result.as_dict()
    assert result.recovery_cells > 0
    assert d.stop()[2] == 0


def test_sequence_gaps_and_a_camera_that_goes_away_and_comes_back_are_reported(flowd, flowd_bin):
    frames = capture_twin_frames(flowd_bin, 10)
    # A queue longer than all 20 frames: none is dropped, whatever the workers' pace.
    d = start(flowd, **{"ingest.stale_after_s": 0.3, "ingest.queue_capacity": 64})
    cam = Replayer(d, frames, name="flaky")
    cam.send(10)
    cam.skip(5)
    cam.send(5)
    counts = d.wait_accounted({"flaky": 15})
    assert camera(counts, "flaky")["gaps"] == 5

    cam.reconnect()  # the camera disconnects …
    gone = d.wait_counts(lambda c: camera(c, "flaky")["seconds_since_last_frame"] > 0.6, what="a stale camera")
    assert camera(gone, "flaky")["received"] == 15
    d.wait_counts(lambda c: "flaky: stale, no frame for" in d.stderr(), what="a stale line in the log")

    cam.skip(3)  # … and comes back, having lost 3 frames
    cam.send(5)
    back = d.wait_accounted({"flaky": 20})
    flaky = camera(back, "flaky")
    assert flaky["gaps"] == 8 and flaky["dropped"] == 0 and flaky["malformed"] == 0
    assert flaky["seconds_since_last_frame"] < 0.3
    assert d.stop()[2] == 0

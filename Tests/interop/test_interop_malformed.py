"""Malformed messages over a real socket: counted by reason, logged clearly but rate-limited,
and the daemon keeps serving.

Pins down issue 2's acceptance criterion: "At least 20 distinct malformed messages sent over the
socket are counted by reason and logged with a clear message (rate-limited, so a flood cannot
fill the journal), and the daemon keeps serving", and issue 7's malformed-input suite: wrong
sizes, bad dtypes, huge shapes, invalid UTF-8 or JSON, extra or missing parts, empty messages,
NaN or Inf pixels in float32 frames, saturated frames, unknown cameras, and a 1 GB message
bounded by the maximum message size. The reason codes are the stable `malformed_by_reason` keys
of docs/protocol.md.
"""

from __future__ import annotations

import json
import pickle
import socket
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import zmq

from flowd_harness import accounted, camera, frame_parts, malformed_by_reason, tcp

REASONS = {
    "wrong_part_count", "header_too_large", "header_not_utf8", "header_not_json", "header_not_object",
    "missing_dtype", "unsupported_dtype", "missing_shape", "bad_shape", "shape_too_large", "bad_field",
    "payload_size_mismatch", "non_finite_pixels", "saturated",
}

MAX_ROWS, MAX_COLS = 64, 32  # limits the daemon under test is started with
PIXELS = bytes(2 * 3)  # a valid 2x3 uint8 buffer


def float32_pixels(*bad: float) -> bytes:
    """A 2x3 float32 buffer of mid-grey with `bad` values at the end."""
    values = np.full(6, 0.5, np.float32)
    values[6 - len(bad):] = bad
    return values.tobytes()


def hdr(**fields) -> bytes:
    return json.dumps(fields).encode()


def ok(**extra) -> dict:
    """A valid header for PIXELS, with `extra` keys changed or added."""
    fields = {"dtype": "uint8", "shape": [2, 3]}
    fields.update(extra)
    return fields


def without(key: str, **extra) -> bytes:
    fields = ok(**extra)
    del fields[key]
    return json.dumps(fields).encode()


@dataclass
class Case:
    name: str
    parts: list[bytes]
    reason: str | set[str]
    #: Camera the message must be counted under; None: the input's endpoint (no usable id).
    camera: str | None = None
    #: Words a clear log message names (case-insensitive).
    mentions: tuple[str, ...] = ()
    reasons: set[str] = field(init=False)

    def __post_init__(self):
        self.reasons = {self.reason} if isinstance(self.reason, str) else set(self.reason)


CASES = [
    # Framing.
    Case("one part", [hdr(**ok())], "wrong_part_count", mentions=("part",)),
    Case("three parts", [hdr(**ok()), PIXELS, b"extra"], "wrong_part_count", mentions=("part",)),
    Case("one empty part", [b""], "wrong_part_count", mentions=("part",)),
    Case("two empty parts", [b"", b""], "header_not_json", mentions=("JSON",)),
    Case("four parts", [hdr(**ok()), PIXELS, b"", b""], "wrong_part_count", mentions=("4 part",)),
    Case("parts swapped: pixels first", [PIXELS, hdr(**ok())], "header_not_json", mentions=("JSON",)),
    Case("header larger than 4096 bytes", [hdr(**ok(note="x" * 5000)), PIXELS], "header_too_large",
         mentions=("header",)),
    # Header encoding.
    Case("header not UTF-8", [b'\xff\xfe{"dtype": "uint8", "shape": [2, 3]}', PIXELS], "header_not_utf8",
         mentions=("UTF-8",)),
    Case("pickled header (binary protocol)", [pickle.dumps(ok()), PIXELS], "header_not_utf8",
         mentions=("UTF-8",)),
    Case("pickled header (ASCII protocol 0)", [pickle.dumps(ok(), protocol=0), PIXELS], "header_not_json",
         mentions=("JSON",)),
    Case("empty header", [b"", PIXELS], "header_not_json", mentions=("JSON",)),
    Case("invalid UTF-8 inside a JSON string", [b'{"dtype": "uint8", "shape": [2, 3], "camera": "\xc3\x28"}', PIXELS],
         "header_not_utf8", mentions=("UTF-8",)),
    Case("overlong UTF-8 ('/' as C0 AF)", [b'{"dtype": "uint8", "shape": [2, 3], "camera": "a\xc0\xafb"}', PIXELS],
         "header_not_utf8", mentions=("UTF-8",)),
    Case("UTF-16 header", [json.dumps(ok()).encode("utf-16"), PIXELS], "header_not_utf8", mentions=("UTF-8",)),
    Case("lone surrogate escape in a string", [b'{"dtype": "uint8", "shape": [2, 3], "camera": "\\ud800"}', PIXELS],
         "header_not_json", mentions=("JSON",)),
    Case("JSON nested 2000 deep", [b"[" * 2000 + b"]" * 2000, PIXELS], "header_not_json", mentions=("JSON",)),
    Case("not JSON", [b"dtype=uint8 shape=2x3", PIXELS], "header_not_json", mentions=("JSON",)),
    Case("truncated JSON", [b'{"dtype": "uint8", "shape": [2, 3]', PIXELS], "header_not_json",
         mentions=("JSON",)),
    Case("JSON array", [b'["uint8", [2, 3]]', PIXELS], "header_not_object", mentions=("object",)),
    Case("JSON number", [b"42", PIXELS], "header_not_object", mentions=("object",)),
    Case("JSON string", [b'"uint8"', PIXELS], "header_not_object", mentions=("object",)),
    Case("JSON null", [b"null", PIXELS], "header_not_object", mentions=("object",)),
    # dtype.
    Case("missing dtype", [without("dtype", camera="cam-dtype"), PIXELS], "missing_dtype", "cam-dtype",
         mentions=("dtype",)),
    Case("dtype int8", [hdr(**ok(dtype="int8", camera="cam-dtype")), PIXELS], "unsupported_dtype", "cam-dtype",
         mentions=("dtype", "int8")),
    Case("dtype float64", [hdr(**ok(dtype="float64")), PIXELS], "unsupported_dtype", mentions=("dtype", "float64")),
    Case("dtype big-endian >u2", [hdr(**ok(dtype=">u2", shape=[1, 3])), PIXELS], "unsupported_dtype",
         mentions=("dtype", ">u2")),
    Case("dtype a number", [hdr(**ok(dtype=123)), PIXELS], "unsupported_dtype", mentions=("dtype", "123")),
    Case("dtype float16", [hdr(**ok(dtype="float16", shape=[1, 3])), PIXELS], "unsupported_dtype",
         mentions=("dtype", "float16")),
    Case("dtype uint32", [hdr(**ok(dtype="uint32", shape=[1, 1])), bytes(4)], "unsupported_dtype",
         mentions=("dtype", "uint32")),
    Case("dtype bool", [hdr(**ok(dtype="bool")), PIXELS], "unsupported_dtype", mentions=("dtype", "bool")),
    Case("dtype object (pickled pixels)", [hdr(**ok(dtype="object")), PIXELS], "unsupported_dtype",
         mentions=("dtype", "object")),
    Case('dtype "uint8 " (trailing space)', [hdr(**ok(dtype="uint8 ")), PIXELS], "unsupported_dtype",
         mentions=("dtype",)),
    # shape.
    Case("missing shape", [without("shape", msg="cam-shape"), PIXELS], "missing_shape", "cam-shape",
         mentions=("shape",)),
    Case("shape [0, 5]", [hdr(**ok(shape=[0, 5])), b""], "bad_shape", mentions=("shape",)),
    Case("shape [-1, 5]", [hdr(**ok(shape=[-1, 5])), PIXELS], "bad_shape", mentions=("shape",)),
    Case("shape [2, 2, 3] (colour)", [hdr(**ok(shape=[2, 2, 3], camera="cam-shape")), bytes(12)], "bad_shape",
         "cam-shape", mentions=("shape",)),
    Case("shape [1.5, 2]", [hdr(**ok(shape=[1.5, 2])), PIXELS], "bad_shape", mentions=("shape",)),
    Case('shape "abc"', [hdr(**ok(shape="abc")), PIXELS], "bad_shape", mentions=("shape",)),
    Case("shape [6] (one dimension)", [hdr(**ok(shape=[6])), PIXELS], "bad_shape", mentions=("shape",)),
    Case("shape [2, \"3\"]", [hdr(**ok(shape=[2, "3"])), PIXELS], "bad_shape", mentions=("shape",)),
    Case("rows beyond ingest.max_rows", [hdr(**ok(shape=[MAX_ROWS + 1, 1])), bytes(MAX_ROWS + 1)],
         "shape_too_large", mentions=("shape", str(MAX_ROWS + 1))),
    Case("cols beyond ingest.max_cols", [hdr(**ok(shape=[1, MAX_COLS + 1], camera="cam-big")), bytes(MAX_COLS + 1)],
         "shape_too_large", "cam-big", mentions=("shape",)),
    Case("a gigapixel claim with a tiny buffer", [hdr(**ok(shape=[100_000, 100_000], dtype="float32")), PIXELS],
         "shape_too_large", mentions=("shape",)),
    Case("shape beyond int32 ([2**31, 1])", [hdr(**ok(shape=[2**31, 1])), PIXELS], "bad_shape", mentions=("shape",)),
    Case("shape beyond uint64 ([2**64, 1])", [hdr(**ok(shape=[2**64, 1])), PIXELS], "bad_shape", mentions=("shape",)),
    Case("shape [1e308, 1]", [hdr(**ok(shape=[1e308, 1])), PIXELS], "bad_shape", mentions=("shape",)),
    # payload.
    Case("payload one byte short", [hdr(**ok(camera="cam-payload")), PIXELS[:-1]], "payload_size_mismatch",
         "cam-payload", mentions=("bytes", "5", "6")),
    Case("payload one byte long", [hdr(**ok()), PIXELS + b"\0"], "payload_size_mismatch", mentions=("bytes", "7")),
    Case("uint16 payload sent as uint8 bytes", [hdr(**ok(dtype="<u2")), PIXELS], "payload_size_mismatch",
         mentions=("bytes", "12")),
    Case("float32 payload empty", [hdr(**ok(dtype="float32", camera="cam-payload")), b""], "payload_size_mismatch",
         "cam-payload", mentions=("bytes",)),
    Case("uint16 payload of an odd byte count", [hdr(**ok(dtype="uint16")), bytes(11)], "payload_size_mismatch",
         mentions=("11 bytes", "12")),
    # pixels that cannot be a hologram.
    Case("float32 frame with a NaN pixel", [hdr(**ok(dtype="float32", camera="cam-pixels")), float32_pixels(np.nan)],
         "non_finite_pixels", "cam-pixels", mentions=("pixel (1, 2)", "nan", "finite")),
    Case("float32 frame with +Inf", [hdr(**ok(dtype="float32", camera="cam-pixels")), float32_pixels(np.inf, 0.5)],
         "non_finite_pixels", "cam-pixels", mentions=("pixel (1, 1)", "inf")),
    Case("float32 frame with -Inf", [hdr(**ok(dtype="float32")), float32_pixels(-np.inf)], "non_finite_pixels",
         mentions=("-inf",)),
    Case("float32 frame of NaN only", [hdr(**ok(dtype="float32", shape=[1, 2])), np.full(2, np.nan, np.float32).tobytes()],
         "non_finite_pixels", mentions=("pixel (0, 0)",)),
    Case("uint8 frame saturated (all 255)", [hdr(**ok(camera="cam-pixels")), bytes([255] * 6)], "saturated",
         "cam-pixels", mentions=("6 of 6", "full scale", "255", "exposure")),
    Case("uint16 frame saturated (all 65535)", [hdr(**ok(dtype="uint16")), bytes([255] * 12)], "saturated",
         mentions=("65535",)),
    Case("uint8 frame with 1 of 6 pixels at 255 (over 1 %)", [hdr(**ok()), bytes([0, 0, 0, 0, 0, 255])], "saturated",
         mentions=("1 of 6",)),
    # optional fields.
    Case("seq -1", [hdr(**ok(seq=-1, camera="cam-fields")), PIXELS], "bad_field", "cam-fields", mentions=("seq",)),
    Case('seq "x"', [hdr(**ok(seq="x", camera="cam-fields")), PIXELS], "bad_field", "cam-fields", mentions=("seq",)),
    Case("seq 1.5", [hdr(**ok(seq=1.5)), PIXELS], "bad_field", mentions=("seq",)),
    Case('t_ns "now"', [hdr(**ok(t_ns="now", camera="cam-fields")), PIXELS], "bad_field", "cam-fields",
         mentions=("t_ns",)),
    Case("wavelength_nm 0", [hdr(**ok(wavelength_nm=0, camera="cam-fields")), PIXELS], "bad_field", "cam-fields",
         mentions=("wavelength_nm",)),
    Case('wavelength_nm "red"', [hdr(**ok(wavelength_nm="red")), PIXELS], "bad_field", mentions=("wavelength_nm",)),
    Case("pixel_um -1", [hdr(**ok(pixel_um=-1, camera="cam-fields")), PIXELS], "bad_field", "cam-fields",
         mentions=("pixel_um",)),
    Case("pixel_um NaN (Python json.dumps writes NaN)", [hdr(**ok(pixel_um=float("nan"))), PIXELS],
         {"header_not_json", "bad_field"}),
    Case('camera ""', [hdr(**ok(camera="")), PIXELS], "bad_field", mentions=("camera",)),
    Case("camera of 65 bytes", [hdr(**ok(camera="c" * 65)), PIXELS], "bad_field", mentions=("camera",)),
    Case("camera a number", [hdr(**ok(camera=7)), PIXELS], "bad_field", mentions=("camera",)),
    Case("msg (imagezmq sender name) a number", [hdr(**ok(msg=42)), PIXELS], "bad_field", mentions=("msg",)),
]


def test_the_case_table_covers_every_reason_with_at_least_20_distinct_messages():
    """The acceptance asks for 20+ distinct malformed messages; this table also hits every
    documented reason code at least once."""
    assert len({c.name for c in CASES}) == len(CASES) >= 20
    assert set().union(*(c.reasons for c in CASES)) == REASONS
    assert len({tuple(c.parts) for c in CASES}) == len(CASES)


def test_each_malformed_message_is_counted_under_its_reason_logged_and_the_daemon_keeps_serving(flowd):
    """Each message of the table, sent alone over a PUSH socket into `pull+bind:`, raises
    exactly one `malformed` counter by exactly the expected reason, under the camera its header
    names when it names a valid one, else under the input's endpoint. Each produces one warning
    in the log naming the camera and what was wrong (the key, the bad value). Afterwards a valid frame is still
    received, and the totals agree with the table.
    """
    d = flowd(
        inputs=["pull+bind:tcp://127.0.0.1:{port0}"],
        settings={"ingest.max_rows": MAX_ROWS, "ingest.max_cols": MAX_COLS, "log.level": "warning"},
    )
    endpoint = tcp(d.ports[0])
    push = d.socket(zmq.PUSH)
    push.connect(endpoint)

    seen = {}
    for i, case in enumerate(CASES):
        push.send_multipart(case.parts)
        counts = d.wait_counts(lambda c: c["frames"]["malformed"] >= i + 1, what=f"case {case.name!r} counted")
        assert counts["frames"]["malformed"] == i + 1, f"{case.name}: counted more than once"
        assert counts["frames"]["received"] == 0, f"{case.name}: accepted as a valid frame"
        now = malformed_by_reason(counts)
        diff = {r: n - seen.get(r, 0) for r, n in now.items() if n != seen.get(r, 0)}
        assert len(diff) == 1 and list(diff.values()) == [1], f"{case.name}: reasons changed by {diff}"
        (reason,) = diff
        assert reason in case.reasons, f"{case.name}: counted as {reason}, expected {case.reasons}"
        expected_camera = case.camera or endpoint
        assert camera(counts, expected_camera)["malformed_by_reason"].get(reason, 0) >= 1, (
            f"{case.name}: not counted under camera {expected_camera!r}: {counts['cameras']}"
        )
        seen = now

    # The daemon keeps serving: a valid frame after all that is received.
    frame = np.arange(12, dtype=np.uint16).reshape(3, 4)
    push.send_multipart(frame_parts(frame, camera="after-garbage"))
    counts = d.wait_counts(lambda c: camera(c, "after-garbage")["received"] == 1, what="the valid frame received")
    assert counts["frames"]["malformed"] == len(CASES)
    assert counts["frames"]["received"] == 1
    _, _, rc = d.stop()  # so that every log line is written
    assert rc == 0

    # One warning line per malformed message, in order (log.level=warning shows nothing else,
    # and no camera/reason pair exceeds the default burst of 10 here).
    lines = [line for line in d.stderr().splitlines() if line.strip()]
    assert len(lines) == len(CASES), "expected exactly one log line per malformed message:\n" + "\n".join(lines)
    problems = []
    for case, line in zip(CASES, lines):
        missing = [w for w in case.mentions if w.lower() not in line.lower()]
        if missing:
            problems.append(f"{case.name}: log line does not mention {missing}: {line}")
        if (case.camera or endpoint) not in line:
            problems.append(f"{case.name}: log line does not name the camera {case.camera or endpoint}: {line}")
    assert not problems, "\n".join(problems)


def test_the_log_line_of_a_malformed_message_names_its_reason_code(flowd):
    """An operator who sees `malformed_by_reason: {"bad_shape": 12}` on the dashboard must be
    able to grep the journal for `bad_shape`: each warning names the stable reason code that its
    message was counted under. One message per reason code."""
    one_per_reason = {}
    for case in CASES:
        if len(case.reasons) == 1:
            one_per_reason.setdefault(next(iter(case.reasons)), case)
    assert set(one_per_reason) == REASONS
    d = flowd(
        inputs=["pull+bind:tcp://127.0.0.1:{port0}"],
        settings={"ingest.max_rows": MAX_ROWS, "ingest.max_cols": MAX_COLS, "log.level": "warning"},
    )
    push = d.socket(zmq.PUSH)
    push.connect(tcp(d.ports[0]))
    cases = list(one_per_reason.values())
    for case in cases:
        push.send_multipart(case.parts)
    d.wait_counts(lambda c: c["frames"]["malformed"] == len(cases))
    _, _, rc = d.stop()
    assert rc == 0
    lines = [line for line in d.stderr().splitlines() if line.strip()]
    assert len(lines) == len(cases), "\n".join(lines)
    unnamed = [f"{case.reason}: {line}" for case, line in zip(cases, lines) if case.reason not in line]
    assert not unnamed, "log lines that do not name their reason code:\n" + "\n".join(unnamed)


def test_log_lines_cannot_be_forged_through_header_strings(flowd):
    """Header strings come from the network. A rejected `camera` or `dtype` containing a newline
    or a terminal escape must not start a new log line (under systemd, a new journal entry with
    a priority of the sender's choosing) or reach the terminal raw: each malformed message is one
    line, control characters escaped."""
    d = flowd(inputs=["pull+bind:tcp://127.0.0.1:{port0}"], settings={"log.level": "warning"})
    push = d.socket(zmq.PUSH)
    push.connect(tcp(d.ports[0]))
    forged = "x\n<2>flowd: FORGED critical entry\n2026-01-01T00:00:00Z critical flowd: FORGED"
    push.send_multipart([hdr(**ok(camera=forged)), PIXELS])
    push.send_multipart([hdr(**ok(dtype="uint8\nFORGED dtype line")), PIXELS])
    push.send_multipart([hdr(**ok(dtype="\x1b[2J\x1b[31mFORGED")), PIXELS])
    d.wait_counts(lambda c: c["frames"]["malformed"] == 3)
    _, _, rc = d.stop()
    assert rc == 0
    lines = [line for line in d.stderr().splitlines() if line.strip()]
    assert len(lines) == 3, "each malformed message must log exactly one line:\n" + "\n".join(lines)
    assert not any(line.lstrip().startswith(("<", "FORGED", "2026-01-01")) for line in lines), lines
    assert "\x1b" not in d.stderr(), "a terminal escape from the network reached the log raw"


def test_a_flood_of_identical_malformed_messages_is_counted_in_full_but_rate_limited_in_the_log(flowd):
    """500 identical malformed messages from one camera are all counted, but the log holds at
    most the burst (10 per camera and reason per 10 s window by default) plus one 'suppressed'
    summary: a camera sending garbage at full rate cannot fill the journal. The daemon keeps
    receiving valid frames from the same camera afterwards."""
    d = flowd(inputs=["pull+bind:tcp://127.0.0.1:{port0}"], settings={"log.level": "warning"})
    push = d.socket(zmq.PUSH)
    push.setsockopt(zmq.SNDHWM, 0)
    push.connect(tcp(d.ports[0]))
    bad = [hdr(**ok(dtype="int8", camera="flood-cam")), PIXELS]
    for _ in range(500):
        push.send_multipart(bad)
    push.send_multipart(frame_parts(np.zeros((2, 3), np.uint8), camera="flood-cam"))
    counts = d.wait_accounted({"flood-cam": 501})
    _, _, rc = d.stop()
    assert rc == 0
    c = camera(counts, "flood-cam")
    assert (c["malformed"], c["received"]) == (500, 1)
    assert c["malformed_by_reason"] == {"unsupported_dtype": 500}
    lines = [line for line in d.stderr().splitlines() if "flood-cam" in line]
    suppressed = [line for line in lines if "suppressed" in line]
    assert 1 <= len(lines) <= 11 and len(suppressed) <= 1, f"{len(lines)} log lines for the flood:\n" + "\n".join(lines)
    assert len(d.stderr().splitlines()) <= 12


def test_after_the_window_the_log_says_how_many_similar_messages_were_suppressed(flowd):
    """With `log.malformed_burst=3` and `log.malformed_window_s=2`: 50 bad messages log 3 lines;
    the first bad message after the window logs a line saying 47 similar messages were
    suppressed, then itself."""
    d = flowd(
        inputs=["pull+bind:tcp://127.0.0.1:{port0}"],
        settings={"log.level": "warning", "log.malformed_burst": 3, "log.malformed_window_s": 2},
    )
    push = d.socket(zmq.PUSH)
    push.connect(tcp(d.ports[0]))
    bad = [hdr(**ok(shape=[0, 0], camera="noisy")), PIXELS]
    started = time.monotonic()
    for _ in range(50):
        push.send_multipart(bad)
    d.wait_accounted({"noisy": 50})
    assert time.monotonic() - started < 1.5, "the burst must fit in one window for this test to mean anything"
    time.sleep(max(0.0, started + 2.3 - time.monotonic()))  # let the 2 s window end
    push.send_multipart(bad)
    d.wait_accounted({"noisy": 51})
    _, _, rc = d.stop()
    assert rc == 0
    lines = [line for line in d.stderr().splitlines() if "noisy" in line]
    suppressed = [line for line in lines if "suppressed" in line]
    assert len(suppressed) == 1 and "47" in suppressed[0], "\n".join(lines)
    assert len(lines) == 3 + 1 + 1, "\n".join(lines)


def test_frames_of_unknown_cameras_are_counted_under_other_as_unknown_camera_and_not_processed(flowd):
    """"Unknown camera" means a camera id beyond the `ingest.max_cameras` ids the daemon tracks
    (first come, first served; there is no list of cameras to know them by). A sender inventing
    ids can neither grow the counters without bound nor mix its frames into another camera's
    reference and tracks: each further id's valid frames are refused as malformed
    (`unknown_camera`) under "other", logged once per window, and the known cameras are served
    as before."""
    d = flowd(inputs=["pull+bind:tcp://127.0.0.1:{port0}"],
              settings={"ingest.max_cameras": 3, "log.level": "warning"})
    push = d.socket(zmq.PUSH)
    push.connect(tcp(d.ports[0]))
    a = np.zeros((4, 4), np.uint8)
    for i in range(10):
        push.send_multipart(frame_parts(a, camera=f"cam-{i}"))
    push.send_multipart(frame_parts(a, camera="cam-1"))  # a known camera keeps being served
    counts = d.wait_counts(lambda c: c["frames"]["received"] + c["frames"]["malformed"] == 11)
    assert sorted(counts["cameras"]) == ["cam-0", "cam-1", "cam-2", "other"]
    assert [camera(counts, f"cam-{i}")["received"] for i in range(3)] == [1, 2, 1]
    other = camera(counts, "other")
    assert (other["received"], other["malformed"], other["malformed_by_reason"]) == (0, 7, {"unknown_camera": 7})
    _, _, rc = d.stop()
    assert rc == 0
    lines = [line for line in d.stderr().splitlines() if "unknown_camera" in line]
    assert lines and "cam-3" in lines[0] and "ingest.max_cameras = 3" in lines[0], d.stderr()


def _monitored_push(d, endpoint: str) -> tuple[zmq.Socket, zmq.Socket]:
    """A PUSH socket connected to `endpoint`, and a PAIR receiving its connection events."""
    push = d.socket(zmq.PUSH)
    address = f"inproc://monitor-{id(push)}"
    push.monitor(address, zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED)
    events = d.socket(zmq.PAIR)
    events.connect(address)
    push.connect(endpoint)
    return push, events


def _wait_event(events: zmq.Socket, kind: int, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if events.poll(50):
            event, _ = events.recv_multipart()
            if struct.unpack("<HI", event[:6])[0] == kind:
                return
    raise AssertionError(f"no socket event {kind} within {timeout_s} s")


def test_a_message_part_over_the_maximum_message_size_is_refused_before_it_is_read(flowd):
    """ZMQ_MAXMSGSIZE is set from the limits: max_rows x max_cols x 4 bytes (float32, the widest
    dtype), here 64 x 32 x 4 = 8192. A part of exactly that size is delivered and counted (its
    header's shape does not match it); a part one byte larger makes libzmq close that sender's
    connection before reading it, so it is never counted, and the daemon keeps serving."""
    d = flowd(inputs=["pull+bind:tcp://127.0.0.1:{port0}"],
              settings={"ingest.max_rows": MAX_ROWS, "ingest.max_cols": MAX_COLS, "log.level": "warning"})
    endpoint = tcp(d.ports[0])
    cap = MAX_ROWS * MAX_COLS * 4

    at_cap, at_cap_events = _monitored_push(d, endpoint)
    _wait_event(at_cap_events, zmq.EVENT_CONNECTED)
    at_cap.send_multipart([hdr(**ok(camera="cam-cap")), bytes(cap)])
    counts = d.wait_counts(lambda c: camera(c, "cam-cap")["malformed"] == 1, what="the part at the cap counted")
    assert camera(counts, "cam-cap")["malformed_by_reason"] == {"payload_size_mismatch": 1}

    over, over_events = _monitored_push(d, endpoint)
    _wait_event(over_events, zmq.EVENT_CONNECTED)
    over.send_multipart([hdr(**ok(camera="cam-over")), bytes(cap + 1)])
    _wait_event(over_events, zmq.EVENT_DISCONNECTED)  # flowd's libzmq hung up on it

    at_cap.send_multipart(frame_parts(np.zeros((2, 3), np.uint8), camera="cam-cap"))
    counts = d.wait_counts(lambda c: camera(c, "cam-cap")["received"] == 1, what="a valid frame after the refusal")
    assert "cam-over" not in counts["cameras"]
    assert counts["frames"]["malformed"] == 1


def _zmtp_null_push_greeting() -> bytes:
    """What a ZeroMQ PUSH socket sends first (ZMTP 3.0, NULL security): the greeting, then the
    READY command naming its socket type (rfc.zeromq.org/spec/23)."""
    greeting = b"\xff" + bytes(8) + b"\x7f" + bytes([3, 0]) + b"NULL".ljust(20, b"\0") + b"\0" + bytes(31)
    body = b"\x05READY" + b"\x0bSocket-Type" + struct.pack(">I", 4) + b"PUSH"
    return greeting + bytes([0x04, len(body)]) + body


def _resident_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])


def test_a_1_gb_message_is_refused_from_its_length_prefix_without_the_daemon_reading_it(flowd):
    """A sender announcing a 1 GiB message part (as raw ZMTP, so the test needs no gigabyte of
    memory) is cut off by flowd's libzmq as soon as the 8-byte length arrives: the default limits
    (4096 x 4096 float32) cap a part at 64 MiB. The 16 MiB of the body that the sender then tries
    to push are never read (the connection is closed under it), the daemon's resident memory does
    not grow by them, nothing is counted, and a valid frame right after is received."""
    d = flowd(inputs=["pull+bind:tcp://127.0.0.1:{port0}"], settings={"log.level": "warning"})
    before_kib = _resident_kib(d.pid)
    raw = socket.create_connection(("127.0.0.1", d.ports[0]), timeout=5)
    raw.sendall(_zmtp_null_push_greeting())
    long_frame_header = bytes([0x02]) + struct.pack(">Q", 1 << 30)  # flags: LONG, last part
    try:
        raw.sendall(long_frame_header)
        raw.sendall(bytes(16 << 20))
        while raw.recv(65536):  # flowd's greeting and READY, then the end of the stream
            pass
    except (BrokenPipeError, ConnectionResetError):
        pass  # closed while we were still sending
    except TimeoutError:
        raise AssertionError("flowd kept the connection open, waiting for the rest of the 1 GiB part") from None
    finally:
        raw.close()
    grown_mib = (_resident_kib(d.pid) - before_kib) / 1024
    assert grown_mib < 8, f"flowd's resident memory grew by {grown_mib:.0f} MiB"

    push = d.socket(zmq.PUSH)
    push.connect(tcp(d.ports[0]))
    push.send_multipart(frame_parts(np.zeros((2, 3), np.uint8), camera="after-1gb"))
    counts = d.wait_counts(lambda c: camera(c, "after-1gb")["received"] == 1, what="a valid frame after the 1 GB claim")
    assert counts["frames"]["malformed"] == 0
    assert counts["frames"]["received"] == 1

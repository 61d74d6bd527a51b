"""Frames from the real camera-side libraries reach `flowd run`, and every frame is accounted for.

Pins down the acceptance criterion of issue 2: frames from imagezmq (PUB/SUB and REQ/REP) and
from a raw pyzmq PUSH sender all arrive, and received + malformed + dropped = sent per camera,
as published in `counts`.
"""

from __future__ import annotations

import signal
import subprocess
import threading

import imagezmq
import numpy as np
import pytest
import zmq

from flowd_harness import (
    DEFAULT_MODEL, SMALL_TWIN, SMALL_TWIN_OPTICS, accounted, camera, free_port, frame_parts,
    load_truth, send_array, stop_and_collect_cells, tcp,
)

N = 120  # frames per sender


def grayscale(i: int, dtype, shape=(48, 64)) -> np.ndarray:
    rng = np.random.default_rng(i)
    top = np.iinfo(dtype).max if np.issubdtype(dtype, np.integer) else 1.0
    return rng.integers(0, top, size=shape, endpoint=True).astype(dtype)


def _send_all(errors: list, body) -> threading.Thread:
    def run():
        try:
            body()
        except BaseException as e:  # reported by the test thread
            errors.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_imagezmq_pub_sub_req_rep_and_pyzmq_push_all_at_once_every_frame_accounted(flowd):
    """Three senders feed one daemon at the same time, each in its own socket mode:

    - imagezmq `ImageSender(REQ_REP=False)`: a PUB that binds; flowd's `sub:` input connects;
    - imagezmq `ImageSender(REQ_REP=True)`: a REQ that connects to flowd's `rep:` input and gets
      `b"OK"` back for every frame;
    - raw pyzmq PUSH with the documented `send_array` recipe (header: dtype and shape only) into
      `pull+bind:`, counted under the input's endpoint since the header names no camera;
    - and a second PUSH whose headers name their camera and carry `seq`, `t_ns`,
      `wavelength_nm` and `pixel_um` (float32 frames with NumPy's `'<f4'` spelling).

    imagezmq senders are counted under their sender name (`msg`). With a queue large enough for
    everything, the published counts show exactly `sent` received per camera, nothing malformed
    or dropped, no sequence gaps, the exact pixel byte count, and totals equal to the sum over
    cameras. (That the final counts on SIGTERM agree is test_interop_shutdown's subject.)
    """
    pub_port = free_port()
    pub_sender = imagezmq.ImageSender(connect_to=tcp(pub_port), REQ_REP=False)
    d = flowd(
        inputs=[f"sub:{tcp(pub_port)}", "rep:tcp://127.0.0.1:{port0}", "pull+bind:tcp://127.0.0.1:{port1}"],
        settings={"ingest.queue_capacity": 4096},
    )
    rep_port, pull_port = d.ports
    req_sender = imagezmq.ImageSender(connect_to=tcp(rep_port), REQ_REP=True)
    req_sender.zmq_socket.setsockopt(zmq.RCVTIMEO, 5000)  # never hang the suite on a lost reply
    for s in (pub_sender, req_sender):
        s.zmq_socket.setsockopt(zmq.LINGER, 0)
    try:
        push_plain = d.socket(zmq.PUSH)
        push_plain.connect(tcp(pull_port))
        push_named = d.socket(zmq.PUSH)
        push_named.connect(tcp(pull_port))

        # PUB/SUB slow joiner: frames published before flowd's subscription reaches the PUB are
        # lost by design. Warm up under another name until flowd has seen one, then count.
        warm = grayscale(0, np.uint8, (4, 4))
        for _ in range(200):
            pub_sender.send_image("warmup-pub", warm)
            if camera(d.wait_counts(lambda c: True), "warmup-pub")["received"] > 0:
                break
        else:
            pytest.fail("flowd's SUB never received a frame from the imagezmq PUB sender")

        sent_bytes = {"pub-cam": 0, "req-cam": 0, "push-plain": 0, "push-named": 0}
        replies: list[bytes] = []
        errors: list[BaseException] = []

        def pub():
            for i in range(N):
                a = grayscale(i, np.uint8 if i % 2 else np.uint16)
                pub_sender.send_image("pub-cam", a)
                sent_bytes["pub-cam"] += a.nbytes

        def req():
            for i in range(N):
                a = grayscale(1000 + i, np.uint16 if i % 2 else np.uint8)
                replies.append(req_sender.send_image("req-cam", a))
                sent_bytes["req-cam"] += a.nbytes

        def push():
            for i in range(N):
                a = grayscale(2000 + i, np.uint16)
                send_array(push_plain, a)
                sent_bytes["push-plain"] += a.nbytes

        def push_with_metadata():
            for i in range(N):
                a = (grayscale(3000 + i, np.uint8) / 255).astype("<f4")
                push_named.send_multipart(
                    frame_parts(a, dtype=a.dtype.str, camera="push-named", seq=i, t_ns=1_700_000_000_000_000_000 + i,
                                wavelength_nm=632.8, pixel_um=0.11)
                )
                sent_bytes["push-named"] += a.nbytes

        threads = [_send_all(errors, f) for f in (pub, req, push, push_with_metadata)]
        for t in threads:
            t.join(timeout=30)
        assert not errors, f"a sender failed: {errors!r}"
        assert all(not t.is_alive() for t in threads), "a sender did not finish within 30 s"
        assert replies == [b"OK"] * N, "imagezmq's REQ sender must get b'OK' for every frame"

        endpoint = tcp(pull_port)  # the plain recipe names no camera
        ids = {"pub-cam": "pub-cam", "req-cam": "req-cam", "push-plain": endpoint, "push-named": "push-named"}
        counts = d.wait_accounted({cam_id: N for cam_id in ids.values()})
        _, _, rc = d.stop(signal.SIGTERM)
    finally:
        pub_sender.close()
        req_sender.close()

    assert rc == 0
    assert counts["v"] == 1 and counts["final"] is False
    for name, cam_id in ids.items():
        c = camera(counts, cam_id)
        assert (c["received"], c["malformed"], c["dropped"], c["gaps"]) == (N, 0, 0, 0), (name, c)
        assert c["received"] + c["malformed"] + c["dropped"] == N
        assert c["malformed_by_reason"] == {}, (name, c)
        assert c["bytes"] == sent_bytes[name], (name, c["bytes"], sent_bytes[name])
        assert c["seconds_since_last_frame"] is not None and c["seconds_since_last_frame"] >= 0
    assert camera(counts, "warmup-pub")["malformed"] == 0
    totals = counts["frames"]
    for key in ("received", "malformed", "dropped", "gaps"):
        assert totals[key] == sum(c[key] for c in counts["cameras"].values()), key


def test_pull_connect_to_a_camera_push_that_binds(flowd):
    """`pull:` (without +bind) connects flowd's PULL to a detector's bound PUSH."""
    port = free_port()
    d = flowd(inputs=[f"pull:{tcp(port)}"])
    push = d.socket(zmq.PUSH)
    push.bind(tcp(port))
    for i in range(20):
        push.send_multipart(frame_parts(grayscale(i, np.uint16), camera="detector"))
    counts = d.wait_accounted({"detector": 20})
    assert camera(counts, "detector")["received"] == 20


def test_a_full_queue_drops_but_every_frame_is_still_accounted_for(flowd):
    """With a one-frame queue and one worker, a burst of large frames overflows the queue.

    Whatever flowd could not queue is counted as `dropped`, never lost silently:
    received + dropped == sent exactly, for a reliable (PUSH) sender.
    """
    d = flowd(inputs=["pull+bind:tcp://127.0.0.1:{port0}"],
              settings={"ingest.queue_capacity": 1, "workers": 1})
    push = d.socket(zmq.PUSH)
    push.setsockopt(zmq.SNDHWM, 0)
    push.connect(tcp(d.ports[0]))
    frame = frame_parts(grayscale(7, np.uint16, (512, 512)), camera="burst")
    sent = 300
    for _ in range(sent):
        push.send_multipart(frame, copy=False)
    counts = d.wait_accounted({"burst": sent}, timeout=20)
    c = camera(counts, "burst")
    assert c["received"] + c["malformed"] + c["dropped"] == sent, c
    assert c["malformed"] == 0
    assert c["bytes"] == c["received"] * 512 * 512 * 2
    assert counts["frames"]["dropped"] == c["dropped"]


def test_sequence_gaps_are_counted_per_camera(flowd):
    """A jump in a camera's `seq` counts the missing frames as gaps; cameras are independent."""
    d = flowd(inputs=["pull+bind:tcp://127.0.0.1:{port0}"])
    push = d.socket(zmq.PUSH)
    push.connect(tcp(d.ports[0]))
    a = grayscale(1, np.uint8, (8, 8))
    for seq in (0, 1, 2, 5, 6, 10):  # missing 3, 4, 7, 8, 9
        push.send_multipart(frame_parts(a, camera="gappy", seq=seq))
    for seq in range(6):
        push.send_multipart(frame_parts(a, camera="steady", seq=seq))
    counts = d.wait_accounted({"gappy": 6, "steady": 6})
    assert camera(counts, "gappy")["gaps"] == 5
    assert camera(counts, "steady")["gaps"] == 0
    assert counts["frames"]["gaps"] == 5


def test_imagezmq_req_sender_is_answered_ok_even_for_a_rejected_frame(flowd):
    """REQ/REP must never wedge a camera: imagezmq's REQ waits for a reply to each frame, so
    flowd answers `b"OK"` to a frame it rejects too. A colour (3-channel) image from imagezmq
    is rejected as `bad_shape` (holograms are grayscale) and counted under the sender's name;
    the next grayscale frame from the same sender is received."""
    d = flowd(inputs=["rep:tcp://127.0.0.1:{port0}"])
    sender = imagezmq.ImageSender(connect_to=tcp(d.ports[0]), REQ_REP=True)
    sender.zmq_socket.setsockopt(zmq.RCVTIMEO, 5000)
    sender.zmq_socket.setsockopt(zmq.LINGER, 0)
    try:
        colour = np.zeros((16, 16, 3), np.uint8)
        assert sender.send_image("rig-1", colour) == b"OK"
        assert sender.send_image("rig-1", grayscale(3, np.uint8, (16, 16))) == b"OK"
        # A raw, non-frame message on the same REQ socket is answered too.
        sender.zmq_socket.send(b"hello")
        assert sender.zmq_socket.recv() == b"OK"
        assert sender.send_image("rig-1", grayscale(4, np.uint16, (16, 16))) == b"OK"
    finally:
        sender.close()
    endpoint = tcp(d.ports[0])
    counts = d.wait_counts(lambda c: accounted(c, "rig-1") >= 3 and accounted(c, endpoint) >= 1)
    rig = camera(counts, "rig-1")
    assert (rig["received"], rig["malformed"]) == (2, 1)
    assert rig["malformed_by_reason"] == {"bad_shape": 1}
    assert camera(counts, endpoint)["malformed_by_reason"] == {"wrong_part_count": 1}


def test_an_imagezmq_sender_feeds_the_full_pipeline_with_the_default_model(flowd, flowd_bin, tmp_path):
    """An acquisition script as labs write it: imagezmq's default REQ/REP `ImageSender` sends
    the twin's holograms (read from the folder `flowd simulate` wrote) to `flowd run --input
    rep:` with the default model. Every frame is answered `b"OK"`; the cells come out labelled by
    the model, as many as the ground truth has, under the sender's name. (imagezmq sends no
    `seq`, so the cell messages have none and are not matched to true cells one by one.)"""
    folder = tmp_path / "twin"
    subprocess.run([str(flowd_bin), "simulate", *SMALL_TWIN, "--frames", "60", "--format", "npy", "--no-truth-maps",
                    "--out", str(folder)], check=True, capture_output=True)
    _, countable = load_truth(folder)
    d = flowd(inputs=["rep:tcp://127.0.0.1:{port0}"], args=["--model", str(DEFAULT_MODEL)],
              settings=SMALL_TWIN_OPTICS)
    sub = d.subscribe_cells()
    sender = imagezmq.ImageSender(connect_to=tcp(d.ports[0]))
    sender.zmq_socket.setsockopt(zmq.RCVTIMEO, 10000)  # never hang the suite on a lost reply
    sender.zmq_socket.setsockopt(zmq.LINGER, 0)
    try:
        replies = [sender.send_image("rig-1", np.load(path)) for path in sorted((folder / "holograms").glob("*.npy"))]
    finally:
        sender.close()
    assert replies == [b"OK"] * 60
    final, cells = stop_and_collect_cells(d, sub, {"rig-1": 60})
    assert len(countable) >= 20
    assert abs(len(cells) - len(countable)) <= 1, f"{len(cells)} cells published, truth {len(countable)}"
    classes = {"healthy", "primary_cancer", "metastatic_cancer"}
    assert all(c["camera"] == "rig-1" and "seq" not in c for c in cells)
    assert all(c["label"] in classes | {"unknown"} and set(c["probabilities"]) == classes for c in cells)
    assert set(final["cells"]["by_class"]) <= classes | {"unknown"}

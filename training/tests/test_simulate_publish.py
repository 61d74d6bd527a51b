"""`flowd simulate --publish`: the twin as a ZeroMQ camera, read with pyzmq as a lab script would."""

import json
import os
import signal
import subprocess

import numpy as np
import pytest
import zmq


def flowd_bin() -> str:
    path = os.environ.get("FLOWD_BIN")
    if not path or not os.access(path, os.X_OK):
        pytest.fail("FLOWD_BIN must name the built flowd binary (make test sets it)")
    return path


def camera_into_pull(*args: str) -> tuple[zmq.Socket, subprocess.Popen]:
    """A PULL socket bound on a free port (20 s receive timeout), and `flowd simulate --publish`
    with `args` sending to it."""
    pull = zmq.Context.instance().socket(zmq.PULL)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    pull.setsockopt(zmq.RCVTIMEO, 20000)
    sender = subprocess.Popen([flowd_bin(), "simulate", "--publish", f"tcp://127.0.0.1:{port}", *args],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return pull, sender


def test_published_frames_are_frame_message_v1_and_match_the_folder_output(tmp_path):
    pull, sender = camera_into_pull("--frames", "4", "--size", "256", "--seed", "3", "--rate", "100",
                                    "--out", str(tmp_path / "pub"))
    try:
        messages = [pull.recv_multipart() for _ in range(4)]
    finally:
        out, err = sender.communicate(timeout=30)
        pull.close()
    assert sender.returncode == 0, err
    subprocess.run(
        [flowd_bin(), "simulate", "--frames", "4", "--size", "256", "--seed", "3", "--format", "npy",
         "--out", str(tmp_path / "folder")], check=True, capture_output=True)
    for seq, (header_bytes, pixels) in enumerate(messages):
        header = json.loads(header_bytes)
        assert header["dtype"] == "uint8" and header["shape"] == [256, 256]
        assert header["seq"] == seq and header["wavelength_nm"] == 633
        frame = np.frombuffer(pixels, dtype=header["dtype"]).reshape(header["shape"])
        saved = np.load(tmp_path / "folder" / "holograms" / f"{seq:06d}.npy")
        assert np.array_equal(frame, saved)
    assert (tmp_path / "pub" / "reference.npy").exists()
    assert json.loads((tmp_path / "pub" / "twin.json").read_text())["size"] == 256
    assert len((tmp_path / "pub" / "truth.jsonl").read_text().splitlines()) == 4


def test_a_camera_streams_until_stopped_and_leaves_the_truth_of_exactly_what_it_sent(tmp_path):
    """Without --frames the camera runs until SIGINT; it then stops cleanly, and truth.jsonl and
    twin.json describe exactly the frames that went out. Header times are the twin's camera
    clock: one frame period (1/--fps, here 5 ms) apart, however fast the frames were sent."""
    pull, sender = camera_into_pull("--size", "128", "--rate", "400", "--render-ahead", "4",
                                    "--out", str(tmp_path / "pub"))
    try:
        messages = [pull.recv_multipart() for _ in range(20)]
        sender.send_signal(signal.SIGINT)
        out, err = sender.communicate(timeout=30)
        pull.setsockopt(zmq.RCVTIMEO, 2000)  # the frames still on their way
        while True:
            try:
                messages.append(pull.recv_multipart())
            except zmq.Again:
                break
    finally:
        if sender.poll() is None:
            sender.kill()
        pull.close()
    assert sender.returncode == 0, err
    assert "stopped by a signal" in out
    headers = [json.loads(header) for header, _ in messages]
    assert [h["seq"] for h in headers] == list(range(len(messages)))
    assert {b["t_ns"] - a["t_ns"] for a, b in zip(headers, headers[1:])} == {5_000_000}
    lines = [json.loads(line) for line in (tmp_path / "pub" / "truth.jsonl").read_text().splitlines()]
    assert [line["frame"] for line in lines] == list(range(len(messages)))
    assert json.loads((tmp_path / "pub" / "twin.json").read_text())["frames"] == len(messages)


def test_simulate_needs_a_destination():
    result = subprocess.run([flowd_bin(), "simulate", "--frames", "2"], capture_output=True, text=True)
    assert result.returncode != 0 and "--out" in result.stderr


def test_extract_from_a_live_stream_finds_the_cells_of_the_same_frames(tmp_path):
    """flowd extract --stream (PULL, binds) fed by flowd simulate --publish (PUSH, connects)."""
    twin = ["--frames", "12", "--size", "512", "--seed", "5", "--pixel-um", "0.25", "--concentration", "12000"]
    subprocess.run([flowd_bin(), "simulate", *twin, "--format", "npy", "--out", str(tmp_path / "folder")],
                   check=True, capture_output=True)
    velocity = json.loads((tmp_path / "folder" / "twin.json").read_text())["pixels_per_frame"]
    port = free_port()
    extract = subprocess.Popen(
        [flowd_bin(), "extract", "--stream", f"pull+bind:tcp://127.0.0.1:{port}", "--frames", "12", "--timeout-s", "20",
         "--reference", str(tmp_path / "folder" / "reference.npy"), "--pixel-um", "0.25",
         "--velocity-px", str(velocity), "--out", str(tmp_path / "stream.npz")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    subprocess.run([flowd_bin(), "simulate", *twin, "--publish", f"tcp://127.0.0.1:{port}", "--rate", "50"],
                   check=True, capture_output=True)
    out, err = extract.communicate(timeout=60)
    assert extract.returncode == 0, err
    subprocess.run([flowd_bin(), "extract", "--holograms", str(tmp_path / "folder"), "--out", str(tmp_path / "folder.npz")],
                   check=True, capture_output=True)
    live, saved = np.load(tmp_path / "stream.npz"), np.load(tmp_path / "folder.npz")
    assert len(live["label"]) == len(saved["label"]) > 0
    assert (live["label"] == -1).all()
    assert np.allclose(live["mean_opd_nm"], saved["mean_opd_nm"], rtol=1e-4)


def free_port() -> int:
    """A free loopback TCP port (bound and released, so that flowd can bind it)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

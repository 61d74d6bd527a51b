"""`flowd simulate --publish`: the twin as a ZeroMQ camera, read with pyzmq as a lab script would."""

import json
import os
import subprocess

import numpy as np
import pytest
import zmq


def flowd_bin() -> str:
    path = os.environ.get("FLOWD_BIN")
    if not path or not os.access(path, os.X_OK):
        pytest.fail("FLOWD_BIN must name the built flowd binary (make test sets it)")
    return path


def test_published_frames_are_frame_message_v1_and_match_the_folder_output(tmp_path):
    context = zmq.Context.instance()
    pull = context.socket(zmq.PULL)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    pull.setsockopt(zmq.RCVTIMEO, 20000)
    sender = subprocess.Popen(
        [flowd_bin(), "simulate", "--publish", f"tcp://127.0.0.1:{port}", "--frames", "4", "--size", "256",
         "--seed", "3", "--rate", "100", "--out", str(tmp_path / "pub")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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


def test_simulate_needs_a_destination():
    result = subprocess.run([flowd_bin(), "simulate", "--frames", "2"], capture_output=True, text=True)
    assert result.returncode != 0 and "--out" in result.stderr

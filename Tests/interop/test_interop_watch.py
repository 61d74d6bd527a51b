"""`flowd watch`: the operator's live view, read here through a pipe (plain lines, not the
terminal panel), from a real daemon."""

from __future__ import annotations

import os
import pty
import signal
import subprocess

import numpy as np
import zmq

from flowd_harness import Watcher, frame_parts, free_port, hermetic_env, tcp


def test_watch_shows_the_counts_of_a_running_daemon_and_exits_with_its_final_counts(flowd, flowd_bin):
    """One plain line per counts message (no terminal escapes in a pipe); the frames sent show
    up as received; the daemon's final counts end the watch with status 0."""
    d = flowd(inputs=["pull+bind:tcp://127.0.0.1:{port0}"])
    watch = Watcher(flowd_bin, "--connect", tcp(d.publish_port))
    watch.wait_for(lambda line: line.startswith("up "))
    push = d.socket(zmq.PUSH)
    push.connect(tcp(d.ports[0]))
    frame = np.random.default_rng(1).integers(0, 255, (64, 64), dtype=np.uint8)
    for seq in range(5):
        push.send_multipart(frame_parts(frame, camera="cam", seq=seq))
    d.wait_accounted({"cam": 5})
    line = watch.wait_for(lambda line: "frames 5 received" in line)
    assert "0 dropped, 0 malformed" in line and "| cells 0" in line
    _, _, rc = d.stop()
    assert rc == 0
    status, rest = watch.finish()
    assert status == 0, watch.proc.stderr.read()
    assert rest and rest[-1].endswith("| final") and "frames 5 received" in rest[-1]
    assert not any("\x1b" in line for line in rest)


def test_on_a_terminal_watch_redraws_its_panel_in_place(flowd, flowd_bin):
    """Given a terminal (a pseudo-terminal here), the view is a panel with the per-class bar
    chart, redrawn in place: ANSI cursor-up-lines and clear-line sequences, not appended lines."""
    d = flowd(inputs=["pull+bind:tcp://127.0.0.1:{port0}"])
    main, terminal = pty.openpty()
    proc = subprocess.Popen([str(flowd_bin), "watch", "--connect", tcp(d.publish_port), "--duration", "1"],
                            stdout=terminal, stderr=subprocess.PIPE, env=hermetic_env(), stdin=subprocess.DEVNULL)
    os.close(terminal)
    output = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the terminal closed: watch has exited
            break
        if not chunk:
            break
        output += chunk
    os.close(main)
    assert proc.wait(timeout=20) == 0, proc.stderr.read()
    text = output.decode()
    assert "\x1b[K" in text  # each line clears what the previous drawing left
    assert any(f"\x1b[{n}F" in text for n in range(3, 12)), "the panel was never redrawn in place"
    assert "frames  received 0" in text and "cells   total 0" in text


def test_watch_stops_on_ctrl_c(flowd, flowd_bin):
    d = flowd(inputs=["pull+bind:tcp://127.0.0.1:{port0}"])
    watch = Watcher(flowd_bin, "--connect", tcp(d.publish_port))
    watch.wait_for(lambda line: line.startswith("up "))
    watch.proc.send_signal(signal.SIGINT)
    status, _ = watch.finish()
    assert status == 0


def test_watch_without_a_daemon_says_it_is_waiting_and_stops_after_its_duration(flowd_bin):
    watch = Watcher(flowd_bin, "--connect", tcp(free_port()), "--duration", "1")
    assert "waiting for the daemon's counts" in watch.wait_for(lambda line: True)
    status, rest = watch.finish()
    assert status == 0 and rest == []


def test_watch_rejects_an_endpoint_that_is_not_one(flowd_bin):
    result = subprocess.run([str(flowd_bin), "watch", "--connect", "localhost:5560"], capture_output=True, text=True,
                            timeout=30, env=hermetic_env())
    assert result.returncode != 0 and "tcp://" in result.stderr

"""Who may talk to the daemon (issue 7, part 5; docs/security.md): CurveZMQ on the camera inputs,
the result socket and the control socket admits only the client keys listed for each role,
`flowd keygen` writes keys that pyzmq reads, and a socket opened to the network without Curve is
pointed out.
"""

from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import zmq
import zmq.auth

from flowd_harness import EX_UNAVAILABLE, REPO, Watcher, camera, free_port, frame_parts, hermetic_env, tcp


def keygen(flowd_bin: Path, base: Path) -> tuple[bytes, bytes]:
    """`flowd keygen base`: (public, secret) as pyzmq reads them back."""
    subprocess.run([flowd_bin, "keygen", str(base)], check=True, capture_output=True, env=hermetic_env())
    return zmq.auth.load_certificate(f"{base}.key_secret")


def test_keygen_writes_certificates_pyzmq_reads_the_secret_one_private(flowd_bin, tmp_path):
    public, secret = keygen(flowd_bin, tmp_path / "cam-1")
    assert zmq.auth.load_certificate(tmp_path / "cam-1.key") == (public, None)
    assert len(public) == len(secret) == 40 and zmq.curve_public(secret) == public
    assert stat.S_IMODE((tmp_path / "cam-1.key_secret").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "cam-1.key").stat().st_mode) & 0o077 == 0o044
    again = subprocess.run([flowd_bin, "keygen", str(tmp_path / "cam-1")], capture_output=True, text=True,
                           env=hermetic_env())
    assert again.returncode != 0 and "not overwriting" in again.stderr
    assert zmq.auth.load_certificate(tmp_path / "cam-1.key_secret") == (public, secret)


class Rig:
    """Keys for a daemon with Curve on: flowd's (from flowd keygen), a camera's, a watcher's and
    an operator's (listed), and a stranger's (made by pyzmq, listed nowhere)."""

    def __init__(self, flowd_bin: Path, root: Path):
        self.root = root
        for folder in ("cameras", "subscribers", "controllers", "elsewhere"):
            (root / folder).mkdir(parents=True)
        self.server = keygen(flowd_bin, root / "flowd")
        self.camera = keygen(flowd_bin, root / "cameras" / "cam-ok")
        self.watcher = keygen(flowd_bin, root / "subscribers" / "watcher")
        self.operator = keygen(flowd_bin, root / "controllers" / "operator")
        public, secret = zmq.auth.create_certificates(root / "elsewhere", "stranger")
        self.stranger = zmq.auth.load_certificate(secret)

    def settings(self) -> dict[str, str]:
        return {"curve.server_key": str(self.root / "flowd.key_secret"),
                "curve.camera_keys": str(self.root / "cameras"),
                "curve.subscriber_keys": str(self.root / "subscribers"),
                "curve.controller_keys": str(self.root / "controllers")}

    def cli_keys(self, secret: Path) -> list[str]:
        """The options of a flowd client command (watch, control, simulate) holding `secret`."""
        return ["--curve-server-key", str(self.root / "flowd.key"), "--curve-key", str(secret)]

    def client(self, d, kind: int, keys: tuple[bytes, bytes] | None) -> zmq.Socket:
        sock = d.socket(kind)
        if keys:
            sock.curve_publickey, sock.curve_secretkey = keys
            sock.curve_serverkey = self.server[0]
        return sock


@pytest.fixture
def rig(flowd_bin, tmp_path) -> Rig:
    return Rig(flowd_bin, tmp_path / "keys")


def curve_daemon(flowd, rig: Rig, control: bool = False):
    """A daemon with Curve on and a PULL input at `ports[0]`; with `control`, its control socket at
    `ports[1]`."""
    args = ["--set", "control.endpoint=tcp://127.0.0.1:{port1}"] if control else []
    return flowd(inputs=["pull+bind:tcp://127.0.0.1:{port0}"], args=args, settings=rig.settings(),
                 curve_client=(*rig.watcher, rig.server[0]))


def wait_for_log(d, text: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = [line for line in d.stderr().splitlines() if text in line]
        if lines:
            return lines[0]
        time.sleep(0.05)
    raise AssertionError(f"no log line with {text!r}:\n{d.stderr()}")


def test_with_curve_on_a_camera_without_an_allowed_key_sends_nothing_that_is_counted(flowd, rig):
    """The listed camera's frames are received. A camera with a key listed nowhere is refused at
    the handshake (logged, by its key), and a camera without Curve cannot even start one: none of
    their frames is counted, as received or as malformed, under any camera."""
    d = curve_daemon(flowd, rig)
    endpoint = tcp(d.ports[0])
    stranger = rig.client(d, zmq.PUSH, rig.stranger)
    plain = rig.client(d, zmq.PUSH, None)
    listed_as_watcher = rig.client(d, zmq.PUSH, rig.watcher)
    for sock, name in ((stranger, "stranger"), (plain, "plain"), (listed_as_watcher, "watcher")):
        sock.connect(endpoint)
        for _ in range(3):
            try:
                sock.send_multipart(frame_parts(np.zeros((4, 4), np.uint8), camera=name), zmq.NOBLOCK)
            except zmq.Again:
                pass  # the refused handshake already tore the connection down: nowhere to queue the frame
    line = wait_for_log(d, "refused a CurveZMQ client of the cameras")
    assert rig.stranger[0].decode() in line or rig.watcher[0].decode() in line
    wait_for_log(d, rig.stranger[0].decode())
    wait_for_log(d, rig.watcher[0].decode())  # a subscriber's key does not open the camera inputs

    camera_sock = rig.client(d, zmq.PUSH, rig.camera)
    camera_sock.connect(endpoint)
    for _ in range(2):
        camera_sock.send_multipart(frame_parts(np.zeros((4, 4), np.uint8), camera="cam-ok"))
    counts = d.wait_counts(lambda c: camera(c, "cam-ok")["received"] == 2, what="the listed camera's frames")
    assert sorted(counts["cameras"]) == ["cam-ok"]
    assert counts["frames"] == {"received": 2, "malformed": 0, "dropped": 0, "gaps": 0}
    final, _, rc = d.stop()
    assert rc == 0
    assert sorted(final["cameras"]) == ["cam-ok"]


def test_with_curve_on_a_subscriber_without_an_allowed_key_receives_nothing(flowd, rig):
    """The harness's own subscriber holds the watcher's key and gets `counts` every 50 ms; a
    subscriber with the camera's key (listed, but for another role), one with a key listed
    nowhere, and one without Curve get nothing, not even the final counts."""
    d = curve_daemon(flowd, rig)
    others = [rig.client(d, zmq.SUB, keys) for keys in (rig.camera, rig.stranger, None)]
    for sock in others:
        sock.setsockopt(zmq.SUBSCRIBE, b"")
        sock.connect(tcp(d.publish_port))
    wait_for_log(d, rig.camera[0].decode())
    wait_for_log(d, rig.stranger[0].decode())
    for _ in range(10):  # half a second of counts reach the listed subscriber...
        d.wait_counts(lambda c: True)
    _, _, rc = d.stop()
    assert rc == 0
    for sock in others:  # ...and none of them reached the others
        assert not sock.poll(100), "a subscriber without an allowed key received a message"


def test_flowd_is_the_curve_server_also_where_it_connects_to_a_cameras_pub(flowd, rig):
    """A `sub:` input connects to a camera that binds a PUB; flowd is still the CurveZMQ server
    there, so the listed camera's frames arrive and a stranger's camera PUB is refused."""
    cameras = {}
    for name, keys in (("cam-pub", rig.camera), ("stranger-pub", rig.stranger)):
        pub = zmq.Context.instance().socket(zmq.PUB)
        pub.setsockopt(zmq.LINGER, 0)
        pub.curve_publickey, pub.curve_secretkey = keys
        pub.curve_serverkey = rig.server[0]
        port = pub.bind_to_random_port("tcp://127.0.0.1")
        cameras[name] = (pub, port)
    try:
        d = flowd(inputs=[f"sub:tcp://127.0.0.1:{port}" for _, port in cameras.values()], settings=rig.settings(),
                  curve_client=(*rig.watcher, rig.server[0]))
        frame = np.zeros((4, 4), np.uint8)
        deadline = time.monotonic() + 10
        counts = d.wait_counts(lambda c: True)
        while camera(counts, "cam-pub")["received"] < 3 and time.monotonic() < deadline:
            for name, (pub, _) in cameras.items():  # PUB drops until the subscription arrives
                pub.send_multipart(frame_parts(frame, camera=name))
            counts = d.wait_counts(lambda c: True)
        assert camera(counts, "cam-pub")["received"] >= 3
        wait_for_log(d, rig.stranger[0].decode())
        _, _, rc = d.stop()
        assert rc == 0
        assert "stranger-pub" not in d.messages[-1]["cameras"]
    finally:
        for pub, _ in cameras.values():
            pub.close()


def test_with_curve_on_only_a_controller_key_gets_replies_and_no_other_client_changes_anything(flowd, rig):
    """The control socket is a role of its own: the operator's key (curve.controller_keys) gets
    replies; a watcher's key (listed, but for the results: watching never implies controlling),
    a key listed nowhere and a client without Curve get no reply, and their `new-run` is never
    applied: the run the operator sees stays the same until the operator's own `new-run`."""
    d = curve_daemon(flowd, rig, control=True)
    endpoint = tcp(d.ports[1])
    operator = (*rig.operator, rig.server[0])
    run_id = d.control({"command": "status"}, endpoint, curve_client=operator)["run_id"]
    intruders = [rig.client(d, zmq.REQ, keys) for keys in (rig.watcher, rig.stranger, None)]
    for sock in intruders:
        sock.connect(endpoint)
        sock.send_json({"command": "new-run"}, zmq.NOBLOCK)
    for key in (rig.watcher, rig.stranger):
        assert "of the controllers socket" in wait_for_log(d, f"key {key[0].decode()} is not on its allow-list")
    for sock in intruders:
        assert not sock.poll(500), "a client without a controller key got a reply"
    status = d.control({"command": "status"}, endpoint, curve_client=operator)
    assert status["ok"] is True and status["run_id"] == run_id, "a refused client's new-run was applied"
    new_run = d.control({"command": "new-run"}, endpoint, curve_client=operator)
    assert new_run["ok"] is True and new_run["previous_run_id"] == run_id and new_run["run_id"] != run_id
    _, _, rc = d.stop()
    assert rc == 0
    for sock in intruders:
        assert not sock.poll(100), "a client without a controller key got a reply"


def test_flowd_control_and_flowd_watch_connect_as_curve_clients_with_their_keys(flowd, rig, flowd_bin):
    """`flowd control` with the operator's key gets its reply; with the watcher's key it gets none
    (exit 69, naming curve.controller_keys). `flowd watch` with the watcher's key shows the counts
    to the daemon's final ones."""
    d = curve_daemon(flowd, rig, control=True)
    endpoint = tcp(d.ports[1])
    watch = Watcher(flowd_bin, "--connect", tcp(d.publish_port), *rig.cli_keys(rig.root / "subscribers" / "watcher.key_secret"))

    def control(secret: Path, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([flowd_bin, "control", "--connect", endpoint, *args, *rig.cli_keys(secret)],
                              capture_output=True, text=True, timeout=60, env=hermetic_env(), stdin=subprocess.DEVNULL)

    allowed = control(rig.root / "controllers" / "operator.key_secret", "status")
    assert allowed.returncode == 0, allowed.stderr
    run_id = json.loads(allowed.stdout)["run_id"]
    refused = control(rig.root / "subscribers" / "watcher.key_secret", "new-run", "--timeout", "1")
    assert refused.returncode == EX_UNAVAILABLE and "curve.controller_keys" in refused.stderr, refused.stderr
    assert json.loads(control(rig.root / "controllers" / "operator.key_secret", "status").stdout)["run_id"] == run_id

    watch.wait_for(lambda line: line.startswith("up "))
    _, _, rc = d.stop()
    assert rc == 0
    status, rest = watch.finish()
    assert status == 0, watch.proc.stderr.read()
    assert rest and rest[-1].endswith("| final")


def test_flowd_simulate_publishes_as_a_curve_client_with_its_key(flowd, rig, flowd_bin):
    d = curve_daemon(flowd, rig)
    subprocess.run(
        [flowd_bin, "simulate", "--frames", "3", "--size", "64", "--rate", "100", "--publish", tcp(d.ports[0]),
         *rig.cli_keys(rig.root / "cameras" / "cam-ok.key_secret")],
        check=True, capture_output=True, env=hermetic_env())
    d.wait_counts(lambda c: camera(c, "twin")["received"] == 3, what="the simulator's 3 frames")


@pytest.mark.parametrize("change, named", [
    ({"curve.camera_keys": ""}, "curve.camera_keys must name"),
    ({"curve.subscriber_keys": ""}, "curve.subscriber_keys must name"),
    ({"curve.controller_keys": ""}, "curve.controller_keys must name"),
    ({"curve.server_key": ""}, "curve.server_key is empty"),
    ({"curve.server_key": "", "curve.camera_keys": "", "curve.subscriber_keys": ""},
     "curve.controller_keys is set, but curve.server_key is empty"),
    ({"curve.camera_keys": "/nonexistent/cameras"}, "/nonexistent/cameras"),
    ({"curve.server_key": "CAMERA_PUBLIC"}, "no secret-key line"),
])
def test_a_half_configured_curve_stops_the_daemon_at_start_up(flowd_bin, rig, change, named):
    """A daemon that would leave a socket open that its operator believes closed does not start."""
    settings = {**rig.settings(), **change}
    if settings["curve.server_key"] == "CAMERA_PUBLIC":
        settings["curve.server_key"] = str(rig.root / "cameras" / "cam-ok.key")
        (rig.root / "cameras" / "cam-ok.key").chmod(0o600)
    command = [flowd_bin, "run", "--publish", tcp(free_port()), "--set", "metrics.listen=off"]
    for key, value in settings.items():
        command += ["--set", f"{key}={value}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, env=hermetic_env(),
                            stdin=subprocess.DEVNULL)
    assert result.returncode == EX_UNAVAILABLE, result.stderr
    assert named in result.stderr


def test_a_secret_key_that_others_can_read_stops_the_daemon(flowd_bin, rig):
    (rig.root / "flowd.key_secret").chmod(0o644)
    command = [flowd_bin, "run", "--publish", tcp(free_port()), "--set", "metrics.listen=off"]
    for key, value in rig.settings().items():
        command += ["--set", f"{key}={value}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, env=hermetic_env(),
                            stdin=subprocess.DEVNULL)
    assert result.returncode == EX_UNAVAILABLE
    assert "chmod 600" in result.stderr


def test_a_socket_opened_to_the_network_without_curve_is_pointed_out_at_start_up(flowd):
    """Every socket binds loopback by default; an operator who binds a wildcard address without
    Curve is told, at start-up, what anyone on the network could then do."""
    d = flowd(inputs=["pull+bind:tcp://0.0.0.0:{port0}"], settings={"log.level": "warning"})
    _, _, rc = d.stop()
    assert rc == 0
    assert "listens beyond this machine without CurveZMQ: anyone who reaches it can send frames" in d.stderr()


def test_a_subscriber_sending_an_oversized_subscription_is_cut_off(flowd):
    """Subscribers only ever send subscriptions; one of 8 KiB makes flowd's libzmq drop that
    subscriber (ZMQ_MAXMSGSIZE 4 KiB on the result socket) while the others keep receiving."""
    d = flowd(inputs=["pull+bind:tcp://127.0.0.1:{port0}"])
    hog = d.socket(zmq.SUB)
    hog.monitor("inproc://hog-events", zmq.EVENT_DISCONNECTED)
    events = d.socket(zmq.PAIR)
    events.connect("inproc://hog-events")
    hog.setsockopt(zmq.SUBSCRIBE, b"x" * 8192)
    hog.connect(tcp(d.publish_port))
    assert events.poll(5000), "flowd did not drop the subscriber with an 8 KiB subscription"
    d.wait_counts(lambda c: True)
    _, _, rc = d.stop()
    assert rc == 0


@pytest.mark.parametrize("curve", [False, True], ids=["as shipped", "with its CurveZMQ lines uncommented"])
def test_the_systemd_unit_exposure_is_at_most_2(tmp_path, curve):
    """Issue 7: `systemd-analyze security` scores systemd/flowd.service ≤ 2.0, also once the
    operator turns CurveZMQ on as the unit's comments say."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    unit = (REPO / "systemd" / "flowd.service").read_text()
    if curve:
        assert "#LoadCredential=" in unit and "#Environment=FLOWD_CURVE_SERVER_KEY=" in unit
        unit = unit.replace("#LoadCredential=", "LoadCredential=").replace(
            "#Environment=FLOWD_CURVE_SERVER_KEY=", "Environment=FLOWD_CURVE_SERVER_KEY=")
    (tmp_path / "flowd.service").write_text(unit)
    result = subprocess.run(["systemd-analyze", "security", "--offline=true", str(tmp_path / "flowd.service")],
                            capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for flowd\.service: ([0-9.]+)", result.stdout + result.stderr)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 2.0, result.stdout

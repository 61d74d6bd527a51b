"""Cells, counts and heartbeats of a rig in NATS JetStream (`nats.*`; docs/scale-out.md).

Each test starts its own `nats-server -js` on 127.0.0.1 (Debian's nats-server, installed by
scripts/setup) and reads what flowd stored with nats-py, the NATS project's Python client: the
stream must hold exactly the cells the daemon published on ZeroMQ, each once, also when the
server was away for 10 s in the middle of the run; a server that is never there must not stop
the rig, and what it could not send is counted.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from prometheus_client.parser import text_string_to_metric_families

from flowd_harness import free_port
from monitoring_harness import scrape
from test_interop_record import drain_cells, simulate, start, stop

RIG = "rig-1"


class NatsServer:
    """A JetStream-enabled nats-server on a free loopback port, its data in `store`."""

    def __init__(self, store: Path, tls: tuple[Path, Path] | None = None):
        """`tls`: the server's certificate and key (PEM): clients must then speak TLS."""
        binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
        if not Path(binary).exists():
            pytest.fail("nats-server is not installed: run scripts/setup (Debian package nats-server)")
        self.binary, self.store, self.port = binary, store, free_port()
        self.url = f"{'tls' if tls else 'nats'}://127.0.0.1:{self.port}"
        self.tls_args = ["--tls", "--tlscert", str(tls[0]), "--tlskey", str(tls[1])] if tls else []
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.store), *self.tls_args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                assert time.monotonic() < deadline, "nats-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture
def nats_server(tmp_path):
    server = NatsServer(tmp_path / "jetstream")
    server.start()
    yield server
    server.stop()


def read_fleet(url: str) -> tuple[list[dict], dict, dict]:
    """(every message of the stream as {id, subject, cell}, the rig's counts, its heartbeat)."""
    import nats

    async def read():
        nc = await nats.connect(url)
        js = nc.jetstream()
        info = await js.stream_info("FLOWD_CELLS")
        messages = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            m = await js.get_msg("FLOWD_CELLS", seq)
            messages.append({"id": m.header["Nats-Msg-Id"], "subject": m.subject, "cell": json.loads(m.data)})
        kv = await js.key_value("flowd")
        counts = json.loads((await kv.get(f"{RIG}.counts")).value)
        heartbeat = json.loads((await kv.get(f"{RIG}.heartbeat")).value)
        await nc.close()
        return messages, counts, heartbeat

    return asyncio.run(read())


def assert_stream_holds_exactly(messages: list[dict], cells: list[dict], run_id: str) -> None:
    ids = [m["id"] for m in messages]
    assert len(ids) == len(set(ids)), "a cell is stored twice"
    assert sorted(ids) == sorted(f"{run_id}/{c['camera']}/{c['cell_id']}" for c in cells)
    assert all(m["subject"] == f"flowd.{RIG}.twin.cells" for m in messages)
    by_id = {m["id"]: m["cell"] for m in messages}
    for c in cells:
        assert by_id[f"{run_id}/{c['camera']}/{c['cell_id']}"] == c


def test_the_stream_holds_exactly_the_published_cells_and_the_bucket_the_counts(flowd, flowd_bin, nats_server):
    d = start(flowd, settings={"nats.url": nats_server.url, "nats.rig": RIG}, control=False)
    simulate(flowd_bin, d, 40)
    d.wait_accounted({"twin": 40}, timeout=30)
    final = stop(d)
    [run] = d.runs()
    messages, counts, heartbeat = read_fleet(nats_server.url)
    assert len(d.cells) == final["cells"]["total"] > 0
    assert_stream_holds_exactly(messages, d.cells, run.name)
    assert counts["final"] is True and counts["cells"]["total"] == len(d.cells)
    assert heartbeat["cells_stored"] == len(d.cells) and heartbeat["cells_buffered"] == 0
    assert heartbeat["cells_lost"] == {"buffer_full": 0, "too_old": 0, "shutdown": 0}

    # The fleet tools read the same bucket.
    status = subprocess.run([str(flowd_bin), "fleet", "status", "--nats", nats_server.url, "--json"],
                            capture_output=True, text=True, timeout=30)
    assert status.returncode == 0, status.stderr
    [rig] = json.loads(status.stdout)["rigs"]
    assert rig["rig"] == RIG and rig["stopped"] is True and rig["counts"]["cells"]["total"] == len(d.cells)
    watch = subprocess.run([str(flowd_bin), "fleet", "watch", "--nats", nats_server.url, "--duration", "0.5"],
                           capture_output=True, text=True, timeout=30)
    assert watch.returncode == 0 and f"{RIG}: stopped" in watch.stdout, watch.stdout + watch.stderr
    assert f"stream: {len(d.cells)} stored, 0 waiting" in watch.stdout


def test_fleet_status_names_a_nats_server_it_cannot_reach(flowd_bin):
    url = f"nats://127.0.0.1:{free_port()}"
    result = subprocess.run([str(flowd_bin), "fleet", "status", "--nats", url], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode != 0 and f"cannot reach NATS at {url}" in result.stderr


def test_a_10_s_outage_of_nats_loses_no_cell_and_stores_none_twice(flowd, flowd_bin, nats_server):
    d = start(flowd, settings={"nats.url": nats_server.url, "nats.rig": RIG}, control=False)
    camera = simulate(flowd_bin, d, 300, rate=20, wait=False)  # 15 s of frames
    time.sleep(2.5)
    nats_server.stop()
    time.sleep(10)
    nats_server.start()
    assert camera.wait(timeout=60) == 0
    d.wait_accounted({"twin": 300}, timeout=60)
    final = stop(d)
    [run] = d.runs()
    messages, _, heartbeat = read_fleet(nats_server.url)
    assert len(d.cells) == final["cells"]["total"] > 0
    assert_stream_holds_exactly(messages, d.cells, run.name)
    assert heartbeat["cells_lost"] == {"buffer_full": 0, "too_old": 0, "shutdown": 0}
    log = d.stderr()
    assert "NATS: not connected" in log and "NATS: connected" in log


def test_an_unreachable_nats_server_never_stops_the_rig_and_the_unsent_cells_are_counted(flowd, flowd_bin):
    port = free_port()
    d = start(flowd, settings={"nats.url": f"nats://127.0.0.1:{free_port()}", "nats.rig": RIG,
                               "metrics.listen": f"127.0.0.1:{port}"}, control=False)
    simulate(flowd_bin, d, 40)
    d.wait_accounted({"twin": 40}, timeout=30)
    metrics = {s.name: s.value for f in text_string_to_metric_families(scrape(port, "/metrics")[2]) for s in f.samples
               if s.labels.get("reason") in (None, "buffer_full")}
    assert metrics["flowd_nats_connected"] == 0 and metrics["flowd_nats_cells_stored_total"] == 0
    assert metrics["flowd_nats_cells_waiting"] > 0  # all of them: the log line below counts them
    final = stop(d)
    assert len(d.cells) == final["cells"]["total"] > 0
    log = d.stderr()
    assert "NATS: not connected" in log
    assert f"NATS stream: 0 cells stored; lost: 0 (buffer full), 0 (older than 600.0 s), {len(d.cells)} (left at shutdown)" in log


def make_private_ca(directory: Path) -> tuple[Path, Path, Path]:
    """A lab's own certificate authority and a server certificate it signs for 127.0.0.1, made
    with openssl: (the CA's certificate, the server's certificate, its key), PEM files."""
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory, timeout=60)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=flowd test lab CA",
            "-keyout", "ca.key", "-out", "ca.pem")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
            "-out", "server.csr")
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "san.ext", "-out", "server.pem")
    return directory / "ca.pem", directory / "server.pem", directory / "server.key"


def test_a_server_whose_certificate_the_labs_own_ca_signed_is_reached_over_tls_with_nats_tls_ca(
        flowd, flowd_bin, tmp_path):
    ca, certificate, key = make_private_ca(tmp_path)
    server = NatsServer(tmp_path / "jetstream", tls=(certificate, key))
    server.start()
    try:
        d = start(flowd, settings={"nats.url": server.url, "nats.rig": RIG, "nats.tls_ca": str(ca)}, control=False)
        simulate(flowd_bin, d, 20)
        d.wait_accounted({"twin": 20}, timeout=30)
        stop(d)
        status = subprocess.run([str(flowd_bin), "fleet", "status", "--nats", server.url, "--tls-ca", str(ca), "--json"],
                                capture_output=True, text=True, timeout=30)
        assert status.returncode == 0, status.stderr
        [rig] = json.loads(status.stdout)["rigs"]
        assert rig["heartbeat"]["cells_stored"] == len(d.cells) > 0
        # Without the lab's CA the server's certificate is not trusted, and the tool says so.
        untrusted = subprocess.run([str(flowd_bin), "fleet", "status", "--nats", server.url],
                                   capture_output=True, text=True, timeout=30)
        assert untrusted.returncode != 0 and f"cannot reach NATS at {server.url}" in untrusted.stderr
    finally:
        server.stop()


def test_a_nats_url_that_is_not_one_is_refused_at_start_up(flowd_bin, tmp_path):
    result = subprocess.run(
        [str(flowd_bin), "run", "--set", "nats.url=http://127.0.0.1:4222"], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "nats.url" in result.stderr and "nats://" in result.stderr


def test_fleet_deploy_rolls_a_model_out_to_two_running_daemons_without_dropping_a_frame(
        flowd, flowd_bin, nats_server, tmp_path):
    import hashlib

    from safetensors.numpy import load_file, save_file
    from safetensors import safe_open

    from test_interop_record import MODEL
    with safe_open(str(MODEL), "np") as f:
        metadata = f.metadata()
    model = tmp_path / "retrained.safetensors"  # the same network, another file: another hash
    save_file(load_file(str(MODEL)), str(model), metadata={**metadata, "note": "deployed by the fleet test"})
    sha = hashlib.sha256(model.read_bytes()).hexdigest()

    rigs = {name: start(flowd, settings={"nats.url": nats_server.url, "nats.rig": name}) for name in ("rig-a", "rig-b")}
    cameras = [simulate(flowd_bin, d, 200, rate=20, wait=False) for d in rigs.values()]  # 10 s of frames each
    deadline = time.monotonic() + 20
    while True:  # both rigs have reported (their first heartbeat)
        status = subprocess.run([str(flowd_bin), "fleet", "status", "--nats", nats_server.url, "--json"],
                                capture_output=True, text=True, timeout=30)
        if status.returncode == 0 and {r["rig"] for r in json.loads(status.stdout)["rigs"]} >= set(rigs):
            break
        assert time.monotonic() < deadline, status.stdout + status.stderr
        time.sleep(0.2)

    deploy = subprocess.run([str(flowd_bin), "fleet", "deploy", "--nats", nats_server.url, "--model", str(model),
                             "--wait", "30"], capture_output=True, text=True, timeout=60)
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert "rig-a: in service" in deploy.stdout and "rig-b: in service" in deploy.stdout
    for d in rigs.values():
        reply = d.control({"command": "status"}, d.endpoint)
        assert reply["model_sha256"] == sha and reply["model_path"].endswith(f"deployed-{sha}.safetensors"), reply
    for camera in cameras:
        assert camera.wait(timeout=60) == 0
    for d in rigs.values():
        d.wait_accounted({"twin": 200}, timeout=60)
        final = stop(d)
        assert final["frames"]["received"] == 200 and final["frames"]["dropped"] == 0


def test_fleet_deploy_refuses_a_file_that_is_not_a_model_before_pinning_it(flowd_bin, nats_server, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a model")
    result = subprocess.run([str(flowd_bin), "fleet", "deploy", "--nats", nats_server.url, "--model", str(bad),
                             "--rig", "rig-a"], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and f"model {bad}" in result.stderr
    assert "pinned" not in result.stdout

"""Instructions per request, counted with callgrind: on this shared
machine a throughput ratio swings by several percent from run to run, an
instruction count does not.

Each configuration is one Apache process (-X: listener, workers and
mod_vmoodle's refresher in one process) under valgrind --tool=callgrind.
After a warm-up over random hosts, a request for a missing file makes
callgrind dump (--dump-before=ap_send_error_response: its counts so far,
then zero); then a fixed number of requests over random hosts, and a
second marker.  The second dump's total over the requests it counted (its
calls of ap_read_request: the measured ones and the marker, whose cost is
split across the two dumps) is the figure.  Every answer is checked (the
routed shortname for the requested host).

callgrind_control (vgdb) is not used: here it leaves the process stopped
when it asks for a dump."""
import glob
import os
import random
import re
import socket
import time

import httpphase
import instances
import load
import sites
from apache import Apache

VALGRIND = "/usr/bin/valgrind"
LABELS = {"a": "no routing", "b": "mod_vmoodle",
          "m": "mod_vmoodle, VMoodleMetrics Off", "c": "RewriteMap dbm:"}


class Client:
    """Sequential keep-alive requests on one connection."""

    def __init__(self, port, host="", first_timeout=60):
        self.port = port
        self.host = host.encode()
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=first_timeout)
        self.buf = b""

    def get(self, host):
        self.sock.sendall(f"GET /ok.txt HTTP/1.1\r\nHost: {host}\r\n\r\n"
                          .encode())
        return self.read()

    def read(self):
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, v in
                   (line.split(":", 1) for line in lines[1:])}
        size = int(headers.get("content-length", "0"))
        while len(self.buf) < size:
            self._more()
        self.buf = self.buf[size:]
        return int(lines[0].split()[1]), headers.get("x-routed")

    def _more(self):
        data = self.sock.recv(65536)
        if not data:
            raise load.WrongAnswer(f"port {self.port}: connection closed")
        self.buf += data

    def close(self):
        self.sock.close()


def requests(client, n_hosts, port, count, expect, rng):
    for _ in range(count):
        i = rng.randint(1, n_hosts)
        status, routed = client.get(f"{instances.host(i)}:{port}")
        want = "-" if expect == "-" else f"{expect}{i}"
        if status != 200 or routed != want:
            raise load.WrongAnswer(f"port {port}: host {i}: {status} "
                                   f"X-Routed {routed!r}, expected {want!r}")


def dump_figures(path):
    """(instructions, requests) of one callgrind dump: its total, and the
    calls of ap_read_request (one per request) that it counted."""
    names, total, calls, callee = {}, None, 0, None
    ref = re.compile(r"^c?fn=\((\d+)\)(?: (.*))?$")
    with open(path) as f:
        for line in f:
            m = ref.match(line.rstrip("\n"))
            if m:
                if m.group(2):
                    names[m.group(1)] = m.group(2)
                if line.startswith("cfn="):
                    callee = names.get(m.group(1))
                continue
            if line.startswith("calls=") and callee == "ap_read_request":
                calls += int(line.split("=", 1)[1].split()[0])
            elif line.startswith(("totals:", "summary:")):
                total = int(line.split()[1])
    if total is None or calls == 0:
        raise RuntimeError(f"{path}: no totals or no requests counted")
    return total, calls


def marker(client):
    """A request for a missing file: its 404 enters ap_send_error_response,
    where callgrind dumps (--dump-before)."""
    client.sock.sendall(b"GET /missing HTTP/1.1\r\nHost: " + client.host
                        + b"\r\n\r\n")
    status, _ = client.read()
    if status != 404:
        raise load.WrongAnswer(f"port {client.port}: marker answered {status}")


def dumps(out, pid):
    return sorted(glob.glob(f"{out}/callgrind.out.{pid}.*"),
                  key=lambda p: int(p.rsplit(".", 1)[1]))


def count_one(apache, key, n_hosts, warmup, measured):
    out = os.path.join(apache.dir, "callgrind")
    os.makedirs(out, exist_ok=True)
    os.chmod(out, 0o777)               # the process runs as www-data
    apache.start(timeout=900, prefix=[
        VALGRIND, "--tool=callgrind", "--dump-before=ap_send_error_response",
        f"--callgrind-out-file={out}/callgrind.out.%p"], args=["-X"])
    pid = apache.proc.pid
    started = time.monotonic()
    try:
        expect = "-" if key == "a" else "s"   # b, m, c route
        # The port listens before start-up is over: under callgrind the
        # start-up read of 100,000 instances takes minutes.
        client = Client(apache.port, f"{instances.host(1)}:{apache.port}",
                        first_timeout=900)
        requests(client, n_hosts, apache.port, 1, expect, random.Random(0))
        started = time.monotonic() - started
        client.sock.settimeout(60)
        requests(client, n_hosts, apache.port, warmup, expect,
                 random.Random(1))
        marker(client)
        requests(client, n_hosts, apache.port, measured, expect,
                 random.Random(3))
        marker(client)
        found = dumps(out, pid)
        if len(found) < 2:
            raise RuntimeError(f"{apache.name}: {len(found)} callgrind dumps")
        total, calls = dump_figures(found[-1])
        return {"per_request": total / calls, "requests": calls,
                "first_answer_s": started}
    finally:
        apache.stop()


def run(workdir, n, module_so, warmup=2000, measured=2000):
    """{key: instructions per request} for a, b and m (if built), c."""
    docroot = httpphase.static_docroot(workdir)
    data = os.path.join(workdir, f"maps-{n}")
    os.makedirs(data, exist_ok=True)
    os.chmod(data, 0o755)
    txt = instances.write_txt_map(os.path.join(data, "hosts.txt"), n)
    dbm = instances.write_dbm_map(os.path.join(data, "hosts.dbm"), txt)
    apaches = {"a": Apache(workdir, "cg-a", docroot, sites.ceiling(),
                           children=1, threads=4)}
    if module_so:
        apaches["b"], _ = httpphase.module_apache(
            workdir, "cg-b", docroot, module_so, n, children=1, threads=4)
        # the same without the per-site counters: their cost is b - m
        apaches["m"], _ = httpphase.module_apache(
            workdir, "cg-m", docroot, module_so, n, children=1, threads=4,
            site_extra="VMoodleMetrics Off\n")
    apaches["c"] = Apache(workdir, "cg-c", docroot, sites.rewrite_dbm(dbm),
                          modules=["rewrite"], children=1, threads=4)
    return {key: count_one(a, key, n, warmup, measured)
            for key, a in apaches.items()}

"""Instructions per request, counted with callgrind: on this shared
machine a throughput ratio swings by several percent from run to run, an
instruction count does not.

Each configuration is one Apache process (-X) under valgrind
--tool=callgrind, with the prefork MPM: the one thread that accepts also
serves the connection's requests.  (Under the event MPM a listener hands
every keep-alive request to a worker; what that costs depends on the
threads' timing, and moved the figures by a few hundred instructions
from run to run.)  Each thread is counted apart (--separate-threads), and
only the one that serves requests counts: mod_vmoodle's refresher thread
ticks with time, not requests, and runs no timed refresh here.

After a warm-up over random hosts, an OPTIONS request makes callgrind
dump (--dump-before=ap_send_http_options, which only core's answer to
OPTIONS calls: its counts so far, then zero); then a fixed number of
requests over random hosts, and a second marker.  The second dump's total
over the requests it counted (its calls of ap_read_request: the measured
ones and the marker, whose cost is split across the two dumps) is the
figure.  Every answer is checked (the routed shortname for the requested
host).

The mod_vmoodle process also measures the other kinds of request of
issue 21 on the same table, with PATH_HOSTS of its hosts given a site
under the path /p beside their root site and an alias a<i>: a request to
a site under a path (one lookup more), and to an alias (a 301).

callgrind_control (vgdb) is not used: here it leaves the process stopped
when it asks for a dump."""
import argparse
import glob
import json
import os
import random
import re
import shutil
import socket
import sys
import tempfile
import time

if __name__ == "__main__":      # alone: the tests' Apache starter
    sys.path.insert(1, os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "tests", "integration"))
import httpphase  # noqa: E402
import instances  # noqa: E402
import load  # noqa: E402
import sites  # noqa: E402
from benchhttpd import Apache, free_port  # noqa: E402

VALGRIND = "/usr/bin/valgrind"
LABELS = {"a": "no routing", "b": "mod_vmoodle",
          "m": "mod_vmoodle, VMoodleMetrics Off", "c": "RewriteMap dbm:"}
KINDS = {"root": "a root site", "path": "a site under a path",
         "alias": "an alias (301)"}
PATH_HOSTS = 1000          # hosts with a path site and an alias


def path_host(i):
    return instances.host(i)


def alias_host(i):
    return f"a{i}.bench.test"


BATCH = 50     # requests sent at once: the server never waits between them
ANY = object()  # an answer's field not checked


class Client:
    """Keep-alive requests on one connection, sent BATCH at a time and
    answered in order (pipelined): whether the next request has arrived
    when the server reads (or it polls and waits) would otherwise depend
    on timing, and so would the instructions it counts."""

    def __init__(self, port, host="", first_timeout=60):
        self.port = port
        self.host = host.encode()
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=first_timeout)
        self.buf = b""

    def get(self, host, path="/ok.txt"):
        return self.get_many([(host, path)])[0]

    def get_many(self, asks):
        """[(status, X-Routed, Location)] of [(host, path)]."""
        self.sock.sendall(b"".join(
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
            for host, path in asks))
        return [self.read() + (self.location,) for _ in asks]

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
        self.location = headers.get("location")
        return int(lines[0].split()[1]), headers.get("x-routed")

    def _more(self):
        data = self.sock.recv(65536)
        if not data:
            raise load.WrongAnswer(f"port {self.port}: connection closed")
        self.buf += data

    def close(self):
        self.sock.close()


def batched(client, port, count, ask):
    """count requests, ask(): ((host, path), (status, value, location)
    expected), in batches; every answer checked."""
    while count > 0:
        asks = [ask() for _ in range(min(BATCH, count))]
        count -= len(asks)
        got = client.get_many([(f"{host}:{port}", path)
                               for (host, path), _ in asks])
        for ((host, path), want), answer in zip(asks, got):
            if any(w is not ANY and w != a for w, a in zip(want, answer)):
                raise load.WrongAnswer(f"port {port}: {host}{path}: "
                                       f"{answer!r}, expected {want!r}")


def requests(client, n_hosts, port, count, expect, rng):
    def ask():
        i = rng.randint(1, n_hosts)
        return ((instances.host(i), "/ok.txt"),
                (200, "-" if expect == "-" else f"{expect}{i}", ANY))
    batched(client, port, count, ask)


def kind_requests(client, port, count, rng, kind):
    """Requests to PATH_HOSTS' path sites or aliases, each answer checked."""
    def ask():
        i = rng.randint(1, PATH_HOSTS)
        if kind == "path":
            return (path_host(i), "/p/ok.txt"), (200, f"p{i}", ANY)
        return ((alias_host(i), "/x/ok.txt?q=1"),
                (301, ANY, f"http://{instances.host(i)}:{port}/x/ok.txt?q=1"))
    batched(client, port, count, ask)


def add_paths_and_aliases(json_path, n, port):
    """PATH_HOSTS of the table's hosts get a site under /p and an alias."""
    with open(json_path) as f:
        rows = json.load(f)
    for i in range(1, PATH_HOSTS + 1):
        rows[i - 1]["aliases"] = f"{alias_host(i)}:{port}"
        path = instances.row(n + i, port)
        path.update(vhostname=f"http://{path_host(i)}:{port}/p",
                    shortname=f"p{i}")
        rows.append(path)
    with open(json_path, "w") as f:
        json.dump(rows, f)


def dump_figures(path, allow_empty=False):
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
    if total is None or (calls == 0 and not allow_empty):
        raise RuntimeError(f"{path}: no totals or no requests counted")
    return total, calls


def marker(client):
    """OPTIONS: core answers it with ap_send_http_options, where callgrind
    dumps (--dump-before); no other request calls it (a 404 or a 301 would
    make a dump of every error answer)."""
    client.sock.sendall(b"OPTIONS /ok.txt HTTP/1.1\r\nHost: " + client.host
                        + b"\r\n\r\n")
    status, _ = client.read()
    if status != 200:
        raise load.WrongAnswer(f"port {client.port}: marker answered {status}")


def dumps(out, pid):
    """Its dumps in order: callgrind.out.PID.PART-THREAD (--separate-threads)."""
    def order(path):
        part, _, thread = path.rsplit(".", 1)[1].partition("-")
        return int(part), int(thread or 0)
    return sorted(glob.glob(f"{out}/callgrind.out.{pid}.*"), key=order)


def count_one(apache, key, n_hosts, warmup, measured):
    out = os.path.join(apache.dir, "callgrind")
    os.makedirs(out, exist_ok=True)
    os.chmod(out, 0o777)               # the process runs as www-data
    apache.start(timeout=900, prefix=[
        VALGRIND, "--tool=callgrind", "--dump-before=ap_send_http_options",
        "--separate-threads=yes",
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
        figures = measure(out, pid, client, lambda: requests(
            client, n_hosts, apache.port, measured, expect, random.Random(3)))
        figures["first_answer_s"] = started
        if key == "b":
            figures["kinds"] = {"root": dict(figures)}
            for seed, kind in ((4, "path"), (6, "alias")):
                kind_requests(client, apache.port, warmup,
                              random.Random(seed), kind)
                figures["kinds"][kind] = measure(out, pid, client, lambda:
                    kind_requests(client, apache.port, measured,
                                  random.Random(seed + 1), kind))
        return figures
    finally:
        apache.stop()


def measure(out, pid, client, run_requests):
    """Instructions per request of run_requests(): the dumps it and the
    closing marker made, summed over the thread that served them (not the
    refresher's thread, whose ticks come with time, not requests)."""
    marker(client)
    before = len(dumps(out, pid))
    run_requests()
    marker(client)
    found = dumps(out, pid)[before:]
    if not found:
        raise RuntimeError(f"no callgrind dump after pid {pid}'s requests")
    total = calls = 0
    for path in found:
        t, c = dump_figures(path, allow_empty=True)
        if c:
            total, calls = total + t, calls + c
    if calls == 0:
        raise RuntimeError(f"pid {pid}: no requests counted")
    return {"per_request": total / calls, "requests": calls}


def run(workdir, n, module_so, warmup=2000, measured=2000, only=None):
    """{key: instructions per request} for a, b and m (if built), c; only:
    these keys."""
    docroot = httpphase.static_docroot(workdir)
    data = os.path.join(workdir, f"maps-{n}")
    os.makedirs(data, exist_ok=True)
    os.chmod(data, 0o755)
    txt = instances.write_txt_map(os.path.join(data, "hosts.txt"), n)
    dbm = instances.write_dbm_map(os.path.join(data, "hosts.dbm"), txt)
    # every configuration on one port (they run one after the other):
    # Apache's parse of the Host header's port costs more or less with its
    # digits, which would otherwise count as a difference between them
    one = {"children": 1, "mpm": "prefork", "port": free_port()}
    # no timed refresh while counting (its first re-reads the source)
    mod = dict(one, refresh=86400)
    apaches = {"a": Apache(workdir, "cg-a", docroot, sites.ceiling(), **one)}
    if module_so:
        port = one["port"]
        # room for the path sites' counters too (ids n+1..n+PATH_HOSTS)
        apaches["b"], json_path = httpphase.module_apache(
            workdir, "cg-b", docroot, module_so, n, **mod,
            site_extra=f"VMoodleMetricsSites {n + PATH_HOSTS}\n")
        add_paths_and_aliases(json_path, n, port)
        # the same table without the per-site counters: their cost is b - m
        apaches["m"], json_path = httpphase.module_apache(
            workdir, "cg-m", docroot, module_so, n, **mod,
            site_extra="VMoodleMetrics Off\n")
        add_paths_and_aliases(json_path, n, port)
    apaches["c"] = Apache(workdir, "cg-c", docroot, sites.rewrite_dbm(dbm),
                          modules=["rewrite"], **one)
    return {key: count_one(a, key, n, warmup, measured)
            for key, a in apaches.items() if not only or key in only}


def main():
    """The callgrind part of make bench alone (make bench-callgrind)."""
    import report                       # it imports this module
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--only", help="these configurations (a,b,m,c); "
                    "RESULTS.md untouched")
    ap.add_argument("--keep", metavar="DIR", help="keep the work directory "
                    "(the callgrind dumps, for callgrind_annotate) in DIR")
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    module_so = os.path.join(root, args.build, "mod_vmoodle.so")
    workdir = args.keep or tempfile.mkdtemp(prefix="vmoodle-bench-cg-")
    os.makedirs(workdir, exist_ok=True)
    os.chmod(workdir, 0o755)            # the process runs as www-data
    try:
        results = run(workdir, 100000, module_so,
                      only=args.only.split(",") if args.only else None)
    except load.WrongAnswer as e:
        print(f"bench: FAILED: wrong answers: {e}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(results, indent=1))
    if "a" in results:
        table = report.callgrind_table(results)
        print(table)
        if not args.only:
            report.write_callgrind_section(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Issue 14, the refresh side, at 100,000 instances: change served (polling
and NOTIFY), start-up and graceful restart with cron state, throughput
while the table changes and just after a graceful restart, the writer's
memory between refreshes, and a hung PostgreSQL.

Run by make bench (bench/run.py) or alone (python3 bench/scale_refresh.py
--build build); the figures go to their own section of bench/RESULTS.md,
between the scale-refresh markers."""
import argparse
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.join(ROOT, "tests", "integration"))

import httpphase    # noqa: E402
import instances    # noqa: E402
import load         # noqa: E402
import memory       # noqa: E402
import refresh      # noqa: E402
import sections     # noqa: E402
from dbservers import PgServer  # noqa: E402
from relay import FreezableRelay  # noqa: E402

HOSTS = 100000
BEGIN, END = "<!-- bench:scale-refresh:begin -->", "<!-- bench:scale-refresh:end -->"
STATEMENT_BOUND = 30        # core/vm_db.h VM_DB_IO_TIMEOUT
STATUS = """
<Location /vmoodle-status>
    SetHandler vmoodle-status
</Location>
"""


def routed(port, i, timeout=5):
    """X-Routed for host i, or None when nothing answered."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("GET", "/ok.txt",
                     headers={"Host": f"{instances.host(i)}:{port}"})
        resp = conn.getresponse()
        resp.read()
        conn.close()
        return resp.getheader("X-Routed")
    except OSError:
        return None


def status(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/vmoodle-status?json", headers={"Host": "bench.test"})
    return json.loads(conn.getresponse().read())


def wait_routed(port, i, since, give_up=60):
    while time.monotonic() < since + give_up:
        if routed(port, i, timeout=2) == instances.shortname(i):
            return time.monotonic() - since
        time.sleep(0.005)
    raise RuntimeError(f"host {i} not routed within {give_up} s")


def write_cronstate(json_path, n):
    with open(json_path + ".cronstate", "w") as f:
        json.dump({str(i): {"croncount": i, "lastcron": 1700000000 + i,
                            "lastcrongap": 900} for i in range(1, n + 1)}, f)


def startup(workdir, module_so, trials=3):
    """Seconds from launch, and from SIGUSR1, to the first routed request,
    with 100,000 instances and their cron state."""
    docroot = httpphase.static_docroot(workdir)
    apache, json_path = httpphase.module_apache(workdir, "startup", docroot,
                                                module_so, HOSTS, refresh=60)
    write_cronstate(json_path, HOSTS)
    starts, graceful, gaps = [], [], []
    for trial in range(trials):
        t0 = time.monotonic()
        apache.launch()
        try:
            starts.append(wait_routed(apache.port, 1 + trial * 7919 % HOSTS, t0))
            for k in range(2):
                before = apache.restarts()
                t0 = time.monotonic()
                apache.proc.send_signal(signal.SIGUSR1)
                last, gap = t0, 0.0
                while apache.restarts() == before and time.monotonic() < t0 + 60:
                    if routed(apache.port, 77, timeout=2) == instances.shortname(77):
                        now = time.monotonic()
                        gap, last = max(gap, now - last), now
                graceful.append(wait_routed(apache.port, 1 + k * 104729 % HOSTS, t0))
                gaps.append(gap)
        finally:
            apache.stop()
    return {"start_s": starts, "graceful_s": graceful, "gap_s": gaps}


def wrk_lenient(port, seconds):
    """One wrk run over every host that counts socket errors instead of
    failing on them (a graceful restart closes keep-alive connections);
    wrong answers still void the run."""
    cmd = [load.WRK, f"-t{load.THREADS}", f"-c{load.CONNECTIONS}",
           f"-d{seconds}s", "--timeout", "10s", "-s", load.SCRIPT,
           f"http://127.0.0.1:{port}/ok.txt", "--", str(HOSTS), str(port),
           "s", "/ok.txt"]
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          timeout=seconds + 60)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("BENCH ")]
    if not lines:
        raise load.WrongAnswer(f"wrk failed: {proc.stderr.strip()}")
    r = json.loads(lines[-1][len("BENCH "):])
    if r["wrong"]:
        raise load.WrongAnswer(f"{r['wrong']} wrong answers, e.g. {r['example']}")
    return {"rps": r["requests"] * 1e6 / r["duration_us"],
            "errors": r["errors"], "non_2xx": r["non_2xx"]}


class TableChanger:
    """Replaces the JSON source every `period` seconds with one of two
    prepared files that differ in one row's database name: a new
    generation each time, no host's answer changed, no JSON written while
    the load runs."""

    def __init__(self, json_path, port, period=2.0):
        self.path, self.period = json_path, period
        self.versions = []
        for k in range(2):
            rows = [instances.row(i, port) for i in range(1, HOSTS + 1)]
            rows[41]["vdbname"] = f"moved{k}"
            v = f"{json_path}.v{k}"
            with open(v, "w") as f:
                json.dump(rows, f)
            os.chmod(v, 0o644)
            self.versions.append(v)
        self.stop_event = threading.Event()
        self.changes = 0

    def _run(self):
        while not self.stop_event.wait(self.period):
            current = os.stat(self.path).st_ino
            version = next(v for v in self.versions
                           if os.stat(v).st_ino != current)
            tmp = self.path + ".link"
            os.link(version, tmp)
            os.replace(tmp, self.path)
            self.changes += 1

    def __enter__(self):
        self.stop_event.clear()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join()


def throughput(workdir, module_so, seconds=10, rounds=3):
    """Throughput at 100,000 hosts: steady, while the table changes every
    2 s (rounds alternate), and the first second after a graceful restart
    against a steady second; plus the writer's memory between refreshes."""
    docroot = httpphase.static_docroot(workdir)
    apache, json_path = httpphase.module_apache(
        workdir, "changing", docroot, module_so, HOSTS, refresh=1)
    apache.start(timeout=120)
    out = {"steady": [], "changing": [], "gens": [], "after_restart": [],
           "steady_1s": [], "restart_errors": 0}
    try:
        changer = TableChanger(json_path, apache.port)
        load.wrk_run(apache.port, HOSTS, "s", 2)            # warm up
        for _ in range(rounds):
            out["steady"].append(load.wrk_run(apache.port, HOSTS, "s", seconds)["rps"])
            g0 = published(json_path)
            with changer:
                out["changing"].append(
                    load.wrk_run(apache.port, HOSTS, "s", seconds)["rps"])
                out["gens"].append(published(json_path) - g0)
            idle_writer(json_path)
        out["memory"] = writer_memory(apache, json_path)
        for _ in range(rounds):
            out["steady_1s"].append(wrk_lenient(apache.port, 1)["rps"])
            apache.proc.send_signal(signal.SIGUSR1)
            r = wrk_lenient(apache.port, 1)
            out["after_restart"].append(r["rps"])
            out["restart_errors"] += r["errors"]
            time.sleep(3)
    finally:
        apache.stop()
    return out


def published(json_path):
    """The newest generation the writer published: its live copy's number.
    (Not the status page: at 100,000 instances it lists them all, a 50 MiB
    answer that would weigh on what is measured.)"""
    data = os.path.dirname(json_path)
    return max((int(m.group(1)) for name in os.listdir(data)
                if (m := re.fullmatch(r"snapshot\.live\.(\d+)", name))),
               default=0)


def idle_writer(json_path, quiet=5, give_up=120):
    """Wait until the writer has published nothing for `quiet` seconds
    while reading every second: between refreshes, not in one."""
    deadline = time.monotonic() + give_up
    last, since = published(json_path), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < quiet:
        time.sleep(0.5)
        now = published(json_path)
        if now != last:
            last, since = now, time.monotonic()


def writer_memory(apache, json_path):
    """Resident memory of each child some seconds after a refresh that made
    a generation (the children have mapped it under load), beside the
    snapshot's size; the writer is the child holding the most."""
    snapshot = os.path.join(os.path.dirname(json_path), "snapshot")
    load.wrk_run(apache.port, HOSTS, "s", 2)
    idle_writer(json_path)
    kids = {pid: memory.smaps(pid) for pid in apache.children()}
    writer = max(kids.values(), key=lambda k: k["Rss"])
    return {"writer_rss_kib": writer["Rss"], "writer_private_kib": writer["Private"],
            "children_rss_kib": sorted(k["Rss"] for k in kids.values()),
            "snapshot_kib": os.path.getsize(snapshot) // 1024}


def hung_postgresql(workdir, module_so, pg):
    """Seconds from the server hanging (a relay that stops passing bytes)
    to the writer reporting the outage, i.e. free again."""
    db = pg.new_database("hung")
    db.create_template_table()
    relay = FreezableRelay(pg.port)
    try:
        source = db.source_with(port=relay.port)
        apache, _ = httpphase.module_apache(
            workdir, "hung", httpphase.static_docroot(workdir), module_so, 1000,
            refresh=1, source=source, site_extra=STATUS)
        pg.sql(instances.copy_script(1000, apache.port), dbname=db.name)
        apache.start(timeout=60)
        try:
            wait_routed(apache.port, 5, time.monotonic())
            for _ in range(2):          # the writer child has read through it
                t = status(apache.port)["refresh"]["time"]
                while status(apache.port)["refresh"]["time"] == t:
                    time.sleep(0.1)
            relay.freeze()
            t0 = time.monotonic()
            while status(apache.port)["refresh"]["ok"]:
                if time.monotonic() > t0 + STATEMENT_BOUND + 60:
                    raise RuntimeError("the writer never reported the outage")
                time.sleep(0.1)
            freed = time.monotonic() - t0
            served = routed(apache.port, 5) == instances.shortname(5)
            t1 = time.monotonic()
            apache.proc.send_signal(signal.SIGUSR1)
            before = apache.restarts()
            while apache.restarts() <= before and time.monotonic() < t1 + 60:
                time.sleep(0.05)
            return {"freed_s": freed, "served_meanwhile": served,
                    "graceful_s": time.monotonic() - t1,
                    "error": status(apache.port)["refresh"]["error"]}
        finally:
            apache.stop()
    finally:
        relay.close()


def measure(build, workdir, pg=None, only=None):
    module_so = os.path.join(build, "mod_vmoodle.so")
    own_pg = pg is None
    pg = pg or PgServer()
    out, failed = {}, []
    phases = [
        ("poll", lambda: refresh.summary(refresh.poll(
            os.path.join(workdir, "poll"), module_so, HOSTS, 5))),
        ("notify", lambda: refresh.summary(refresh.notify(
            os.path.join(workdir, "notify"), module_so, pg, HOSTS, 3))),
        ("startup", lambda: startup(os.path.join(workdir, "startup"), module_so)),
        ("throughput", lambda: throughput(os.path.join(workdir, "tp"), module_so)),
        ("hung", lambda: hung_postgresql(os.path.join(workdir, "hung"), module_so, pg)),
    ]
    try:
        for name, fn in phases:
            if only and name not in only:
                continue
            print(f"bench: scale-refresh {name}", flush=True)
            try:
                out[name] = fn()
            except load.WrongAnswer:
                raise
            except Exception as e:          # reported in the table
                failed.append(name)
                out[name] = f"failed: {str(e).splitlines()[0]}"
    finally:
        if own_pg:
            pg.cleanup()
    return out, failed


def verdict(ok):
    return "met" if ok else "**missed**"


def render(r):
    rows = ["| figure (100,000 instances) | measured | target | |",
            "|---|---|---|---|"]

    def row(name, value, target="", ok=None):
        rows.append(f"| {name} | {value} | {target} | "
                    f"{'' if ok is None else verdict(ok)} |")

    def phase(key, fn):
        if isinstance(r.get(key), str):
            row(key, r[key])
        elif key in r:
            fn(r[key])

    phase("poll", lambda p: row("change served, polling, VMoodleRefresh 1",
                                f"median {p['median_s']:.2f} s, max {p['max_s']:.2f} s "
                                f"({p['trials']} trials)", "max < 1.2 s",
                                p["max_s"] < 1.2))
    phase("notify", lambda p: row("change served, PostgreSQL NOTIFY",
                                  f"median {p['median_s']:.2f} s, max {p['max_s']:.2f} s "
                                  f"({p['trials']} trials)", "< 0.5 s",
                                  p["max_s"] < 0.5))

    def startup_rows(s):
        row("start-up with cron state: launch to first routed request",
            "max {:.2f} s ({})".format(max(s["start_s"]),
                                       ", ".join(f"{x:.2f}" for x in s["start_s"])),
            "< 1.5 s", max(s["start_s"]) < 1.5)
        row("graceful restart with cron state: SIGUSR1 to first routed request",
            "max {:.2f} s; longest gap between routed answers {:.2f} s".format(
                max(s["graceful_s"]), max(s["gap_s"])),
            "< 1.5 s", max(s["graceful_s"]) < 1.5)
    phase("startup", startup_rows)

    def tp_rows(t):
        steady, changing = statistics.median(t["steady"]), statistics.median(t["changing"])
        ratio = changing / steady
        row("throughput while the table changes every 2 s / steady",
            f"{ratio:.3f} ({changing:,.0f} / {steady:,.0f} req/s; "
            f"{sum(t['gens'])} generations served during {len(t['gens'])} runs "
            f"of 10 s)",
            ">= 0.9", ratio >= 0.9)
        after, s1 = statistics.median(t["after_restart"]), statistics.median(t["steady_1s"])
        row("throughput in the first second after a graceful restart / steady second",
            f"{after / s1:.3f} ({after:,.0f} / {s1:,.0f} req/s; "
            f"{t['restart_errors']} socket errors)",
            ">= 0.9", after / s1 >= 0.9)
        m = t["memory"]
        row("writer resident memory between refreshes",
            f"{m['writer_rss_kib'] / 1024:.1f} MiB (private {m['writer_private_kib'] / 1024:.1f} MiB); "
            f"snapshot {m['snapshot_kib'] / 1024:.1f} MiB",
            "< 2x snapshot", m["writer_rss_kib"] < 2 * m["snapshot_kib"])
    phase("throughput", tp_rows)
    phase("hung", lambda h: row(
        "hung PostgreSQL: server stops answering to writer free (1,000 instances)",
        f"{h['freed_s']:.1f} s; last table served meanwhile: "
        f"{'yes' if h['served_meanwhile'] else 'NO'}; graceful restart while hung "
        f"{h['graceful_s']:.1f} s", f"<= {STATEMENT_BOUND} s + one tick",
        h["freed_s"] <= STATEMENT_BOUND + 1.5 and h["served_meanwhile"]))
    return "\n".join(rows) + "\n"


def write_section(table):
    sections.write_section(table, BEGIN, END,
                           "Refresh and sources at scale (issue 14)",
                           "bench/scale_refresh.py")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", default="build")
    ap.add_argument("--only", nargs="*", help="these phases; RESULTS.md untouched")
    args = ap.parse_args()
    build = os.path.abspath(os.path.join(ROOT, args.build))
    workdir = tempfile.mkdtemp(prefix="vmoodle-bench-scale-")
    os.chmod(workdir, 0o755)
    try:
        results, failed = measure(build, workdir, only=args.only)
    except load.WrongAnswer as e:
        print(f"bench: FAILED: wrong answers: {e}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    table = render(results)
    print(table)
    if not args.only:
        write_section(table)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""make bench with MOODLE_SRC (issue 23; BENCH_CRON_FLEET=0 skips it): ten
real sites run for 15 minutes by `vcron daemon --mode activity` with two
tiers (five sites every 10 minutes, five daily), an ad hoc task queued on a
quiet site after 5 minutes.  Figures: every busy site's largest gap (from
one start to the next, and from its last start to the end of the window)
against its period plus one tick, each busy site's runs (at least two), the
quiet sites' runs, and how long the task waited before it was gone from the
queue.  The fleet of bench/cron_tiers.py gets its missing sites from site1
by `vmoodlectl snapshot` and `deploy` (seconds each, not an install); about
20 minutes in all."""
import calendar
import os
import re
import signal
import subprocess
import time

from moodle import RUN_USER, TABLE

MINUTES = 15
TIERS = "1000000:10m 0:1d"  # by activity all daily; five set to tier 1
BUSY_GAP_MAX = 660          # the busy tier's 10 minutes plus one tick
LABEL = (f"10 real sites, {MINUTES} min of `vcron daemon --mode activity`, "
         f"5 every 10 min, 5 daily")
ADHOC_LABEL = "ad hoc task queued on a quiet site"


def options(fleet, workdir):
    """vmoodlectl's templates, data parent and web user for the copies."""
    return ["--templates", os.path.join(workdir, "templates"),
            "--data-parent", os.path.dirname(fleet.sites["site1"].dataroot),
            "--user", RUN_USER]


def ten_sites(fleet, workdir, hosts):
    """The fleet's own instances, and copies of site1 deployed (into hosts,
    as they are made: the caller destroys them whatever happens) to make
    ten in all."""
    own = [s.host for s in fleet.sites.values()
           if not s.is_master and s.install and s.enabled]
    source = fleet.sites["site1"]
    opts = options(fleet, workdir)
    snap = fleet.tool("vmoodlectl", *opts, "snapshot", "--from", source.host,
                      "--name", "bench-cron")
    if snap.returncode != 0:
        raise RuntimeError(f"snapshot: {snap.stderr.strip()}")
    for n in range(20, 30):
        if len(own) + len(hosts) >= 10:
            break
        host = f"bench{n}.test"
        # each copy gets a login of its own, made by the administrative one
        dep = fleet.tool("vmoodlectl", *opts, "deploy", "--template",
                         "bench-cron", "--host", f"http://{host}",
                         "--fullname", f"Bench School {n}", "--shortname",
                         f"bench{n}", *fleet.admin_flags())
        if dep.returncode != 0:
            raise RuntimeError(f"deploy {host}: {dep.stderr.strip()}")
        hosts.append(host)
    return own


def destroy(fleet, workdir, hosts):
    for host in hosts:
        fleet.tool("vmoodlectl", *options(fleet, workdir), "destroy",
                   f"http://{host}", "--yes", *fleet.admin_flags())


def starts(log_dir, host):
    """Start times of a site's crons, from its vcron log (VM00220 lines)."""
    path = os.path.join(log_dir, f"{host}.log")
    if not os.path.exists(path):
        return []
    found = []
    with open(path, errors="replace") as f:
        for line in f:
            m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) .*VM00220", line)
            if m:
                found.append(calendar.timegm(time.strptime(
                    m.group(1), "%Y-%m-%dT%H:%M:%SZ")))
    return found


def largest_gap(starts, end):
    """The longest time without a start: between two starts, and from the
    last start to end (a site that stopped running shows); None with no
    start at all."""
    points = sorted(starts) + [end]
    return max((b - a for a, b in zip(points, points[1:])), default=None)


def busy_verdict(runs):
    """runs: each busy site's start times and the window's end.  The
    largest gap of them all and each one's number of runs; met when every
    site ran at least twice and no gap passed BUSY_GAP_MAX."""
    gaps = [largest_gap(s, end) for s, end in runs]
    counts = [len(s) for s, _ in runs]
    worst = max((g for g in gaps if g is not None), default=None)
    met = all(c >= 2 for c in counts) and worst is not None \
        and worst <= BUSY_GAP_MAX
    return worst, counts, met


def queue_adhoc(fleet, site):
    code = ("define('CLI_SCRIPT', true); require('config.php'); "
            "$t = new \\core\\task\\calendar_fix_orphaned_events(); "
            "echo \\core\\task\\manager::queue_adhoc_task($t, true);")
    proc = fleet.php_code(site, code)
    return int(proc.stdout.strip())


def run(fleet, workdir):
    copies = []
    fleet.admin_login(True)
    try:
        return measure(fleet, workdir, ten_sites(fleet, workdir, copies),
                       copies)
    finally:
        if copies:
            destroy(fleet, workdir, copies)
        fleet.admin_login(False)


def measure(fleet, workdir, own, copies):
    busy, quiet = copies[:5], own + copies[5:]
    quiet_site = next(s for s in fleet.sites.values() if s.host == own[-1])
    daemon = None
    state = os.path.join(workdir, "vcron-fleet")
    base = [fleet.program("vcron"), "--config", "/dev/null",
            "--source", fleet.source, "--table", TABLE,
            "--moodle-dir", fleet.code, "--php", "/usr/bin/php",
            "--log-dir", os.path.join(state, "log"),
            "--lock-dir", os.path.join(state, "lock"),
            "--state-file", os.path.join(state, "vcron.state"),
            "--opcache-dir", os.path.join(state, "opcache"),
            "--tier-file", os.path.join(state, "tiers"),
            "--mode", "activity", "--tiers", TIERS, "--tick", "60",
            "--jobs", "2", "--quiet"]
    try:
        for host in busy:
            subprocess.run(base + ["tier", host, "1"], check=True,
                           capture_output=True, timeout=60)
        daemon = subprocess.Popen(base + ["daemon"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        started = time.time()
        time.sleep(5 * 60)
        taskid = queue_adhoc(fleet, quiet_site)
        queued_at, gone_at = time.time(), None
        while time.time() < started + MINUTES * 60:
            if gone_at is None and fleet.sql(
                    quiet_site, f"SELECT COUNT(*) FROM {{p}}task_adhoc WHERE "
                    f"id = {taskid}").strip() == "0":
                gone_at = time.time()
            time.sleep(5)
        ended = time.time()
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=900)
        log_dir = os.path.join(state, "log")
        worst, busy_runs, met = busy_verdict(
            [(starts(log_dir, h), ended) for h in busy])
        quiet_runs = [len(starts(log_dir, h)) for h in quiet]
    finally:
        if daemon and daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    wait = None if gone_at is None else gone_at - queued_at
    gap = "none (no run)" if worst is None else f"{worst:.0f} s"
    return (f"| {LABEL} | busy sites' largest gap (to the window's end too) "
            f"{gap}, runs {busy_runs}; quiet sites' runs {quiet_runs} "
            f"| gap <= {BUSY_GAP_MAX} s, each busy site run twice or more"
            f" | {'met' if met else '**missed**'} |\n"
            f"| {ADHOC_LABEL} | "
            f"{'not run' if wait is None else f'gone from the queue after {wait:.0f} s'}"
            f" | started within 120 s | "
            f"{'met' if wait is not None and wait <= 120 else '**missed**'} |\n")


def not_run(why):
    """The two rows when the run did not happen or failed."""
    return (f"| {LABEL} | {why} | gap <= {BUSY_GAP_MAX} s, each busy site "
            f"run twice or more | |\n| {ADHOC_LABEL} | {why} | started "
            f"within 120 s | |\n")

"""make bench with MOODLE_SRC and BENCH_CRON_FLEET=1 (issue 23): ten real
sites run for 15 minutes by `vcron daemon --mode activity` with two tiers
(five sites every 10 minutes, five daily), an ad hoc task queued on a quiet
site after 5 minutes.  Figures: every busy site's largest gap against its
period plus one tick, the quiet sites' runs, and how long the task waited
before it was gone from the queue.  Takes about 30 minutes (installs
included); called by bench/cron_tiers.py."""
import os
import re
import signal
import subprocess
import time

from moodle import TABLE, Fleet, Site

MINUTES = 15
BUSY, QUIET = range(1, 6), range(6, 11)
TIERS = "1000:10m 0:1d"


def sites():
    return [Site("master", "http://master.test", "Master")] + [
        Site(f"site{i}", f"http://site{i}.test", f"School {i}", id=i)
        for i in range(1, 11)]


def starts(log_dir, site):
    """Start times of a site's crons, from its vcron log (VM00220 lines)."""
    path = os.path.join(log_dir, f"{site.host}.log")
    found = []
    with open(path, errors="replace") as f:
        for line in f:
            m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) .*VM00220", line)
            if m:
                found.append(time.mktime(time.strptime(
                    m.group(1), "%Y-%m-%dT%H:%M:%SZ")))
    return found


def queue_adhoc(fleet, site):
    code = ("define('CLI_SCRIPT', true); require('config.php'); "
            "$t = new \\core\\task\\calendar_fix_orphaned_events(); "
            "echo \\core\\task\\manager::queue_adhoc_task($t, true);")
    proc = fleet.php_code(site, code)
    return int(proc.stdout.strip())


def run(src, build, workdir):
    fleet = Fleet(os.path.join(workdir, "fleet10"), src, build, sites=sites())
    fleet.setup(jobs=3)
    state = os.path.join(fleet.root, "vcron-bench")
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
        for i in QUIET:
            subprocess.run(base + ["tier", f"site{i}.test", "2"], check=True,
                           capture_output=True, timeout=60)
        daemon = subprocess.Popen(base + ["daemon"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        started = time.time()
        time.sleep(5 * 60)
        quiet = fleet.sites["site8"]
        taskid = queue_adhoc(fleet, quiet)
        queued_at, gone_at = time.time(), None
        while time.time() < started + MINUTES * 60:
            if gone_at is None and fleet.sql(
                    quiet, f"SELECT COUNT(*) FROM {{p}}task_adhoc WHERE "
                    f"id = {taskid}").strip() == "0":
                gone_at = time.time()
            time.sleep(5)
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=900)
        log_dir = os.path.join(state, "log")
        busy_gap = max(max((b - a for a, b in zip(s, s[1:])), default=0)
                       for s in (starts(log_dir, fleet.sites[f"site{i}"])
                                 for i in BUSY))
        quiet_runs = {i: len(starts(log_dir, fleet.sites[f"site{i}"]))
                      for i in QUIET}
    finally:
        fleet.cleanup()
    wait = None if gone_at is None else gone_at - queued_at
    return (f"| 10 real sites, {MINUTES} min of `vcron daemon --mode activity`"
            f", 5 every 10 min, 5 daily | busy sites' largest gap {busy_gap:.0f}"
            f" s; quiet sites' runs {sorted(quiet_runs.values())} | gap <= 660 s"
            f" | {'met' if busy_gap <= 660 else '**missed**'} |\n"
            f"| ad hoc task queued on a quiet site | "
            f"{'not run' if wait is None else f'gone from the queue after {wait:.0f} s'}"
            f" | started within 120 s | "
            f"{'met' if wait is not None and wait <= 120 else '**missed**'} |\n")

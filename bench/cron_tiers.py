#!/usr/bin/python3
"""make bench with MOODLE_SRC (issue 23): what a cron run costs and what a
fleet's crons ask for.

1. CPU per cron run of an idle real site (admin/cli/cron.php
   --keep-alive=0 as www-data, the way vcron starts it), nothing due and
   with the every-minute tasks due (a minute boundary: their next run set
   to now), without and with PHP's opcode file cache.  CPU = the child's
   rusage (user + system); medians of ROUNDS runs, alternating.
2. 5,000 sites simulated with the real scheduler (bench/cron_sim.c) and
   the measured cost at a minute boundary with the cache: runs a minute,
   CPU a minute against this machine's cores, worst gap per tier, and the
   same fleet on one 15-minute lowest-gap period.
3. Unless BENCH_CRON_FLEET=0 (it takes about 20 minutes): 10 real sites
   run 15 minutes by vcron with two tiers, an ad hoc task queued on a quiet
   one; every gap and the task's wait (bench/cron_fleet.py).  Skipped, its
   rows say so.

Writes its section of bench/RESULTS.md (between its markers), whatever
failed; exits 1 when a part could not be measured (a missed target is only
reported).  A Moodle fleet kept by the tests (VMOODLE_FLEET=DIR) is reused;
else one site is installed into a temporary directory."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "moodle"))
sys.path.insert(1, os.path.join(ROOT, "tests", "integration"))

from moodle import PHP, PHP_SETTINGS, Fleet, Site, run_as_web_user  # noqa: E402
import cron_fleet  # noqa: E402
import sections  # noqa: E402

BEGIN, END = "<!-- bench:cron-tiers:begin -->", "<!-- bench:cron-tiers:end -->"
ROUNDS = 5
# Àgora-like spread of 5,000 sites over its five tiers (stated in RESULTS).
SPREAD = (150, 500, 1500, 1400, 1450)
QUEUED_PER_DAY = 2          # ad hoc tasks a day on each quiet site
MINUTE_TASKS_MIN = 10       # of Moodle 4.5's 12 every-minute tasks
OPCACHE = ["-dopcache.enable_cli=1", "-dopcache.file_cache_only=1",
           "-dopcache.validate_timestamps=1", "-dopcache.revalidate_freq=0"]


def cron_cpu(fleet, site, cache, due=False):
    """CPU seconds of one cron.php run (None cache: without).  due: the run
    must have executed the every-minute tasks made due (else it measured
    an idle run under the wrong name)."""
    cmd = [PHP] + [f"-d{k}={v}" for k, v in PHP_SETTINGS.items()]
    if cache:
        cmd += OPCACHE + [f"-dopcache.file_cache={cache}"]
    cmd += [os.path.join(fleet.code, "admin/cli/cron.php"), "--keep-alive=0"]
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, env=fleet.env(site), cwd=fleet.code,
                                stdout=out, stderr=subprocess.STDOUT,
                                **run_as_web_user())
        _, status, ru = os.wait4(proc.pid, 0)
        out.seek(0)
        text = out.read().decode(errors="replace")
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"cron.php exited {proc.returncode}")
    executed = text.count("Execute scheduled task:")
    if due and executed < MINUTE_TASKS_MIN:
        raise RuntimeError(f"a run with the every-minute tasks due executed "
                           f"{executed} scheduled task(s)")
    return ru.ru_utime + ru.ru_stime


def minute_tasks_due(fleet, site):
    """What a minute boundary makes due: every task scheduled each minute,
    its last run a minute back (Moodle runs no task whose last run is not
    before the cron's start second, so runs a second apart would find
    nothing due)."""
    fleet.sql(site, "UPDATE {p}task_scheduled SET nextruntime = 0, "
              "lastruntime = lastruntime - 60 WHERE "
              "minute = '*' AND hour = '*' AND day = '*' AND month = '*' "
              "AND dayofweek = '*' AND disabled = 0")


def cost_figures(fleet, site, workdir):
    cache = os.path.join(workdir, "opcache")
    os.makedirs(cache, exist_ok=True)
    os.chown(cache, *run_as_web_user_ids())
    os.chmod(cache, 0o700)
    for c in (None, cache):           # warm: caches filled, ad hoc done
        cron_cpu(fleet, site, c)
    runs = {(c, due): [] for c in (False, True) for due in (False, True)}
    for _ in range(ROUNDS):
        for cached in (False, True):
            minute_tasks_due(fleet, site)
            runs[(cached, True)].append(
                cron_cpu(fleet, site, cache if cached else None, due=True))
            runs[(cached, False)].append(
                cron_cpu(fleet, site, cache if cached else None))
    return {f"{'cache' if c else 'nocache'}_{'due' if d else 'idle'}":
            statistics.median(v) for (c, d), v in runs.items()}


def run_as_web_user_ids():
    import pwd
    w = pwd.getpwnam("www-data")
    return w.pw_uid, w.pw_gid


def simulate(build, cost):
    cores = os.cpu_count() or 1
    proc = subprocess.run([os.path.join(build, "bench", "cron_sim"), "5000",
                           f"{cost:.3f}", str(cores)] + [str(s) for s in SPREAD]
                          + [str(QUEUED_PER_DAY)], capture_output=True,
                          text=True, timeout=900, check=True)
    out = json.loads(proc.stdout)
    out["cores"] = cores
    out["cost"] = cost
    return out


def render(cost, sim):
    rows = ["| figure | measured | target | |", "|---|---|---|---|"]
    for due, label in ((False, "nothing due"),
                       (True, "every-minute tasks due (minute boundary)")):
        key = "due" if due else "idle"
        a, b = cost[f"nocache_{key}"], cost[f"cache_{key}"]
        ok = b <= a / 2
        rows.append(f"| CPU per cron run of an idle site, {label}: without / "
                    f"with the opcode file cache | {a:.2f} s / {b:.2f} s "
                    f"({b / a:.2f}) | with <= half of without | "
                    f"{'met' if ok else '**missed**'} |")
    t, f = sim["tiers"], sim["lowest_gap_15m"]
    cap = sim["capacity_per_min"]
    rows.append(f"| 5,000 sites in tiers ({'/'.join(map(str, SPREAD))}), "
                f"{sim['cost']:.2f} CPU s a run, {sim['cores']} cores | "
                f"{t['runs_per_min']:.1f} runs a minute (max {t['runs_per_min_max']:.0f}), "
                f"{t['cpu_per_min']:.1f} CPU s a minute of {cap} | "
                f"within the cores | {'met' if t['cpu_per_min'] <= cap else '**missed**'} |")
    periods = (600, 1200, 3600, 28800, 86400)
    gaps = ", ".join(f"{g}/{p}" for g, p in zip(t["worst_gap"], periods))
    within = all(g <= p + 60 for g, p in zip(t["worst_gap"], periods))
    rows.append(f"| worst gap per tier (s, of the period), a simulated day "
                f"| {gaps}; ad hoc work waited at most {t['adhoc_wait_max']:.0f} s "
                f"| period + 60 s | {'met' if within else '**missed**'} |")
    rows.append(f"| the same 5,000 sites on one 15-minute period (lowest gap) "
                f"| {f['runs_per_min']:.1f} runs a minute, "
                f"{f['runs_per_min'] * sim['cost']:.1f} CPU s a minute asked of "
                f"{cap}; worst gap {f['worst_gap'][0]} s | | |")
    return "\n".join(rows) + "\n"


def write_section(table):
    sections.write_section(table, BEGIN, END, "Cron at fleet scale (issue 23)",
                           "bench/cron_tiers.py")


def one_site_fleet(src, build, workdir):
    kept = os.environ.get("VMOODLE_FLEET")
    fleet = Fleet(kept or os.path.join(workdir, "fleet"), src, build,
                  sites=None if kept else [
                      Site("master", "http://master.test", "Master"),
                      Site("site1", "http://site1.test", "Bench School", id=1)])
    fleet.setup()
    return fleet


def fleet_rows(fleet, workdir):
    """The 15-minute run's rows, and whether it ran (or was skipped) without
    failing."""
    if os.environ.get("BENCH_CRON_FLEET") == "0":
        print("bench: 10 real sites: not run (BENCH_CRON_FLEET=0)")
        return cron_fleet.not_run("not run (BENCH_CRON_FLEET=0)"), True
    print("bench: 10 real sites, 15 minutes of vcron", flush=True)
    try:
        return cron_fleet.run(fleet, workdir), True
    except Exception as e:
        traceback.print_exc()
        return cron_fleet.not_run(f"failed: {str(e).splitlines()[0]}"), False


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", default="build")
    args = ap.parse_args()
    src = os.environ.get("MOODLE_SRC")
    if not src:
        print("bench: cron tiers: skipped, MOODLE_SRC is not set")
        return 0
    build = os.path.abspath(os.path.join(ROOT, args.build))
    workdir = tempfile.mkdtemp(prefix="vmoodle-bench-cron-")
    os.chmod(workdir, 0o755)
    fleet = one_site_fleet(os.path.abspath(src), build, workdir)
    try:
        print("bench: CPU per cron run, without and with the opcode cache",
              flush=True)
        cost = cost_figures(fleet, fleet.sites["site1"], workdir)
        print("bench: 5,000 sites in tiers, simulated", flush=True)
        sim = simulate(build, cost["cache_due"])
        rows, ok = fleet_rows(fleet, workdir)
    finally:
        if os.environ.get("VMOODLE_FLEET"):
            fleet.stop()
        else:
            fleet.cleanup()
        subprocess.run(["rm", "-rf", workdir], check=False)
    table = render(cost, sim) + rows
    print(table)
    write_section(table)
    if not ok:
        print("bench: cron tiers: FAILED: the 15-minute fleet run",
              file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

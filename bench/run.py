#!/usr/bin/python3
"""make bench: start each configuration in turn on this machine, measure,
and print one table of figures beside their targets (issue 6).

A wrong sampled response ends the run at once with exit status 1: a fast
wrong answer cannot become a figure.  A missed target is only reported.
The table replaces the generated part of bench/RESULTS.md (between its
markers), so the notes written there about misses stay."""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
import json

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
# The tests' PostgreSQL starter (it needs pytest only for its fixtures).
sys.path.insert(1, os.path.join(ROOT, "tests", "integration"))

import callgrind    # noqa: E402
import cronphase    # noqa: E402
import httpphase    # noqa: E402
import load         # noqa: E402
import machine      # noqa: E402
import memory       # noqa: E402
import phpside      # noqa: E402
import refresh      # noqa: E402
import report       # noqa: E402
import scale_refresh  # noqa: E402
from dbservers import PgServer  # noqa: E402

RESULTS = os.path.join(HERE, "RESULTS.md")
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
HOST_COUNTS = (1000, 100000)
CALLGRIND_HOSTS = 100000


class Plan:
    """Durations: the full run fits in ten minutes on two cores."""
    def __init__(self, quick):
        self.quick = quick
        self.seconds = 2 if quick else 4       # one wrk run in a round
        self.rounds = 2 if quick else 6
        self.php_seconds = 2 if quick else 5
        self.php_rounds = 2 if quick else 3
        self.memory_seconds = 2 if quick else 3
        self.lookups = 1000000 if quick else 4000000
        self.cg_warmup = 300 if quick else 2000
        self.cg_requests = 500 if quick else 2000


def core_figures(build, workdir, plan):
    binary = os.path.join(build, "bench", "lookup_bench")
    if not os.path.exists(binary):
        return "not measured: lookup_bench not built"
    out = []
    for n, lookups in ((100000, plan.lookups), (1000000, plan.lookups)):
        proc = subprocess.run([binary, workdir, str(n), str(lookups)],
                              capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise load.WrongAnswer(f"lookup_bench {n}: {proc.stderr.strip()}")
        out.append(json.loads(proc.stdout))
    return out


def measured(results, key, failures, fn, *args):
    """Run one phase; a phase that cannot run is reported, not fatal, but a
    wrong answer is."""
    try:
        results[key] = fn(*args)
    except load.WrongAnswer:
        raise
    except Exception as e:                      # reported in the table
        traceback.print_exc()
        failures.append(key)
        results[key] = f"failed: {str(e).splitlines()[0]}"


def run(build, plan, workdir):
    module_so = os.path.join(build, "mod_vmoodle.so")
    module_so = module_so if os.path.exists(module_so) else None
    results = {"machine": machine.describe(), "http": {}}
    failures = []
    for n in HOST_COUNTS:
        print(f"bench: HTTP, {n:,} hosts", flush=True)
        measured(results["http"], n, failures, httpphase.run,
                 os.path.join(workdir, f"http-{n}"), n, module_so,
                 plan.seconds, plan.rounds)
    pg = PgServer()         # the master table of (e); NOTIFY
    try:
        print("bench: PHP side", flush=True)
        measured(results, "php", failures, phpside.run,
                 os.path.join(workdir, "php"), module_so, plan.php_seconds,
                 plan.php_rounds, pg)
        other_figures(results, failures, build, workdir, plan, module_so, pg)
        if module_so and not plan.quick:   # issue 14, refresh side
            results["scale_refresh"], failed = scale_refresh.measure(
                build, os.path.join(workdir, "scale"), pg)
            failures += [f"scale-refresh {name}" for name in failed]
    finally:
        pg.cleanup()
    return results, failures


def other_figures(results, failures, build, workdir, plan, module_so, pg):
    """Core, memory and change-served figures."""
    print("bench: core figures", flush=True)
    measured(results, "core", failures, core_figures, build, workdir, plan)
    print("bench: memory per child", flush=True)
    if module_so:
        measured(results, "memory", failures, memory.run,
                 os.path.join(workdir, "memory"), module_so, plan.memory_seconds)
        print("bench: change served", flush=True)
        measured(results, "refresh_poll", failures, refresh.poll_figures,
                 os.path.join(workdir, "refresh"), module_so)
        measured(results, "refresh_notify", failures, refresh.notify_figures,
                 os.path.join(workdir, "notify"), module_so, pg)
        print("bench: instructions per request (callgrind)", flush=True)
        measured(results, "callgrind", failures, callgrind.run,
                 os.path.join(workdir, "callgrind"), CALLGRIND_HOSTS,
                 module_so, plan.cg_warmup, plan.cg_requests)
        print("bench: generations made by cron runs", flush=True)
        measured(results, "cron", failures, cronphase.run,
                 os.path.join(workdir, "cron"), build, module_so)
    else:
        missing = "not measured: mod_vmoodle.so not built"
        results["memory"] = results["refresh_poll"] = missing
        results["refresh_notify"] = results["callgrind"] = missing
        results["cron"] = missing


def write_results(table):
    text = ""
    if os.path.exists(RESULTS):
        with open(RESULTS) as f:
            text = f.read()
    block = f"{BEGIN}\n{table}{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = "# Benchmark results\n\nWritten by `make bench`.\n\n" + block + "\n"
    with open(RESULTS, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", default="build")
    ap.add_argument("--quick", action="store_true",
                    help="short runs to try the harness; RESULTS.md untouched")
    args = ap.parse_args()
    build = os.path.abspath(os.path.join(ROOT, args.build))
    workdir = tempfile.mkdtemp(prefix="vmoodle-bench-")
    os.chmod(workdir, 0o755)          # children run as www-data
    try:
        results, failures = run(build, Plan(args.quick), workdir)
    except load.WrongAnswer as e:
        print(f"bench: FAILED: wrong answers under load: {e}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    table = report.render(results)
    cg_table = report.callgrind_table(results.get("callgrind"))
    print()
    print(table)
    print(cg_table)
    if failures:
        print(f"bench: FAILED phases: {', '.join(map(str, failures))}",
              file=sys.stderr)
        return 1
    if not args.quick:
        write_results(table)
        report.write_callgrind_section(cg_table)
        if "scale_refresh" in results:
            scale_refresh.write_section(
                scale_refresh.render(results["scale_refresh"]))
        # Issue 23, with real Moodle only (MOODLE_SRC): its own section.
        cron = subprocess.run([sys.executable,
                               os.path.join(HERE, "cron_tiers.py"),
                               "--build", build], check=False)
        print(f"bench: table written to {os.path.relpath(RESULTS, ROOT)}")
        if cron.returncode != 0:
            print(f"bench: FAILED phases: cron at fleet scale "
                  f"(bench/cron_tiers.py exited {cron.returncode}, see above)",
                  file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

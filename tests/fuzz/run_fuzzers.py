#!/usr/bin/python3
"""Run libFuzzer harnesses side by side for a bounded time each.

Used by `make fuzz` and by tests/integration/test_fuzz.py.  Seeds come from
tests/fuzz/corpus/<name> and are never written; what a run discovers goes
to <build>/corpus/<name>, a crash to <build>/crash-<name>-*."""
import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def start(build, name, seconds):
    """Start one harness; return (Popen, log path)."""
    work = os.path.join(build, "corpus", name)
    os.makedirs(work, exist_ok=True)
    log = os.path.join(build, f"fuzz-{name}.log")
    cmd = [os.path.join(build, f"fuzz_{name}"),
           f"-max_total_time={seconds}", "-timeout=10", "-rss_limit_mb=2048",
           "-max_len=8192", "-print_final_stats=1",
           f"-artifact_prefix={os.path.join(build, 'crash-' + name + '-')}",
           work, os.path.join(HERE, "corpus", name)]
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                env=env)
    return proc, log


def summary(log):
    """The lines of a libFuzzer log worth showing: stats and any report."""
    with open(log, errors="replace") as f:
        lines = f.read().splitlines()
    keep = [l for l in lines if l.startswith(("stat::", "==", "SUMMARY"))
            or "ERROR" in l or "runtime error" in l]
    return "\n".join(keep[-40:])


def executions(log):
    """Inputs run, from libFuzzer's final stats."""
    with open(log, errors="replace") as f:
        for line in f:
            if line.startswith("stat::number_of_executed_units:"):
                return int(line.split(":")[-1])
    return 0


def run(build, names, seconds):
    """Run every harness concurrently; return {name: (exit code, log)}."""
    procs = {n: start(build, n, seconds) for n in names}
    results = {}
    for name, (proc, log) in procs.items():
        try:
            code = proc.wait(timeout=seconds + 120)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        results[name] = (code, log)
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build-fuzz")
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("names", nargs="+")
    args = ap.parse_args()
    failed = 0
    for name, (code, log) in run(args.build, args.names, args.seconds).items():
        state = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"fuzz_{name}: {state}, {executions(log)} inputs in "
              f"{args.seconds} s; log {log}")
        if code != 0:
            print(summary(log))
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

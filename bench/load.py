"""HTTP load with wrk and bench/random_host.lua: one run, and rounds that
alternate the configurations so that drift of the machine hits all alike."""
import json
import os
import statistics
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "random_host.lua")
WRK = "/usr/bin/wrk"
# Fewer connections than one child has threads (64): the event MPM closes
# idle keep-alive connections when a child finds no free worker, and wrk
# would count those as errors.
THREADS, CONNECTIONS = 2, 48


class WrongAnswer(Exception):
    """A sampled response was wrong, or requests failed: the run is void."""


def wrk_run(port, hosts, expect, seconds, path="/ok.txt",
            connections=CONNECTIONS):
    """One wrk run; returns rps, p50_us, p99_us, checked.  expect is the
    X-Routed prefix ("s" means s<i> for host i) or "-" for no routing."""
    cmd = [WRK, f"-t{THREADS}", f"-c{connections}", f"-d{seconds}s",
           "--timeout", "10s", "-s", SCRIPT,
           f"http://127.0.0.1:{port}{path}", "--",
           str(hosts), str(port), expect, path]
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          timeout=seconds + 60)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("BENCH ")]
    if proc.returncode != 0 or not lines:
        raise WrongAnswer(f"wrk failed ({proc.returncode}): {proc.stderr.strip()}")
    r = json.loads(lines[-1][len("BENCH "):])
    check(r, f"port {port}")
    return {"rps": r["requests"] * 1e6 / r["duration_us"],
            "p50_us": r["p50_us"], "p99_us": r["p99_us"],
            "checked": r["checked"]}


def check(r, where):
    """Fail loudly on a wrong sampled answer, a non-2xx or a socket error."""
    if r["wrong"]:
        raise WrongAnswer(f"{where}: {r['wrong']} of {r['checked']} sampled "
                          f"responses wrong, e.g. {r['example']}")
    if r["non_2xx"] or r["errors"]:
        raise WrongAnswer(f"{where}: {r['non_2xx']} non-2xx responses, "
                          f"{r['errors']} socket errors")
    if r["checked"] == 0:
        raise WrongAnswer(f"{where}: no response was checked")


def rounds(targets, hosts, seconds, count, warmup=2):
    """targets: {name: dict(port=, expect=[, path=])}.  Runs every target once per
    round, the order rotated each round; the first name is the reference.
    Returns {name: {rps, ratio, p50_us, p99_us, checked}} with medians over
    the rounds and the ratio taken within each round."""
    names = list(targets)
    for name in names:                       # fill caches, start PHP, etc.
        wrk_run(hosts=hosts, seconds=warmup, **targets[name])
    runs = {name: [] for name in names}
    for k in range(count):
        order = names[k % len(names):] + names[:k % len(names)]
        for name in order:
            runs[name].append(wrk_run(hosts=hosts, seconds=seconds,
                                      **targets[name]))
    ref = runs[names[0]]
    out = {}
    for name in names:
        rs = runs[name]
        ratios = [r["rps"] / q["rps"] for r, q in zip(rs, ref)]
        out[name] = {
            "rps": statistics.median(r["rps"] for r in rs),
            "ratio": statistics.median(ratios),
            "ratio_range": (min(ratios), max(ratios)),
            "p50_us": statistics.median(r["p50_us"] for r in rs),
            "p99_us": statistics.median(r["p99_us"] for r in rs),
            "checked": sum(r["checked"] for r in rs),
        }
    return out


"""Generations made by cron runs: vcron runs every instance's cron (here
/bin/true) on the JSON table a mod_vmoodle server routes from, 1,000 runs
in all; the status page's generation must not move, its cron figures
must."""
import json
import os
import subprocess
import time
import urllib.request

import httpphase

STATUS = """\
<Location /vmoodle-status>
    SetHandler vmoodle-status
</Location>
"""


def status(port, page=1):
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/vmoodle-status?json&per_page=1000&page={page}",
        headers={"Host": "bench.test"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def cron_runs_seen(port):
    """The cron runs the status page counts, over all its pages (it lists
    at most 1,000 instances a page)."""
    first = status(port)
    seen = sum(i["croncount"] for i in first["instances"])
    for page in range(2, int(first.get("pages", 1)) + 1):
        seen += sum(i["croncount"] for i in status(port, page)["instances"])
    return first["generation"], seen


def vcron_tick(vcron, source, work, per_tick):
    proc = subprocess.run(
        [vcron, "--config", "/dev/null", "--source", source, "--quiet",
         "--log-dir", os.path.join(work, "log"),
         "--lock-dir", os.path.join(work, "lock"),
         "--state-file", os.path.join(work, "vcron.state"),
         "--jobs", "8", "--per-tick", str(per_tick), "run",
         "--command", "/bin/true"],
        capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"vcron: {proc.returncode} {proc.stderr.strip()}")


def run(workdir, build, module_so, n=1000, runs=1000, per_tick=100):
    """{generations, runs, seen, seconds}: generations made by runs cron
    runs; seen = the cron runs the status page counts afterwards."""
    os.makedirs(workdir, exist_ok=True)
    os.chmod(workdir, 0o755)
    docroot = httpphase.static_docroot(workdir)
    apache, json_path = httpphase.module_apache(
        workdir, "cron", docroot, module_so, n, refresh=1, site_extra=STATUS)
    apache.start()
    try:
        before = status(apache.port)["generation"]
        started = time.monotonic()
        for _ in range(runs // per_tick):
            vcron_tick(os.path.join(build, "vcron"), "json:" + json_path,
                       workdir, per_tick)
        seconds = time.monotonic() - started
        deadline = time.monotonic() + 30        # the figures reach the page
        while True:
            after, seen = cron_runs_seen(apache.port)
            if seen >= runs or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        return {"generations": after - before, "runs": runs,
                "seen": seen, "seconds": seconds, "instances": n}
    finally:
        apache.stop()

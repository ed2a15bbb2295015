"""Two vcron processes, as on two cron hosts, against one PostgreSQL table:
the source's advisory locks keep any instance from running twice at once,
and the stats in the table count exactly the runs that happened."""
import os
import subprocess

import pytest

from dbservers import pg_db, pg_server  # noqa: F401  (fixtures)
from test_vcron import Rig, summary

instance_count = 6


def runs_by_instance(rig):
    """{id: [(start, end), ...]} from the fake cron's records."""
    out = os.path.join(rig.dir, "out")
    spans = {}
    for name in os.listdir(out):
        if name.endswith(".times"):
            with open(os.path.join(out, name)) as f:
                a, b = f.read().split()
            spans.setdefault(int(name.split(".")[0]), []).append(
                (float(a), float(b)))
    return spans


# Mode activity: every instance never run is due at once on both hosts
# (no probe of the stand-in databases: none is measured or asked).
ACTIVITY = ["--mode", "activity", "--fast-path", "off",
            "--activity-per-tick", "0"]


@pytest.mark.parametrize("mode", [[], ACTIVITY], ids=["round-robin",
                                                      "activity"])
def test_two_hosts_never_run_one_instance_twice_at_once(pg_db, reachable_dir,
                                                        mode):
    pg_db.create_vmoodle_table()
    for i in range(1, instance_count + 1):
        pg_db.insert(id=i, name=f"Site {i}", shortname=f"s{i}",
                     vhostname=f"https://site{i}.example.edu",
                     vdbtype="pgsql", vdbhost="db", vdblogin=f"u{i}",
                     vdbpass=f"pw{i}", vdbname=f"m{i}", vdbprefix="mdl_",
                     vdatapath=f"/srv/moodledata/s{i}")
    rig = Rig(reachable_dir, count=instance_count)
    rig.source = pg_db.source
    for i in range(1, instance_count + 1):
        rig.control(i, "sleep 2")
    procs = []
    for host in ("a", "b"):     # own lock dir and state: only the DB is shared
        args = rig.args(*mode, "--per-tick", str(instance_count),
                        "--tier-file", os.path.join(rig.dir, "tiers"),
                        "--jobs", str(instance_count),
                        "--lock-dir", os.path.join(rig.dir, host, "lock"),
                        "--state-file", os.path.join(rig.dir, host, "state"),
                        "run")
        procs.append(subprocess.Popen(args, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(summary(subprocess.CompletedProcess([], 0, out, err)))
    ran = sum(r["succeeded"] for r in results)
    skipped = sum(r["skipped_locked"] for r in results)
    assert ran + skipped == 2 * instance_count
    assert skipped >= 1                  # the two hosts did meet
    spans = runs_by_instance(rig)
    assert sum(len(s) for s in spans.values()) == ran
    for i, runs in spans.items():
        runs.sort()
        for (_, end), (start, _) in zip(runs, runs[1:]):
            assert start >= end, f"instance {i} ran twice at once"
    counts = dict(tuple(map(int, line.split("\t"))) for line in pg_db.sql(
        "SELECT id, croncount FROM mdl_local_vmoodle ORDER BY id")
        .splitlines() if line.strip())
    assert counts == {i: len(spans.get(i, [])) for i in
                      range(1, instance_count + 1)}
    stats = rig.status()
    assert {i: stats[i]["croncount"] for i in stats} == counts

"""vcron mode activity with stand-in sites: each site's database (a real
PostgreSQL or MariaDB) holds the three tables vcron reads, with Moodle's
columns: logstore_standard_log (activity), task_adhoc and task_scheduled
(work waiting).  The crons are the fake cron of test_vcron.py."""
import fcntl
import json
import os
import re
import time

import pytest

from dbservers import PASSWORD, USER, mysql_db, mysql_server, pg_db, pg_server  # noqa: F401
from test_vcron import Rig, instance, summary

DAY = 86400

STANDIN = {
    "pgsql": """
CREATE TABLE {p}logstore_standard_log (id BIGSERIAL PRIMARY KEY,
    timecreated BIGINT NOT NULL);
CREATE INDEX {p}log_time ON {p}logstore_standard_log (timecreated);
CREATE TABLE {p}task_adhoc (id BIGSERIAL PRIMARY KEY,
    classname VARCHAR(255) NOT NULL, nextruntime BIGINT NOT NULL);
CREATE TABLE {p}task_scheduled (id BIGSERIAL PRIMARY KEY,
    classname VARCHAR(255) NOT NULL, lastruntime BIGINT,
    nextruntime BIGINT, disabled SMALLINT NOT NULL DEFAULT 0);""",
    "mysql": """
CREATE TABLE {p}logstore_standard_log (id BIGINT AUTO_INCREMENT PRIMARY KEY,
    timecreated BIGINT NOT NULL, INDEX (timecreated));
CREATE TABLE {p}task_adhoc (id BIGINT AUTO_INCREMENT PRIMARY KEY,
    classname VARCHAR(255) NOT NULL, nextruntime BIGINT NOT NULL);
CREATE TABLE {p}task_scheduled (id BIGINT AUTO_INCREMENT PRIMARY KEY,
    classname VARCHAR(255) NOT NULL, lastruntime BIGINT,
    nextruntime BIGINT, disabled SMALLINT NOT NULL DEFAULT 0);""",
}


def log_rows(db, prefix, count, since):
    """count log events, spread over the seconds after since."""
    if count == 0:
        return
    if db.kind == "pgsql":
        db.sql(f"INSERT INTO {prefix}logstore_standard_log (timecreated) "
               f"SELECT {since} + g FROM generate_series(1, {count}) g;")
    else:
        db.sql(f"INSERT INTO {prefix}logstore_standard_log (timecreated) "
               f"WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 "
               f"FROM g WHERE n < {count}) SELECT {since} + n FROM g;")


class Fleet:
    """Stand-in sites s1..sN, one table prefix each in one database."""

    def __init__(self, db, root, count, lastcron=0):
        self.db = db
        self.rig = Rig(root, count=count)
        self.rows = []
        host, port = "127.0.0.1", db.server.port
        for i in range(1, count + 1):
            row = instance(i)
            row.update(vdbtype="pgsql" if db.kind == "pgsql" else "mariadb",
                       vdbhost=f"{host}:{port}", vdblogin=USER,
                       vdbpass=PASSWORD, vdbname=db.name,
                       vdbprefix=f"s{i}_", lastcron=lastcron)
            self.rows.append(row)
            db.sql(STANDIN[db.kind].format(p=f"s{i}_"))
        self.rig.write_table(self.rows)
        self.tiers = os.path.join(self.rig.dir, "vcron.tiers")

    def vcron(self, *args):
        return self.rig.run("--mode", "activity", "--tier-file", self.tiers,
                            "--tick", "60", *args)

    def status(self, *args):
        proc = self.rig.run("--mode", "activity", "--tier-file", self.tiers,
                            *args, "status", "--json", command=False)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    def sites(self):
        return {i["shortname"]: i for i in self.status()["instances"]}

    def ran(self, i):
        return len(self.rig.runs(i))


def test_tier_from_activity_and_overrides(pg_db, reachable_dir):
    now = int(time.time())
    f = Fleet(pg_db, reachable_dir, 4, lastcron=now - 30)
    # Over the last 3 days: 40000, 200, 5 events; s4: its 100000 events
    # are older than 3 days and do not count.
    log_rows(pg_db, "s1_", 40000, now - 2 * DAY)
    log_rows(pg_db, "s2_", 200, now - DAY)
    log_rows(pg_db, "s3_", 5, now - 3600)
    log_rows(pg_db, "s4_", 100000, now - 10 * DAY)
    proc = f.vcron("run")
    assert proc.returncode == 0, proc.stderr
    sites = f.sites()
    assert [(sites[s]["tier"], sites[s]["activity"], sites[s]["tier_source"])
            for s in ("s1", "s2", "s3", "s4")] == [
        (1, 40000, "activity"), (3, 200, "activity"), (5, 5, "activity"),
        (5, 0, "activity")]
    assert sites["s2"]["period"] == 3600
    assert sites["s2"]["tier_reason"] == \
        "tier 3 (every 1h): 200 log events in 3 days"
    # The text report says the same.
    text = f.rig.run("--mode", "activity", "--tier-file", f.tiers, "status",
                     command=False).stdout
    assert re.search(r"site1\.example\.edu\s+\S+\s+tier 1 \(every 10m\): "
                     r"40000 log events in 3 days", text), text
    # An override wins until it is taken back.
    set_ = f.rig.run("--tier-file", f.tiers, "tier", "site3.example.edu", "1",
                     command=False)
    assert set_.returncode == 0, set_.stderr
    with open(f.tiers) as fh:
        assert "site3.example.edu = 1" in fh.read()
    s3 = f.sites()["s3"]
    assert (s3["tier"], s3["tier_source"]) == (1, "override")
    assert s3["tier_reason"].startswith("tier 1 (every 10m): set in ")
    back = f.rig.run("--tier-file", f.tiers, "tier", "s3", "auto",
                     command=False)
    assert back.returncode == 0, back.stderr
    assert f.sites()["s3"]["tier"] == 5
    # Nonsense is refused with exit 2, naming the problem.
    for bad in (["site3.example.edu", "9"], ["nosuch.example.edu", "1"]):
        proc = f.rig.run("--tier-file", f.tiers, "tier", *bad, command=False)
        assert proc.returncode == 2 and "tier" in proc.stderr, proc.stderr


@pytest.mark.parametrize("dbname", ["pg_db", "mysql_db"])
def test_fast_path_runs_a_quiet_site_with_work_queued(dbname, request,
                                                      reachable_dir):
    db = request.getfixturevalue(dbname)
    now = int(time.time())
    # Three daily sites that ran an hour ago: nothing due for a day.
    f = Fleet(db, reachable_dir, 3, lastcron=now - 3600)
    first = f.vcron("run")
    assert first.returncode == 0, first.stderr
    assert summary(first)["selected"] == 0, first.stdout + first.stderr
    assert all(s["tier"] == 5 for s in f.sites().values())
    # s2: an ad hoc task due (a teacher's backup, say); s3: one not due
    # before tomorrow; s1: nothing.
    db.sql(f"INSERT INTO s2_task_adhoc (classname, nextruntime) VALUES "
           f"('\\\\core\\\\task\\\\x', {now - 5});")
    db.sql(f"INSERT INTO s3_task_adhoc (classname, nextruntime) VALUES "
           f"('\\\\core\\\\task\\\\x', {now + DAY});")
    second = f.vcron("run")
    assert second.returncode == 0, second.stderr
    assert summary(second)["run"] == 1, second.stdout + second.stderr
    assert (f.ran(1), f.ran(2), f.ran(3)) == (0, 1, 0), second.stderr
    # s1: a scheduled task asked to run again (its next run moved before
    # its last); s1's other task is merely scheduled.
    db.sql(f"INSERT INTO s1_task_scheduled (classname, lastruntime, "
           f"nextruntime) VALUES ('a', {now - 60}, 0), "
           f"('b', {now - 60}, {now + 60});")
    third = f.vcron("run")
    assert third.returncode == 0, third.stderr
    # s2's task is still queued (the fake cron does not run it), but s2
    # ran since the last tick: not again at once.
    assert (f.ran(1), f.ran(2), f.ran(3)) == (1, 1, 0), third.stderr
    # Fast path off: queued work waits for the tier.
    off = f.vcron("--fast-path=off", "run")
    assert summary(off)["selected"] == 0, off.stdout


def test_cost_per_run_capacity_and_the_log_once(pg_db, reachable_dir):
    f = Fleet(pg_db, reachable_dir, 2)
    lock_dir = os.path.join(f.rig.dir, "lock")
    os.makedirs(lock_dir, exist_ok=True)
    # Both sites running elsewhere (locked): nothing measured; an assumed
    # cost of 100 s a run every minute is 12000 CPU s an hour of 3600.
    held = []
    for i in (1, 2):
        fd = os.open(os.path.join(lock_dir, f"{i}.lock"),
                     os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        held.append(fd)
    over = ["--tiers", "0:60", "--cores", "1", "--run-cost-ms", "100000"]

    def capacity_lines():
        proc = f.vcron(*over, "run")
        assert summary(proc)["skipped_locked"] == 2, proc.stdout
        return [ln for ln in proc.stderr.splitlines() if "VM00275" in ln]

    try:
        # Never run: demand is over but no gap grows yet; said once.
        first = capacity_lines()
        assert len(first) == 1 and "gaps growing: none yet" in first[0], first
        assert capacity_lines() == []
        # s1 last ran an hour ago and still cannot run: its gap grows, and
        # the log names its host, once.
        f.rows[0]["lastcron"] = int(time.time()) - 3600
        f.rig.write_table(f.rows)
        named = capacity_lines()
        assert len(named) == 1, named
        assert re.search(r"still exceeds capacity.*gaps growing: "
                         r"site1\.example\.edu$", named[0]), named
        assert capacity_lines() == []
    finally:
        for fd in held:
            os.close(fd)
    # Free to run: each run's CPU is measured; demand falls back within.
    f.rig.control(1, "noisy")
    proc = f.vcron(*over, "run")
    assert summary(proc)["succeeded"] == 2, proc.stdout
    assert "VM00276" in proc.stderr, proc.stderr
    status = f.status(*over)
    costs = [i["cpu_per_run"] for i in status["instances"]]
    assert all(c is not None and 0 <= c < 5 for c in costs), costs
    cap = status["capacity"]
    assert cap["cores"] == 1 and cap["capacity_per_hour"] == 3600
    assert abs(cap["cpu_per_hour"] - 60 * sum(costs)) < 0.01 * max(
        1, cap["cpu_per_hour"]) + 0.01
    plan = f.rig.run("--mode", "activity", *over, "plan", command=False)
    assert plan.returncode == 0, plan.stderr
    assert re.search(r"^1\s+0\s+1m\s+2\s+120\.0\s", plan.stdout, re.M), \
        plan.stdout
    assert "within" in plan.stdout


def test_status_page_shows_each_sites_tier_and_the_demand(start_vmoodle):
    """VMoodleCronPlan: the status page reads vcron's plan file."""
    import subprocess

    import client
    from instances import instance as row
    from test_vcron import VCRON
    rows = [row(1, "site1.example.edu"), row(2, "site2.example.edu")]
    # Relative: under the ServerRoot, the server's own directory.
    server = start_vmoodle(rows, directives="VMoodleCronPlan "
                           "vcron/vcron.state.plan\n")
    state = os.path.join(server.workdir, "vcron")
    base = [VCRON, "--config", "/dev/null", "--source", "json:" + server.table,
            "--mode", "activity", "--fast-path=off", "--activity-per-tick", "0",
            "--state-file", os.path.join(state, "vcron.state"),
            "--tier-file", os.path.join(state, "tiers"),
            "--log-dir", os.path.join(state, "log"),
            "--lock-dir", os.path.join(state, "lock")]
    set_ = subprocess.run(base + ["tier", "site1.example.edu", "1"],
                          capture_output=True, text=True, timeout=60)
    assert set_.returncode == 0, set_.stderr
    tick = subprocess.run(base + ["run", "--command", "/bin/true"],
                          capture_output=True, text=True, timeout=60)
    assert tick.returncode == 0, tick.stdout + tick.stderr
    resp = client.get(server.port, "127.0.0.1", "/vmoodle-status?json")
    assert resp.status == 200, resp.text
    status = resp.json()
    sites = {i["id"]: i for i in status["instances"]}
    assert sites[1]["tier"] == 1
    assert sites[1]["tier_reason"].startswith("tier 1 (every 10m): set in ")
    assert sites[2]["tier"] == 3
    assert "not measured yet" in sites[2]["tier_reason"]
    plan = status["cron_plan"]
    assert plan["capacity_per_hour"] == 3600 * plan["cores"]
    assert plan["runs_per_hour"] == 7        # 6 an hour + 1
    page = client.get(server.port, "127.0.0.1", "/vmoodle-status")
    assert "tier 1 (every 10m)" in page.text and "Cron demand" in page.text

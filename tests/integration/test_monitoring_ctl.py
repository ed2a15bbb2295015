"""vmoodlectl for monitoring systems: check --nagios (one line, exit
0/1/2/3) against a real PostgreSQL, real dataroots and the snapshot a real
Apache wrote; health running a stand-in admin/cli/checks.php per site
through the fleet runner, warnings counted as warnings."""
import json
import os
import shutil
import subprocess
import time

import pytest

from apache import chown_to_run_user, make_workdir
from dbservers import PASSWORD, USER, pg_server  # noqa: F401 (fixture)
from instances import instance, write_table

BUILD = os.environ.get("VMOODLE_BUILD",
                       os.path.join(os.path.dirname(__file__), "../../build"))
CTL = os.path.join(BUILD, "vmoodlectl")
NOW = int(time.time())


@pytest.fixture(scope="module")
def flavour():
    return "event-fpm"          # only the snapshot test starts an Apache


@pytest.fixture
def work():
    path = make_workdir("vmoodle-mon-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def ctl(*args):
    """vmoodlectl with no settings file: everything from the flags."""
    return subprocess.run([CTL, "--config", "/dev/null", *args],
                          capture_output=True, text=True, timeout=120)


class Fleet:
    """Sites with real databases and dataroots, in a JSON table."""

    def __init__(self, work, server, count=2):
        self.work, self.server = work, server
        self.table = os.path.join(work, "instances.json")
        self.rows = [self.site(i) for i in range(1, count + 1)]
        self.save()

    def site(self, i):
        db = self.server.new_database()
        data = os.path.join(self.work, f"data{i}")
        os.mkdir(data)
        chown_to_run_user(data)
        return instance(i, f"s{i}.example.edu", vdbtype="pgsql",
                        vdbhost=f"127.0.0.1:{self.server.port}", vdblogin=USER,
                        vdbpass=PASSWORD, vdbname=db.name, vdatapath=data,
                        lastcron=NOW - 60, croncount=5)

    def save(self):
        write_table(self.table, self.rows)

    def nagios(self, *extra):
        proc = ctl("--source", "json:" + self.table, "check", "--nagios", *extra)
        lines = proc.stdout.splitlines()
        assert len(lines) == 1, proc.stdout + proc.stderr
        assert PASSWORD not in proc.stdout + proc.stderr
        return proc.returncode, lines[0]


def test_nagios_states(work, pg_server):  # noqa: F811
    if not pg_server.running:
        pg_server.start()
    fleet = Fleet(work, pg_server)
    code, line = fleet.nagios()
    assert code == 0, line
    assert line.startswith("VMOODLE OK - 2 enabled site(s)")
    assert line.endswith("| sites=2 failing=0 cron_overdue=0")

    fleet.rows[1]["lastcron"] = NOW - 7200           # 2 h: past --cron-warn
    fleet.save()
    code, line = fleet.nagios()
    assert code == 1 and line.startswith("VMOODLE WARNING"), line
    assert "no cron for 3600s: 1 (s2.example.edu)" in line
    code, line = fleet.nagios("--cron-warn", "10000")
    assert code == 0, line

    fleet.rows[1]["lastcron"] = NOW - 2 * 86400      # past --cron-crit
    fleet.save()
    code, line = fleet.nagios()
    assert code == 2 and "no cron for 86400s: 1 (s2.example.edu)" in line

    fleet.rows[1]["lastcron"] = NOW
    fleet.rows[0]["vdbname"] = "no_such_database"
    fleet.save()
    code, line = fleet.nagios()
    assert code == 2 and line.startswith("VMOODLE CRITICAL"), line
    assert "failing: 1 (s1.example.edu database:" in line
    fleet.rows[0]["enabled"] = 0                      # a disabled site is not checked
    fleet.save()
    code, line = fleet.nagios()
    assert code == 0 and "1 enabled site(s)" in line, line

    os.unlink(fleet.table)
    code, line = fleet.nagios()
    assert code == 2 and "instance table unreadable" in line, line

    proc = ctl("check", "--nagios")                   # no source at all
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert proc.stdout.startswith("VMOODLE UNKNOWN - instance table not configured")


def test_nagios_snapshot_behind_the_table(work, pg_server, start_vmoodle):  # noqa: F811
    if not pg_server.running:
        pg_server.start()
    fleet = Fleet(work, pg_server)
    server = start_vmoodle(fleet.rows, refresh=3600)
    snapshot = os.path.join(server.workdir, "snap", "instances.snap")
    fleet.table = server.table
    code, line = fleet.nagios("--snapshot", snapshot)
    assert code == 0 and "snapshot generation 1 current" in line, line
    fleet.rows.append(fleet.site(3))
    fleet.save()
    code, line = fleet.nagios("--snapshot", snapshot)
    assert code == 1 and "snapshot generation 1 differs from the table" in line, line
    code, line = fleet.nagios("--snapshot", os.path.join(work, "missing.snap"))
    assert code == 2 and "snapshot unreadable" in line, line


STAND_IN_PHP = """#!/bin/sh
while [ "${1#-d}" != "$1" ]; do shift; done
exec /bin/sh "$@"
"""

CHECKS = """act=$(cat @ROOT@/behave/$VMOODLE_SHORTNAME 2>/dev/null || echo 0)
[ "$act" = hang ] && sleep 1000
echo "checks of $VMOODLE_SHORTNAME: state $act"
exit "$act"
"""


def health_rig(work, states):
    """A stand-in Moodle whose checks.php exits as behave/<site> says."""
    cli = os.path.join(work, "moodle", "admin", "cli")
    os.makedirs(cli)
    with open(os.path.join(cli, "checks.php"), "w") as f:
        f.write(CHECKS.replace("@ROOT@", work))
    php = os.path.join(work, "php")
    with open(php, "w") as f:
        f.write(STAND_IN_PHP)
    os.chmod(php, 0o755)
    os.mkdir(os.path.join(work, "behave"))
    rows = []
    for i, state in enumerate(states, 1):
        with open(os.path.join(work, "behave", f"s{i}"), "w") as f:
            f.write(str(state))
        rows.append(instance(i, f"s{i}.example.edu"))
    for base, dirs, files in os.walk(work):
        os.chmod(base, 0o755)
        for name in files:
            os.chmod(os.path.join(base, name), 0o755)
    table = os.path.join(work, "instances.json")
    write_table(table, rows)
    return ["--source", "json:" + table, "--php", php,
            "--moodle-dir", os.path.join(work, "moodle"),
            "--log-dir", os.path.join(work, "logs")]


def test_health_counts_warnings_as_warnings(work):
    """NRPE reads the first line of stdout (v2 its first KiB): the summary
    with its perfdata comes first, the sites not OK, then the table; the
    progress lines of a pipe go to stderr."""
    opts = health_rig(work, [0, 1, 2, "hang"])
    proc = ctl(*opts, "health", "s1.example.edu", "s2.example.edu")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == ("VMOODLE HEALTH WARNING - 2 site(s): 1 ok, 1 warning, "
                        "0 critical, 0 unknown | ok=1 warning=1 critical=0 unknown=0"), \
        proc.stdout
    assert lines[1] == "  s2.example.edu WARNING: checks of s2: state 1", proc.stdout
    assert lines[2].startswith("SITE "), proc.stdout
    table = [l for l in lines if l.startswith("s2.example.edu ")]
    assert table and " ok " in table[0], proc.stdout     # not FAILED
    assert "s2.example.edu: ok (exit 1" in proc.stderr  # progress
    assert "health started" not in proc.stdout, proc.stdout

    proc = ctl(*opts, "health", "--all", "--timeout", "1", "--jobs", "4")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first.startswith("VMOODLE HEALTH CRITICAL - 4 site(s): 1 ok, 1 warning, "
                            "1 critical, 1 unknown | ok=1 "), proc.stdout
    assert "s4.example.edu UNKNOWN" in proc.stdout

    alone = ctl(*opts, "health", "s2.example.edu")   # foreground: its own code
    assert alone.returncode == 1 and "state 1" in alone.stdout

    opts = health_rig(os.path.join(work, "ok"), [0, 0])
    proc = ctl(*opts, "health", "--all")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[0] == (
        "VMOODLE HEALTH OK - 2 site(s): 2 ok, 0 warning, 0 critical, 0 unknown"
        " | ok=2 warning=0 critical=0 unknown=0"), proc.stdout


def test_health_without_its_log_dir_is_unknown(work):
    opts = health_rig(work, [0, 0])
    blocker = os.path.join(work, "logs")
    with open(blocker, "w"):
        pass                                    # a file where the folder goes
    proc = ctl(*opts, "health", "--all")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[0].startswith("VMOODLE HEALTH UNKNOWN"), proc.stdout

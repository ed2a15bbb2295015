"""Cron runs are not routing changes: vcron's runs on the table move the
status page's cron figures, never its generation."""
import os
import subprocess

import pytest

import client
from apache import eventually
from dbservers import pg_db, pg_server  # noqa: F401  (fixtures)
from instances import instance
from test_module_db import insert_rows, start_db_vmoodle  # noqa: F401

BUILD = os.environ.get("VMOODLE_BUILD",
                       os.path.join(os.path.dirname(__file__), "../../build"))
VCRON = os.path.join(BUILD, "vcron")

ROWS = [instance(1, "site1.example.edu"), instance(2, "site2.example.edu"),
        instance(3, "site3.example.edu")]


def status(server):
    resp = client.get(server.port, "127.0.0.1", "/vmoodle-status?json")
    assert resp.status == 200, resp.text
    return resp.json()


def cron_counts(server):
    return {i["id"]: i["croncount"] for i in status(server)["instances"]}


def vcron_run(source, work, per_tick):
    """One tick of vcron over source, /bin/true as cron."""
    proc = subprocess.run(
        [VCRON, "--config", "/dev/null", "--source", source,
         "--log-dir", os.path.join(work, "log"),
         "--lock-dir", os.path.join(work, "lock"),
         "--state-file", os.path.join(work, "vcron.state"),
         "--per-tick", str(per_tick), "run", "--command", "/bin/true"],
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_cron_runs_make_no_generation(start_vmoodle, tmp_path):
    server = start_vmoodle(ROWS)      # VMoodleRefresh 1
    before = status(server)
    generation = before["generation"]
    assert generation >= 1
    assert all(i["croncount"] == 0 for i in before["instances"])
    runs = 12
    for _ in range(runs):             # round robin, 2 a tick: 8 each
        vcron_run("json:" + server.table, str(tmp_path), 2)
    eventually(lambda: cron_counts(server),
               lambda counts: counts == {1: 8, 2: 8, 3: 8}, 20,
               "the status page to show the cron runs")
    after = status(server)
    assert after["generation"] == generation
    assert after["snapshot_created"] == before["snapshot_created"]
    assert after["refresh"]["ok"] is True
    for i in after["instances"]:
        assert i["lastcron"] > 0 and i["lastcrongap"] >= 0
    # routing is unchanged and a real change still makes a generation
    assert client.get(server.port, "site2.example.edu", "/").status != 404
    server.write(ROWS[:2])
    eventually(lambda: status(server)["generation"],
               lambda g: g == generation + 1, 20, "the next generation")
    assert cron_counts(server) == {1: 8, 2: 8}


@pytest.mark.parametrize("flavour", ["event-fpm"])
def test_cron_runs_on_postgresql_make_no_generation(pg_db, start_db_vmoodle,
                                                    tmp_path):
    """The shipped schema, whose trigger may announce vcron's UPDATEs: a
    refresh that reads only new figures still makes no generation."""
    pg_db.create_template_table()
    insert_rows(pg_db, ROWS)
    server = start_db_vmoodle(pg_db, refresh=1)
    generation = status(server)["generation"]
    for _ in range(5):                # 3 a tick: 5 each
        vcron_run(pg_db.source, str(tmp_path), 3)
    eventually(lambda: cron_counts(server),
               lambda counts: counts == {1: 5, 2: 5, 3: 5}, 20,
               "the status page to show the cron runs")
    assert status(server)["generation"] == generation

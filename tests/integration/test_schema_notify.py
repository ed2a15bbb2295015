"""templates/schema/pgsql.sql's triggers: a change routing may use sends
NOTIFY vmoodle_instances; vcron's UPDATE of a run's cron figures sends
none.  Running the file again upgrades a table made by the earlier file,
whose trigger notified on every statement.

The listener is vmsource watch (the module's own LISTEN and poll); vcron's
statement is vmsource record-cron (vm_source_db_record_cron, vcron's)."""
import json
import os
import subprocess

from dbservers import SCHEMA_TABLE, pg_db, pg_server  # noqa: F401  (fixtures)
from shipped import ROOT

BUILD = os.environ.get("VMOODLE_BUILD", os.path.join(ROOT, "build"))
VMSOURCE = os.path.join(BUILD, "vmsource")
TIMEOUT = 60          # bound on any one tool run; never a speed assertion
WATCH_SECONDS = 3     # how long a watcher listens after it is ready

# The trigger as the earlier pgsql.sql made it: every statement notified.
OLD_TRIGGER = f"""
CREATE OR REPLACE FUNCTION vmoodle_instances_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('vmoodle_instances', TG_TABLE_NAME);
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS vmoodle_instances_changed ON {SCHEMA_TABLE};
DROP TRIGGER IF EXISTS vmoodle_instances_updated ON {SCHEMA_TABLE};
CREATE TRIGGER vmoodle_instances_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {SCHEMA_TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION vmoodle_instances_notify();
"""


def schema_file():
    with open(os.path.join(ROOT, "templates", "schema", "pgsql.sql")) as f:
        return f.read()


def tool(db, *args):
    return [VMSOURCE, "--table", SCHEMA_TABLE, db.source] + list(args)


def notifications_during(db, action):
    """How many changes a listener hears while action() runs (the listener
    is ready before, and listens WATCH_SECONDS after it started)."""
    watcher = subprocess.Popen(tool(db, "watch", str(WATCH_SECONDS + 1)),
                               stdout=subprocess.PIPE, text=True)
    try:
        first = json.loads(watcher.stdout.readline())
        assert first.get("ready") == 1 or first.get("changed") == 1, first
        if first.get("changed"):         # the fresh LISTEN counts as one
            assert json.loads(watcher.stdout.readline()).get("ready") == 1
        action()
        assert watcher.poll() is None, "the listener ended before the action did"
        out, _ = watcher.communicate(timeout=TIMEOUT)
    finally:
        watcher.kill()
        watcher.wait(timeout=TIMEOUT)
    lines = [json.loads(line) for line in out.splitlines()]
    assert all(line.get("status") == "ok" for line in lines), lines
    return sum(1 for line in lines if line.get("changed"))


def record_cron(db, id, started):
    proc = subprocess.run(tool(db, "record-cron", str(id), str(started)),
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def cron_figures(db, id):
    return db.sql(f"SELECT croncount, lastcron FROM {SCHEMA_TABLE} WHERE id = {id}").split()


def add_site(db):
    db.sql(f"INSERT INTO {SCHEMA_TABLE} (id, name, shortname, vhostname, vdbname) "
           "VALUES (1, 'Site one', 'one', 'http://one.example.edu', 'moodle1')")


def assert_routing_changes_notify(db):
    assert notifications_during(db, lambda: db.sql(
        f"UPDATE {SCHEMA_TABLE} SET vdbname = 'moodle1_moved' WHERE id = 1")) == 1
    assert notifications_during(db, lambda: db.sql(
        f"UPDATE {SCHEMA_TABLE} SET enabled = 0, lastcron = 5 WHERE id = 1")) == 1


def test_cron_runs_do_not_notify_routing_changes_do(pg_db):
    pg_db.sql(schema_file())
    assert notifications_during(pg_db, lambda: add_site(pg_db)) == 1

    def cron_runs():
        for started in (1700000000, 1700000060, 1700000120):
            record_cron(pg_db, 1, started)
    assert notifications_during(pg_db, cron_runs) == 0
    assert cron_figures(pg_db, 1) == ["3", "1700000120"]    # the runs were recorded

    assert_routing_changes_notify(pg_db)
    # An UPDATE that changes nothing routing uses, whatever it sets.
    assert notifications_during(pg_db, lambda: pg_db.sql(
        f"UPDATE {SCHEMA_TABLE} SET vdbname = vdbname, croncount = 0")) == 0
    assert notifications_during(pg_db, lambda: pg_db.sql(
        f"DELETE FROM {SCHEMA_TABLE}")) == 1


def test_running_the_file_again_upgrades_the_old_trigger(pg_db):
    pg_db.sql(schema_file())
    pg_db.sql(OLD_TRIGGER)
    add_site(pg_db)
    assert notifications_during(pg_db, lambda: record_cron(pg_db, 1, 1700000000)) == 1

    pg_db.sql(schema_file())                  # the upgrade: the file again
    assert cron_figures(pg_db, 1) == ["1", "1700000000"]    # rows kept
    assert notifications_during(pg_db, lambda: record_cron(pg_db, 1, 1700000060)) == 0
    assert_routing_changes_notify(pg_db)

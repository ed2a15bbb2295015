"""mod_vmoodle routing from real PostgreSQL and MariaDB instance tables.

The source strings are written as the issue and the documentation write
them: VMoodleSource pgsql:"host=... port=... dbname=... user=...
password=..." (mysql:"..." alike) and VMoodleTable.  Both server flavours
run where their processes could behave differently (routing, refresh,
outages and restarts); the rest runs under event+php-fpm only."""
import re
import threading

import pytest

import client
from apache import eventually, wait_until
from conftest import vmoodle_directives, vmoodle_workdir
from dbservers import (PASSWORD, db, mysql_db,  # noqa: F401  (fixtures)
                       mysql_server, pg_db, pg_server)
from instances import assert_serves, instance

DEADLINE = 5      # bound on "seen within VMoodleRefresh (1 s)", with slack
ONE_FLAVOUR = pytest.mark.parametrize("flavour", ["event-fpm"])
VMOODLE_TABLE = "mdl_local_vmoodle"
OLD_TABLE = "mdl_block_vmoodle"     # older VMoodle sites


def source_directive(db, password=PASSWORD):
    """pgsql:"host=... password='...'" as an administrator writes it."""
    kind, args = db.source_with(password=password).split(":", 1)
    return f'{kind}:"{args}"'


@pytest.fixture
def start_db_vmoodle(start_httpd):
    def start(db, table=VMOODLE_TABLE, refresh=1, password=PASSWORD, extra=""):
        workdir = vmoodle_workdir()
        directives = vmoodle_directives(workdir, refresh,
                                        written=source_directive(db, password))
        return start_httpd(directives + f"VMoodleTable {table}\n", extra,
                           workdir=workdir)
    return start


def insert_rows(db, rows, table=VMOODLE_TABLE):
    for row in rows:
        db.insert(table, **row)


def served(server, host):
    """(status, lib/setup.php's report or None) for host."""
    resp = client.get(server.port, host, "/index.php")
    return resp.status, (resp.json() if resp.status == 200 else None)


def wait_for(server, host, check, what, deadline=DEADLINE):
    return eventually(lambda: served(server, host), check, deadline,
                      f"{host} {what}")


def assert_routes(server, host, row):
    status, report = served(server, host)
    assert status == 200, f"{host}: {status}"
    assert_serves(report, row)


def status_page(server, query="?json"):
    resp = client.get(server.port, "127.0.0.1", "/vmoodle-status" + query)
    assert resp.status == 200, resp.text
    assert "secret" not in resp.text          # no password, ever
    return resp.json() if query else resp.text


def log_count(server, tag):
    return server.errors_text().count(f"{tag}:")


def wait_refreshes(server, count):
    """Let count more refresh attempts happen (the status page's refresh
    time is in seconds: each step waits for it to move on)."""
    for _ in range(count):
        before = status_page(server)["refresh"]["time"]
        eventually(lambda: status_page(server)["refresh"]["time"],
                   lambda t: t > before, DEADLINE + 60, "another refresh attempt")


# ---- 1. routing from each database, with either table layout ----------

ROWS = [
    instance(1, "one.example.edu"),
    instance(2, "Two.Example.EDU:8080", vdbtype="postgres", mnet=-1),
    instance(3, "three.example.edu", scheme="https", vdbhost="[2001:db8::3]:5433"),
    instance(4, "four.example.edu", enabled=0),
]


@pytest.mark.parametrize("layout", ["vmoodle", "template"])
def test_routes_every_instance_from_the_database(db, layout, start_db_vmoodle):
    if layout == "vmoodle":
        db.create_vmoodle_table(OLD_TABLE)
        table = OLD_TABLE
    else:
        db.create_template_table()
        table = VMOODLE_TABLE
    insert_rows(db, ROWS, table)
    server = start_db_vmoodle(db, table)
    for host, row in [("one.example.edu", ROWS[0]), ("two.example.edu:8080", ROWS[1]),
                      ("three.example.edu", ROWS[2])]:
        assert_routes(server, host, row)
    assert served(server, "four.example.edu")[0] == 503
    assert served(server, "two.example.edu")[0] == 404       # the port is the key
    status = status_page(server)
    assert status["count"] == 4 and status["refresh"]["ok"] is True
    assert status["source"].startswith(f"{db.kind}:host=127.0.0.1 ")
    assert "password=***" in status["source"]


# ---- 2. changes seen within the refresh interval ----------------------

def test_insert_update_disable_delete_seen_without_restart(db, start_db_vmoodle):
    db.create_vmoodle_table()
    one, two = instance(1, "one.example.edu"), instance(2, "two.example.edu")
    insert_rows(db, [one, two])
    server = start_db_vmoodle(db)
    assert_routes(server, "one.example.edu", one)
    assert served(server, "three.example.edu")[0] == 404

    three = instance(3, "three.example.edu")
    insert_rows(db, [three])
    _, report = wait_for(server, "three.example.edu", lambda v: v[0] == 200, "inserted")
    assert_serves(report, three)

    one = dict(one, vdbname="moodle1_moved", vdatapath="/srv/new/one")
    db.sql(f"UPDATE {VMOODLE_TABLE} SET vdbname = 'moodle1_moved', "
           "vdatapath = '/srv/new/one' WHERE id = 1")
    _, report = wait_for(server, "one.example.edu",
                         lambda v: v[1] and v[1]["cfg"]["dbname"] == "moodle1_moved",
                         "updated")
    assert_serves(report, one)

    db.sql(f"UPDATE {VMOODLE_TABLE} SET enabled = 0 WHERE id = 2")
    wait_for(server, "two.example.edu", lambda v: v[0] == 503, "disabled")
    db.sql(f"DELETE FROM {VMOODLE_TABLE} WHERE id = 3")
    wait_for(server, "three.example.edu", lambda v: v[0] == 404, "deleted")
    assert_routes(server, "one.example.edu", one)
    assert server.restarts() == 1


# ---- 3. PostgreSQL NOTIFY --------------------------------------------

def listens(pg_server):
    return pg_server.log_text().count("LISTEN vmoodle_instances")


@ONE_FLAVOUR
def test_notify_is_seen_with_a_long_refresh_interval(pg_db, start_db_vmoodle):
    """VMoodleRefresh 3600: only the schema's trigger (NOTIFY
    vmoodle_instances) can explain a change seen during the test."""
    pg_db.create_template_table()
    one = instance(1, "one.example.edu")
    insert_rows(pg_db, [one])
    before = listens(pg_db.server)
    server = start_db_vmoodle(pg_db, refresh=3600)
    wait_until(lambda: listens(pg_db.server) > before, DEADLINE, "the writer to LISTEN")
    generation = status_page(server)["generation"]

    two = instance(2, "two.example.edu")
    insert_rows(pg_db, [two])
    _, report = wait_for(server, "two.example.edu", lambda v: v[0] == 200, "notified insert")
    assert_serves(report, two)
    pg_db.sql(f"UPDATE {VMOODLE_TABLE} SET enabled = 0 WHERE id = 1")
    wait_for(server, "one.example.edu", lambda v: v[0] == 503, "notified disable")
    assert status_page(server)["generation"] == generation + 2


# ---- 4. database outages ---------------------------------------------

class Load(threading.Thread):
    """Requests for two instances on a keep-alive connection until stopped
    (bounded); remembers every answer that is not the instance's own."""
    LIMIT = 20_000

    def __init__(self, port, hosts):
        super().__init__(daemon=True)
        self.port, self.hosts = port, hosts
        self.stopping = threading.Event()
        self.done, self.failures = 0, []

    def run(self):
        conn = client.KeepAlive(self.port)
        try:
            while not self.stopping.is_set() and self.done < self.LIMIT:
                host, id = self.hosts[self.done % len(self.hosts)]
                path = "/index.php" if self.done % 8 == 0 else "/static.txt"
                try:
                    resp = conn.get(host, path)
                    if resp.status != 200 or resp.header("X-VMoodle-Id") != str(id):
                        self.failures.append((host, path, resp.status))
                except OSError as e:
                    self.failures.append((host, path, repr(e)))
                    conn.close()
                self.done += 1
        finally:
            conn.close()


def run_load_while(server, hosts, action, threads=4):
    loads = [Load(server.port, hosts) for _ in range(threads)]
    for load in loads:
        load.start()
    try:
        action()
    finally:
        for load in loads:
            load.stopping.set()
        for load in loads:
            load.join(timeout=120)
    assert all(load.done > 0 for load in loads)
    failures = [f for load in loads for f in load.failures]
    assert failures == [], f"{len(failures)} failed requests, first: {failures[:5]}"


def test_database_outage_and_restart_while_down(db, start_db_vmoodle):
    db.create_template_table()
    one, two = instance(1, "one.example.edu"), instance(2, "two.example.edu")
    insert_rows(db, [one, two])
    server = start_db_vmoodle(db)
    server.expect_error(r"VM00010: .*\*\*\*")    # the outage, password masked
    assert_routes(server, "one.example.edu", one)

    def stop_database():
        db.server.stop()
        failed = eventually(lambda: status_page(server), lambda s: not s["refresh"]["ok"],
                            DEADLINE, "the outage on the status page")
        assert str(db.server.port) in failed["refresh"]["error"]
        wait_refreshes(server, 2)                # attempts go on: still one log line
    try:
        run_load_while(server, [("one.example.edu", 1), ("two.example.edu", 2)],
                       stop_database)
        assert log_count(server, "VM00010") == 1

        server.stop()                            # a full restart, not graceful
        server.start()
        assert_routes(server, "one.example.edu", one)
        assert_routes(server, "two.example.edu", two)
        wait_refreshes(server, 1)                # the writer has tried too
        status = status_page(server)
        assert status["refresh"]["from_disk"] is True
        assert status["refresh"]["ok"] is False and status["refresh"]["error"]
        assert "serving the snapshot on disk" in server.errors_text()   # VM00008
    finally:
        if not db.server.running:
            db.server.start()

    three = instance(3, "three.example.edu")
    insert_rows(db, [three])
    _, report = wait_for(server, "three.example.edu", lambda v: v[0] == 200,
                         "inserted once the database is back", deadline=DEADLINE + 10)
    assert_serves(report, three)
    status = status_page(server)
    assert status["refresh"]["ok"] is True and status["refresh"]["from_disk"] is False
    # One line when the outage started, one when it ended: none per attempt,
    # none again from the restarted server beyond its start-up notice.
    assert (log_count(server, "VM00010"), log_count(server, "VM00008"),
            log_count(server, "VM00009")) == (1, 1, 1)
    # Tagged once, by the module: the core's reasons carry no tag of their own.
    tagged = [line for line in server.errors_text().splitlines()
              if re.search(r"VM000(08|09|10):", line)]
    assert len(tagged) == 3
    assert all(len(re.findall(r"VM\d{5}", line)) == 1 for line in tagged), tagged


# ---- 5. bad rows ------------------------------------------------------

BAD_ROWS = [
    instance(1, "good.example.edu"),
    instance(2, "null.example.edu", vhostname=None),
    instance(3, "Case.example.edu"),
    instance(4, "case.example.edu"),             # same host as 3 but for case
    instance(5, "slash.example.edu"),
    instance(6, "slash.example.edu/"),           # same host as 5 but the slash
    instance(7, "dotdot.example.edu", vdatapath="/srv/moodledata/../etc"),
    instance(8, "oracle.example.edu", vdbtype="oracle"),
]
SKIPPED = {2, 4, 6, 7, 8}


@ONE_FLAVOUR
def test_bad_rows_are_skipped_and_logged_once(db, start_db_vmoodle):
    db.create_vmoodle_table()
    insert_rows(db, BAD_ROWS)
    server = start_db_vmoodle(db)
    assert {r["id"] for r in status_page(server)["rejected"]} == SKIPPED
    assert_routes(server, "good.example.edu", BAD_ROWS[0])
    assert_routes(server, "case.example.edu", BAD_ROWS[2])   # the first claimant
    assert_routes(server, "slash.example.edu", BAD_ROWS[4])
    for host in ("dotdot.example.edu", "oracle.example.edu", "null.example.edu"):
        assert served(server, host)[0] == 404, host

    wait_refreshes(server, 2)
    nine = instance(9, "nine.example.edu")        # a new generation, same bad rows
    insert_rows(db, [nine])
    wait_for(server, "nine.example.edu", lambda v: v[0] == 200, "inserted")
    wait_refreshes(server, 2)
    skipped = re.findall(r"VM00005: table (.+?): instance id (\d+) skipped: (.+)",
                         server.errors_text())
    assert sorted(int(id) for _, id, _ in skipped) == sorted(SKIPPED)
    assert all(source.startswith(f"{db.kind}:") for source, _, _ in skipped)
    assert all(reason.strip() for _, _, reason in skipped)


# ---- 6. hostile Host values -------------------------------------------

# Each carries a marker (hx<n>q) to look for in the database's statement log.
HOSTILE = [
    "one.example.edu' OR 'hx1q'='hx1q",
    "x'; DROP TABLE mdl_local_vmoodle; -- hx2q",
    "\"one.example.edu\" hx3q",
    "one.example.edu;hx4q",
    "one.example.edu' UNION SELECT vdbpass FROM mdl_local_vmoodle -- hx5q",
    "one.example.edu%27%20OR%20hx6q%3Dhx6q",
    "one.example.edu\\' hx7q",
    "hx8q.example.edu'",
]
MARKER = re.compile(r"hx\d+q")


def hostile_requests(server):
    """(request, response) for every hostile value as the Host header and
    in an absolute request URI."""
    requests = [f"GET /index.php HTTP/1.1\r\nHost: {host}\r\n" for host in HOSTILE]
    requests += [f"GET http://{host}/index.php HTTP/1.1\r\nHost: {host}\r\n"
                 for host in HOSTILE]
    return [(request, client.raw(server.port, f"{request}Connection: close\r\n\r\n"
                                 .encode())) for request in requests]


@ONE_FLAVOUR
def test_hostile_hosts_route_nowhere_and_never_reach_the_database(db, start_db_vmoodle):
    db.create_template_table()
    one = instance(1, "one.example.edu")
    insert_rows(db, [one])
    strict = start_db_vmoodle(db)
    # Unsafe lets Apache pass what its strict checks refuse: the module
    # itself must refuse it (logged at info level, escaped).
    unsafe = start_db_vmoodle(db, extra="HttpProtocolOptions Unsafe\n"
                                        "LogLevel warn vmoodle:info\n")
    for server in (strict, unsafe):
        for request, resp in hostile_requests(server):
            assert resp.status in (400, 404), (request, resp)
            assert resp.header("X-VMoodle-Id") in (None, "", "(null)"), (request, resp)
            assert "VMOODLE_" not in resp.text
        assert_routes(server, "one.example.edu", one)
        wait_refreshes(server, 1)                # the writer ran meanwhile
    reached_module = MARKER.findall(" ".join(
        line for line in unsafe.errors_text().splitlines()
        if re.search(r"VM000(15|17):", line)))
    assert reached_module, "no hostile host reached the module"
    statements = db.server.log_text()
    assert re.search(r"SELECT .*vhostname.* FROM \W?mdl_local_vmoodle", statements)
    assert MARKER.findall(statements) == []


# ---- 7. wrong credentials, missing table --------------------------------

WRONG_PASSWORD = "secret-wrong'1"


def assert_clear_source_error(server, db, words):
    """The error names the source (password masked) and says what is wrong,
    in the error log and on the status page; no password anywhere."""
    status = status_page(server)
    error = status["refresh"]["error"]
    assert status["refresh"]["ok"] is False
    assert f"source {db.kind}:host=127.0.0.1 port={db.server.port} dbname={db.name}" in error
    assert "password=***" in error
    assert re.search(words, error, re.I), error
    assert error in server.errors_text()
    html = status_page(server, "")
    assert "password=***" in html
    for text in (error, html, server.errors_text(), server.access_text()):
        assert "secret" not in text and "wrong'1" not in text and "Pw'9" not in text


@ONE_FLAVOUR
def test_wrong_credentials_and_missing_table_are_named_clearly(db, start_db_vmoodle):
    db.create_template_table()
    insert_rows(db, [instance(1, "one.example.edu")])
    wrong = start_db_vmoodle(db, password=WRONG_PASSWORD)
    missing = start_db_vmoodle(db, table="mdl_missing_vmoodle")
    for server in (wrong, missing):
        server.expect_error(r"VM000(07|10|16): ")
        assert served(server, "one.example.edu")[0] == 503   # nothing loaded yet
    assert_clear_source_error(wrong, db, r"authentication failed|access denied")
    assert_clear_source_error(missing, db, r"mdl_missing_vmoodle.*(does not exist|doesn't exist)")

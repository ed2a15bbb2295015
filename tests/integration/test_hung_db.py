"""A database server that accepts connections and then says nothing (a
stopped process, a half-dead network path) cannot hold the writer: the
refresh fails within the documented bound (vm_db.h: VM_DB_IO_TIMEOUT, 30 s,
for a statement; VM_DB_CONNECT_TIMEOUT, 5 s, to connect), is logged like
any outage, the module goes on serving the last table, a graceful restart
is not held up, and the table is followed again once the server answers.

The hung server is a relay (relay.py) in front of the real one that stops
passing bytes on demand, in both directions, for connections old and new."""
import time

import pytest

import client
from apache import eventually
from conftest import vmoodle_directives, vmoodle_workdir
from dbservers import (db, mysql_db, mysql_server,  # noqa: F401  (fixtures)
                       pg_db, pg_server)
from instances import assert_serves, instance
from relay import FreezableRelay

STATEMENT_BOUND = 30     # vm_db.h VM_DB_IO_TIMEOUT
REFRESH = 1
SLACK = 15               # a loaded two-core machine
TABLE = "mdl_local_vmoodle"
pytestmark = pytest.mark.parametrize("flavour", ["event-fpm"])


@pytest.fixture
def relay_to(request):
    relays = []

    def make(port):
        relays.append(FreezableRelay(port))
        return relays[-1]

    yield make
    for r in relays:
        r.close()


def status(server):
    resp = client.get(server.port, "127.0.0.1", "/vmoodle-status?json")
    assert resp.status == 200, resp.text
    return resp.json()


def served(server, host):
    resp = client.get(server.port, host, "/index.php")
    return resp.status, (resp.json() if resp.status == 200 else None)


def test_hung_database_frees_the_writer(db, relay_to, start_httpd):
    one, two = instance(1, "one.example.edu"), instance(2, "two.example.edu")
    db.create_vmoodle_table()
    db.insert(TABLE, **one)
    relay = relay_to(db.server.port)
    kind, args = db.source_with(port=relay.port).split(":", 1)
    workdir = vmoodle_workdir()
    server = start_httpd(vmoodle_directives(workdir, REFRESH,
                                            written=f'{kind}:"{args}"')
                         + f"VMoodleTable {TABLE}\n", workdir=workdir)
    server.expect_error(r"VM00010: ")            # the outage, as any other
    assert_serves(served(server, "one.example.edu")[1], one)
    # The writer child has connected and read: the hang comes mid-session.
    for _ in range(2):
        before = status(server)["refresh"]["time"]
        eventually(lambda: status(server)["refresh"]["time"], lambda t: t > before,
                   10, "a refresh in the writer child")

    relay.freeze()
    frozen_at = time.monotonic()
    report = eventually(lambda: status(server), lambda s: not s["refresh"]["ok"],
                        REFRESH + STATEMENT_BOUND + SLACK, "the outage reported")
    freed_after = time.monotonic() - frozen_at
    assert report["refresh"]["error"].endswith(
        "no answer from the server within 30 s" if kind == "pgsql"
        else "Lost connection to server during query")
    print(f"writer free {freed_after:.1f} s after the server hung: "
          f"{report['refresh']['error']}")
    assert "VM00010: " in server.errors_text()
    assert_serves(served(server, "one.example.edu")[1], one)   # the last table

    # The parent reads the source at a graceful restart: a hung server
    # costs it the connect bound, then the snapshot on disk serves.
    started = time.monotonic()
    server.graceful()
    print(f"graceful restart with the server hung: "
          f"{time.monotonic() - started:.1f} s")
    assert_serves(served(server, "one.example.edu")[1], one)

    relay.thaw()
    db.insert(TABLE, **two)
    eventually(lambda: served(server, "two.example.edu"), lambda v: v[0] == 200,
               60 + SLACK, "the table followed again after the server answered")
    assert eventually(lambda: status(server), lambda s: s["refresh"]["ok"],
                      10, "the refresh ok again")

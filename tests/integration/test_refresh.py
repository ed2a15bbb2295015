"""The instance table edited while Apache serves: every change is seen
within a few refresh intervals (VMoodleRefresh 1), with no restart."""
import json

import client
from apache import eventually
from instances import assert_serves, instance

DEADLINE = 5    # seconds: the bound on "seen within VMoodleRefresh (1 s)", with slack


def served(server, host):
    """(status, report or None) for host's PHP page."""
    resp = client.get(server.port, host, "/index.php")
    return resp.status, (resp.json() if resp.status == 200 else None)


def wait_for(server, host, check, what):
    return eventually(lambda: served(server, host), check, DEADLINE, f"{host} {what}")


def test_add_change_disable_remove_without_restart(start_vmoodle):
    one, two = instance(1, "one.example.edu"), instance(2, "two.example.edu")
    server = start_vmoodle([one, two])
    pid = server.pid
    assert_serves(served(server, "one.example.edu")[1], one)
    assert served(server, "three.example.edu")[0] == 404

    three = instance(3, "three.example.edu")
    server.write([one, two, three])
    _, report = wait_for(server, "three.example.edu", lambda v: v[0] == 200, "added")
    assert_serves(report, three)

    one = dict(one, vdbname="moodle1_moved", vdbpass="secret-new", vdatapath="/srv/new/one")
    server.write([one, two, three])
    _, report = wait_for(server, "one.example.edu",
                         lambda v: v[1] and v[1]["cfg"]["dbname"] == "moodle1_moved", "changed")
    assert_serves(report, one)

    renamed = dict(three, vhostname="http://four.example.edu")
    server.write([one, dict(two, enabled=0), renamed])
    wait_for(server, "two.example.edu", lambda v: v[0] == 503, "disabled")
    _, report = wait_for(server, "four.example.edu", lambda v: v[0] == 200, "renamed")
    assert_serves(report, renamed)
    assert served(server, "three.example.edu")[0] == 404

    server.write([dict(two, enabled=0), renamed])
    wait_for(server, "one.example.edu", lambda v: v[0] == 404, "removed")
    server.write([two, renamed])
    _, report = wait_for(server, "two.example.edu", lambda v: v[0] == 200, "re-enabled")
    assert_serves(report, two)

    assert server.pid == pid and server.proc.poll() is None
    assert server.restarts() == 1


def status(server):
    resp = client.get(server.port, "127.0.0.1", "/vmoodle-status?json")
    assert resp.status == 200, resp.text
    return resp.json()


def test_broken_source_keeps_the_last_good_table(start_vmoodle):
    one = instance(1, "one.example.edu")
    server = start_vmoodle([one])
    server.expect_error(r"VM\d{5}")    # the module reports the broken source
    generation = status(server)["generation"]
    with open(server.table, "w") as f:
        f.write('[{"id": 1, "vhostname": ')          # truncated JSON
    report = eventually(lambda: status(server), lambda s: not s["refresh"]["ok"],
                        DEADLINE, "refresh failure reported")
    assert report["refresh"]["error"]
    assert report["generation"] == generation
    assert_serves(served(server, "one.example.edu")[1], one)

    two = instance(2, "two.example.edu")
    server.write([one, two])
    wait_for(server, "two.example.edu", lambda v: v[0] == 200, "added after repair")
    assert status(server)["refresh"]["ok"] is True


def test_snapshot_survives_restart_without_source(start_vmoodle):
    one = instance(1, "one.example.edu")
    server = start_vmoodle([one])
    assert_serves(served(server, "one.example.edu")[1], one)
    server.expect_error(r"VM\d{5}")
    with open(server.table, "w") as f:
        json.dump("not a table", f)
    server.graceful()
    assert_serves(served(server, "one.example.edu")[1], one)

"""The status page: HTML for a person, ?json for machines, never a password."""
import os

import client
from instances import instance

ROWS = [
    instance(1, "site1.example.edu", croncount=12, lastcron=1700000000, lastcrongap=61),
    instance(2, "site2.example.edu", name="Site <two> & co", shortname="two<i>&",
             enabled=0),
    instance(3, "site3.example.edu:8443"),
    instance(9, "bad.example.edu", vdatapath="relative/data"),     # rejected
    instance(10, "site1.example.edu", shortname="dup"),            # rejected: host taken
]


def get_status(server, query=""):
    resp = client.get(server.port, "127.0.0.1", "/vmoodle-status" + query)
    assert resp.status == 200, resp.text
    assert "secret" not in resp.text
    return resp


def test_status_json(start_vmoodle):
    server = start_vmoodle(ROWS)
    server.expect_error(r"VM\d{5}")    # rejected rows may be logged as errors
    status = get_status(server, "?json").json()
    assert status["generation"] >= 1
    assert status["source"] == "json:" + server.table
    assert status["snapshot"] == os.path.join(server.workdir, "snap", "instances.snap")
    assert status["snapshot_created"] > 0
    assert status["refresh"]["ok"] is True and status["refresh"]["error"] == ""
    assert status["refresh"]["time"] > 0
    assert status["count"] == 3
    rejected = {r["id"]: r["reason"] for r in status["rejected"]}
    assert set(rejected) == {9, 10}
    assert all(rejected.values())
    instances = {i["id"]: i for i in status["instances"]}
    assert set(instances) == {1, 2, 3}
    assert instances[1] == {"id": 1, "host": "site1.example.edu",
                            "wwwroot": "http://site1.example.edu", "shortname": "site1",
                            "name": "Site site1", "enabled": 1, "croncount": 12,
                            "lastcron": 1700000000, "lastcrongap": 61,
                            "platform": "", "path": "", "aliases": []}
    assert instances[2]["enabled"] == 0
    assert instances[3]["host"] == "site3.example.edu:8443"


def test_status_html(start_vmoodle):
    server = start_vmoodle(ROWS)
    server.expect_error(r"VM\d{5}")
    resp = get_status(server)
    assert resp.header("Content-Type").startswith("text/html")
    for text in ("site1.example.edu", "site3.example.edu:8443", "json:" + server.table,
                 "id 9", "id 10"):
        assert text in resp.text
    assert "two&lt;i&gt;&amp;" in resp.text
    assert "<i>" not in resp.text


def test_status_has_no_password_even_for_rejected_rows(start_vmoodle):
    rows = ROWS + [instance(11, "", vdbpass="secret-of-an-invalid-row")]
    server = start_vmoodle(rows)
    server.expect_error(r"VM\d{5}")
    for query in ("", "?json"):
        get_status(server, query)      # asserts no "secret" in the page
    assert "secret" not in server.errors_text()

"""conf/vmoodle.conf (event + php-fpm) and conf/vmoodle-prefork-modphp.conf
run as shipped, with local paths, routing the demo table conf/instances.json."""
import json
import os

import pytest

import client
from apache import make_workdir
from instances import assert_serves, master_env
from shipped import MASTER, ROOT, shipped_server

HERE = os.path.dirname(os.path.abspath(__file__))

with open(os.path.join(ROOT, "conf", "instances.json")) as f:
    DEMO_ROWS = json.load(f)


@pytest.fixture
def shipped(flavour, start_httpd):
    server = shipped_server(flavour, make_workdir(), os.path.join(HERE, "site"))
    return start_httpd(server=server)


def test_demo_instances_are_routed(shipped):
    enabled = [r for r in DEMO_ROWS if r["enabled"]]
    assert len(enabled) >= 3
    for row in enabled:
        host = row["vhostname"].split("://", 1)[1]
        resp = client.get(shipped.port, host, "/")     # DirectoryIndex index.php
        assert resp.status == 200, resp.text
        assert_serves(resp.json(), row)


def test_demo_disabled_unknown_and_master(shipped):
    disabled = next(r for r in DEMO_ROWS if not r["enabled"])
    resp = client.get(shipped.port, disabled["vhostname"].split("://", 1)[1], "/")
    assert resp.status == 503 and resp.header("Retry-After") == "300"
    assert client.get(shipped.port, "nosuch.localhost:8080", "/").status == 404
    report = client.get(shipped.port, MASTER, "/").json()
    assert report["server"] == master_env()


def test_demo_status_page(shipped):
    resp = client.get(shipped.port, "127.0.0.1", "/vmoodle-status?json")
    assert resp.status == 200, resp.text
    status = resp.json()
    assert status["count"] == len(DEMO_ROWS)
    assert {i["id"] for i in status["instances"]} == {r["id"] for r in DEMO_ROWS}
    assert "password" not in resp.text

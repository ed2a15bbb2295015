"""SetHandler vmoodle-health: what a balancer's health check asks a node.
200 while the node has an instance table (even when its source fails: it
keeps serving the last one), 503 while it has none; one line, no secrets."""
import client
from apache import eventually, free_port
from instances import instance

ROWS = [instance(1, "site1.example.edu"), instance(2, "site2.example.edu"),
        instance(3, "site3.example.edu", enabled=0)]
HEALTH = """<Location /vmoodle-health>
    SetHandler vmoodle-health
</Location>
"""


def health(server, host="127.0.0.1", port=None):
    return client.get(port or server.port, host, "/vmoodle-health")


def assert_plain_and_clean(resp):
    assert resp.header("Content-Type") == "text/plain; charset=utf-8"
    assert resp.header("Cache-Control") == "no-store"
    assert len(resp.text.splitlines()) == 1
    for word in ("secret", "site1", "json:", "/tmp", "moodle1"):
        assert word not in resp.text


def test_loaded_table_is_healthy_and_stays_so_when_the_source_fails(start_vmoodle):
    server = start_vmoodle(ROWS, directives=HEALTH)
    server.expect_error("VM00010")
    resp = health(server)
    assert resp.status == 200
    assert resp.text == "ok generation=1 instances=3 refresh=ok\n"
    assert_plain_and_clean(resp)
    # The balancer may check with any instance's name too.
    assert health(server, "site2.example.edu").status == 200
    with open(server.table, "w") as f:
        f.write("[{broken")
    resp = eventually(lambda: health(server), lambda r: "failing" in r.text, 10,
                      "refresh failing")
    assert resp.status == 200 and resp.text.startswith("ok generation=1 ")
    assert_plain_and_clean(resp)
    assert client.get(server.port, "site1.example.edu", "/static.txt").status == 200


def test_no_table_is_503(start_vmoodle, tmp_path):
    server = start_vmoodle([], directives=HEALTH,
                           source=f"json:{tmp_path}/missing.json")
    server.expect_error("VM00007")
    resp = health(server)
    assert resp.status == 503
    assert resp.text == "unavailable: no instance table loaded\n"
    assert_plain_and_clean(resp)
    assert client.get(server.port, "127.0.0.1", "/vmoodle-health",
                      method="POST").status == 405


def test_check_port_without_routing_reports_the_nodes_table(start_vmoodle):
    """A virtual host of its own for checks, routing nothing."""
    port = free_port()
    extra = f"""Listen 127.0.0.1:{port}
<VirtualHost 127.0.0.1:{port}>
    ServerName check.internal
    VMoodleEngine Off
    {HEALTH}
</VirtualHost>
"""
    server = start_vmoodle(ROWS, extra=extra)
    resp = health(server, "anything.example.edu", port=port)
    assert resp.status == 200
    assert resp.text.startswith("ok generation=1 instances=3 ")

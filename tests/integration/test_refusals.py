"""Refusals behave as any error from Apache: the keep-alive connection
stays usable (or the answer says Connection: close), pipelined requests
after a refusal are all answered, in order; the pages are UTF-8.

Apache ends the connection after any 400 or 503 (ap_status_drops_connection:
Moodle's own maintenance 503 does the same), saying Connection: close; a 404
or 421 keeps it.

Tested the way a balancer's connection pool uses a node: one connection,
never silently reopened (client.Persistent)."""
import os

import pytest

import client
from client import request_bytes as req
from instances import instance

ROWS = [
    instance(1, "site1.example.edu"),
    instance(2, "site2.example.edu"),
    instance(5, "site5.example.edu", enabled=0),
]
LONG_LABEL = "a" * 64 + ".example.edu"   # Apache lets it through, we refuse


@pytest.fixture(scope="module")
def server(module_vmoodle):
    srv = module_vmoodle(ROWS, directives="VMoodleTrustedProxy 127.0.0.1\n"
                         'Header always set X-Frame-Options "DENY"\n')
    srv.expect_error("VM00015")
    return srv


def served(resp, id):
    assert resp.status == 200, resp
    assert resp.header("X-VMoodle-Id") == str(id)


def kept_or_closed(conn, resp):
    """Either the connection goes on, or the answer said so and it ends."""
    if resp.status in (400, 503):
        assert resp.will_close and resp.header("Connection") == "close", resp.headers
        assert conn.closed_by_server()
        return False
    assert not resp.will_close, resp.headers
    return True


def test_keep_alive_is_reused_after_each_refusal(server):
    conn, connects = client.Persistent(server.port), 1
    try:
        for host, status in [("site1.example.edu", 200), ("nosuch.example.edu", 404),
                             ("site2.example.edu", 200), ("other.example.edu", 404),
                             ("nosuch.example.edu", 404), ("site5.example.edu", 503),
                             ("site1.example.edu", 200), ("other.example.edu", 404),
                             ("site2.example.edu", 200)]:
            [resp] = conn.exchange(req(host, "/static.txt"))
            assert resp.status == status, (host, resp)
            if not kept_or_closed(conn, resp):
                conn.close()
                conn, connects = client.Persistent(server.port), connects + 1
        assert connects == 2                    # only the 503 closed
        assert not conn.closed_by_server(wait=0.5)
    finally:
        conn.close()


def test_pipelined_refused_and_served_hosts_are_all_answered(server):
    hosts = ["site1.example.edu", "nosuch.example.edu", "site2.example.edu",
             "nosuch.example.edu", "other.example.edu", "site1.example.edu",
             "nosuch.example.edu", "site2.example.edu"] * 3 + ["site5.example.edu"]
    expected = {"site1.example.edu": 1, "site2.example.edu": 2}
    with client.Persistent(server.port) as conn:
        answers = conn.exchange(*(req(h, "/index.php" if i % 2 else "/static.txt")
                                  for i, h in enumerate(hosts)))
        for host, resp in zip(hosts, answers):
            if host in expected:
                served(resp, expected[host])
            else:
                assert resp.status == (503 if host == "site5.example.edu" else 404)
                assert host in resp.text
                assert kept_or_closed(conn, resp) == (resp.status == 404)

    with client.Persistent(server.port) as conn:
        # Behind the 503 that ends the connection, nothing is lost unsaid.
        conn.send(req("nosuch.example.edu", "/"), req("site5.example.edu", "/"),
                  req("site1.example.edu", "/static.txt"))
        assert conn.read().status == 404
        assert not kept_or_closed(conn, conn.read())


def test_refused_post_body_is_read_and_the_next_request_answered(server):
    body = b"x" * 5000
    with client.Persistent(server.port) as conn:
        refused, after = conn.exchange(
            req("nosuch.example.edu", "/index.php", "POST", body=body),
            req("site1.example.edu", "/static.txt"))
        assert refused.status == 404
        served(after, 1)


def test_head_refusal_has_no_body_and_keeps_the_connection(server):
    with client.Persistent(server.port) as conn:
        head, after = conn.exchange(req("nosuch.example.edu", "/", "HEAD"),
                                    req("site2.example.edu", "/static.txt"))
        assert head.status == 404 and head.body == b""
        served(after, 2)


def test_bad_host_400_says_connection_close(server):
    """A 400 ends the connection in Apache; it must say so first."""
    with client.Persistent(server.port) as conn:
        conn.send(req(LONG_LABEL, "/"), req("site1.example.edu", "/static.txt"))
        resp = conn.read()
        assert resp.status == 400
        assert resp.will_close and resp.header("Connection") == "close"
        assert conn.closed_by_server()


def test_forwarded_refusals_keep_the_balancers_connection(server):
    """A balancer's pooled connection, hosts in X-Forwarded-Host."""
    fwd = lambda h: req("node.internal", "/static.txt", headers={
        "X-Forwarded-Host": h, "X-Forwarded-Proto": "https"})
    with client.Persistent(server.port) as conn:
        answers = conn.exchange(fwd("nosuch.example.edu"), fwd("site1.example.edu"),
                                fwd("nosuch.example.edu"), fwd("site2.example.edu"),
                                fwd("site5.example.edu"))
        assert [a.status for a in answers] == [404, 200, 404, 200, 503]
        served(answers[3], 2)
        assert not kept_or_closed(conn, answers[4])


def test_pages_are_utf8(server):
    for host, status in (("nosuch.example.edu", 404), ("site5.example.edu", 503)):
        resp = client.get(server.port, host, "/")
        assert resp.status == status
        assert resp.header("Content-Type") == "text/html; charset=utf-8"
        assert resp.header("Content-Length") == str(len(resp.body))
        # The server's own headers are on our pages too.
        assert resp.header("X-Frame-Options") == "DENY"


def test_unknown_host_421_keeps_the_connection(start_vmoodle):
    srv = start_vmoodle(ROWS, directives="VMoodleUnknownHost 421\n")
    with client.Persistent(srv.port) as conn:
        refused, after = conn.exchange(req("nosuch.example.edu", "/"),
                                       req("site1.example.edu", "/static.txt"))
        assert refused.status == 421 and not refused.will_close
        served(after, 1)


def test_no_table_503_says_connection_close(start_vmoodle, tmp_path):
    missing = f"json:{tmp_path}/no-such-table.json"
    srv = start_vmoodle([], source=missing)
    srv.expect_error("VM00007")
    with client.Persistent(srv.port) as conn:
        conn.send(req("site1.example.edu", "/index.php"),
                  req("site1.example.edu", "/"))
        resp = conn.read()
        assert resp.status == 503
        assert not kept_or_closed(conn, resp)
    with client.Persistent(srv.port) as conn:
        # The server's own name passes: its status page says why.
        answers = conn.exchange(req("127.0.0.1", "/vmoodle-status?json"),
                                req("127.0.0.1", "/vmoodle-status?json"))
        assert [a.json()["count"] for a in answers] == [0, 0]


def test_non_ascii_page_arrives_as_utf8(start_httpd, flavour, site):
    """An administrator's page in French is shown as written."""
    from conftest import vmoodle_server
    srv = vmoodle_server(flavour, site, ROWS)
    text = "<p>Aucun établissement à l’adresse {{host}} — désolé.</p>\n"
    with open(os.path.join(srv.workdir, "errors", "unknown-host.html"), "w",
              encoding="utf-8") as f:
        f.write(text)
    start_httpd(server=srv)
    resp = client.get(srv.port, "nosuch.example.edu", "/")
    assert resp.status == 404
    assert resp.header("Content-Type") == "text/html; charset=utf-8"
    assert resp.body.decode("utf-8") == text.replace("{{host}}", "nosuch.example.edu")

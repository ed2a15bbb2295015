"""Routing by Host through mod_vmoodle, under both server flavours."""

import client
from apache import eventually
from instances import (MASTER_SETTINGS, assert_serves, expected_env, instance,
                       master_env, write_master_config)

ROWS = [
    instance(1, "site1.example.edu"),
    instance(2, "site2.example.edu", vdbtype="mariadb", vdbhost="[2001:db8::2]:3307",
             vdbpersist=0, mnet=3),
    instance(3, "site3.example.edu:8443", vdbhost="/var/run/postgresql"),
    instance(4, "Site4.Example.EDU/", scheme="https", vdbtype="postgres"),
    instance(5, "site5.example.edu", enabled=0),
]
SECRETS = ("secret-pass", "moodle1", "moodle2", "user1", "db1.internal")


def by_id(id):
    return next(r for r in ROWS if r["id"] == id)


def php(server, host, headers=None):
    """lib/setup.php's report for host; the request must succeed."""
    resp = client.get(server.port, host, "/index.php", headers=headers)
    assert resp.status == 200, f"{host} {headers}: {resp.status} {resp.text[:300]}"
    return resp.json()


def test_each_host_sees_its_own_instance(start_vmoodle):
    server = start_vmoodle(ROWS)
    for host, id in [("site1.example.edu", 1), ("site2.example.edu", 2),
                     ("site3.example.edu:8443", 3), ("site4.example.edu", 4)]:
        assert_serves(php(server, host), by_id(id))
        assert client.get(server.port, host, "/static.txt").header("X-VMoodle-Id") == str(id)


def test_https_instance_keeps_its_scheme(start_vmoodle):
    server = start_vmoodle(ROWS)
    report = php(server, "site4.example.edu")
    assert report["server"]["VMOODLE_WWWROOT"] == "https://site4.example.edu"
    assert report["cfg"]["wwwroot"] == "https://site4.example.edu"
    assert report["cfg"]["dbtype"] == "pgsql"


def test_host_is_canonicalised(start_vmoodle):
    server = start_vmoodle(ROWS)
    for host in ("SITE1.Example.Edu", "site1.example.edu.", "site1.example.edu:80"):
        assert_serves(php(server, host), by_id(1))


def test_port_is_part_of_the_key(start_vmoodle):
    server = start_vmoodle(ROWS)
    for host in ("site3.example.edu", "site3.example.edu:8444", "site1.example.edu:8080"):
        assert client.get(server.port, host, "/index.php").status == 404, host


def assert_unknown_page(resp, host, status=404):
    assert resp.status == status
    assert resp.header("X-VMoodle-Php-Id") is None
    assert "No such site" in resp.text
    assert host in resp.text
    for secret in SECRETS:
        assert secret not in resp.text


def test_unknown_host_is_404_never_200(start_vmoodle):
    server = start_vmoodle(ROWS)
    for path in ("/", "/index.php", "/static.txt", "/config.php"):
        assert_unknown_page(client.get(server.port, "nosuch.example.edu", path),
                            "nosuch.example.edu")
    # HTTP/1.0 without any Host header: no instance either.
    resp = client.raw(server.port, b"GET /index.php HTTP/1.0\r\n\r\n")
    assert resp.status == 404
    assert resp.header("X-VMoodle-Php-Id") is None


def test_unknown_host_421_when_configured(start_vmoodle):
    server = start_vmoodle(ROWS, directives="VMoodleUnknownHost 421\n")
    assert_unknown_page(client.get(server.port, "nosuch.example.edu", "/index.php"),
                        "nosuch.example.edu", status=421)
    assert_serves(php(server, "site1.example.edu"), by_id(1))


def test_hostile_host_is_never_served_nor_reflected(start_vmoodle):
    # Only with HttpProtocolOptions Unsafe does Apache let markup into Host;
    # the module may refuse it (400) or call it unknown (404): never 200, and
    # whatever page comes back carries no raw markup.
    server = start_vmoodle(ROWS, extra="HttpProtocolOptions Unsafe\n")
    server.expect_error("malformed Host|VM00015")
    for host in (b"x<b>y&z\"q'.example.edu", b"site1.example.edu<script>",
                 b"<site1.example.edu>"):
        resp = client.raw(server.port, b"GET /index.php HTTP/1.1\r\nHost: " + host +
                          b"\r\nConnection: close\r\n\r\n")
        assert resp.status in (400, 404), (host, resp.status, resp.text[:300])
        assert resp.header("X-VMoodle-Php-Id") is None
        assert "<b>" not in resp.text and "<script>" not in resp.text
        assert "<site1" not in resp.text and "secret" not in resp.text
        if resp.status == 404:
            assert "&lt;" in resp.text


def test_disabled_instance_is_503_with_retry_after(start_vmoodle):
    server = start_vmoodle(ROWS)
    for path in ("/index.php", "/static.txt"):
        resp = client.get(server.port, "site5.example.edu", path)
        assert resp.status == 503
        assert resp.header("Retry-After") == "120"
        assert "maintenance" in resp.text
        assert "site5.example.edu" in resp.text
        assert "secret-pass" not in resp.text and '"cfg"' not in resp.text


def test_master_gets_its_own_settings(start_vmoodle, tmp_path):
    """VMoodleMasterConfig: the master's settings reach its requests as an
    instance's do (config.php holds none)."""
    conf = write_master_config(tmp_path / "master.conf")
    server = start_vmoodle(ROWS, directives="VMoodleMaster master.example.edu\n"
                           f"VMoodleMasterConfig {conf}\n")
    for host in ("master.example.edu", "Master.Example.Edu"):
        report = php(server, host)
        assert report["server"] == master_env()
        assert report["getenv"] == master_env()
        assert report["cfg"]["dbname"] == MASTER_SETTINGS["dbname"]
        assert report["cfg"]["dbpass"] == MASTER_SETTINGS["dbpass"]
        assert report["cfg"]["wwwroot"] == MASTER_SETTINGS["wwwroot"]
        assert report["cfg"]["mainwwwroot"] == "http://moodle.example.edu"
    assert_serves(php(server, "site1.example.edu"), by_id(1))


def test_log_format_sees_vmoodle_host(start_vmoodle):
    server = start_vmoodle(ROWS)
    php(server, "SITE2.example.edu")
    line = eventually(server.access_text, lambda text: "site2" in text.lower(), 5,
                      "logged")
    assert 'vmhost="site2.example.edu" vmid="2"' in line


def test_rewrite_and_setenvif_see_the_variables(start_vmoodle):
    extra = r"""
SetEnvIf VMOODLE_SHORTNAME "^(.+)$" SEEN_BY_SETENVIF=$1
RewriteEngine On
RewriteCond %{ENV:VMOODLE_SHORTNAME} ^site2$
RewriteRule ^/only-site2$ /static.txt
RewriteCond %{ENV:VMOODLE_ID} ^([0-9]+)$
RewriteRule ^/static\.txt$ - [E=SEEN_BY_REWRITE:%1]
Header always set X-SetEnvIf "%{SEEN_BY_SETENVIF}e"
Header always set X-Rewrite "%{SEEN_BY_REWRITE}e"
"""
    server = start_vmoodle(ROWS, extra=extra)
    resp = client.get(server.port, "site2.example.edu", "/only-site2")
    assert resp.status == 200 and "static file" in resp.text
    assert resp.header("X-SetEnvIf") == "site2"
    assert resp.header("X-Rewrite") == "2"
    assert client.get(server.port, "site1.example.edu", "/only-site2").status == 404
    resp = client.get(server.port, "site1.example.edu", "/static.txt")
    assert (resp.header("X-SetEnvIf"), resp.header("X-Rewrite")) == ("site1", "1")


def test_keepalive_connection_switches_hosts(start_vmoodle):
    server = start_vmoodle(ROWS)
    conn = client.KeepAlive(server.port)
    try:
        for id in [1, 2, 3, 1, 4, 2] * 3:
            row = by_id(id)
            host = expected_env(row)["VMOODLE_HOST"]
            assert conn.get(host, "/index.php").json()["server"] == expected_env(row)
        assert conn.connects == 1
        # An unknown host in the middle does not disturb the next request
        # (test_refusals.py checks the connection is kept).
        assert conn.get("nosuch.example.edu", "/index.php").status == 404
        assert conn.get("site1.example.edu", "/index.php").json()["server"] == \
            expected_env(by_id(1))
    finally:
        conn.close()


def test_forwarded_host_believed_only_from_trusted_proxy(start_vmoodle):
    forwarded = {"X-Forwarded-Host": "site1.example.edu"}
    trusted = start_vmoodle(ROWS, directives="VMoodleTrustedProxy 127.0.0.0/8\n")
    assert_serves(php(trusted, "backend.internal", forwarded), by_id(1))
    # A balancer that appends: the last element is the one its peer sent.
    assert_serves(php(trusted, "backend.internal",
                      {"X-Forwarded-Host": "nosuch.example.edu, site2.example.edu"}), by_id(2))

    untrusted = start_vmoodle(ROWS, directives="VMoodleTrustedProxy 10.0.0.0/8\n")
    resp = client.get(untrusted.port, "backend.internal", "/index.php", headers=forwarded)
    assert resp.status == 404
    assert "backend.internal" in resp.text and "site1" not in resp.text


def test_tls_terminating_proxy_keeps_public_scheme_and_port(start_vmoodle):
    server = start_vmoodle(ROWS, directives="VMoodleTrustedProxy 127.0.0.1/32\n")
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "site4.example.edu"}
    report = php(server, "backend.internal", https)
    assert report["server"]["VMOODLE_WWWROOT"] == "https://site4.example.edu"
    assert report["https"] == "on"        # what Moodle reads of the scheme
    # The balancer listens on 8443 publicly; Apache behind it on another port.
    report = php(server, "backend.internal:8080",
                      {"X-Forwarded-Host": "site3.example.edu:8443"})
    assert_serves(report, by_id(3))



def test_forwarded_proto_https_only_from_trusted_proxy(start_vmoodle):
    """HTTPS=on (what PHP and Moodle read) for a trusted balancer's
    X-Forwarded-Proto: https; never for a client that sends it itself."""
    https = {"X-Forwarded-Proto": "https"}
    trusted = start_vmoodle(ROWS, directives="VMoodleTrustedProxy 127.0.0.1/32\n")
    assert php(trusted, "site4.example.edu", https)["https"] == "on"
    assert php(trusted, "site4.example.edu", {"X-Forwarded-Proto": "http"})["https"] is None
    assert php(trusted, "site1.example.edu")["https"] is None
    untrusted = start_vmoodle(ROWS, directives="VMoodleTrustedProxy 10.0.0.0/8\n")
    report = php(untrusted, "site1.example.edu", https)
    assert report["https"] is None
    assert_serves(report, by_id(1))

"""Processes started from a web request boot the request's own site.

Moodle's "Run now" of a task starts $CFG->pathtophp with the PHP process's
environment; templates/config.php puts the site's VMOODLE_* there.  PHP
processes serve request after request (one php-fpm worker here; under
prefork, the one child that holds the keep-alive connection), so each
request must find exactly its own site's variables: never an earlier
request's, the master's included."""
import client
from conftest import vmoodle_server
from instances import expected_env, instance, master_env, write_master_config

ROWS = [instance(1, "alpha.test"), instance(2, "beta.test", vdbhost="db2.internal")]
MASTER = "master.test"
MASTER_ENV = master_env()


def test_children_get_the_requests_site_in_a_reused_process(start_httpd, flavour, site,
                                                            tmp_path):
    conf = write_master_config(tmp_path / "master.conf")
    server = vmoodle_server(flavour, site, ROWS, directives=f"VMoodleMaster {MASTER}\n"
                            f"VMoodleMasterConfig {conf}\n")
    if server.fpm:
        server.fpm.children = 1          # every request in the same worker
    start_httpd(server=server)
    conn = client.KeepAlive(server.port)
    sequence = [ROWS[0], ROWS[1], None, ROWS[0], None, ROWS[1]]
    pids = set()
    for row in sequence:
        host = row["vhostname"].split("://")[1] if row else MASTER
        resp = conn.get(host, "/task.php")
        assert resp.status == 200, resp.text
        report = resp.json()
        pids.add(report["pid"])
        want = expected_env(row) if row else MASTER_ENV
        assert report["child"] == want, f"child of a request for {host}"
        # The request's own view is unchanged by the export.
        assert report["server"] == want
    assert conn.connects == 1
    assert len(pids) == 1, "the PHP process was not reused: the test proves nothing"

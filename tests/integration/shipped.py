"""The shipped configuration (conf/), run as it is with local paths: used by
tools/demo (make run) and by test_shipped_conf.py, so what we ship is what
we test."""
import os
import shutil

from apache import Httpd, chown_to_run_user, copy_readable
from instances import write_master_config

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CONF_FILES = {"event-fpm": "vmoodle.conf", "prefork-modphp": "vmoodle-prefork-modphp.conf"}
DEMO_PORT = 8080            # the port in conf/instances.json's vhostnames
MASTER = f"master.localhost:{DEMO_PORT}"


def make_docroot(workdir, page_dir):
    """workdir/www: templates/config.php plus index.php and lib/setup.php
    from page_dir (the demo's page or the tests' reporting page)."""
    docroot = os.path.join(workdir, "www")
    copy_readable(page_dir, docroot)
    shutil.copy(os.path.join(ROOT, "templates", "config.php"), docroot)
    os.chmod(os.path.join(docroot, "config.php"), 0o644)
    return docroot


def localise(text, mapping):
    """Replace each system path of the shipped file; every one must occur."""
    for old, new in mapping.items():
        if old not in text:
            raise ValueError(f"shipped configuration lost {old!r}")
        text = text.replace(old, new)
    return text


def shipped_server(flavour, workdir, page_dir, port=None):
    """An Httpd (not started) running conf/<flavour's file> out of workdir,
    routing a copy of conf/instances.json."""
    server = Httpd(flavour, workdir=workdir, port=port)
    docroot = make_docroot(workdir, page_dir)
    copy_readable(os.path.join(ROOT, "templates", "errors"),
                       os.path.join(workdir, "errors"))
    table = os.path.join(workdir, "instances.json")
    shutil.copy(os.path.join(ROOT, "conf", "instances.json"), table)
    os.chmod(table, 0o644)
    snapdir = os.path.join(workdir, "snap")
    os.makedirs(snapdir, 0o755, exist_ok=True)
    chown_to_run_user(snapdir)
    mapping = {
        "*:80": f"*:{server.port}",
        # The server's own name reaches the status page; here, 127.0.0.1.
        "ServerName moodle.example.edu": "ServerName 127.0.0.1",
        "/var/www/moodle": docroot,
        "json:/etc/vmoodle/instances.json": f"json:{table}",
        "/var/cache/vmoodle/instances.snap": os.path.join(snapdir, "instances.snap"),
        "/usr/local/share/vmoodle/errors": os.path.join(workdir, "errors"),
        "VMoodleMaster moodle.example.edu": f"VMoodleMaster {MASTER}",
        "/etc/vmoodle/master.conf": write_master_config(
            os.path.join(workdir, "master.conf")),
        "${APACHE_LOG_DIR}/vmoodle_error.log": server.error_log,
        "${APACHE_LOG_DIR}/vmoodle_access.log": server.access_log,
    }
    if server.fpm:
        mapping["proxy:unix:/run/php/php8.2-fpm.sock|fcgi://localhost"] = \
            server.php_handler_target
    with open(os.path.join(ROOT, "conf", CONF_FILES[flavour])) as f:
        server.site_conf = localise(f.read(), mapping)
    server.table = table
    return server

"""The PHP side: a private php-fpm pool, the master table in PostgreSQL for
(e), and the two document roots: (e) VMoodle's per-request lookup,
(f) mod_vmoodle's variables read by templates/config.php."""
import glob
import os
import shutil
import subprocess

import instances
import load
from benchhttpd import Apache, free_port, wait_for_port

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FPM_CHILDREN = 8

FPM_CONFIG = """\
[global]
pid = {dir}/fpm.pid
error_log = {dir}/fpm.log
daemonize = no

[bench]
user = www-data
group = www-data
listen = 127.0.0.1:{port}
pm = static
pm.max_children = {children}
env[BENCH_PGHOST] = {pghost}
env[BENCH_PGPORT] = {pgport}
"""

# VMoodle's table, as in its install.xml (no index on vhostname).
TABLE = """\
CREATE TABLE mdl_local_vmoodle (
  id bigserial PRIMARY KEY, name varchar(255) NOT NULL,
  shortname varchar(80) NOT NULL, description text,
  vhostname varchar(255) NOT NULL, vdbtype varchar(16) NOT NULL,
  vdbhost varchar(80) NOT NULL, vdblogin varchar(16), vdbpass varchar(32),
  vdbname varchar(64) NOT NULL, vdbprefix varchar(10) NOT NULL,
  vdbpersist smallint NOT NULL DEFAULT 0, vdatapath varchar(255) NOT NULL,
  mnet bigint NOT NULL DEFAULT -1, enabled smallint NOT NULL DEFAULT 1,
  timecreated bigint NOT NULL DEFAULT 0, lastcron bigint NOT NULL DEFAULT 0,
  lastcrongap bigint NOT NULL DEFAULT 0, croncount bigint NOT NULL DEFAULT 0,
  metadata text);
"""


def fpm_binary():
    found = sorted(glob.glob("/usr/sbin/php-fpm*"))
    if not found:
        raise RuntimeError("php-fpm is not installed")
    return found[-1]


class PhpFpm:
    def __init__(self, workdir, pghost, pgport):
        self.dir = os.path.join(workdir, "fpm")
        self.port = free_port()
        os.makedirs(self.dir)
        self.conf = os.path.join(self.dir, "fpm.conf")
        with open(self.conf, "w") as f:
            f.write(FPM_CONFIG.format(dir=self.dir, port=self.port,
                                      children=FPM_CHILDREN, pghost=pghost,
                                      pgport=pgport))
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([fpm_binary(), "-F", "-y", self.conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.proc, 30, "php-fpm")
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def load_master_table(pg, n, port):
    """The master database `moodle` with n instances, owned by `moodle`
    (no password over the Unix socket: the cheapest connection (e) could
    have), whose statements the server does not log (one per request)."""
    pg.sql("CREATE ROLE moodle LOGIN; "
           "ALTER ROLE moodle SET log_statement = 'none'; "
           "CREATE DATABASE moodle OWNER moodle")
    pg.sql(TABLE, dbname="moodle")
    pg.sql(instances.copy_script(n, port), dbname="moodle")
    pg.sql("ALTER TABLE mdl_local_vmoodle OWNER TO moodle; ANALYZE",
           dbname="moodle")


def docroot(workdir, name, config_php):
    """A document root: index.php, the given config.php, a trivial
    lib/setup.php."""
    root = os.path.join(workdir, name)
    os.makedirs(os.path.join(root, "lib"))
    shutil.copy(os.path.join(HERE, "php", "index.php"), root)
    shutil.copy(config_php, os.path.join(root, "config.php"))
    shutil.copy(os.path.join(HERE, "php", "setup.php"),
                os.path.join(root, "lib", "setup.php"))
    for d, _, files in os.walk(root):
        os.chmod(d, 0o755)
        for f in files:
            os.chmod(os.path.join(d, f), 0o644)
    return root


def vmoodle_docroot(workdir):
    return docroot(workdir, "php-e", os.path.join(HERE, "php", "vmoodle_config.php"))


TEMPLATE_CONFIG = os.path.join(ROOT, "templates", "config.php")


def module_docroot(workdir, config_php):
    return docroot(workdir, "php-f", config_php)


def fcgi_site(fpm_port):
    return (f'<FilesMatch "\\.php$">\n'
            f'    SetHandler "proxy:fcgi://127.0.0.1:{fpm_port}"\n'
            f'</FilesMatch>\n')


LABELS = {
    "e": "(e) VMoodle config.php: connect + SELECT per request",
    "f": "(f) mod_vmoodle + templates/config.php",
}
PHP_HOSTS = 1000
PHP_CONNECTIONS = FPM_CHILDREN


def run(workdir, module_so, seconds, count, pg):
    """Throughput of the PHP page at PHP_HOSTS hosts: {key: result}.  pg is
    a running dbservers.PgServer.  (f) needs the module and
    templates/config.php."""
    import httpphase                      # avoid a cycle at import time
    fpm = None
    apaches = {}
    try:
        port_e = free_port()
        load_master_table(pg, PHP_HOSTS, port_e)
        fpm = PhpFpm(workdir, pg.sockdir, pg.port).start()
        fcgi = fcgi_site(fpm.port)
        apaches["e"] = Apache(workdir, "php-e-httpd", vmoodle_docroot(workdir),
                              fcgi, modules=["proxy", "proxy_fcgi"],
                              port=port_e)
        if module_so:
            apaches["f"], _ = httpphase.module_apache(
                workdir, "php-f-httpd", module_docroot(workdir, TEMPLATE_CONFIG), module_so,
                PHP_HOSTS, site_extra=fcgi, echo=False,
                modules=["proxy", "proxy_fcgi"])
        for a in apaches.values():
            a.start()
        targets = {k: {"port": a.port, "expect": "db", "path": "/index.php",
                       "connections": PHP_CONNECTIONS}
                   for k, a in apaches.items()}
        return load.rounds(targets, PHP_HOSTS, seconds, count)
    finally:
        for a in apaches.values():
            a.stop()
        if fpm:
            fpm.stop()

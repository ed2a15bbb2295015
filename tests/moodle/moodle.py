"""Real Moodle sites behind mod_vmoodle: the code, the databases, the
installed sites and the web servers, for the end-to-end suite (tests/moodle)
and for `make run MOODLE_SRC=...` (tools/demo).

A Fleet is what an administrator sets up, in the README's order:
  1. the Moodle code, unpacked from MOODLE_SRC (a tarball or a tree) into
     the fleet's own directory (never into this repository);
  2. config.php: templates/config.php with the master's values filled in;
  3. PostgreSQL and MariaDB servers, one database per site;
  4. the instance table from templates/schema/pgsql.sql in the master's
     database, then the master installed (admin/cli/install_database.php),
     then one row per instance and the instances installed, in parallel;
  5. Apache with mod_vmoodle reading that table (VMoodleSource pgsql:...),
     php-fpm (event MPM) or mod_php (prefork).
Sites are installed once and reused: a test that changes a site puts it
back.  Everything is reachable for later tests: fleet.php() runs any Moodle
CLI script as one site, fleet.sql() queries a site's database,
fleet.add_site() installs one more, fleet.vcron()/fleet.tool() run the
project's programs against the table, fleet.code is the code to patch."""
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from apache import RUN_USER, Httpd, chown_to_run_user, copy_readable  # noqa: E402
from dbservers import PASSWORD, USER, MySQLServer, PgServer  # noqa: E402
from instances import expected_env, master_env, write_master_config  # noqa: E402

PHP = "/usr/bin/php"
PHP_SETTINGS = {"max_input_vars": "5000"}       # Moodle's installer insists
ADMIN_PASSWORD = "Admin-secret-1"               # "secret": the log checks find it
TABLE = "vmoodle_instances"                     # templates/schema/*.sql
INSTALL_TIMEOUT = 900
TRUSTED_PROXY = "127.0.0.2"     # the balancer's address (tests bind it as source)


def php_literal(value):
    """A PHP single-quoted string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass
class Site:
    """One Moodle site: the master (id None) or an instance (a table row)."""
    name: str                  # short, used for paths and database names
    wwwroot: str
    fullname: str
    dbkind: str = "pgsql"      # pgsql | mariadb
    prefix: str = "mdl_"
    id: int = None
    enabled: bool = True
    install: bool = True       # False: a row only (a disabled site, say)
    dbname: str = ""
    dataroot: str = ""
    dbhost: str = ""
    dblogin: str = ""          # "": the fleet's shared login (USER)
    dbpass: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def host(self):
        return self.wwwroot.split("://", 1)[1]

    @property
    def https(self):
        return self.wwwroot.startswith("https://")

    @property
    def is_master(self):
        return self.id is None


def default_sites():
    """The master and the instances every run installs (and one disabled)."""
    return [
        Site("master", "http://master.test", "Master Moodle of the test fleet"),
        Site("site1", "http://site1.test", "First School Moodle", id=1),
        Site("site2", "http://site2.test", "Second School on MariaDB",
             dbkind="mariadb", prefix="s2_", id=2),
        Site("site3", "https://site3.test", "Third School behind TLS", id=3),
        Site("closed", "http://closed.test", "Closed School", id=4,
             enabled=False, install=False),
    ]


def unpack_moodle(src, dest):
    """The Moodle code from src (tarball or directory) as dest/moodle, a
    private copy the tests may patch.  Returns its path."""
    target = os.path.join(dest, "moodle")
    if os.path.isdir(src):
        if not os.path.exists(os.path.join(src, "version.php")):
            raise RuntimeError(f"MOODLE_SRC={src}: no version.php, not a Moodle tree")
        subprocess.run(["cp", "-a", src.rstrip("/") + "/.", target], check=True)
    else:
        os.makedirs(target)
        # One top folder (moodle/) in the official tarballs: strip it.
        subprocess.run(["tar", "-xf", src, "-C", target, "--strip-components=1",
                        "--no-same-owner"], check=True)
        if not os.path.exists(os.path.join(target, "version.php")):
            raise RuntimeError(f"MOODLE_SRC={src}: no moodle/version.php inside")
    subprocess.run(["chmod", "-R", "u+rwX,go+rX,go-w", target], check=True)
    return target


def moodle_release(code):
    with open(os.path.join(code, "version.php")) as f:
        m = re.search(r"\$release\s*=\s*'([^']*)'", f.read())
    return m.group(1) if m else "unknown"


class Fleet:
    """The databases, code, config.php and installed sites under root."""

    def __init__(self, root, src, build, sites=None, log=print):
        self.root, self.src, self.build, self.log = root, src, build, log
        self.sites = {s.name: s for s in (sites or default_sites())}
        self.pg = self.mysql = None
        self.code = None
        self.timings = {}

    # --- set-up ---------------------------------------------------------

    def setup(self, jobs=None):
        """Everything up to installed sites; idempotent on a kept root."""
        os.makedirs(self.root, exist_ok=True)
        os.chmod(self.root, 0o755)
        t0 = time.monotonic()
        self.code = os.path.join(self.root, "moodle")
        if not os.path.exists(os.path.join(self.code, "version.php")):
            shutil.rmtree(self.code, ignore_errors=True)
            unpack_moodle(self.src, self.root)
        self.timings["unpack"] = time.monotonic() - t0
        t0 = time.monotonic()
        self.pg = PgServer(os.path.join(self.root, "pgsql"))
        self.mysql = MySQLServer(os.path.join(self.root, "mariadb"))
        self.timings["databases"] = time.monotonic() - t0
        for site in self.sites.values():
            self._place(site)
        self.write_config()
        t0 = time.monotonic()
        self._create_table()
        self.write_table()
        # Each install is one PHP process and its database server: several
        # at once keep both cores busy while each waits for the other.
        todo = [s for s in self.sites.values() if s.install and not self.installed(s)]
        with concurrent.futures.ThreadPoolExecutor(jobs or max(1, len(todo))) as pool:
            for future in [pool.submit(self.install, s) for s in todo]:
                future.result()
        self.timings["install"] = time.monotonic() - t0
        return self

    def _place(self, site):
        """Database name, host and dataroot of a site."""
        site.dbname = site.dbname or f"vm_{site.name}"
        site.dataroot = site.dataroot or os.path.join(self.root, "data", site.name)
        if site.dbkind == "pgsql":
            site.dbhost = f"127.0.0.1:{self.pg.port}"
        else:
            # A socket path: config.php hands it to Moodle as dbsocket.
            site.dbhost = self.mysql.socket

    def master(self):
        return next(s for s in self.sites.values() if s.is_master)

    def instances(self):
        return sorted((s for s in self.sites.values() if not s.is_master),
                      key=lambda s: s.id)

    @property
    def master_config(self):
        """The master's settings file (VMoodleMasterConfig, master-config)."""
        return os.path.join(self.root, "master.conf")

    def master_settings(self):
        m = self.master()
        return {"wwwroot": m.wwwroot, "dbtype": "pgsql", "dbhost": m.dbhost,
                "dbname": m.dbname, "dbuser": USER, "dbpass": PASSWORD,
                "prefix": m.prefix, "dbpersist": "0", "dataroot": m.dataroot}

    def write_config(self):
        """config.php: the template with the master's public URL and the
        local settings every site of this fleet shares (no password: the
        master's settings go to master.conf, root's, 0600)."""
        m = self.master()
        write_master_config(self.master_config, self.master_settings())
        with open(os.path.join(ROOT, "templates", "config.php")) as f:
            text = f.read()
        head, sep, tail = text.partition("// End of the master values.")
        if not sep:
            raise RuntimeError("templates/config.php lost its master section")
        head, n = re.subn(r"(\$vmoodlemainwwwroot\s*=\s*)'[^']*'",
                          lambda mo: mo.group(1) + php_literal(m.wwwroot), head)
        if n != 1:
            raise RuntimeError("templates/config.php: no single $vmoodlemainwwwroot")
        local = ("// Local settings of this test fleet.\n"
                 "$CFG->noemailever = true;          // no mail program here\n"
                 f"$CFG->pathtophp = {php_literal(PHP)};     // tasks' \"Run now\"\n")
        text = head + sep + tail
        text = text.replace("require_once(__DIR__ . '/lib/setup.php');",
                            local + "\nrequire_once(__DIR__ . '/lib/setup.php');", 1)
        path = os.path.join(self.code, "config.php")
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o644)

    def create_database(self, site):
        if site.dbkind == "pgsql":
            exists = self.pg.sql(f"SELECT 1 FROM pg_database WHERE datname = '{site.dbname}'")
            if not exists.strip():
                self.pg.sql(f"CREATE DATABASE {site.dbname} OWNER {USER}")
        else:
            self.mysql.sql(f"CREATE DATABASE IF NOT EXISTS {site.dbname} "
                           "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        os.makedirs(site.dataroot, 0o770, exist_ok=True)
        chown_to_run_user(site.dataroot)

    def _create_table(self):
        """The master's database and the instance table in it, before the
        master is installed (the README's order): Moodle's installer must
        not take it for one of its own ("Database tables already present")."""
        m = self.master()
        self.create_database(m)
        with open(os.path.join(ROOT, "templates", "schema", "pgsql.sql")) as f:
            self.pg.sql(f.read(), dbname=m.dbname, user=USER)

    def installed(self, site):
        return os.path.exists(os.path.join(self.root, f"installed-{site.name}"))

    def install(self, site):
        """admin/cli/install_database.php for one site, as the web user.
        Once seen under heavy load: a MariaDB query failing in the middle of
        an install, which Moodle reports as a missing table.  A failed
        install is said on stderr with the server's errors, wiped and tried
        once more; a second failure ends the set-up."""
        try:
            self._install(site)
        except RuntimeError as e:
            self.log(f"{e}\n--- trying the install of {site.name} once more ---")
            self.timings[f"retried {site.name}"] = 1
            if site.dbkind != "pgsql" and self.mysql.revive():
                self.log("--- mariadbd had died: started again ---")
            self.drop_database(site)
            if site.is_master:              # the instance table went with it
                self._create_table()
                self.write_table()
            self._install(site)

    def drop_database(self, site):
        if site.dbkind == "pgsql":
            self.pg.sql(f"DROP DATABASE IF EXISTS {site.dbname}")
        else:
            self.mysql.sql(f"DROP DATABASE IF EXISTS {site.dbname}")
        shutil.rmtree(site.dataroot, ignore_errors=True)

    def _install(self, site):
        self.create_database(site)
        t0 = time.monotonic()
        proc = self.php(site, "admin/cli/install_database.php", "--agree-license",
                        "--lang=en", f"--adminpass={ADMIN_PASSWORD}",
                        f"--adminemail=admin@{site.host.split(':')[0].split('/')[0]}",
                        f"--fullname={site.fullname}", f"--shortname={site.name}",
                        timeout=INSTALL_TIMEOUT)
        if proc.returncode != 0:
            server = self.pg if site.dbkind == "pgsql" else self.mysql
            raise RuntimeError(f"installing {site.wwwroot} failed ({proc.returncode}):\n"
                               f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}\n"
                               f"--- {server.kind} server's errors ---\n{server_errors(server)}")
        self.timings[f"install {site.name}"] = time.monotonic() - t0
        open(os.path.join(self.root, f"installed-{site.name}"), "w").close()
        self.log(f"installed {site.wwwroot} in {time.monotonic() - t0:.0f} s")

    def add_site(self, site):
        """One more instance: its row, its database, installed."""
        self.sites[site.name] = site
        self._place(site)
        self.write_table()
        if site.install:
            self.install(site)
        return site

    # --- the instance table ---------------------------------------------

    def row(self, site):
        return {"id": site.id, "name": site.fullname, "shortname": site.name,
                "vhostname": site.wwwroot,
                "vdbtype": "pgsql" if site.dbkind == "pgsql" else "mariadb",
                "vdbhost": site.dbhost, "vdblogin": site.dblogin or USER,
                "vdbpass": site.dbpass if site.dblogin else PASSWORD,
                "vdbname": site.dbname, "vdbprefix": site.prefix, "vdbpersist": 0,
                "vdatapath": site.dataroot, "mnet": -1,
                "enabled": 1 if site.enabled else 0}

    def write_table(self):
        """Every instance's row, as in the sites (ports may have moved)."""
        stmts = []
        for s in self.instances():
            row = self.row(s)
            cols = ", ".join(row)
            vals = ", ".join(sql_value(v) for v in row.values())
            sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in row if c != "id")
            stmts.append(f"INSERT INTO {TABLE} ({cols}) VALUES ({vals}) "
                         f"ON CONFLICT (id) DO UPDATE SET {sets};")
        # Rows added without an id (vmoodlectl deploy) come after these.
        stmts.append(f"SELECT setval(pg_get_serial_sequence('{TABLE}', 'id'), "
                     f"(SELECT MAX(id) FROM {TABLE}));")
        self.master_sql("\n".join(stmts))

    def master_sql(self, text):
        return self.pg.sql(text, dbname=self.master().dbname, user=USER)

    @property
    def source(self):
        """The VMoodleSource / --source string for the table."""
        return self.pg.source(self.master().dbname)

    # --- running things as a site ---------------------------------------

    def env(self, site):
        """The environment mod_vmoodle (or vcron) gives this site's PHP."""
        base = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp",
                "LANG": "C.UTF-8"}
        if site.is_master:
            return dict(base, **master_env(self.master_settings()))
        return dict(base, **expected_env(self.row(site)))

    def php(self, site, script, *args, timeout=300, check=False):
        """Run php CODE/script args as the web user with site's environment."""
        cmd = [PHP] + [f"-d{k}={v}" for k, v in PHP_SETTINGS.items()]
        cmd += [os.path.join(self.code, script)] + list(args)
        proc = subprocess.run(cmd, env=self.env(site), capture_output=True, text=True,
                              timeout=timeout, cwd=self.code, **run_as_web_user())
        if check and proc.returncode != 0:
            raise AssertionError(f"{script} {' '.join(args)} on {site.name} exited "
                                 f"{proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        return proc

    def php_code(self, site, code, timeout=120):
        """php -r code in the Moodle directory as site (require('config.php'))."""
        return subprocess.run([PHP, "-r", code], env=self.env(site), capture_output=True,
                              text=True, timeout=timeout, cwd=self.code,
                              **run_as_web_user())

    def sql(self, site, text):
        """Run SQL in a site's database ({p} is its table prefix)."""
        text = text.replace("{p}", site.prefix)
        if site.dbkind == "pgsql":     # as the superuser: a site's own login
            return self.pg.sql(text, dbname=site.dbname)   # admits no other
        return self.mysql.sql(text, dbname=site.dbname)

    def admin_login(self, on):
        """USER as the administrative login of deploy, destroy and isolate
        (PostgreSQL: CREATEDB and CREATEROLE; MariaDB: GRANT OPTION), or
        not (as installed)."""
        if on:
            self.pg.sql(f"ALTER ROLE {USER} CREATEDB CREATEROLE")
        else:
            self.pg.sql(f"ALTER ROLE {USER} NOCREATEDB NOCREATEROLE")
        for host in ("127.0.0.1", "localhost"):
            self.mysql.sql(f"GRANT ALL ON *.* TO '{USER}'@'{host}' WITH GRANT OPTION"
                           if on else f"REVOKE GRANT OPTION ON *.* FROM '{USER}'@'{host}'")

    def admin_flags(self):
        """--admin-dbuser and --admin-dbpass-file: USER, its password in a
        root-only file."""
        path = os.path.join(self.root, "admin-dbpass")
        with open(path, "w") as f:
            f.write(PASSWORD + "\n")
        os.chmod(path, 0o600)
        return ["--admin-dbuser", USER, "--admin-dbpass-file", path]

    def program(self, name):
        return os.path.join(self.build, name)

    def vcron(self, *args, state=None):
        """vcron against the fleet's table, its state under root."""
        state = state or os.path.join(self.root, "vcron")
        cmd = [self.program("vcron"), "--config", "/dev/null", "--source", self.source,
               "--table", TABLE, "--moodle-dir", self.code, "--php", PHP,
               "--log-dir", os.path.join(state, "log"),
               "--lock-dir", os.path.join(state, "lock"),
               "--state-file", os.path.join(state, "vcron.state"),
               "--opcache-dir", os.path.join(self.root, "opcache"),
               "--master-config", self.master_config] + list(args)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=900)

    def tool(self, name, *args, timeout=900):
        """vmoodlectl (or another program) with --source/--table of the fleet."""
        cmd = [self.program(name), "--source", self.source, "--table", TABLE]
        if name == "vmoodlectl":
            cmd += ["--master-config", self.master_config]
        cmd += list(args)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)

    # --- web ------------------------------------------------------------

    def httpd(self, flavour, port=None, workdir=None):
        """An Httpd (not started) serving the fleet through mod_vmoodle."""
        server = Httpd(flavour, self.code, port=port, workdir=workdir)
        snap = os.path.join(server.workdir, "snap")
        os.makedirs(snap, 0o755, exist_ok=True)
        chown_to_run_user(snap)
        errors = os.path.join(server.workdir, "errors")
        copy_readable(os.path.join(ROOT, "templates", "errors"), errors)
        server.directives = f"""VMoodleEngine On
VMoodleSource "{self.source}"
VMoodleTable {TABLE}
VMoodleSnapshot {snap}/instances.snap
VMoodleRefresh 2
VMoodleMaster {self.master().host}
VMoodleMasterConfig {self.master_config}
VMoodleTrustedProxy {TRUSTED_PROXY}/32
VMoodleErrorPages {errors}
<Directory "{self.code}">
    AcceptPathInfo On
</Directory>
# Moodle's own page for a missing path, in the site's theme (error/index.php).
ErrorDocument 404 /error/index.php
"""
        settings = "\n".join(f"php_admin_value[{k}] = {v}" for k, v in PHP_SETTINGS.items())
        if server.fpm:
            server.fpm.pool_extra = settings
        else:
            server.extra = "\n".join(f"php_admin_value {k} {v}" for k, v in PHP_SETTINGS.items())
        return server

    def stop(self):
        for server in (self.pg, self.mysql):
            if server and server.running:
                server.stop()

    def cleanup(self):
        """Stop the databases and remove everything under root."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


# Error-log lines of Apache that fail the suite (the module's own and
# crashes).  PHP's messages through proxy_fcgi are Moodle's business and
# are only shown.
BAD_LINE = re.compile(r"\bVM\d{5}\b.*\b(error|crit|alert|emerg)\]|\] \[(?:[\w.]+:)?"
                      r"(crit|alert|emerg)\]|exit signal|dumped core")


def bad_log_lines(error_text, access_text):
    """What fails the suite in an Apache's logs: BAD_LINE, or a password
    ("secret" is in every one of the fleet's) anywhere."""
    bad = [line for line in error_text.splitlines() if BAD_LINE.search(line)]
    return bad + [line for line in error_text.splitlines() + access_text.splitlines()
                  if "secret" in line]


def server_errors(server):
    """The last error lines a database server logged (not its statements)."""
    path = server.log_path if server.kind == "pgsql" else os.path.join(server.dir, "error.log")
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return "(no log)"
    bad = [l for l in lines if re.search(r"ERROR|FATAL|PANIC|\[ERROR\]|Aborted|signal", l)]
    return "\n".join(bad[-30:]) or "(no error logged)"


def sql_value(v):
    if isinstance(v, int):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


def run_as_web_user():
    """subprocess arguments to run as www-data when we are root."""
    if os.geteuid() != 0:
        return {}
    return {"user": RUN_USER, "group": RUN_USER, "extra_groups": []}

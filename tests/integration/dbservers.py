"""Real PostgreSQL 15 and MariaDB servers for the tests, each in a temporary
directory on a free 127.0.0.1 port, never the system services.

Both log every statement they receive (PostgreSQL log_statement=all,
MariaDB general_log), so a test can check what reached the database.

Fixtures (import them into a test module or conftest.py):
  pg_server, mysql_server   one server per test session (PgServer, MySQLServer)
  pg_db, mysql_db           a fresh, empty database per test (Database)
  db                        parametrised over both: pg_db, then mysql_db

A Database has .source (the VMoodleSource string, without Apache's quotes),
.sql(text) (runs statements through psql / mariadb as the owner and returns
the output, tab-separated, no headers), .create_vmoodle_table(name) (VMoodle's
own layout, as Moodle's installer makes it) and .create_template_table()
(templates/schema/<kind>.sql, renamed to the plugin's name unless told).
"""
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PG_BIN = "/usr/lib/postgresql/15/bin"
PASSWORD = "secret-Pw'9"   # a quote: escaping must hold; "secret": log checks find it
USER = "vmoodle"
START_WAIT = 60                # seconds a server may take to accept clients


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, what, seconds=START_WAIT):
    """Poll check() until true; bounded."""
    for _ in range(int(seconds * 10)):
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


def quote_value(value):
    """A value for a key=value source string: single-quoted, escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Server:
    """What both servers share: a temp dir, a log to search, start/stop."""
    kind = None

    def __init__(self, directory=None):
        """A new server in a temporary directory, or the one kept in
        directory (created there the first time, started again after)."""
        if directory:
            os.makedirs(directory, exist_ok=True)
            self.dir = directory
        else:
            self.dir = tempfile.mkdtemp(prefix=f"vm-{self.kind}-")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.running = False
        self._names = itertools.count(1)

    def log_text(self):
        """Everything the server logged so far (statements included)."""
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def new_database(self, prefix="vmt"):
        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        self.sql(self.create_db_sql(name))
        return Database(self, name)

    def source(self, dbname, password=PASSWORD, port=None):
        """The VMoodleSource string (without Apache's quotes)."""
        return (f"{self.kind}:host=127.0.0.1 port={port or self.port} "
                f"dbname={dbname} user={USER} password={quote_value(password)}")

    @staticmethod
    def run_client(cmd, text):
        proc = subprocess.run(cmd, input=text, capture_output=True, text=True,
                              timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd[0]} failed: {proc.stderr}")
        return proc.stdout

    def cleanup(self):
        if self.running:
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class PgServer(Server):
    kind = "pgsql"

    def __init__(self, directory=None):
        super().__init__(directory)
        self.data = os.path.join(self.dir, "data")
        self.sockdir = self.dir
        self.log_path = os.path.join(self.dir, "server.log")
        self.as_owner = []
        if os.geteuid() == 0:   # initdb refuses root: run as postgres
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.as_owner = ["runuser", "-u", "postgres", "--"]
        if os.path.exists(os.path.join(self.data, "PG_VERSION")):
            self.start()
            return
        self._run([f"{PG_BIN}/initdb", "-D", self.data, "-U", "postgres",
                   "--auth-local=trust", "--auth-host=scram-sha-256",
                   "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
        self.start()
        self.sql(f"CREATE ROLE {USER} LOGIN PASSWORD "
                       f"'{PASSWORD.replace(chr(39), chr(39) * 2)}'")

    def _run(self, cmd, **kw):
        return subprocess.run(self.as_owner + cmd, check=True,
                              capture_output=True, text=True, timeout=120, **kw)

    def start(self):
        opts = (f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                f"-c unix_socket_directories={self.sockdir} "
                "-c log_statement=all -c fsync=off -c max_connections=200")
        self._run([f"{PG_BIN}/pg_ctl", "-D", self.data, "-l", self.log_path,
                   "-o", opts, "-w", "-t", str(START_WAIT), "start"])
        self.running = True

    def stop(self):
        self._run([f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", "fast", "-w",
                   "stop"])
        self.running = False

    def sql(self, text, dbname="postgres", user="postgres"):
        return self.run_client(
            ["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
             "-h", self.sockdir, "-p", str(self.port), "-U", user, "-d", dbname],
            text)

    def create_db_sql(self, name):
        return f"CREATE DATABASE {name} OWNER {USER}"


class MySQLServer(Server):
    kind = "mysql"

    def __init__(self, directory=None):
        super().__init__(directory)
        self.data = os.path.join(self.dir, "data")
        self.socket = os.path.join(self.dir, "mysqld.sock")
        self.log_path = os.path.join(self.dir, "general.log")
        self.proc = None
        if os.path.isdir(os.path.join(self.data, "mysql")):
            self.start()
            return
        subprocess.run(["mariadb-install-db", "--no-defaults", "--user=root",
                        f"--datadir={self.data}", "--skip-test-db",
                        "--auth-root-authentication-method=socket"],
                       check=True, capture_output=True, timeout=180)
        self.start()
        pw = PASSWORD.replace("\\", "\\\\").replace("'", "\\'")
        self.sql(
            f"CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY '{pw}';"
            f"CREATE USER '{USER}'@'localhost' IDENTIFIED BY '{pw}';"
            f"GRANT ALL ON *.* TO '{USER}'@'127.0.0.1';"
            f"GRANT ALL ON *.* TO '{USER}'@'localhost';")

    def start(self):
        self.errlog = open(os.path.join(self.dir, "error.log"), "ab")
        self.proc = subprocess.Popen(
            ["mariadbd", "--no-defaults", f"--datadir={self.data}",
             f"--socket={self.socket}", f"--port={self.port}",
             "--bind-address=127.0.0.1", "--user=root", "--skip-name-resolve",
             f"--pid-file={self.dir}/mysqld.pid", "--general-log=1",
             f"--general-log-file={self.log_path}",
             "--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M",
             "--innodb-flush-log-at-trx-commit=0", "--max-connections=300"],
            stdout=self.errlog, stderr=subprocess.STDOUT)
        wait_until(self._ready, "mariadbd to accept connections")
        self.running = True

    def revive(self):
        """Start the server again when it has died (MariaDB 10.11 was seen
        to crash with signal 11 in the middle of a Moodle install under
        load); True when it had to."""
        if self.proc is None or self.proc.poll() is None:
            return False
        self.errlog.close()
        self.start()
        return True

    def _ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError("mariadbd exited; see "
                               f"{self.dir}/error.log")
        return subprocess.run(["mariadb-admin", "--no-defaults", "-S",
                               self.socket, "-u", "root", "ping"],
                              capture_output=True, timeout=30).returncode == 0

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.errlog.close()
        self.running = False

    def sql(self, text, dbname=None):
        return self.run_client(
            ["mariadb", "--no-defaults", "-S", self.socket, "-u", "root",
             "-N", "-B"] + ([dbname] if dbname else []), text)

    def create_db_sql(self, name):
        return f"CREATE DATABASE {name} CHARACTER SET utf8mb4"


# The table templates/schema/*.sql creates: not Moodle's (no mdl_ prefix).
SCHEMA_TABLE = "vmoodle_instances"

# VMoodle's table as Moodle's installer creates it from local/vmoodle's
# install.xml: every column nullable or defaulted, only the primary key.
VMOODLE_LAYOUT = {
    "pgsql": """CREATE TABLE {t} (
    id BIGSERIAL PRIMARY KEY, name VARCHAR(255), shortname VARCHAR(80),
    description TEXT, vhostname VARCHAR(255),
    vdbtype VARCHAR(16) NOT NULL DEFAULT 'mysqli',
    vdbhost VARCHAR(80) NOT NULL DEFAULT 'localhost',
    vdblogin VARCHAR(16) NOT NULL DEFAULT 'root', vdbpass VARCHAR(32),
    vdbname VARCHAR(64), vdbprefix VARCHAR(10) NOT NULL DEFAULT 'mdl_',
    vdbpersist SMALLINT NOT NULL DEFAULT 0, vdatapath VARCHAR(255),
    mnet SMALLINT NOT NULL DEFAULT 0, enabled SMALLINT NOT NULL DEFAULT 1,
    timecreated BIGINT NOT NULL DEFAULT 0, lastcron BIGINT NOT NULL DEFAULT 0,
    lastcrongap BIGINT NOT NULL DEFAULT 0,
    croncount BIGINT NOT NULL DEFAULT 0, metadata TEXT);""",
    "mysql": """CREATE TABLE {t} (
    id BIGINT(10) NOT NULL AUTO_INCREMENT, name VARCHAR(255),
    shortname VARCHAR(80), description LONGTEXT, vhostname VARCHAR(255),
    vdbtype VARCHAR(16) NOT NULL DEFAULT 'mysqli',
    vdbhost VARCHAR(80) NOT NULL DEFAULT 'localhost',
    vdblogin VARCHAR(16) NOT NULL DEFAULT 'root', vdbpass VARCHAR(32),
    vdbname VARCHAR(64), vdbprefix VARCHAR(10) NOT NULL DEFAULT 'mdl_',
    vdbpersist TINYINT(1) NOT NULL DEFAULT 0, vdatapath VARCHAR(255),
    mnet MEDIUMINT(3) NOT NULL DEFAULT 0, enabled TINYINT(1) NOT NULL DEFAULT 1,
    timecreated BIGINT(10) NOT NULL DEFAULT 0,
    lastcron BIGINT(11) NOT NULL DEFAULT 0,
    lastcrongap BIGINT(11) NOT NULL DEFAULT 0,
    croncount BIGINT(11) NOT NULL DEFAULT 0, metadata LONGTEXT,
    PRIMARY KEY (id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
    COLLATE=utf8mb4_unicode_ci;""",
}


class Database:
    """One database on a server, owned by the vmoodle user."""

    def __init__(self, server, name):
        self.server, self.name, self.kind = server, name, server.kind
        self.source = server.source(name)

    def sql(self, text):
        if self.kind == "pgsql":
            return self.server.sql(text, dbname=self.name, user=USER)
        return self.server.sql(text, dbname=self.name)

    def source_with(self, password=PASSWORD, port=None):
        return self.server.source(self.name, password=password, port=port)

    def create_vmoodle_table(self, table="mdl_local_vmoodle"):
        self.sql(VMOODLE_LAYOUT[self.kind].format(t=table))

    def create_template_table(self, as_table="mdl_local_vmoodle"):
        """templates/schema/<kind>.sql as shipped (its table is
        SCHEMA_TABLE), then renamed to as_table (None: keep the shipped
        name): most tests read it under the plugin's name, the sources'
        default."""
        path = os.path.join(ROOT, "templates", "schema", f"{self.kind}.sql")
        with open(path) as f:
            self.sql(f.read())
        if as_table and as_table != SCHEMA_TABLE:
            self.sql(f"ALTER TABLE {SCHEMA_TABLE} RENAME TO {as_table};")

    def insert(self, table="mdl_local_vmoodle", **cols):
        """Insert one row; values are passed as literals the test chose."""
        names = ", ".join(cols)
        values = ", ".join(sql_literal(v, self.kind) for v in cols.values())
        self.sql(f"INSERT INTO {table} ({names}) VALUES ({values});")


def sql_literal(value, kind):
    """A literal for test-written SQL (psql/mariadb client input)."""
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    text = str(value).replace("'", "''")
    if kind == "mysql":
        text = text.replace("\\", "\\\\")
    return f"'{text}'"


@pytest.fixture(scope="session")
def pg_server():
    server = PgServer()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def mysql_server():
    server = MySQLServer()
    yield server
    server.cleanup()


@pytest.fixture
def pg_db(pg_server):
    if not pg_server.running:
        pg_server.start()
    return pg_server.new_database()


@pytest.fixture
def mysql_db(mysql_server):
    if not mysql_server.running:
        mysql_server.start()
    return mysql_server.new_database()


@pytest.fixture(params=["pgsql", "mysql"])
def db(request):
    """A fresh database on each kind of server in turn."""
    return request.getfixturevalue("pg_db" if request.param == "pgsql"
                                   else "mysql_db")

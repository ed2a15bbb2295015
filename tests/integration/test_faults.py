"""Faults while requests keep coming.  Each case runs a bounded load of
keep-alive clients across several instances and counts the failed
responses (no answer after one retry on a fresh connection, as a browser
retries an idempotent GET, or not 200) and the misrouted ones (another
instance's answer).  Both must be zero."""
import os
import signal
import struct
import subprocess
import threading
import time

import pytest

import client
from apache import APACHE, eventually, server_env
from dbservers import PgServer, pg_server, mysql_server, pg_db, mysql_db, db  # noqa: F401
from instances import instance

HOSTS = [(f"f{i}.example.edu", 100 + i) for i in range(8)]
ROWS = [instance(id, host) for host, id in HOSTS]
NEW = instance(200, "new.example.edu")
CLIENTS = 4
MAX_REQUESTS = 200_000      # per client: the bound if a case overruns
DEADLINE = 30               # seconds for a change to be seen after a fault
SNAP_MAGIC = b"VMSNAP\r\n"


class Load:
    """CLIENTS threads requesting static.txt across HOSTS until stopped."""

    def __init__(self, port):
        self.port = port
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.failed = []
        self.misrouted = []
        self.threads = [threading.Thread(target=self.client, args=(n,), daemon=True)
                        for n in range(CLIENTS)]

    def client(self, n):
        conn = client.KeepAlive(self.port)
        for i in range(MAX_REQUESTS):
            if self.stopping.is_set():
                break
            host, id = HOSTS[(i + n) % len(HOSTS)]
            try:
                resp = conn.get(host, "/static.txt")
            except OSError as e:
                conn.close()
                self.count(self.failed, f"{host}: {e!r}")
                continue
            routed = resp.header("X-VMoodle-Id")
            if resp.status == 200 and routed == str(id):
                self.count(None, None)
            elif routed not in (None, "", "(null)") and routed != str(id):
                self.count(self.misrouted, f"{host} -> {routed} ({resp.status})")
            else:
                self.count(self.failed, f"{host}: status {resp.status}")
        conn.close()

    def count(self, bucket, what):
        with self.lock:
            if bucket is None:
                self.ok += 1
            else:
                bucket.append(what)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=60)

    def assert_clean(self, at_least=100):
        assert self.misrouted == [], f"{len(self.misrouted)} misrouted: {self.misrouted[:10]}"
        assert self.failed == [], f"{len(self.failed)} failed: {self.failed[:10]}"
        assert self.ok >= at_least, f"only {self.ok} requests served"


def routes(server, row):
    """True when row's host is answered by row's instance."""
    host = row["vhostname"].split("://", 1)[1]
    resp = client.get(server.port, host, "/static.txt")
    return resp.status == 200 and resp.header("X-VMoodle-Id") == str(row["id"])


def wait_routes(server, row):
    eventually(lambda: routes(server, row), bool, DEADLINE,
               f"{row['vhostname']} routed")


def snapshot_path(server):
    return os.path.join(server.workdir, "snap", "instances.snap")


def snapshot_valid(path):
    """Magic, and the size the header records (offset 16, after magic,
    version and header size): what a reader checks first."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return False
    return (data[:8] == SNAP_MAGIC and len(data) >= 24
            and struct.unpack_from("=Q", data, 16)[0] == len(data))


def child_pids(parent):
    """Pids whose parent is parent (the Apache children we started)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                pids.append(int(entry))
    return pids


def test_graceful_restart_every_second(start_vmoodle):
    server = start_vmoodle(ROWS)
    # Each restart leaves the old generation's processes finishing their
    # keep-alive connections: with restarts every second Apache may say
    # its scoreboard is full (its own limit, not a failed request).
    server.expect_error(r"AH03490: scoreboard is full")
    before = server.restarts()
    graceful = [APACHE, "-d", server.workdir, "-f", server.conf, "-k", "graceful"]
    # apache2 -k finds the server by its pid file, written after it listens.
    pidfile = os.path.join(server.workdir, "httpd.pid")
    eventually(lambda: os.path.exists(pidfile) and open(pidfile).read().strip(),
               lambda v: v == str(server.pid), DEADLINE, "the pid file")
    with Load(server.port) as load:
        for _ in range(20):
            done = subprocess.run(graceful, capture_output=True, text=True,
                                  timeout=30, env=server_env())
            assert done.returncode == 0, done.stdout + done.stderr
            time.sleep(1)
    load.assert_clean()
    assert server.restarts() - before >= 15, "the restarts did not happen"
    server.write(ROWS + [NEW])
    wait_routes(server, NEW)


def test_children_killed(start_vmoodle):
    server = start_vmoodle(ROWS)
    server.expect_error(r"exit signal Killed \(9\)")   # ours, and only those
    killed = 0
    with Load(server.port) as load:
        for _ in range(10):
            time.sleep(0.5)
            children = child_pids(server.pid)
            if children:
                os.kill(children[killed % len(children)], signal.SIGKILL)
                killed += 1
        time.sleep(1)
    assert killed == 10
    load.assert_clean()
    # The table writer (in one child) survived or moved on.
    server.write(ROWS + [NEW])
    wait_routes(server, NEW)


def truncate(path):
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)


def fill_with_garbage(path):
    size = os.path.getsize(path)
    with open(path, "wb") as f:
        f.write(os.urandom(size))


def make_unreadable(path):
    # Only the children (www-data) are kept out: root reads anything.
    os.chmod(path, 0)


@pytest.mark.parametrize("damage", [truncate, fill_with_garbage, make_unreadable],
                         ids=["truncated", "garbage", "unreadable"])
def test_snapshot_damaged(start_vmoodle, damage):
    server = start_vmoodle(ROWS)
    path = snapshot_path(server)
    wait_routes(server, ROWS[0])    # start-up done: the snapshot is written
    with Load(server.port) as load:
        time.sleep(0.5)
        damage(path)
        # The writer replaces the damaged file at its next read of the
        # source (VMoodleRefresh 1), with a valid snapshot readable by
        # its owner, User, alone.
        eventually(lambda: snapshot_valid(path)
                   and os.stat(path).st_mode & 0o777 == 0o600,
                   bool, DEADLINE, "the snapshot rewritten")
        server.write(ROWS + [NEW])
        wait_routes(server, NEW)
    load.assert_clean()


@pytest.fixture
def tiny_disk(request):
    """Mount a 256 KiB tmpfs on a directory (root only); lazily unmounted
    after the test, when the server has let go of its files."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    mounted = []

    def mount(path):
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755",
                        "vmoodle-full", path], check=True, timeout=30)
        mounted.append(path)

    yield mount
    for path in mounted:
        subprocess.run(["umount", "-l", path], timeout=30)


def fill_disk(directory):
    """Write a filler file until the file system is full; return it."""
    filler = os.path.join(directory, "filler")
    with open(filler, "wb", buffering=0) as f:
        try:
            for _ in range(1024):
                f.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def test_disk_full_while_writing_snapshot(start_httpd, flavour, site, tiny_disk):
    from conftest import vmoodle_server
    server = vmoodle_server(flavour, site, ROWS)
    snapdir = os.path.join(server.workdir, "snap")
    tiny_disk(snapdir)
    os.chown(snapdir, *_www_data())
    start_httpd(server=server)
    server.expect_error(r"VM000(04|10):")   # the failed writes are errors
    path = snapshot_path(server)
    wait_routes(server, ROWS[0])    # start-up done: the snapshot is written
    with open(path, "rb") as f:
        before = f.read()
    with Load(server.port) as load:
        filler = fill_disk(snapdir)
        server.write(ROWS + [NEW])
        time.sleep(3)           # several refresh attempts fail meanwhile
        with open(path, "rb") as f:
            assert f.read() == before, "the old snapshot was damaged"
        assert not routes(server, NEW)
        status = client.get(server.port, "127.0.0.1", "/vmoodle-status?json").json()
        assert status["refresh"]["ok"] is False
        assert "space" in status["refresh"]["error"].lower()
        os.unlink(filler)
        wait_routes(server, NEW)
    load.assert_clean()
    assert not [n for n in os.listdir(snapdir) if ".tmp" in n], "temporary files left"


def _www_data():
    import pwd
    pw = pwd.getpwnam("www-data")
    return pw.pw_uid, pw.pw_gid


def kill_database(server):
    """SIGKILL the database server and every process it forked."""
    if isinstance(server, PgServer):
        with open(os.path.join(server.data, "postmaster.pid")) as f:
            postmaster = int(f.readline())
        victims = [postmaster] + child_pids(postmaster)
    else:
        victims = [server.proc.pid]
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if isinstance(server, PgServer):
        eventually(lambda: not any(os.path.exists(f"/proc/{p}") for p in victims),
                   bool, DEADLINE, "postgres gone")
    else:
        server.proc.wait(timeout=DEADLINE)
        server.errlog.close()
    server.running = False


def test_database_killed_while_table_is_read(db, start_vmoodle):
    db.create_vmoodle_table()
    if db.kind == "mysql":
        # The test server trades durability for speed (commits flushed once
        # a second): a SIGKILL right after the insert would lose the rows.
        db.server.sql("SET GLOBAL innodb_flush_log_at_trx_commit = 1;")
    # Enough rows that a read takes a while, so kills land inside one.
    values = ", ".join(
        f"({id}, 'http://{host}', 'pgsql', 'moodle{id}', 'secret-{id}', '/srv/{id}')"
        for host, id in HOSTS + [(f"x{i}.example.edu", 1000 + i) for i in range(3000)])
    db.sql("INSERT INTO mdl_local_vmoodle (id, vhostname, vdbtype, vdbname, "
           f"vdbpass, vdatapath) VALUES {values};")
    server = start_vmoodle([], source=db.source)
    server.expect_error(r"VM00(010|1\d\d):")   # the outage is an error
    wait_routes(server, {"vhostname": "http://f0.example.edu", "id": 100})
    with Load(server.port) as load:
        for delay in (0.3, 0.7, 1.1):
            time.sleep(delay)
            kill_database(db.server)
            time.sleep(2)
            db.server.start()
        db.sql("UPDATE mdl_local_vmoodle SET vhostname = 'http://new.example.edu' "
               "WHERE id = 1000;")
        wait_routes(server, {"vhostname": "http://new.example.edu", "id": 1000})
    load.assert_clean()
    assert "VM00010:" in server.errors_text(), "the outage went unnoticed"

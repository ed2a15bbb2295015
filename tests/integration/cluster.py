"""A scale-out topology on this one machine, built from the shipped samples
(conf/haproxy.cfg, conf/vmoodle-node.conf, templates/config.php's CLUSTER
section) so that what we ship is what we test.  Nothing here is tied to
pytest or to the stand-in Moodle: tests/moodle can build the same topology
around real Moodle code.

    Certificate(dir[, names])    a self-signed certificate for *.example.edu
                                 or the names given (openssl)
    PgPrimary() / PgReplica(p)   PostgreSQL with one streaming replica
    Redis()                      a redis-server for sessions
    cluster_config_php(...)      config.php with its CLUSTER section switched on
    Node(...)                    Apache (event) + mod_vmoodle + php-fpm on its
                                 own loopback address (127.0.0.2, 127.0.0.3...),
                                 serving a copy of a page directory or a
                                 codebase shared by every node
    platform_trees(...)          more code trees and their platforms file,
                                 the same for every node
    Balancer(...)                HAProxy on 127.0.0.1: TLS, health checks, retries
    Cluster(...)                 all of them; the table in a new primary and
                                 replica, or read from a source given
    TlsClient(...)               a pooled client connection through the balancer

Every server runs in the foreground as our child, in its own temporary
directory, on free ports; stop()/cleanup() end them."""
import csv
import io
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time

import client
from apache import (Httpd, can_connect, chown_to_run_user, copy_readable, free_port,
                    make_workdir, read_text, stop_process, wait_until)
from dbservers import PG_BIN, PgServer, Server
from instances import write_master_config
from shipped import ROOT, localise, make_docroot

HAPROXY = "/usr/sbin/haproxy"
REDIS = "/usr/bin/redis-server"
DOMAIN = "example.edu"
REPLICATION_USER = "replicator"
REPLICATION_PASSWORD = "secret-repl"


def conf_text(name):
    with open(os.path.join(ROOT, "conf", name)) as f:
        return f.read()


# --- TLS ---------------------------------------------------------------

class Certificate:
    """A self-signed certificate for *.example.edu, or for names: crt (for
    clients), pem (certificate and key, as HAProxy takes them)."""

    def __init__(self, workdir, names=None):
        names = names or (f"*.{DOMAIN}", DOMAIN)
        self.crt = os.path.join(workdir, "site.crt")
        key = os.path.join(workdir, "site.key")
        self.pem = os.path.join(workdir, "site.pem")
        alt = ",".join(f"DNS:{n}" for n in names)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", key, "-out", self.crt, "-days", "2",
                        "-subj", f"/CN={names[0]}", "-addext", f"subjectAltName={alt}"],
                       check=True, capture_output=True, timeout=60)
        with open(self.pem, "w") as out:
            for part in (self.crt, key):
                with open(part) as f:
                    out.write(f.read())
        os.chmod(self.pem, 0o600)

    def client_context(self):
        """What a browser would do with this certificate installed."""
        return ssl.create_default_context(cafile=self.crt)


# --- PostgreSQL primary and streaming replica --------------------------

class PgPrimary(PgServer):
    """A PostgreSQL server that streams its WAL to replicas."""

    def __init__(self):
        super().__init__()
        self.sql(f"CREATE ROLE {REPLICATION_USER} REPLICATION LOGIN PASSWORD "
                 f"'{REPLICATION_PASSWORD}'")


class PgReplica(PgServer):
    """A hot standby of primary, made with pg_basebackup; read-only."""

    def __init__(self, primary):
        Server.__init__(self)
        self.primary = primary
        self.data = os.path.join(self.dir, "data")
        self.sockdir = self.dir
        self.log_path = os.path.join(self.dir, "server.log")
        self.as_owner = primary.as_owner
        if self.as_owner:
            shutil.chown(self.dir, "postgres", "postgres")
        subprocess.run(self.as_owner + [
            "env", f"PGPASSWORD={REPLICATION_PASSWORD}",
            f"{PG_BIN}/pg_basebackup",
            "-h", "127.0.0.1", "-p", str(primary.port), "-U", REPLICATION_USER,
            "-D", self.data, "-R", "-X", "stream", "--checkpoint=fast", "--no-sync"],
            check=True, capture_output=True, text=True, timeout=120)
        self.start()

    def lag_seconds(self):
        """How far behind the primary this replica has replayed."""
        out = self.sql("SELECT COALESCE(EXTRACT(EPOCH FROM now() - "
                       "pg_last_xact_replay_timestamp()), 0)").strip()
        return float(out or 0)


# --- Redis -------------------------------------------------------------

class Redis:
    """redis-server on 127.0.0.1, nothing written to disk."""

    def __init__(self):
        self.dir = make_workdir("vm-redis-")
        self.port = free_port()
        self.log = os.path.join(self.dir, "redis.log")
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            [REDIS, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--logfile", self.log,
             "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: can_connect(("127.0.0.1", self.port)), 20, "redis")

    def command(self, *words):
        """One command through the RESP protocol; the raw reply."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(f"*{len(words)}\r\n".encode() + b"".join(
                f"${len(w)}\r\n{w}\r\n".encode() for w in words))
            return s.recv(65536).decode(errors="replace")

    def stop(self):
        stop_process(self.proc, signal.SIGTERM)
        self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# --- config.php's CLUSTER section ---------------------------------------

def cluster_config_php(text, redis, localcache, redisdb=0, sslproxy=False):
    """templates/config.php's text with its CLUSTER section switched on for
    this node: sessions in redis ("host:port"), local cache under localcache."""
    values = {"enabled": "true", "redis": f"'{redis}'", "redisdb": str(redisdb),
              "localcache": f"'{localcache}'", "sslproxy": "true" if sslproxy else "false"}
    for key, value in values.items():
        text, n = re.subn(rf"(\n    '{key}'\s*=> )[^,]+,", rf"\g<1>{value},", text, count=1)
        if n != 1:
            raise ValueError(f"config.php's CLUSTER section lost '{key}'")
    return text


# --- web nodes -----------------------------------------------------------

class Node:
    """One web node: conf/vmoodle-node.conf on address, routing the table
    read from source, its snapshot and local cache on its own "disk".

    page_dir: the site files (the tests' reporting lib/setup.php); the
    node's docroot gets templates/config.php with the CLUSTER section on.
    codebase instead: a Moodle code directory every node serves from the
    same path, as nodes do (Moodle keys its caches on that path), with its
    config.php and the CLUSTER section on: this node's own copy, which the
    node's php-fpm alone sees there (bound over it in a mount namespace of
    its own: needs root).  table, master: VMoodleTable, VMoodleMaster;
    php_settings: php_admin_value lines of the pool; platforms: the
    platforms file (platform_trees), the sample's VMoodlePlatforms and
    <Directory> switched on for the folder holding it and its trees."""

    def __init__(self, name, address, page_dir, source, redis, trusted="127.0.0.1",
                 refresh=1, codebase=None, table=None, master=None, php_settings=None,
                 master_config=None, platforms=None):
        self.name = name
        self.workdir = make_workdir(f"vm-{name}-")
        self.localcache = os.path.join(self.workdir, "localcache")
        os.mkdir(self.localcache, 0o755)
        chown_to_run_user(self.localcache)
        if codebase:
            docroot, shared = codebase, os.path.join(codebase, "config.php")
            config = os.path.join(self.workdir, "config.php")
        else:
            docroot = make_docroot(self.workdir, page_dir)
            shared = config = os.path.join(docroot, "config.php")
        with open(shared) as f:
            text = cluster_config_php(f.read(), redis, self.localcache)
        with open(config, "w") as f:
            f.write(text)
        os.chmod(config, 0o644)
        snapdir = os.path.join(self.workdir, "snap")
        os.mkdir(snapdir, 0o755)
        chown_to_run_user(snapdir)
        copy_readable(os.path.join(ROOT, "templates", "errors"),
                      os.path.join(self.workdir, "errors"))
        self.server = Httpd("event-fpm", workdir=self.workdir, address=address,
                            extra_modules=("remoteip",))
        self.address, self.port = address, self.server.port
        if codebase:
            self.server.fpm.launcher = [
                "unshare", "--mount", "--propagation", "private", "sh", "-c",
                'mount --bind "$1" "$2" && shift 2 && exec "$@"', "sh", config, shared]
        self.server.fpm.pool_extra = "\n".join(
            f"php_admin_value[{k}] = {v}" for k, v in (php_settings or {}).items())
        mapping = {}
        if table:
            mapping["VMoodleEngine On\n"] = f"VMoodleEngine On\n    VMoodleTable {table}\n"
        if master:
            mapping["VMoodleMaster moodle.example.edu"] = f"VMoodleMaster {master}"
        if platforms:
            mapping.update(platforms_mapping(platforms))
        mapping["/etc/vmoodle/master.conf"] = master_config or write_master_config(
            os.path.join(self.workdir, "master.conf"))
        spec = source.split(":", 1)
        self.server.site_conf = localise(conf_text("vmoodle-node.conf"), {
            **mapping,
            "*:80": f"{address}:{self.port}",
            "/var/www/moodle": docroot,
            'pgsql:"host=db-replica.internal dbname=moodle user=vmoodle_read '
            'password=CHANGE-ME"': f'{spec[0]}:"{spec[1]}"',
            "/var/cache/vmoodle/instances.snap": os.path.join(snapdir, "instances.snap"),
            "VMoodleRefresh 5": f"VMoodleRefresh {refresh}",
            "/usr/local/share/vmoodle/errors": os.path.join(self.workdir, "errors"),
            "VMoodleTrustedProxy 10.0.0.2 10.0.0.3": f"VMoodleTrustedProxy {trusted}",
            "RemoteIPInternalProxy 10.0.0.2 10.0.0.3": f"RemoteIPInternalProxy {trusted}",
            'X-VMoodle-Node "node1"': f'X-VMoodle-Node "{name}"',
            "proxy:unix:/run/php/php8.2-fpm.sock|fcgi://localhost":
                self.server.php_handler_target,
            "${APACHE_LOG_DIR}/vmoodle_error.log": self.server.error_log,
            "${APACHE_LOG_DIR}/vmoodle_access.log": self.server.access_log,
        })

    def start(self):
        if os.path.exists(self.server.fpm.socket):     # left by a SIGKILL
            os.unlink(self.server.fpm.socket)
        self.server.start()
        return self

    def kill(self):
        """SIGKILL to every process of the node: Apache and php-fpm."""
        for proc in (self.server.proc, self.server.fpm.proc):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        self.server.proc = self.server.fpm.proc = None

    def get(self, host, path="/static.txt", headers=None):
        """A request straight to this node, as the balancer sends it."""
        hdrs = {"X-Forwarded-Proto": "https", **(headers or {})}
        conn = client.Persistent(self.port, address=self.address)
        try:
            [resp] = conn.exchange(client.request_bytes(host, path, headers=hdrs))
            return resp
        finally:
            conn.close()

    def unexpected_errors(self):
        return self.server.unexpected_errors()

    def stop(self):
        self.server.stop()

    def cleanup(self):
        self.stop()
        if not os.environ.get("VMOODLE_KEEP"):
            shutil.rmtree(self.workdir, ignore_errors=True)


def platform_trees(workdir, page_dir, redis, names, extra_dir=None):
    """Code trees workdir/<name> (copies of page_dir and extra_dir, with
    config.php's CLUSTER section on, a local cache of their own) and
    workdir/platforms.conf naming them: one file and one path per tree for
    every node, as conf/vmoodle-node.conf says.  Returns the file's path."""
    localcache = os.path.join(workdir, "localcache")
    os.mkdir(localcache, 0o755)
    chown_to_run_user(localcache)
    lines = []
    for name in names:
        tree = os.path.join(workdir, name)
        copy_readable(page_dir, tree)
        if extra_dir:
            copy_readable(extra_dir, tree)
        with open(os.path.join(ROOT, "templates", "config.php")) as f:
            text = cluster_config_php(f.read(), redis, localcache)
        with open(os.path.join(tree, "config.php"), "w") as f:
            f.write(text)
        os.chmod(os.path.join(tree, "config.php"), 0o644)
        lines.append(f"{name} = {tree}\n")
    path = os.path.join(workdir, "platforms.conf")
    with open(path, "w") as f:
        f.writelines(lines)
    os.chmod(path, 0o644)
    return path


def platforms_mapping(path):
    """conf/vmoodle-node.conf's platforms lines, switched on for the file
    at path and the folder of trees holding it."""
    trees = os.path.dirname(path)
    return {
        "#VMoodlePlatforms /etc/vmoodle/platforms.conf": f"VMoodlePlatforms {path}",
        "    #<Directory /srv/moodle>\n    #    Require all granted\n"
        "    #    AllowOverride None\n    #</Directory>\n":
            f"    <Directory {trees}>\n        Require all granted\n"
            "        AllowOverride None\n    </Directory>\n",
    }


# --- the balancer --------------------------------------------------------

class Balancer:
    """conf/haproxy.cfg on 127.0.0.1 (a TLS port and a plain one) in front
    of nodes; stats() reads its counters from the stats socket.
    redirect_http=False drops the plain port's redirect to https, as the
    file says to for a table with http:// instances."""

    def __init__(self, certificate, tls_port=None, http_port=None, redirect_http=True):
        self.dir = make_workdir("vm-haproxy-")
        self.cert = certificate
        self.redirect_http = redirect_http
        self.tls_port = tls_port or free_port()
        self.http_port = http_port or free_port()
        self.socket = os.path.join(self.dir, "admin.sock")
        self.conf = os.path.join(self.dir, "haproxy.cfg")
        self.log = os.path.join(self.dir, "haproxy.log")
        self.proc = None

    def configure(self, nodes):
        text = localise(conf_text("haproxy.cfg"), {
            "log /dev/log local0": "log stdout format raw local0",
            "stats socket /run/haproxy/admin.sock": f"stats socket {self.socket}",
            "bind :443 ssl crt /etc/haproxy/site.pem":
                f"bind 127.0.0.1:{self.tls_port} ssl crt {self.cert.pem}",
            "bind :80\n": f"bind 127.0.0.1:{self.http_port}\n",
            "server node1 10.0.0.11:80": f"server {nodes[0].name} "
                                         f"{nodes[0].address}:{nodes[0].port}",
            "server node2 10.0.0.12:80": f"server {nodes[1].name} "
                                         f"{nodes[1].address}:{nodes[1].port}",
        })
        if not self.redirect_http:
            text = localise(text, {
                "    http-request redirect scheme https code 301 unless { ssl_fc }\n": ""})
        with open(self.conf, "w") as f:
            f.write(text)

    def start(self, nodes):
        self.configure(nodes)
        check = subprocess.run([HAPROXY, "-c", "-f", self.conf], capture_output=True,
                               text=True, timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([HAPROXY, "-db", "-f", self.conf], stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: self.proc.poll() is not None
                   or (can_connect(("127.0.0.1", self.tls_port))
                       and can_connect(self.socket)), 20, "haproxy")
        assert self.proc.poll() is None, read_text(self.log)
        self.wait_status({n.name: "UP" for n in nodes})
        return self

    def stats(self):
        """{server name: its row of `show stat`} for the nodes' backend."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(self.socket)
            s.sendall(b"show stat\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        rows = csv.DictReader(io.StringIO(data.decode().lstrip("# ")))
        return {r["svname"]: r for r in rows if r["pxname"] == "nodes"}

    def status(self, name):
        return self.stats()[name]["status"].split()[0]

    def wait_status(self, wanted, timeout=30):
        wait_until(lambda: all(self.status(n) == s for n, s in wanted.items()),
                   timeout, f"haproxy to see {wanted}", interval=0.2)

    def stop(self):
        stop_process(self.proc, signal.SIGTERM)
        self.proc = None

    def cleanup(self):
        self.stop()
        if not os.environ.get("VMOODLE_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)


class TlsClient(client.Persistent):
    """A client's keep-alive connection to the balancer's TLS port, from
    source (a loopback address: 127.0.0.9 shows in X-Forwarded-For)."""

    def __init__(self, balancer, server_name, source="127.0.0.1"):
        raw = socket.create_connection(("127.0.0.1", balancer.tls_port),
                                       timeout=client.TIMEOUT, source_address=(source, 0))
        sock = balancer.cert.client_context().wrap_socket(raw, server_hostname=server_name)
        super().__init__(balancer.tls_port, sock=sock)


def insert_rows(db, rows, table="mdl_local_vmoodle"):
    """Insert instance rows (instances.instance() dicts) in one statement;
    a column some rows lack gets its default in those."""
    from dbservers import sql_literal
    names = list(dict.fromkeys(n for r in rows for n in r))
    values = ",\n".join("(" + ", ".join(sql_literal(r[n], db.kind) if n in r else "DEFAULT"
                                         for n in names) + ")"
                        for r in rows)
    db.sql(f"INSERT INTO {table} ({', '.join(names)}) VALUES\n{values};")


class Cluster:
    """The whole topology: a balancer on 127.0.0.1 in front of nodes on
    127.0.0.2, 127.0.0.3..., which read the instance table from a streaming
    replica of the primary; sessions in one Redis.

    rows(tls_port) gives the instance rows (their URLs carry the balancer's
    public port); they are in the primary before the nodes start.  With
    source, the nodes read that table instead (no primary, no replica).
    names: the certificate's; redirect_http: the balancer's (Balancer);
    platforms: names of more code trees (platform_trees: copies of page_dir
    and platform_extra) under self.trees, every node reading their file
    (self.platforms);
    node_options go to every Node (codebase, table, master, php_settings)."""

    def __init__(self, page_dir=None, rows=None, nodes=2, refresh=1, source=None,
                 names=None, redirect_http=True, platforms=(), platform_extra=None,
                 **node_options):
        self.workdir = make_workdir("vm-cluster-")
        self.parts = []
        try:
            self.cert = Certificate(self.workdir, names)
            self.balancer = self._own(Balancer(self.cert, redirect_http=redirect_http))
            if source is None:
                source = self._primary_and_replica(rows)
            self.redis = self._own(Redis())
            if platforms:
                self.trees = os.path.join(self.workdir, "trees")
                os.mkdir(self.trees, 0o755)
                self.platforms = node_options["platforms"] = platform_trees(
                    self.trees, page_dir, f"127.0.0.1:{self.redis.port}", platforms,
                    platform_extra)
            self.nodes = [self._own(Node(f"node{i + 1}", f"127.0.0.{i + 2}", page_dir,
                                         source, f"127.0.0.1:{self.redis.port}",
                                         refresh=refresh, **node_options))
                          for i in range(nodes)]
            for node in self.nodes:
                node.server.extra = ('Header always set X-VMoodle-Id "%{VMOODLE_ID}e" '
                                     'env=VMOODLE_ID\n')
                node.start()
            self.balancer.start(self.nodes)
        except BaseException:
            self.cleanup()
            raise

    def _primary_and_replica(self, rows):
        """The table in a new primary (the shipped schema, platform and
        aliases included), read by the nodes from its replica."""
        self.primary = self._own(PgPrimary())
        self.db = self.primary.new_database()
        self.db.create_template_table()
        self.rows = rows(self.balancer.tls_port)
        insert_rows(self.db, self.rows)
        self.replica = self._own(PgReplica(self.primary))
        return self.replica.source(self.db.name)

    def _own(self, part):
        self.parts.append(part)
        return part

    def unexpected_errors(self):
        found = {n.name: n.unexpected_errors() for n in self.nodes}
        return {name: lines for name, lines in found.items() if lines}

    def cleanup(self):
        for part in reversed(self.parts):
            part.cleanup()
        shutil.rmtree(self.workdir, ignore_errors=True)


# --- cron hosts ------------------------------------------------------------

def vcron_daemons(rig, source, hosts=("crona", "cronb"), period=4, tick=1,
                  seconds=12, jobs=16, per_tick=None):
    """Run one lowest-gap vcron daemon per cron host against source for
    `seconds`, each with its own state file and lock directory (only the
    database is shared), then TERM them.  per_tick: the most crons a host
    runs in a tick (its capacity).  rig is test_vcron.Rig (its stand-in
    cron records each run's start and end).  Returns {instance id:
    [(start, end), ...]} sorted, and the daemons' summary lines."""
    procs = []
    for host in hosts:
        cap = ["--per-tick", str(per_tick)] if per_tick else []
        args = rig.args("--source", source, "--mode", "lowest-gap", *cap,
                        "--period", str(period), "--tick", str(tick),
                        "--jobs", str(jobs), "--timeout", "30",
                        "--lock-dir", os.path.join(rig.dir, host, "lock"),
                        "--state-file", os.path.join(rig.dir, host, "state"),
                        "daemon")
        procs.append(subprocess.Popen(args, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    time.sleep(seconds)
    summaries = []
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        summaries.append([l for l in out.splitlines() if l.startswith("vcron: tick")])
    spans = {}
    out = os.path.join(rig.dir, "out")
    for name in os.listdir(out):
        if name.endswith(".times"):
            with open(os.path.join(out, name)) as f:
                a, b = f.read().split()
            spans.setdefault(int(name.split(".")[0]), []).append((float(a), float(b)))
    return {i: sorted(s) for i, s in spans.items()}, summaries

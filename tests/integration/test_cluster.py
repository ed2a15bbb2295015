"""Scale-out on one machine (tests/integration/cluster.py): HAProxy with TLS
on 127.0.0.1 in front of two nodes (Apache event + mod_vmoodle + php-fpm)
on 127.0.0.2 and 127.0.0.3, reading the instance table from a streaming
replica of the PostgreSQL primary; sessions' Redis; a second code tree
("next", one platforms file for both nodes) with a site under a path on
it, and an alias.  The tests run in this order; the last one stops the
databases.

Figures are printed (pytest -s shows them) and written to
$VMOODLE_FIGURES/cluster.json when that is set (docs/scale-out.md quotes
one run)."""
import json
import os
import re
import threading
import time
from collections import Counter

import pytest

import client
from apache import eventually
from cluster import Cluster, TlsClient, insert_rows, vcron_daemons
from dbservers import mysql_db, mysql_server  # noqa: F401  (fixtures)
from instances import instance
from test_vcron import Rig

HERE = os.path.dirname(os.path.abspath(__file__))
SITES = 40
DISABLED = SITES + 1
PATH_SITE = SITES + 2             # site1's host, under /school1, platform "next"
REFRESH = 1
CLIENT_ADDRESS = "127.0.0.9"     # the "browser": shows in X-Forwarded-For
CRON_INSTANCES = 50
PERIOD, TICK = 4, 1               # lowest-gap: seconds
# A tick lasts a little longer than TICK (scheduling), and the stand-in
# cron stamps its start once sh and date have started.
JITTER = 0.25
CRON_SECONDS = 13                 # three periods and a bit
# What one cron host can run in a tick: 50 instances every 4 s need 13 a
# tick, more than one host can do; two hosts can, if they share.
CRON_CAPACITY = 8
FIGURES = {}


def rows(port):
    sites = [instance(i, f"site{i}.example.edu:{port}", scheme="https")
             for i in range(1, SITES + 1)]
    sites[1]["aliases"] = f"old2.example.edu:{port}"
    return sites + [instance(DISABLED, f"closed.example.edu:{port}", scheme="https",
                             enabled=0),
                    instance(PATH_SITE, f"site1.example.edu:{port}/school1", scheme="https",
                             shortname="school1", vdatapath="/srv/moodledata/school1",
                             platform="next")]


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(os.path.join(HERE, "site"), rows, refresh=REFRESH, platforms=("next",),
                platform_extra=os.path.join(HERE, "platform"))
    yield c
    problems = c.unexpected_errors()
    c.cleanup()
    if os.environ.get("VMOODLE_FIGURES"):
        with open(os.path.join(os.environ["VMOODLE_FIGURES"], "cluster.json"), "w") as f:
            json.dump(FIGURES, f, indent=1)
    assert not problems, problems


def public(c, name):
    return f"{name}.example.edu:{c.balancer.tls_port}"


def report(c, host, path="/index.php", headers=None):
    with TlsClient(c.balancer, host.split(":")[0], source=CLIENT_ADDRESS) as conn:
        [resp] = conn.exchange(client.request_bytes(host, path, headers=headers))
    assert resp.status == 200, resp
    return resp


class Load:
    """Clients on pooled TLS connections to the balancer, each cycling over
    every host (served, unknown, disabled), one PHP request in four; every
    answer is checked against the host asked for.  Bounded: count requests
    or until stop() (and at most limit seconds)."""

    def __init__(self, c, clients=6, count=3000, limit=90):
        self.c, self.clients, self.count, self.limit = c, clients, count, limit
        port = c.balancer.tls_port
        self.targets = [(public(c, f"site{i}"), 200, str(i)) for i in range(1, SITES + 1)]
        self.targets += [(f"nosuch.example.edu:{port}", 404, ""),
                         (f"closed.example.edu:{port}", 503, "")]
        self.sent = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.failed, self.misrouted = [], []
        self.statuses, self.nodes = Counter(), Counter()
        self.reconnects = 0

    def _next(self):
        with self.lock:
            if self.sent >= self.count or self.stopping.is_set():
                return None
            self.sent += 1
            return self.sent

    def _check(self, n, host, status, id, resp):
        self.statuses[resp.status] += 1
        self.nodes[resp.header("X-VMoodle-Node")] += 1
        if resp.status != status:
            self.failed.append((n, host, resp.status, resp.text[:200]))
            return
        if status != 200:
            ok = host.split(":")[0] in resp.text and not resp.header("X-VMoodle-Id")
        elif n % 4 == 0:
            got = resp.json()
            ok = (got["server"].get("VMOODLE_ID") == id
                  and got["cfg"]["wwwroot"] == f"https://{host}"
                  and got["remote_addr"] == CLIENT_ADDRESS)
        else:
            ok = resp.header("X-VMoodle-Id") == id
        if not ok:
            self.misrouted.append((n, host, resp.header("X-VMoodle-Id"), resp.text[:200]))

    def _client(self, seed):
        conn = None
        deadline = time.monotonic() + self.limit
        while time.monotonic() < deadline and (n := self._next()) is not None:
            host, status, id = self.targets[(seed * 7 + n) % len(self.targets)]
            path = "/index.php" if n % 4 == 0 else "/static.txt"
            try:
                if conn is None:
                    conn = TlsClient(self.c.balancer, "www.example.edu",
                                     source=CLIENT_ADDRESS)
                    self.reconnects += 1
                [resp] = conn.exchange(client.request_bytes(host, path))
            except (OSError, client.http.client.HTTPException) as e:
                self.failed.append((n, host, "error", repr(e)))
                conn = None
                continue
            self._check(n, host, status, id, resp)
            if resp.will_close:
                conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def start(self):
        self.started = time.monotonic()
        self.threads = [threading.Thread(target=self._client, args=(i,))
                        for i in range(self.clients)]
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stopping.set()
        return self.wait()

    def wait(self):
        for t in self.threads:
            t.join(timeout=self.limit + 30)
        self.seconds = time.monotonic() - self.started
        return self

    def figures(self):
        return {"requests": self.sent, "failed": len(self.failed),
                "misrouted": len(self.misrouted), "seconds": round(self.seconds, 1),
                "per_node": dict(self.nodes), "statuses": dict(self.statuses),
                "client_connections": self.reconnects}


def backend_counters(c):
    stats = c.balancer.stats()
    keys = ("stot", "connect", "reuse", "wretr", "wredis", "eresp", "econ")
    return {name: {k: int(stats[name][k] or 0) for k in keys}
            for name in [n.name for n in c.nodes] + ["BACKEND"]}


def delta(after, before):
    return {name: {k: after[name][k] - before[name][k] for k in after[name]}
            for name in after}


def test_each_site_is_its_own_on_every_node(cluster):
    """config.php's CLUSTER section: per-site Redis prefix and local cache,
    the same prefix on both nodes, shared temp and cache, https told by
    the module (HTTPS=on), not forced by sslproxy."""
    seen = {}
    for i in (1, 2, 3):
        host = public(cluster, f"site{i}")
        per_node = []
        for node in cluster.nodes:
            got = node.get(host, "/index.php").json()
            cfg = got["cfg"]
            assert cfg["session_handler_class"] == "\\core\\session\\redis"
            assert (cfg["session_redis_host"], cfg["session_redis_port"]) == \
                ("127.0.0.1", cluster.redis.port)
            assert cfg["localcachedir"].startswith(node.localcache + "/vm%d_" % i)
            assert cfg["tempdir"] == cfg["dataroot"] + "/temp"
            assert cfg["cachedir"] == cfg["dataroot"] + "/cache"
            assert got["https"] == "on" and "sslproxy" not in cfg
            assert cfg["getremoteaddrconf"] == 3
            per_node.append(cfg["session_redis_prefix"])
        assert per_node[0] == per_node[1], "a session must move between nodes"
        assert re.fullmatch(rf"vm{i}_[0-9a-f]{{12}}:", per_node[0])
        seen[host] = per_node[0]
    assert len(set(seen.values())) == len(seen), "two sites share a prefix"


def test_sessions_redis_is_shared_by_nodes_and_split_by_site(cluster):
    """A key written through node1 for site1 is read through node2 for
    site1, and is not there for site2 (Moodle's handler files sessions
    under the site's prefix the same way)."""
    node1, node2 = cluster.nodes
    site1, site2 = public(cluster, "site1"), public(cluster, "site2")
    assert node1.get(site1, "/index.php?redis=session_abc&value=site1-user")\
        .json()["redis"] == "site1-user"
    assert node2.get(site1, "/index.php?redis=session_abc").json()["redis"] == "site1-user"
    assert node2.get(site2, "/index.php?redis=session_abc").json()["redis"] is False
    keys = cluster.redis.command("KEYS", "*session_abc")
    assert "vm1_" in keys and "vm2_" not in keys


def test_balancer_says_who_the_client_is_and_nobody_else(cluster):
    host = public(cluster, "site2")
    got = report(cluster, host, headers={
        "X-Forwarded-Host": public(cluster, "site3"), "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Proto": "http"}).json()
    assert got["server"]["VMOODLE_ID"] == "2"                  # not site3
    assert got["remote_addr"] == CLIENT_ADDRESS                # not the spoofed one
    assert got["cfg"]["wwwroot"] == f"https://{host}"
    plain = client.get(cluster.balancer.http_port, host, "/index.php")
    assert plain.status == 301
    assert plain.header("Location").startswith(f"https://{host}/")


def through_balancer(c, host, path):
    with TlsClient(c.balancer, host.split(":")[0], source=CLIENT_ADDRESS) as conn:
        [resp] = conn.exchange(client.request_bytes(host, path))
    return resp


def test_path_site_platform_and_alias_alike_on_every_node(cluster):
    """The samples need no balancer rule for these: each node serves the
    path site from the same platform tree (one platforms file) beside its
    host's root site, and answers an alias's 301 itself, to the public
    https URL."""
    host, alias = public(cluster, "site1"), public(cluster, "old2")
    tree = os.path.join(cluster.trees, "next")
    for node in cluster.nodes:
        got = node.get(host, "/school1/probe.php").json()
        assert (got["VMOODLE_ID"], got["file"], got["SCRIPT_NAME"]) == \
            (str(PATH_SITE), f"{tree}/probe.php", "/school1/probe.php"), node.name
        assert node.get(host, "/index.php").json()["server"]["VMOODLE_ID"] == "1"
        moved = node.get(alias, "/course/view.php?id=3")
        assert (moved.status, moved.header("Location")) == \
            (301, f"https://{public(cluster, 'site2')}/course/view.php?id=3"), node.name
        # an alias is no name for health checks: the node's ServerName is
        assert node.get(alias, "/vmoodle-health").status == 301
    answers = [through_balancer(cluster, host, "/school1/index.php") for _ in range(4)]
    assert {a.json()["cfg"]["wwwroot"] for a in answers} == {f"https://{host}/school1"}
    assert {a.json()["server"]["VMOODLE_ID"] for a in answers} == {str(PATH_SITE)}
    assert {a.header("X-VMoodle-Node") for a in answers} == {"node1", "node2"}
    bare = through_balancer(cluster, host, "/school1?x=1")
    assert (bare.status, bare.header("Location")) == (301, f"https://{host}/school1/?x=1")
    moved = through_balancer(cluster, alias, "/login/index.php?lang=fr")
    assert (moved.status, moved.header("Location")) == \
        (301, f"https://{public(cluster, 'site2')}/login/index.php?lang=fr")


def test_load_across_hosts_zero_misrouted_zero_failed(cluster):
    before = backend_counters(cluster)
    load = Load(cluster, count=3000).start().wait()
    counters = delta(backend_counters(cluster), before)
    FIGURES["load"] = dict(load.figures(), balancer=counters)
    print("\nload:", json.dumps(FIGURES["load"]))
    assert load.failed == [] and load.misrouted == []
    assert load.sent == 3000
    assert all(load.nodes[n.name] > 500 for n in cluster.nodes), load.nodes
    assert None not in load.nodes, "a node's own headers missing on its answer"
    # Pooled keep-alive to the nodes: far fewer connections than requests,
    # refusals (404s) included; each 503 of the closed site ends one.
    back = counters["BACKEND"]
    assert back["reuse"] > back["stot"] / 2, counters
    assert back["connect"] < back["stot"] / 4, counters


def test_node_killed_and_restarted_during_load(cluster):
    node2 = cluster.nodes[1]
    before = backend_counters(cluster)
    # Bounded by time (60 s) rather than count: it must outlast the outage.
    load = Load(cluster, count=200000, limit=60).start()
    time.sleep(1.5)
    killed = time.monotonic()
    node2.kill()
    cluster.balancer.wait_status({"node2": "DOWN"})
    down_after = time.monotonic() - killed
    served_before = load.nodes["node2"]
    time.sleep(1)
    node2.start()
    cluster.balancer.wait_status({"node2": "UP"})
    up_after = time.monotonic() - killed
    eventually(lambda: load.nodes["node2"], lambda n: n > served_before + 100, 20,
               "node2 serving again")
    load.stop()
    counters = delta(backend_counters(cluster), before)
    FIGURES["node_killed"] = dict(load.figures(), balancer=counters,
                                  marked_down_after_s=round(down_after, 1),
                                  back_up_after_s=round(up_after, 1))
    print("\nnode killed:", json.dumps(FIGURES["node_killed"]))
    assert load.failed == [] and load.misrouted == []
    assert load.sent > 1000


def check_cron_runs(spans, summaries, ids, started, stopped, name):
    """What an administrator of two cron hosts checks: no instance ran
    twice at once; every gap within period + one tick, from the daemons'
    start to their stop; both hosts did a share of the runs, and together
    about one run per instance per period, not one per host."""
    assert set(spans) == set(ids), set(ids) - set(spans)
    worst = 0.0
    for i, runs in spans.items():
        for (_, end), (start, _) in zip(runs, runs[1:]):
            assert start >= end, f"instance {i} ran twice at once"
        starts = [started] + [a for a, _ in runs] + [stopped]
        gaps = [b - a for a, b in zip(starts[1:], starts[2:])]
        first = starts[1] - starts[0]
        worst = max([worst] + gaps)
        assert max(gaps, default=0) <= PERIOD + TICK + JITTER, (i, gaps)
        assert first <= PERIOD + TICK + JITTER, (i, first)
    counted = lambda lines, key: sum(int(m.group(1)) for l in lines
                                     for m in [re.search(rf"\b{key}=(\d+)", l)] if m)
    per_host = [counted(lines, "run") for lines in summaries]
    runs = sum(map(len, spans.values()))
    FIGURES[name] = {"instances": len(ids), "runs": runs, "runs_per_host": per_host,
                     "capacity_per_tick": CRON_CAPACITY,
                     "max_gap_s": round(worst, 2), "period_s": PERIOD, "tick_s": TICK,
                     "skipped_locked": [counted(lines, "skipped_locked")
                                        for lines in summaries],
                     "ticks": [len(lines) for lines in summaries]}
    print(f"\n{name}:", json.dumps(FIGURES[name]))
    assert sum(per_host) == runs, (per_host, runs)
    assert all(n >= runs / 4 for n in per_host), per_host
    periods = (stopped - started) / (PERIOD - TICK)
    assert runs <= len(ids) * (periods + 1), (runs, len(ids), periods)


def cron_rig(reachable_dir, source):
    rig = Rig(reachable_dir, count=1)
    rig.source = source
    for i in range(1, 100):
        rig.control(i, "sleep 0.3")
    return rig


def croncounts(db):
    return {int(a): int(b) for a, b in (line.split("\t") for line in db.sql(
        "SELECT id, croncount FROM mdl_local_vmoodle WHERE enabled = 1")
        .splitlines() if line.strip())}


def test_two_cron_hosts_on_the_primary(cluster, reachable_dir):
    """vcron on two cron hosts writes its figures to the primary; the
    nodes see them through the replica.  The hosts read the nodes'
    platforms file (the path site is on "next")."""
    port, first = cluster.balancer.tls_port, PATH_SITE + 1
    more = CRON_INSTANCES - len(croncounts(cluster.db))
    insert_rows(cluster.db, [instance(i, f"cron{i}.example.edu:{port}", scheme="https")
                             for i in range(first, first + more)])
    ids = sorted(croncounts(cluster.db))
    assert len(ids) == CRON_INSTANCES and PATH_SITE in ids
    rig = cron_rig(reachable_dir, cluster.primary.source(cluster.db.name))
    rig.set_config(f"platforms = {cluster.platforms}\n")
    started = time.time()
    spans, summaries = vcron_daemons(rig, rig.source, period=PERIOD, tick=TICK,
                                     seconds=CRON_SECONDS, per_tick=CRON_CAPACITY)
    check_cron_runs(spans, summaries, ids, started, time.time(), "vcron_pgsql")
    counts = croncounts(cluster.db)
    assert counts == {i: len(spans[i]) for i in ids}
    status = lambda: {i["id"]: i["croncount"] for i in cluster.nodes[0].get(
        "moodle.example.edu", "/vmoodle-status?json").json()["instances"] if i["enabled"]}
    eventually(status, lambda seen: seen == counts, 10, "figures on the nodes")


def test_two_cron_hosts_on_mariadb(mysql_db, reachable_dir):
    mysql_db.create_vmoodle_table()
    ids = list(range(1, CRON_INSTANCES + 1))
    insert_rows(mysql_db, [instance(i, f"m{i}.example.edu") for i in ids])
    rig = cron_rig(reachable_dir, mysql_db.source)
    started = time.time()
    spans, summaries = vcron_daemons(rig, rig.source, period=PERIOD, tick=TICK,
                                     seconds=CRON_SECONDS, per_tick=CRON_CAPACITY)
    check_cron_runs(spans, summaries, ids, started, time.time(), "vcron_mariadb")
    assert croncounts(mysql_db) == {i: len(spans[i]) for i in ids}


def test_change_on_primary_served_by_both_nodes_within_lag_plus_refresh(cluster):
    host = public(cluster, "fresh")
    start = time.monotonic()
    insert_rows(cluster.db, [instance(90, host, scheme="https")])
    eventually(lambda: cluster.replica.sql(
        "SELECT count(*) FROM mdl_local_vmoodle WHERE id = 90",
        dbname=cluster.db.name).strip(), lambda n: n == "1", 10, "replicated")
    lag = time.monotonic() - start
    served = {}
    for node in cluster.nodes:
        eventually(lambda: node.get(host).status, lambda s: s == 200,
                   lag + REFRESH + 2, f"{node.name} serving the new site")
        served[node.name] = round(time.monotonic() - start, 2)
    FIGURES["change"] = {"replica_lag_s": round(lag, 2), "refresh_s": REFRESH,
                         "served_after_s": served}
    print("\nchange:", json.dumps(FIGURES["change"]))
    assert report(cluster, host).json()["server"]["VMOODLE_ID"] == "90"


def test_replica_is_polled_never_listened_on(cluster):
    """A hot standby cannot LISTEN: the nodes read it every VMoodleRefresh,
    and do not reconnect at every poll."""
    log = cluster.replica.log_text
    mark = len(log())
    time.sleep(4)
    window = log()[mark:]
    reads = window.count("FROM \"mdl_local_vmoodle\"")
    FIGURES["replica_reads_in_4s"] = reads
    assert "LISTEN" not in window
    assert 2 <= reads <= 2 * (4 / REFRESH + 2), reads


def test_primary_then_replica_stopped_both_nodes_keep_serving(cluster):
    for node in cluster.nodes:
        node.server.expect_error("VM00010")     # the source fails: logged once
    cluster.primary.stop()
    load = Load(cluster, count=400).start().wait()
    assert load.failed == [] and load.misrouted == [], (load.failed, load.misrouted)
    cluster.replica.stop()
    for node in cluster.nodes:
        eventually(lambda: node.get("moodle.example.edu", "/vmoodle-health").text,
                   lambda t: "refresh=failing" in t, 10, f"{node.name} noticing")
        assert node.get("moodle.example.edu", "/vmoodle-health").status == 200
    # A node restarted meanwhile routes with the snapshot on its own disk.
    node1 = cluster.nodes[0]
    node1.server.expect_error("VM00007|VM00010")
    node1.stop()
    node1.start()
    cluster.balancer.wait_status({"node1": "UP"})
    load = Load(cluster, count=400).start().wait()
    FIGURES["databases_down"] = load.figures()
    assert load.failed == [] and load.misrouted == []
    assert all(load.nodes[n.name] > 50 for n in cluster.nodes)
    assert report(cluster, public(cluster, "site7")).json()["server"]["VMOODLE_ID"] == "7"

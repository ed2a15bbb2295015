"""20,000 requests across 200 hosts over 32 keep-alive connections while the
table file is rewritten every 200 ms: no response may come from another
instance, none may be a 5xx."""
import random
import threading

import client
from instances import instance

HOSTS = 200
CONNECTIONS = 32
REQUESTS = 20_000
REWRITE_EVERY = 0.2
PHP_EVERY = 8        # one request in 8 runs PHP, the others a static file


def rows_for(generation):
    """The table at a generation: same hosts and ids, other values, shuffled."""
    rows = [instance(1000 + 7 * i, f"h{i:03d}.example.edu",
                     vdbname=f"db{1000 + 7 * i}_g{generation}",
                     vdbpass=f"secret-{generation}",
                     vdatapath=f"/srv/moodledata/h{i:03d}/g{generation}")
            for i in range(HOSTS)]
    random.Random(generation).shuffle(rows)
    return rows


class Rewriter(threading.Thread):
    """Rewrites the table (tmp + rename) until stopped."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.server = server
        self.stopping = threading.Event()
        self.generation = 0

    def run(self):
        while not self.stopping.wait(REWRITE_EVERY):
            self.generation += 1
            self.server.write(rows_for(self.generation))


# Static responses carry the routing result in headers (mod_headers).
EXTRA = 'Header always set X-VMoodle-Db "%{VMOODLE_DBNAME}e"\n'


def misrouting(resp, host, id):
    """None when resp is host's own answer, else what is wrong with it."""
    if resp.status != 200:
        return f"status {resp.status}"
    if resp.header("X-VMoodle-Id") != str(id):
        return f"X-VMoodle-Id {resp.header('X-VMoodle-Id')}"
    if not (resp.header("X-VMoodle-Db") or "").startswith(f"db{id}_g"):
        return f"X-VMoodle-Db {resp.header('X-VMoodle-Db')}"
    if (resp.header("Content-Type") or "").startswith("application/json"):
        env = resp.json()["server"]
        short = host.split(".")[0]
        if (env.get("VMOODLE_ID"), env.get("VMOODLE_SHORTNAME"), env.get("VMOODLE_HOST")) \
                != (str(id), short, host):
            return f"PHP saw {env.get('VMOODLE_ID')} {env.get('VMOODLE_HOST')}"
        if not env["VMOODLE_DBNAME"].startswith(f"db{id}_g") or \
                env["VMOODLE_DBPASS"] != "secret-" + env["VMOODLE_DBNAME"].split("_g")[1]:
            return f"PHP saw a mixed record {env['VMOODLE_DBNAME']}"
    return None


def client_thread(port, seed, count, results):
    rng = random.Random(seed)
    conn = client.KeepAlive(port)
    try:
        for n in range(count):
            i = rng.randrange(HOSTS)
            host, id = f"h{i:03d}.example.edu", 1000 + 7 * i
            path = "/index.php" if n % PHP_EVERY == 0 else "/static.txt"
            try:
                resp = conn.get(host, path)
            except OSError as e:
                results.append((host, path, f"error {e!r}", None))
                conn.close()
                continue
            problem = misrouting(resp, host, id)
            generation = resp.header("X-VMoodle-Db") if problem is None else None
            results.append((host, path, problem, generation))
    finally:
        conn.close()


def test_no_misrouting_under_load_while_table_changes(start_vmoodle):
    server = start_vmoodle(rows_for(0), extra=EXTRA)
    per_thread = REQUESTS // CONNECTIONS
    results = [[] for _ in range(CONNECTIONS)]
    threads = [threading.Thread(target=client_thread,
                                args=(server.port, seed, per_thread, results[seed]))
               for seed in range(CONNECTIONS)]
    rewriter = Rewriter(server)
    rewriter.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    rewriter.stopping.set()
    rewriter.join(timeout=10)

    flat = [r for rs in results for r in rs]
    assert len(flat) == per_thread * CONNECTIONS == REQUESTS
    problems = [r for r in flat if r[2] is not None]
    assert problems == [], f"{len(problems)} bad responses, first: {problems[:10]}"
    assert sum(1 for r in flat if r[1] == "/index.php") >= REQUESTS // PHP_EVERY
    # The run did overlap table changes: responses came from several generations.
    generations = {r[3].split("_g")[1] for r in flat if r[3] is not None}
    assert rewriter.generation >= 2 and len(generations) >= 2, generations

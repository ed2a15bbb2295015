"""Time from a change in the source to the new value being served."""
import http.client
import statistics
import subprocess
import time

import httpphase
import instances

TRIALS = 5
HOSTS = 100000
SMALL = 1000          # the same at a small table: what parsing costs
GIVE_UP_S = 15
NOTIFY_HOSTS = 1000
NOTIFY_REFRESH = 3600  # seconds: far longer than a trial


def routed(port, i):
    """X-Routed for host i, over a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/ok.txt",
                     headers={"Host": f"{instances.host(i)}:{port}"})
        resp = conn.getresponse()
        resp.read()
        return resp.getheader("X-Routed")
    finally:
        conn.close()


def wait_served(port, i, value, since):
    """Seconds from `since` until host i is answered with value."""
    deadline = since + GIVE_UP_S
    while time.monotonic() < deadline:
        if routed(port, i) == value:
            return time.monotonic() - since
        time.sleep(0.005)
    raise RuntimeError(f"host {i} not served as {value} within {GIVE_UP_S} s")


def trials(port, hosts, count, change):
    """Seconds from each change to its value being served.  change(i, name)
    renames host i's row (name None: back to the original) and returns the
    monotonic time the change was made at."""
    times = []
    for trial in range(count):
        i = 1 + (trial * 7919) % hosts
        name = f"renamed{trial}"
        if routed(port, i) != instances.shortname(i):
            raise RuntimeError(f"host {i} not served before the change")
        times.append(wait_served(port, i, name, change(i, name)))
        wait_served(port, i, instances.shortname(i), change(i, None))
        time.sleep(0.3)     # start the next trial at a random phase
    return times


def poll(workdir, module_so, hosts=HOSTS, count=TRIALS):
    """JSON source and VMoodleRefresh 1: seconds per trial."""
    docroot = httpphase.static_docroot(workdir)
    apache, json_path = httpphase.module_apache(
        workdir, f"refresh-poll-{hosts}", docroot, module_so, hosts, refresh=1)

    def change(i, name):
        # The whole file is replaced: every trial starts from the original.
        return instances.write_json(json_path, hosts, apache.port,
                                    renamed=(i, name) if name else None)
    apache.start()
    try:
        return trials(apache.port, hosts, count, change)
    finally:
        apache.stop()


class PsqlSession:
    """One open psql connection, so that a change's time is the server's,
    not a client's start-up."""

    def __init__(self, db):
        server = db.server
        self.proc = subprocess.Popen(
            ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-h", server.sockdir, "-p", str(server.port), "-U", "postgres",
             "-d", db.name],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def run(self, sql):
        """Run sql; returns the monotonic time it was sent at."""
        sent = time.monotonic()
        self.proc.stdin.write(f"{sql};\n\\echo done\n")
        self.proc.stdin.flush()
        if self.proc.stdout.readline().strip() != "done":
            raise RuntimeError(f"psql failed on: {sql}")
        return sent

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def notify(workdir, module_so, pg, hosts=NOTIFY_HOSTS, count=TRIALS):
    """templates/schema/pgsql.sql in PostgreSQL (pg, a running
    dbservers.PgServer), VMoodleRefresh 3600: only the trigger's NOTIFY
    can explain a change served within the run."""
    db = pg.new_database("bench")
    db.create_template_table()
    apache, _ = httpphase.module_apache(
        workdir, f"refresh-notify-{hosts}", httpphase.static_docroot(workdir),
        module_so, hosts, refresh=NOTIFY_REFRESH, source=db.source)
    pg.sql(instances.copy_script(hosts, apache.port), dbname=db.name)
    session = PsqlSession(db)

    def change(i, name):
        return session.run(f"UPDATE mdl_local_vmoodle SET shortname = "
                           f"'{name or instances.shortname(i)}' WHERE id = {i}")
    apache.start()
    try:
        time.sleep(1)       # the refresher LISTENs at its first tick
        return trials(apache.port, hosts, count, change)
    finally:
        apache.stop()
        session.close()


def summary(times):
    return {"median_s": statistics.median(times), "max_s": max(times),
            "trials": len(times)}


def poll_figures(workdir, module_so):
    """The target figure at HOSTS, with the small table beside it."""
    out = summary(poll(workdir, module_so))
    out["small"] = summary(poll(workdir, module_so, SMALL, 3))
    return out


def notify_figures(workdir, module_so, pg):
    """The target figure at NOTIFY_HOSTS, with HOSTS beside it: a NOTIFY
    starts a whole read of the table, whose cost grows with its size."""
    out = summary(notify(workdir, module_so, pg))
    out["large"] = summary(notify(workdir, module_so, pg, HOSTS, 3))
    return out

"""Time from a change in the source to the new value being served."""
import http.client
import os
import statistics
import time

import httpphase
import instances

TRIALS = 5
HOSTS = 100000
GIVE_UP_S = 15


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


def poll(workdir, module_so):
    """JSON source and VMoodleRefresh 1: seconds per trial."""
    docroot = httpphase.static_docroot(workdir)
    apache, json_path = httpphase.module_apache(
        workdir, "refresh-poll", docroot, module_so, HOSTS, refresh=1)
    apache.start()
    try:
        times = []
        for trial in range(TRIALS):
            i = 1 + (trial * 7919) % HOSTS
            name = f"renamed{trial}"
            if routed(apache.port, i) != instances.shortname(i):
                raise RuntimeError(f"host {i} not served before the change")
            # Every trial starts from the original table (row i renamed).
            changed = instances.write_json(json_path, HOSTS, apache.port,
                                           renamed=(i, name))
            times.append(wait_served(apache.port, i, name, changed))
            restored = instances.write_json(json_path, HOSTS, apache.port)
            wait_served(apache.port, i, instances.shortname(i), restored)
            time.sleep(0.3)     # start the next trial at a random phase
        return times
    finally:
        apache.stop()


def summary(times):
    return {"median_s": statistics.median(times), "max_s": max(times),
            "trials": len(times)}

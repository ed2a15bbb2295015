"""Time from a change in the source to the new value being served."""
import http.client
import os
import statistics
import time

import httpphase
import instances

TRIALS = 5
HOSTS = 100000
SMALL = 1000          # the same at a small table: what parsing costs
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


def poll(workdir, module_so, hosts=HOSTS, trials=TRIALS):
    """JSON source and VMoodleRefresh 1: seconds per trial."""
    docroot = httpphase.static_docroot(workdir)
    apache, json_path = httpphase.module_apache(
        workdir, f"refresh-poll-{hosts}", docroot, module_so, hosts, refresh=1)
    apache.start()
    try:
        times = []
        for trial in range(trials):
            i = 1 + (trial * 7919) % hosts
            name = f"renamed{trial}"
            if routed(apache.port, i) != instances.shortname(i):
                raise RuntimeError(f"host {i} not served before the change")
            # Every trial starts from the original table (row i renamed).
            changed = instances.write_json(json_path, hosts, apache.port,
                                           renamed=(i, name))
            times.append(wait_served(apache.port, i, name, changed))
            restored = instances.write_json(json_path, hosts, apache.port)
            wait_served(apache.port, i, instances.shortname(i), restored)
            time.sleep(0.3)     # start the next trial at a random phase
        return times
    finally:
        apache.stop()


def summary(times):
    return {"median_s": statistics.median(times), "max_s": max(times),
            "trials": len(times)}


def poll_figures(workdir, module_so):
    """The target figure at HOSTS, with the small table beside it."""
    out = summary(poll(workdir, module_so))
    out["small"] = summary(poll(workdir, module_so, SMALL, 3))
    return out

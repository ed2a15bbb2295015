"""Memory that mod_vmoodle adds to each Apache child with 100,000 instances:
the same server with and without the module, at two numbers of children,
after the same load over every host."""
import statistics

import load
from benchhttpd import Apache
import httpphase
import sites

HOSTS = 100000
CHILDREN = (2, 4)
FIELDS = ("Rss", "Pss", "Private_Clean", "Private_Dirty")


def smaps(pid):
    """KiB figures of /proc/PID/smaps_rollup."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if parts and parts[0].rstrip(":") in FIELDS:
                out[parts[0].rstrip(":")] = int(parts[1])
    out["Private"] = out["Private_Clean"] + out["Private_Dirty"]
    return out


def measure(apache, seconds, expect):
    """Per-child means and the total Pss of parent + children, after load."""
    apache.start()
    try:
        load.wrk_run(apache.port, HOSTS, expect, seconds)
        kids = [smaps(pid) for pid in apache.children()]
        parent = smaps(apache.proc.pid)
    finally:
        apache.stop()
    mean = {k: statistics.mean(c[k] for c in kids) for k in ("Rss", "Pss", "Private")}
    mean["total_pss"] = parent["Pss"] + sum(c["Pss"] for c in kids)
    mean["parent_rss"] = parent["Rss"]
    mean["children"] = len(kids)
    return mean


def run(workdir, module_so, seconds):
    """{children: {"with": figures, "without": figures}} and the marginal
    cost of one more child (KiB of total Pss, with minus without)."""
    docroot = httpphase.static_docroot(workdir)
    out = {}
    for k in CHILDREN:
        plain = Apache(workdir, f"mem-plain-{k}", docroot, sites.ceiling(),
                       children=k)
        routed, _ = httpphase.module_apache(workdir, f"mem-vm-{k}", docroot,
                                            module_so, HOSTS, children=k)
        out[k] = {"without": measure(plain, seconds, "-"),
                  "with": measure(routed, seconds, "s")}
    lo, hi = CHILDREN
    added = [out[k]["with"]["total_pss"] - out[k]["without"]["total_pss"]
             for k in CHILDREN]
    out["per_child_kib"] = (added[1] - added[0]) / (hi - lo)
    out["server_kib"] = added[0]
    out["private_kib"] = {k: out[k]["with"]["Private"] - out[k]["without"]["Private"]
                          for k in CHILDREN}
    return out

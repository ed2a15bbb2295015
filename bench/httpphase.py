"""Routing throughput: (a) no routing, (b) mod_vmoodle, (c) RewriteMap dbm:,
(d) RewriteMap txt:, each started as its own Apache on the same machine and
loaded in alternating rounds."""
import os
import pwd

import instances
import load
import sites
from benchhttpd import Apache, free_port

LABELS = {
    "a": "(a) no routing (ceiling)",
    "b": "(b) mod_vmoodle",
    "c": "(c) RewriteMap dbm: + [E=]",
    "d": "(d) RewriteMap txt: + [E=]",
}


def static_docroot(workdir):
    root = os.path.join(workdir, "static")
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "ok.txt"), "w") as f:
        f.write("ok\n")                       # the 3-byte response
    os.chmod(root, 0o755)
    os.chmod(os.path.join(root, "ok.txt"), 0o644)
    return root


def writable_dir(path):
    """A directory the children (www-data) may write a snapshot into."""
    os.makedirs(path, exist_ok=True)
    pw = pwd.getpwnam("www-data")
    os.chown(path, pw.pw_uid, pw.pw_gid)
    os.chmod(path, 0o755)
    return path


def module_apache(workdir, name, docroot, module_so, n, refresh=60,
                  children=2, site_extra="", echo=True, modules=(),
                  source=None, port=None, threads=64, mpm="event"):
    """An Apache routing n instances with mod_vmoodle: a JSON source it
    writes (its path is returned), or the given source, already filled."""
    port = port or free_port()
    data = writable_dir(os.path.join(workdir, f"{name}-data"))
    json_path = None
    if source is None:
        json_path = os.path.join(data, "instances.json")
        instances.write_json(json_path, n, port)
        source = "json:" + json_path
    site = sites.vmoodle(source, os.path.join(data, "snapshot"), refresh,
                         echo)
    return Apache(workdir, name, docroot, site + site_extra,
                  modules=[("vmoodle", module_so)] + list(modules),
                  children=children, threads=threads,
                  port=port, mpm=mpm), json_path


def servers(workdir, n, module_so):
    """The configurations for n hosts, not yet started: {key: Apache}."""
    docroot = static_docroot(workdir)
    data = os.path.join(workdir, f"maps-{n}")
    os.makedirs(data, exist_ok=True)
    os.chmod(data, 0o755)
    txt = instances.write_txt_map(os.path.join(data, "hosts.txt"), n)
    dbm = instances.write_dbm_map(os.path.join(data, "hosts.dbm"), txt)
    out = {"a": Apache(workdir, f"a-{n}", docroot, sites.ceiling())}
    if module_so:
        out["b"], _ = module_apache(workdir, f"b-{n}", docroot, module_so, n)
    out["c"] = Apache(workdir, f"c-{n}", docroot, sites.rewrite_dbm(dbm),
                      modules=["rewrite"])
    out["d"] = Apache(workdir, f"d-{n}", docroot, sites.rewrite_txt(txt),
                      modules=["rewrite"])
    return out


def run(workdir, n, module_so, seconds, count):
    """Throughput of every configuration at n hosts: {key: result}."""
    apaches = servers(workdir, n, module_so)
    try:
        for a in apaches.values():
            a.start()
        targets = {k: {"port": a.port, "expect": "-" if k == "a" else "s"}
                   for k, a in apaches.items()}
        return load.rounds(targets, n, seconds, count)
    finally:
        for a in apaches.values():
            a.stop()

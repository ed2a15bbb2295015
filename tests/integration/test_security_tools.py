"""vmoodlectl as root against a tenant (issue 11, Security): every site's
PHP runs as www-data, which can write the dataroots that snapshot reads,
deploy creates and destroy removes.  Templates are private (0700/0600,
stricter modes kept), a template of the master never holds the instance
table and its passwords, a www-data process swapping folders for links
(renameat2 RENAME_EXCHANGE) while root copies or removes a tree never makes
root create or remove anything outside it, and destroy never drops a
database or removes a dataroot that another site or the master uses."""
import json
import os
import pwd
import re
import select
import subprocess
import sys
import time

import pytest

from dbservers import (PASSWORD, USER, mysql_server,  # noqa: F401
                       pg_server)
from test_vmoodlectl import (CTL, MASTER_WWWROOT, Env, Master,  # noqa: F401
                             ctl, databases, env, master, only_on, server,
                             site_dataroot, site_sql, snapshot, write)

WEB_USER = "www-data"
ROW_PASSWORD = "Ipw-Pangolin-91"      # in the master's instance tables

# Runs as www-data: swaps each folder given (below the target) with a link
# to a root-owned folder, back and forth, until told to stop.
RACER = r"""
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE = -100, 2
target, victim, stop = sys.argv[1], sys.argv[2], sys.argv[3]
deadline = time.time() + float(sys.argv[4])
rels = sys.argv[5:]
swaps = passes = 0
while time.time() < deadline and not os.path.exists(stop):
    for rel in rels:
        d = os.path.join(target, rel) if rel else target
        link = os.path.join(os.path.dirname(d), ".l-" + os.path.basename(d))
        try:
            if not os.path.lexists(d):
                continue
            if not os.path.lexists(link):
                os.symlink(victim, link)
        except OSError:
            continue
        if libc.renameat2(AT_FDCWD, d.encode(), AT_FDCWD, link.encode(),
                          RENAME_EXCHANGE) == 0:
            swaps += 1
    passes += 1
    if passes == 1:
        print("ready", flush=True)
print("swaps", swaps, flush=True)
"""


class Racer:
    """A www-data process racing root on target's folders."""

    def __init__(self, tmp, target, victim, rels, seconds=60):
        self.stop = os.path.join(tmp, "racer.stop")
        script = os.path.join(tmp, "racer.py")
        with open(script, "w") as f:
            f.write(RACER)
        os.chmod(script, 0o644)
        self.proc = subprocess.Popen(
            ["runuser", "-u", WEB_USER, "--", sys.executable, script, target,
             victim, self.stop, str(seconds), *rels],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        assert ready and self.proc.stdout.readline().strip() == "ready", \
            self.proc.stderr.read()

    def finish(self):
        open(self.stop, "w").close()
        out, err = self.proc.communicate(timeout=60)
        assert self.proc.returncode == 0, err
        return int(out.split()[-1])


def victim_dir(tmp, names):
    """A root-owned folder with files of the names the tree holds."""
    victim = os.path.join(tmp, "root-owned")
    os.makedirs(victim)
    os.chmod(victim, 0o755)
    for name in names:
        write(os.path.join(victim, name), b"root's own " + name.encode())
    return victim


def victim_state(victim):
    st = os.stat(victim)
    return (st.st_uid, st.st_gid, st.st_mode, sorted(
        (n, os.lstat(os.path.join(victim, n)).st_uid)
        for n in os.listdir(victim)))


def give_to_web_user(path):
    www = pwd.getpwnam(WEB_USER)
    for base, dirs, files in os.walk(path):
        for name in [base] + [os.path.join(base, n) for n in dirs + files]:
            os.lchown(name, www.pw_uid, www.pw_gid)


BIG_FILES = [f"f{i:04d}" for i in range(2000)]


def big_tree(root):
    """filedir/big/fNNNN: one folder of many files, each a chance for a
    path-based copy or removal to go through the link swapped in."""
    for name in BIG_FILES:
        write(os.path.join(root, "filedir", "big", name), b"x" * 64)
    return ["filedir", "filedir/big"]


def modes(root):
    """Every folder and file below root: relative path -> mode bits."""
    out = {}
    for base, dirs, files in os.walk(root):
        for name in [base] + [os.path.join(base, n) for n in files]:
            out[os.path.relpath(name, root)] = os.stat(name).st_mode & 0o7777
    return out


# ------------------------------------------------------- template modes

def test_template_is_private_and_keeps_stricter_modes(env, master, server):
    key = os.path.join(master.dataroot, "secret", "key", "sodium.key")
    write(key, b"K" * 32)
    os.chmod(key, 0o400)
    strict = os.path.join(master.dataroot, "filedir", "strict.bin")
    write(strict, b"S" * 8)
    os.chmod(strict, 0o400)
    os.chmod(os.path.join(master.dataroot, "lang", "en", "readme.txt"), 0o644)
    snapshot(env, master)
    tpl = os.path.join(env.templates, "tpl")
    assert os.stat(env.templates).st_mode & 0o777 == 0o700
    seen = modes(tpl)
    assert seen["."] == 0o700
    assert seen["manifest.json"] == 0o600
    dump = json.load(open(os.path.join(tpl, "manifest.json")))["database"]
    assert seen[dump["file"]] == 0o600
    assert seen["dataroot/secret/key/sodium.key"] == 0o400
    assert seen["dataroot/lang/en/readme.txt"] == 0o600
    dirs = {r for r in seen if os.path.isdir(os.path.join(tpl, r))}
    assert {"dataroot", "dataroot/filedir", "dataroot/secret/key"} <= dirs
    assert all(seen[d] == 0o700 for d in dirs), seen
    assert all(m & 0o077 == 0 for m in seen.values()), seen
    assert seen["dataroot/filedir/strict.bin"] == 0o400
    # a site deployed from it: the web user's, a strict file still
    # unwritable; the template's key is not copied (Moodle makes its own)
    env.deploy("tpl", "http://keyed.test")
    root = env.rows()[0]["vdatapath"]
    assert not os.path.exists(os.path.join(root, "secret/key/sodium.key"))
    st = os.stat(os.path.join(root, "filedir/strict.bin"))
    assert st.st_uid == pwd.getpwnam(WEB_USER).pw_uid
    assert st.st_mode & 0o222 == 0 and st.st_mode & 0o400
    assert os.stat(os.path.join(root, "lang/en/readme.txt")).st_mode \
        & 0o777 == 0o660
    assert os.stat(os.path.join(root, "filedir")).st_mode & 0o7777 == 0o2770


# ------------------------------------ the instance table stays out of it

def master_with_tables(master):
    """The master's database also holds the instance table (the shipped
    schema, vmoodle_instances) and a VMoodle plugin's mdl_local_vmoodle,
    each with a row and its password."""
    master.db.create_template_table(as_table=None)
    master.db.create_vmoodle_table("mdl_local_vmoodle")
    for i, table in enumerate(("vmoodle_instances", "mdl_local_vmoodle")):
        master.db.insert(table=table, name="Other", shortname="other",
                         vhostname=f"http://other{i}.test", vdbtype="pgsql",
                         vdbhost="db", vdblogin="u", vdbpass=ROW_PASSWORD,
                         vdbname="other", vdatapath="/srv/other")
    return ["--source", master.db.source, "--table", "vmoodle_instances"]


def dumped(server, path):
    """The tables a dump creates, and its whole text."""
    if server.kind == "mysql":
        text = open(path, errors="replace").read()
        return set(re.findall(r"CREATE TABLE `([^`]+)`", text)), text
    listing = subprocess.run(["pg_restore", "--list", path], check=True,
                             capture_output=True, text=True).stdout
    text = subprocess.run(["pg_restore", "--file=-", path], check=True,
                          capture_output=True, text=True).stdout
    return set(re.findall(r"^\d+; \d+ \d+ TABLE \S+ (\S+)", listing,
                          re.M)), text


def site_tables(server, dbname):
    if server.kind == "pgsql":
        out = site_sql(server, dbname, "SELECT tablename FROM pg_tables "
                       "WHERE schemaname = 'public'")
    else:
        out = site_sql(server, dbname, "SHOW TABLES")
    return set(out.split())


@pytest.mark.parametrize("table_in", ["database", "json"])
def test_master_template_leaves_the_instance_table_out(env, master, server,
                                                       table_in):
    """The table vmoodlectl uses is the master's, or a JSON file while the
    master's database still holds VMoodle's tables: neither is dumped."""
    source = master_with_tables(master)
    opts = source + env.opts()[2:] if table_in == "database" else env.opts()
    out = ctl(*opts, "snapshot", "--from", "master", "--name", "tpl",
              *master.flags(), "--dbpass-file", env.passfile).stdout
    tpl = os.path.join(env.templates, "tpl")
    manifest = json.load(open(os.path.join(tpl, "manifest.json")))
    tables, text = dumped(server, os.path.join(tpl,
                                               manifest["database"]["file"]))
    assert {"mdl_config", "mdl_mnet_host", "mdl_user"} <= tables
    assert not tables & {"vmoodle_instances", "mdl_local_vmoodle"}
    assert "other0.test" not in text and ROW_PASSWORD not in text
    assert "copy dataroot:" in out
    # the plan says so
    plan = ctl(*opts, "--dry-run", "snapshot", "--from", "master", "--name",
               "again", *master.flags()).stdout
    assert "without the table vmoodle_instances" in plan
    assert "without the table mdl_local_vmoodle" in plan
    # a site deployed from it has Moodle's tables, never the instance table
    ctl(*opts, "deploy", "--template", "tpl", "--host",
        f"http://{table_in}.test",
        "--dbhost", f"127.0.0.1:{server.port}", "--dbuser", USER,
        "--dbpass-file", env.passfile)
    tables = site_tables(server, f"vm_{table_in}_test")
    assert "mdl_config" in tables
    assert not tables & {"vmoodle_instances", "mdl_local_vmoodle"}
    # the master still has both, and the new row went into its table
    assert {"vmoodle_instances", "mdl_local_vmoodle"} <= \
        site_tables(server, master.db.name)
    if table_in == "database":
        hosts = master.db.sql("SELECT vhostname FROM vmoodle_instances")
        assert "http://database.test" in hosts
    else:
        assert [r["vhostname"] for r in env.rows()] == ["http://json.test"]


@only_on("pgsql")
def test_instance_sharing_the_master_database_leaves_the_table_out(
        env, master, server):
    source = master_with_tables(master)
    opts = source + env.opts()[2:]
    ctl(*opts, "add", "--host", "http://inside.test", "--dbtype", "pgsql",
        "--dbhost", f"localhost:{server.port}", "--dbuser", USER,
        "--dbpass-file", env.passfile, "--dbname", master.db.name,
        "--prefix", "mdl_", "--dataroot", site_dataroot(env, master, "inside"))
    ctl(*opts, "snapshot", "--from", "inside.test", "--name", "inside")
    tpl = os.path.join(env.templates, "inside")
    tables, text = dumped(server, os.path.join(tpl, "database.dump"))
    assert "mdl_config" in tables
    assert not tables & {"vmoodle_instances", "mdl_local_vmoodle"}
    assert ROW_PASSWORD not in text


# ----------------------------------------------- races on the dataroots

@only_on("pgsql")
@pytest.mark.parametrize("outcome", ["deployed", "undone"])
def test_deploy_copy_never_follows_a_swapped_folder(env, master, server,
                                                    outcome):
    rels = big_tree(master.dataroot)
    snapshot(env, master)
    if outcome == "undone":     # a file the manifest lacks: copy fails, undo
        write(os.path.join(env.templates, "tpl", "dataroot", "filedir",
                           "big", "zz-extra"), b"?")
    # empty: a copy must not fill it; full: an undo must not empty it
    victim = victim_dir(env.tmp, [] if outcome == "deployed" else BIG_FILES)
    before = victim_state(victim)
    give_to_web_user(env.data)          # the tenant may write the parent
    target = os.path.join(env.data, f"{outcome}_test")
    racer = Racer(env.tmp, target, victim, rels)
    try:
        proc = env.deploy("tpl", f"http://{outcome}.test", check=False)
    finally:
        swaps = racer.finish()
    assert victim_state(victim) == before, (swaps, proc.stdout, proc.stderr)
    if outcome == "deployed":
        assert proc.returncode == 0, proc.stderr
    else:
        assert proc.returncode != 0 and "copy the dataroot" in proc.stderr
        assert "vm_undone_test" not in databases(server)


@only_on("pgsql")
def test_destroy_never_follows_a_swapped_folder(env, server):
    root = os.path.join(env.data, "race")
    rels = big_tree(root)
    give_to_web_user(env.data)
    victim = victim_dir(env.tmp, BIG_FILES)
    before = victim_state(victim)
    ctl(*env.opts(), "add", "--host", "http://race.test", "--dbtype", "pgsql",
        "--dbhost", f"127.0.0.1:{server.port}", "--dbuser", USER,
        "--dbpass-file", env.passfile, "--dbname", "vm_race_absent",
        "--dataroot", root)
    racer = Racer(env.tmp, root, victim, rels)
    try:
        proc = ctl(*env.opts(), "destroy", "race.test", "--yes", check=False)
    finally:
        swaps = racer.finish()
    assert swaps > 0                    # the tenant did swap its folders
    assert victim_state(victim) == before, (proc.stdout, proc.stderr)
    if proc.returncode == 0:
        assert not os.path.lexists(root) and env.rows() == []
    else:
        assert "destroy of http://race.test stopped" in proc.stderr


@only_on("pgsql")
def test_destroy_refuses_a_dataroot_that_is_a_link(env, server):
    victim = victim_dir(env.tmp, ["keep"])
    root = os.path.join(env.data, "linked")
    os.symlink(victim, root)
    ctl(*env.opts(), "add", "--host", "http://linked.test", "--dbtype",
        "pgsql", "--dbname", "vm_linked", "--dataroot", root)
    proc = ctl(*env.opts(), "destroy", "linked.test", "--yes", check=False)
    assert proc.returncode != 0 and "not a directory" in proc.stderr
    assert os.listdir(victim) == ["keep"] and len(env.rows()) == 1


# ------------------------------------------- what another site still uses

def add_row(env, host, dbtype, dbhost, dbname, dataroot, *extra):
    ctl(*env.opts(), "add", "--host", host, "--dbtype", dbtype, "--dbhost",
        dbhost, "--dbuser", USER, "--dbpass-file", env.passfile, "--dbname",
        dbname, "--dataroot", dataroot, *extra)


def test_destroy_refuses_a_database_another_row_uses(env, server):
    shared = server.new_database("shared")
    dbtype = "pgsql" if server.kind == "pgsql" else "mariadb"
    add_row(env, "http://one.test", dbtype, f"127.0.0.1:{server.port}",
            shared.name, os.path.join(env.data, "one"), "--prefix", "one_")
    # the same server spelt otherwise, the same database, another prefix
    add_row(env, "http://two.test", dbtype, f"LocalHost:{server.port}",
            shared.name, os.path.join(env.data, "two"), "--prefix", "two_")
    os.makedirs(os.path.join(env.data, "one"))
    rows = env.rows()
    proc = ctl(*env.opts(), "destroy", "one.test", "--yes", check=False)
    assert proc.returncode != 0
    assert "destroy refused, nothing done" in proc.stderr
    assert "http://two.test (id 2)" in proc.stderr
    assert shared.name in databases(server)
    assert os.path.isdir(os.path.join(env.data, "one"))
    assert env.rows() == rows
    # another server (another port) is another database
    add_row(env, "http://three.test", dbtype, f"127.0.0.1:{server.port + 1}",
            shared.name, os.path.join(env.data, "three"))
    ok = ctl(*env.opts(), "--dry-run", "destroy", "three.test")
    assert "plan: destroy http://three.test" in ok.stdout


@pytest.mark.parametrize("one, two", [
    ("site", "site"), ("site", "site/inner"), ("site/inner", "site")])
def test_destroy_refuses_a_dataroot_another_row_uses(env, server, one, two):
    add_row(env, "http://one.test", "pgsql", "db", "vm_one",
            os.path.join(env.data, one))
    add_row(env, "http://two.test", "pgsql", "db", "vm_two",
            os.path.join(env.data, two))
    os.makedirs(os.path.join(env.data, "site", "inner"))
    proc = ctl(*env.opts(), "destroy", "one.test", "--yes", check=False)
    assert proc.returncode != 0 and "refusing to remove it" in proc.stderr
    assert "http://two.test (id 2)" in proc.stderr
    assert os.path.isdir(os.path.join(env.data, "site", "inner"))
    assert len(env.rows()) == 2


def test_destroy_refuses_the_master_database_and_dataroot(env, master,
                                                          server):
    source = master_with_tables(master)
    opts = source + env.opts()[2:]
    dbtype = master.dbtype
    ctl(*opts, "add", "--host", "http://in-master.test", "--dbtype", dbtype,
        "--dbhost", f"localhost:{server.port}", "--dbuser", USER,
        "--dbpass-file", env.passfile, "--dbname", master.db.name,
        "--prefix", "im_", "--dataroot",
        os.path.join(env.data, "in-master"))
    os.makedirs(os.path.join(env.data, "in-master"))
    proc = ctl(*opts, "destroy", "in-master.test", "--yes", check=False)
    assert proc.returncode != 0
    assert "is the master's" in proc.stderr
    assert "vmoodle_instances" in proc.stderr
    assert master.db.name in databases(server)
    # the master's dataroot, named in the configuration
    conf = os.path.join(env.tmp, "vmoodlectl.conf")
    with open(conf, "w") as f:
        f.write(f"master-dataroot = {env.data}/master-files\n")
    os.makedirs(os.path.join(env.data, "master-files", "md"))
    ctl(*opts, "add", "--host", "http://md.test", "--dbtype", dbtype,
        "--dbhost", f"127.0.0.1:{server.port}", "--dbname", "vm_md",
        "--dataroot", os.path.join(env.data, "master-files", "md"))
    proc = ctl("--config", conf, *opts, "destroy", "md.test", "--yes",
               check=False)
    assert proc.returncode != 0 and "the master's" in proc.stderr
    assert "master-dataroot" in proc.stderr

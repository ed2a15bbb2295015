"""vmoodlectl backup, backups, restore and usage on a stand-in site with a
real database (PostgreSQL and MariaDB from dbservers.py): the site's
database holds a few of Moodle's tables, its dataroot Moodle's folders,
and the stand-in admin/cli scripts ("php" runs them with sh) keep the
maintenance flag where Moodle's CLI keeps it ($dataroot/climaintenance.html)
and fail or sleep once when told (out/fail-<script>, out/sleep-<script>)."""
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import time

import pytest

from dbservers import (PASSWORD, USER, MySQLServer, PgServer,  # noqa: F401
                       mysql_server, pg_server)
from instances import instance, write_table
from test_tenant_roles import as_login, login_exists, may_create_databases
from test_vmoodlectl import (DATAROOT_FILES, MOODLE_ROWS, MOODLE_TABLES,
                             RUNTIME_FILES, admin_login, databases, only_on,
                             server, sha256, site_sql, traversable,  # noqa: F401
                             write)

BUILD = os.environ.get("VMOODLE_BUILD", os.path.join(
    os.path.dirname(__file__), "..", "..", "build"))
CTL = os.path.join(BUILD, "vmoodlectl")
WEB_USER = "www-data"

PHP = """#!/bin/sh
while [ "${1#-d}" != "$1" ]; do shift; done
exec /bin/sh "$@"
"""

# Each stand-in script: notes its call, fails once or sleeps when told.
PROLOGUE = """r=@ROOT@; s=$(basename "$0" .php)
echo "$s $*" >> "$r/out/steps"
o=$r/out
[ -f "$o/sleep-$s" ] && { t=$(cat "$o/sleep-$s"); rm -f "$o/sleep-$s"; sleep "$t"; }
[ -f "$o/fail-$s" ] && { rm -f "$o/fail-$s"; echo "$s failed"; exit 3; }
dr=$VMOODLE_DATAROOT
"""

SCRIPTS = {
    # out/on-enable: a shell script run (as the site) just before
    # maintenance goes on: what the site does while a move copies
    "maintenance.php": """case "$1" in
--enable) [ -f "$o/on-enable" ] && sh "$o/on-enable"
    echo on > "$dr/climaintenance.html" ;;
--disable) rm -f "$dr/climaintenance.html" ;;
esac
""",
    "purge_caches.php": "echo purged\n",
    "cfg.php": "echo \"cfg $*\"\n",
    "../tool/replace/cli/replace.php": "echo replaced\n",
    # a pending upgrade: out/pending; one that breaks: out/break-upgrade
    "upgrade.php": """case "$1" in
--is-pending) [ -f "$o/pending" ] && exit 2; exit 0 ;;
--non-interactive)
    [ -f "$o/break-upgrade" ] && { echo broken > "$dr/lang/en/readme.txt";
                                   echo "upgrade error"; exit 5; }
    rm -f "$o/pending"; echo upgraded ;;
esac
""",
}

MOODLE_VERSION = """
INSERT INTO {p}config (name, value) VALUES ('version', '2024100705.05'),
  ('release', '4.5.5+ (Build: 20250613)');
ALTER TABLE {p}user ADD COLUMN deleted SMALLINT NOT NULL DEFAULT 0,
  ADD COLUMN lastaccess BIGINT NOT NULL DEFAULT 0;
UPDATE {p}user SET lastaccess = 1700000000 WHERE username = 'admin';
"""


# Settings naming the site's host and dataroot, as Moodle's defaults do.
SETTINGS = """
INSERT INTO {p}config (name, value) VALUES
  ('noreplyaddress', 'noreply@{host}'),
  ('geoip2file', '{dataroot}/geoip/GeoLite2-City.mmdb');
"""


def ctl(*args, env=None, timeout=300):
    return subprocess.run([CTL] + [str(a) for a in args], capture_output=True,
                          text=True, timeout=timeout, env=env)


def web_owned(path):
    w = pwd.getpwnam(WEB_USER)
    for top, dirs, files in os.walk(path):
        for n in [top] + [os.path.join(top, f) for f in dirs + files]:
            os.lchown(n, w.pw_uid, w.pw_gid)


class Site:
    """One stand-in site: a real database, a dataroot, the table, the code."""

    def __init__(self, tmp, server, short="one"):
        self.root, self.server, self.kind = str(tmp), server, server.kind
        traversable(self.root)
        self.code = os.path.join(self.root, "moodle")
        cli = os.path.join(self.code, "admin", "cli")
        os.makedirs(cli)
        os.makedirs(os.path.join(self.root, "out"), 0o777)
        os.chmod(os.path.join(self.root, "out"), 0o777)
        write(os.path.join(self.root, "php"), PHP.encode())
        os.chmod(os.path.join(self.root, "php"), 0o755)
        for name, body in SCRIPTS.items():
            os.makedirs(os.path.dirname(os.path.join(cli, name)),
                        exist_ok=True)
            write(os.path.join(cli, name),
                  (PROLOGUE.replace("@ROOT@", self.root) + body).encode())
        self.backups = os.path.join(self.root, "backups")
        self.data = os.path.join(self.root, "data")
        os.makedirs(self.data)
        self.table = os.path.join(self.root, "instances.json")
        self.rows = []
        self.add(short)

    def add(self, short):
        db = self.server.new_database(short)
        dataroot = os.path.join(self.data, short)
        db.sql(MOODLE_TABLES[self.kind].format(p="mdl_")
               + MOODLE_ROWS.format(p="mdl_") + MOODLE_VERSION.format(p="mdl_")
               + SETTINGS.format(p="mdl_", host=f"{short}.test",
                                 dataroot=dataroot))
        for rel, data in DATAROOT_FILES.items():
            write(os.path.join(dataroot, rel), data)
        for rel in RUNTIME_FILES:
            write(os.path.join(dataroot, rel), b"runtime")
        web_owned(dataroot)
        self.rows.append(instance(
            len(self.rows) + 1, f"{short}.test", shortname=short,
            vdbtype="pgsql" if self.kind == "pgsql" else "mariadb",
            vdbhost=f"127.0.0.1:{self.server.port}", vdblogin=USER,
            vdbpass=PASSWORD, vdbname=db.name, vdbprefix="mdl_",
            vdatapath=dataroot))
        write_table(self.table, self.rows)
        return self.rows[-1]

    @property
    def row(self):
        with open(self.table) as f:
            return json.load(f)[0]

    def args(self, *args):
        """vmoodlectl with the settings, then args; --log-dir after the
        commands that run sites as the fleet does."""
        args = [str(a) for a in args]
        fleet = next((i + 1 for i, a in enumerate(args)
                      if a in ("backup", "upgrade", "deploy", "usage")), None)
        if fleet:
            args[fleet:fleet] = ["--log-dir", os.path.join(self.root, "logs")]
        return [CTL, "--config", "/dev/null", "--source",
                f"json:{self.table}", "--php", os.path.join(self.root, "php"),
                "--moodle-dir", self.code, "--lock-dir",
                os.path.join(self.root, "locks"), "--user", WEB_USER,
                "--data-parent", self.data, "--backup-dir",
                self.backups] + args

    def ctl(self, *args, env=None, timeout=300):
        return subprocess.run(self.args(*args), capture_output=True,
                              text=True, timeout=timeout, env=env)

    def sql(self, text, row=None):
        return site_sql(self.server, (row or self.row)["vdbname"], text).strip()

    def setting(self, name):
        return self.sql(f"SELECT value FROM mdl_config WHERE name = '{name}'")

    def courses(self):
        return self.sql("SELECT shortname FROM mdl_course ORDER BY id").split()

    def steps(self):
        path = os.path.join(self.root, "out", "steps")
        return open(path).read().splitlines() if os.path.exists(path) else []

    def in_maintenance(self):
        return os.path.exists(os.path.join(self.row["vdatapath"],
                                           "climaintenance.html"))

    def site_backups(self, short="one"):
        d = os.path.join(self.backups, f"{short}.test")
        return sorted(n for n in os.listdir(d)) if os.path.isdir(d) else []

    def tree(self, path=None):
        """path -> bytes of every file of the dataroot."""
        path = path or self.row["vdatapath"]
        out = {}
        for top, _, files in os.walk(path):
            for f in files:
                full = os.path.join(top, f)
                out[os.path.relpath(full, path)] = open(full, "rb").read()
        return out

    def fail_once(self, script):
        write(os.path.join(self.root, "out", f"fail-{script}"), b"")

    def backup(self, *extra):
        proc = self.ctl("backup", "one.test", *extra)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return os.path.join(self.backups, "one.test", self.site_backups()[-1])


@pytest.fixture
def site(tmp_path, server):
    return Site(tmp_path, server)


# ------------------------------------------------------------------ backup

def test_backup_writes_dump_dataroot_and_manifest(site):
    path = site.backup()
    assert re.fullmatch(r"\d{8}T\d{6}Z", os.path.basename(path))
    with open(os.path.join(path, "manifest.json")) as f:
        m = json.load(f)
    assert m["kind"] == "backup"
    assert m["source"]["wwwroot"] == "http://one.test"
    assert m["moodle"] == {"version": "2024100705.05",
                           "release": "4.5.5+ (Build: 20250613)",
                           "siteidentifier": "abc"}
    dump = os.path.join(path, m["database"]["file"])
    assert os.path.getsize(dump) == m["database"]["size"] > 0
    assert sha256(dump) == m["database"]["sha256"]
    listed = {e["path"]: e for e in m["dataroot"]["list"]}
    assert set(listed) == set(DATAROOT_FILES)      # filedir kept
    for rel, data in DATAROOT_FILES.items():
        copy = os.path.join(path, "dataroot", rel)
        assert open(copy, "rb").read() == data
        assert listed[rel]["sha256"] == sha256(copy)
        assert listed[rel]["size"] == len(data)
    for rel in RUNTIME_FILES:
        assert not os.path.exists(os.path.join(path, "dataroot", rel))
    # root's alone: folders 0700, files 0600
    for top, dirs, files in os.walk(os.path.dirname(path)):
        for n in dirs:
            st = os.lstat(os.path.join(top, n))
            assert st.st_uid == 0 and st.st_mode & 0o777 == 0o700, n
        for n in files:
            st = os.lstat(os.path.join(top, n))
            assert st.st_uid == 0 and st.st_mode & 0o777 == 0o600, n
    assert PASSWORD not in open(os.path.join(path, "manifest.json")).read()
    assert not site.in_maintenance() and site.steps() == []
    # the log of the site says where the backup is
    log = open(os.path.join(site.root, "logs", "one.test.log")).read()
    assert path in log


def test_backups_lists_them(site):
    first = site.backup()
    second = site.backup()
    out = json.loads(site.ctl("backups", "--json").stdout)
    assert [e["path"] for e in out] == [first, second]
    assert out[0]["site"] == "http://one.test"
    assert out[0]["moodle_release"] == "4.5.5+ (Build: 20250613)"
    text = site.ctl("backups", "one.test")
    assert text.returncode == 0 and first in text.stdout
    assert "4.5.5+" in text.stdout and "2 backup(s)" in text.stdout
    unknown = site.ctl("backups", "nope.test")
    assert unknown.returncode == 2 and "nope.test" in unknown.stderr


@only_on("pgsql")
def test_backup_keeps_the_newest_n(site):
    made = [site.backup("--keep", "2") for _ in range(3)]
    assert site.site_backups() == [os.path.basename(p) for p in made[1:]]
    assert not os.path.exists(made[0])


def test_backup_with_maintenance_turns_it_on_and_off(site):
    site.backup("--maintenance")
    assert site.steps() == ["maintenance --enable", "maintenance --disable"]
    assert not site.in_maintenance()


def test_backup_dry_run_prints_the_plan_and_does_nothing(site):
    proc = site.ctl("--dry-run", "backup", "one.test", "--maintenance",
                    "--keep", "3")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for words in ["plan: backup http://one.test", "1. maintenance on",
                  "dump ", "copy ", "maintenance off", "write the manifest",
                  "newest 3"]:
        assert words in out
    assert not os.path.exists(site.backups) and site.steps() == []


def test_backup_with_a_wrong_password_is_refused_before_anything(site):
    site.rows[0]["vdbpass"] = "wrong-secret"
    write_table(site.table, site.rows)
    proc = site.ctl("backup", "one.test", "--maintenance")
    assert proc.returncode == 1
    log = open(os.path.join(site.root, "logs", "one.test.log")).read()
    assert "refused, nothing done" in log and "wrong-secret" not in log
    assert site.site_backups() == [] and site.steps() == []


def test_backup_maintenance_runs_the_sites_own_platform(site):
    """--maintenance on a site of platform "next": Moodle's maintenance
    script of that tree, not of --moodle-dir."""
    conf = next_platform(site)
    script = os.path.join(site.root, "next", "admin", "cli", "maintenance.php")
    write(script, open(script).read().replace(
        'dr=$VMOODLE_DATAROOT', 'dr=$VMOODLE_DATAROOT\n'
        'echo "next tree" >> "$r/out/steps"').encode())
    site.rows[0]["platform"] = "next"
    write_table(site.table, site.rows)
    proc = site.ctl("--platforms", conf, "backup", "one.test", "--maintenance")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert site.steps() == ["maintenance --enable", "next tree",
                            "maintenance --disable", "next tree"]


def failing_tools(site, *tools):
    """An environment where these database tools fail (read their input,
    say why, exit 1): first in PATH."""
    bin_dir = os.path.join(site.root, "bin")
    for tool in tools:
        write(os.path.join(bin_dir, tool), b"#!/bin/sh\ncat >/dev/null\n"
              b"echo broken >&2\nexit 1\n")
        os.chmod(os.path.join(bin_dir, tool), 0o755)
    return dict(os.environ, PATH=bin_dir + ":" + os.environ["PATH"])


@pytest.mark.parametrize("where", ["maintenance on", "dump", "copy",
                                   "maintenance off", "timeout"])
def test_backup_failing_at_each_step_leaves_the_site_as_it_was(site, where):
    before = site.tree()
    env = None
    extra = ["--maintenance"]
    if where == "maintenance on":
        site.fail_once("maintenance")
    elif where == "dump":
        env = failing_tools(site, "pg_dump", "mariadb-dump")
    elif where == "copy":      # a hard link to a file of another user
        other = os.path.join(site.root, "other")
        write(other, b"not the tenant's")
        os.link(other, os.path.join(site.row["vdatapath"], "filedir", "ln"))
        before = site.tree()
    elif where == "maintenance off":
        # the first --disable fails (out/ is the web user's to write)
        script = os.path.join(site.code, "admin", "cli", "maintenance.php")
        body = open(script).read().replace(
            '--disable) rm', '--disable) [ -f "$r/out/off-failed" ] || '
            '{ touch "$r/out/off-failed"; exit 4; }; rm')
        write(script, body.encode())
    else:                       # TERM at the timeout, in the slow step
        write(os.path.join(site.root, "out", "sleep-maintenance"), b"3")
        extra += ["--timeout", "1"]
    proc = site.ctl("backup", "one.test", *extra, env=env)
    assert proc.returncode == 1
    assert site.site_backups() == [] and os.listdir(site.backups) in (
        [], ["one.test"])
    assert not site.in_maintenance()
    assert site.tree() == before
    log = open(os.path.join(site.root, "logs", "one.test.log")).read()
    assert "the site is as it was" in log or "refused" in log


# ----------------------------------------------------------------- restore

def changed_after_backup(site):
    """A course added, a file added and one changed after the backup."""
    site.sql("INSERT INTO mdl_course (category, fullname, shortname) "
             "VALUES (1, 'Chemistry', 'chem')")
    dr = site.row["vdatapath"]
    write(os.path.join(dr, "filedir", "new", "file"), b"after the backup")
    write(os.path.join(dr, "lang", "en", "readme.txt"), b"changed")
    web_owned(dr)


def state(site):
    """What must not change when a restore is refused or undone."""
    return {"courses": site.courses(), "tree": site.tree(),
            "config": site.sql("SELECT name, value FROM mdl_config "
                               "ORDER BY name"),
            "databases": databases(site.server), "row": site.row,
            "maintenance": site.in_maintenance(),
            "beside": sorted(os.listdir(site.data))}


def test_restore_in_place_brings_the_backup_back(site):
    before_backup = site.tree()
    path = site.backup()
    changed_after_backup(site)
    assert "chem" in site.courses()
    dbs = databases(site.server)
    proc = site.ctl("restore", path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "verified" in proc.stdout and "restored http://one.test" in \
        proc.stdout
    assert site.courses() == ["master", "bio"]          # chem is gone
    assert site.sql("SELECT value FROM mdl_config WHERE name = "
                    "'siteidentifier'") == "abc"
    after = site.tree()
    assert after == {k: v for k, v in before_backup.items()
                     if k.split("/")[0] not in ("sessions", "cache",
                                                "localcache", "temp",
                                                "trashdir", "lock")
                     and not k.endswith(".lock")}
    w = pwd.getpwnam(WEB_USER)
    for top, dirs, files in os.walk(site.row["vdatapath"]):
        for n in [top] + [os.path.join(top, f) for f in files]:
            assert os.lstat(n).st_uid == w.pw_uid, n
    assert not site.in_maintenance()
    assert site.steps() == ["maintenance --enable", "purge_caches ",
                            "maintenance --disable",
                            "cfg --name=siteidentifier"]
    # the old copies are gone: one database for the site, no folder beside
    assert sorted(os.listdir(site.data)) == ["one"]
    now = databases(site.server)
    assert site.row["vdbname"] in now
    assert len(now) == len(dbs)
    if site.kind == "pgsql":
        assert site.row["vdbname"] == site.rows[0]["vdbname"]


@pytest.mark.parametrize("what", ["dump", "file", "missing"])
def test_restore_of_a_tampered_backup_is_refused_before_any_change(site,
                                                                  what):
    path = site.backup()
    changed_after_backup(site)
    if what == "dump":
        dump = [n for n in os.listdir(path) if n.startswith("database")][0]
        with open(os.path.join(path, dump), "ab") as f:
            f.write(b"-- tampered\n")
    elif what == "file":
        write(os.path.join(path, "dataroot", "lang", "en", "readme.txt"),
              b"tampered")
    else:
        os.unlink(os.path.join(path, "dataroot", "muc", "config.php"))
    before = state(site)
    proc = site.ctl("restore", path)
    assert proc.returncode == 1
    assert "refused, nothing changed" in proc.stderr
    assert state(site) == before and site.steps() == []


def test_restore_dry_run_prints_the_plan_and_changes_nothing(site):
    path = site.backup()
    changed_after_backup(site)
    before = state(site)
    proc = site.ctl("--dry-run", "restore", path)
    assert proc.returncode == 0, proc.stderr
    for words in ["plan: restore of http://one.test", "maintenance on",
                  "load", "exchange", "purge caches", "cfg.php",
                  "the old ones"]:
        assert words in proc.stdout
    assert state(site) == before and site.steps() == []


def test_restore_refuses_a_database_shared_with_another_site(site):
    path = site.backup()
    two = site.add("two")
    site.rows[1]["vdbname"] = site.rows[0]["vdbname"]
    site.rows[1]["vdbprefix"] = "t2_"
    write_table(site.table, site.rows)
    before = state(site)
    proc = site.ctl("restore", path)
    assert proc.returncode == 1 and "two.test" in proc.stderr
    assert state(site) == before
    assert two


def wait_for_step(site, proc, step):
    for _ in range(600):
        if any(s.startswith(step) for s in site.steps()) or \
                proc.poll() is not None:
            return
        time.sleep(0.05)


@pytest.mark.parametrize("where", ["maintenance on", "load", "purge",
                                   "answer", "interrupt"])
def test_restore_failing_at_each_step_leaves_the_site_as_it_was(site, where):
    path = site.backup()
    changed_after_backup(site)
    before = state(site)
    env = None
    if where == "maintenance on":
        site.fail_once("maintenance")
    elif where == "load":
        env = failing_tools(site, "pg_restore", "mariadb")
    elif where == "purge":
        site.fail_once("purge_caches")
    elif where == "answer":
        site.fail_once("cfg")
    if where != "interrupt":
        proc = site.ctl("restore", path, env=env)
        out, err, code = proc.stdout, proc.stderr, proc.returncode
    else:     # TERM once both swaps are done, during the cache purge
        write(os.path.join(site.root, "out", "sleep-purge_caches"), b"2")
        p = subprocess.Popen(site.args("restore", path),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        wait_for_step(site, p, "purge_caches")
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=120)
        code = p.returncode
    assert code == 1, out + err
    assert "the site is as it was" in err
    assert state(site) == before


# ------------------------------------------------------------------- usage

def quota_file(site, text):
    path = os.path.join(site.root, "quotas")
    write(path, text.encode())
    return path


def test_usage_equals_du_and_the_servers_own_figures(site):
    """--jobs 2 over three sites: the figures are du's and the database
    server's own; the live view and summary on stderr, one JSON document
    on stdout; a site over its quota makes the exit code 3."""
    site.add("two")
    site.add("three")
    quotas = quota_file(site, "one.test = 1K\ndefault = 1T\n")
    proc = site.ctl("--quota-file", quotas, "usage", "--jobs", "2", "--json")
    assert proc.returncode == 3, proc.stderr
    assert "3 site(s): 3 ok, 0 failed" in proc.stderr
    rows = {r["site"]: r for r in json.loads(proc.stdout)}
    assert set(rows) == {"one.test", "two.test", "three.test"}
    for row in site.rows:
        host = row["vhostname"].split("//")[1]
        got = rows[host]
        du = subprocess.run(["du", "-s", "-B1", row["vdatapath"]],
                            capture_output=True, text=True, check=True)
        assert got["dataroot_bytes"] == int(du.stdout.split()[0])
        assert got["dataroot_files"] == len(DATAROOT_FILES) + len(RUNTIME_FILES)
        if site.kind == "pgsql":
            size = site.server.sql("SELECT pg_database_size('%s')"
                                   % row["vdbname"])
        else:
            size = site.server.sql(
                "SELECT SUM(data_length + index_length) FROM "
                "information_schema.TABLES WHERE table_schema = '%s'"
                % row["vdbname"])
        assert got["database_bytes"] == int(size) > 0
        assert got["users"] == 1 and got["last_access"] == 1700000000
        assert got["moodle_release"] == "4.5.5+ (Build: 20250613)"
        with open(os.path.join(site.root, "logs", host + ".log")) as f:
            assert "dataroot " in f.read()
    assert rows["one.test"]["quota_bytes"] == 1024
    assert rows["one.test"]["quota"] == "over"
    assert rows["one.test"]["warning"] is True
    assert rows["two.test"]["quota_bytes"] == 1 << 40
    assert rows["two.test"]["warning"] is False
    assert rows["two.test"]["quota"] == "ok"
    proc = site.ctl("--quota-file", quotas, "usage", "one.test")
    assert proc.returncode == 3
    line = next(l for l in proc.stdout.splitlines()
                if l.startswith("one.test ") and "2023-11-14" in l)
    assert "OVER QUOTA" in line and "4.5.5+" in line


def test_usage_refuses_a_bad_quota_file(site):
    quotas = quota_file(site, "one.test = lots\n")
    proc = site.ctl("--quota-file", quotas, "usage")
    assert proc.returncode == 1 and "quotas:1" in proc.stderr


def test_restore_as_a_new_site_makes_it_its_own(site):
    path = site.backup()
    changed_after_backup(site)
    before = state(site)
    proc = site.ctl("restore", path, "--as", "http://copy.test",
                    "--shortname", "copy")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "verified" in proc.stdout
    with open(site.table) as f:
        rows = json.load(f)
    assert len(rows) == 2
    new = rows[1]
    assert new["vhostname"] == "http://copy.test"
    assert new["vdbname"] != site.rows[0]["vdbname"]
    assert new["vdatapath"].startswith(site.data + "/")
    # a login of its own, as deploy gives each new site
    assert new["vdblogin"] != USER
    assert not may_create_databases(site.server, new["vdblogin"])
    # the backup's content, its own identity
    assert site.sql("SELECT shortname FROM mdl_course ORDER BY id",
                    new).split() == ["copy", "bio"]   # no chem
    assert site.sql("SELECT value FROM mdl_config WHERE name = "
                    "'siteidentifier'", new) not in ("abc", "")
    assert site.sql("SELECT wwwroot FROM mdl_mnet_host WHERE id = 2",
                    new) == "http://copy.test"
    assert not os.path.exists(os.path.join(new["vdatapath"], "secret", "key",
                                           "sodium.key"))
    assert open(os.path.join(new["vdatapath"], "lang", "en", "readme.txt"),
                "rb").read() == b"hello"
    # the site it came from is untouched
    after = state(site)
    assert {k: after[k] for k in ("courses", "tree", "row")} == \
        {k: before[k] for k in ("courses", "tree", "row")}


def test_restore_as_an_existing_host_is_refused(site):
    path = site.backup()
    before = state(site)
    proc = site.ctl("restore", path, "--as", "http://one.test")
    assert proc.returncode != 0 and "one.test" in proc.stderr
    assert state(site) == before


# ------------------------------------------------------------------ rename

def test_rename_changes_the_row_and_rewrites_the_urls(site):
    proc = site.ctl("rename", "one.test", "https://school.example.org")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert site.row["vhostname"] == "https://school.example.org"
    assert site.setting("noreplyaddress") == "noreply@school.example.org"
    assert site.steps() == [
        "maintenance --enable",
        "replace --search=http://one.test "
        "--replace=https://school.example.org --non-interactive --shorten",
        "purge_caches ", "maintenance --disable"]
    assert not site.in_maintenance()


def test_rename_failing_is_undone(site):
    before = state(site)
    site.fail_once("replace")
    proc = site.ctl("rename", "one.test", "http://two.test")
    assert proc.returncode == 1 and "the site is as it was" in proc.stderr
    assert state(site) == before
    assert site.steps() == [
        "maintenance --enable",
        "replace --search=http://one.test --replace=http://two.test "
        "--non-interactive",
        "replace --search=http://two.test --replace=http://one.test "
        "--non-interactive",
        "maintenance --disable"]


@only_on("pgsql")
def test_rename_refuses_a_taken_url(site):
    site.add("two")
    before = state(site)
    taken = site.ctl("rename", "one.test", "http://two.test")
    assert taken.returncode == 1 and "refused" in taken.stderr
    plan = site.ctl("--dry-run", "rename", "one.test", "http://three.test",
                    "--keep-alias")
    assert plan.returncode == 0 and "replace.php" in plan.stdout
    assert "the old URL kept as an alias" in plan.stdout
    assert state(site) == before and site.steps() == []


@only_on("pgsql")
def test_rename_keep_alias_makes_the_old_host_an_alias(site):
    """The row only: that the old host answers 301 is the module's
    (test_paths.py)."""
    proc = site.ctl("rename", "one.test", "http://three.test",
                    "--keep-alias")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert site.row["vhostname"] == "http://three.test"
    assert "one.test" in site.row["aliases"].split()
    listed = site.ctl("alias", "list", "three.test")
    assert listed.returncode == 0 and "one.test" in listed.stdout, \
        listed.stdout + listed.stderr


# -------------------------------------------------------------------- move

def test_move_to_a_new_database_and_dataroot_then_cleanup(site):
    old = dict(site.row)
    tree = {k: v for k, v in site.tree().items()
            if k.split("/")[0] not in ("sessions", "cache", "localcache",
                                       "temp", "trashdir", "lock")
            and not k.endswith(".lock")}
    new_db = old["vdbname"] + "_moved"
    new_data = os.path.join(site.data, "one-moved")
    proc = site.ctl("move", "one.test", "--dbname", new_db, "--dataroot",
                    new_data)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    row = site.row
    assert (row["vdbname"], row["vdatapath"]) == (new_db, new_data)
    assert row["vhostname"] == old["vhostname"]
    assert site.courses() == ["master", "bio"]
    assert site.setting("geoip2file") == \
        new_data + "/geoip/GeoLite2-City.mmdb"
    assert site.tree() == tree and not site.in_maintenance()
    assert site.steps() == ["maintenance --enable", "purge_caches ",
                            "maintenance --disable",
                            "cfg --name=siteidentifier"]
    # the old copies are kept until --cleanup
    assert old["vdbname"] in databases(site.server)
    assert os.path.isdir(old["vdatapath"])
    again = site.ctl("move", "one.test", "--dbname", old["vdbname"])
    assert again.returncode == 1 and "--cleanup first" in again.stderr
    clean = site.ctl("move", "one.test", "--cleanup")
    assert clean.returncode == 0, clean.stderr
    assert old["vdbname"] not in databases(site.server)
    assert not os.path.exists(old["vdatapath"])
    assert site.courses() == ["master", "bio"]
    none = site.ctl("move", "one.test", "--cleanup")
    assert none.returncode == 1 and "no old copies" in none.stderr


def copied(tree):
    """A dataroot's tree as move copies it: without run-time files."""
    return {k: v for k, v in tree.items()
            if k.split("/")[0] not in ("sessions", "cache", "localcache",
                                       "temp", "trashdir", "lock")
            and not k.endswith(".lock") and k != "climaintenance.html"}


# Run as the site by the stand-in maintenance --enable, after the copy
# made while the site serves: notes what the site and the copy are then,
# changes the dataroot (a file added, one changed at the same size, one
# grown, a folder removed, a file become a folder) and, as a tenant could,
# the copy (a stray file, a link where a file was).
BETWEEN_THE_PASSES = """o=@OUT@; dr=$VMOODLE_DATAROOT; new=@NEW@
[ -f "$dr/climaintenance.html" ] && echo maintenance > "$o/site-then"
(cd "$new" && find . -type f | sort) > "$o/copy-then"
mkdir -p "$dr/filedir/new" && echo added > "$dr/filedir/new/added"
printf HELLO > "$dr/lang/en/readme.txt"
touch -d @1000000000 "$dr/lang/en/readme.txt"
echo more >> "$dr/muc/config.php"
rm -r "$dr/filedir/ef"
rm "$dr/secret/key/sodium.key" && mkdir "$dr/secret/key/sodium.key"
echo stray > "$new/stray"
ln -sf "$o/victim" "$new/lang/en/readme.txt"
"""


def move_args(site):
    return ["move", "one.test", "--dbname", site.row["vdbname"] + "_moved",
            "--dataroot", os.path.join(site.data, "one-moved")]


def test_move_copies_the_dataroot_while_the_site_serves(site):
    new_data = os.path.join(site.data, "one-moved")
    out = os.path.join(site.root, "out")
    write(os.path.join(out, "on-enable"),
          BETWEEN_THE_PASSES.replace("@OUT@", out).replace("@NEW@", new_data)
          .encode())
    write(os.path.join(out, "victim"), b"not the site's")
    first = copied(site.tree())
    proc = site.ctl(*move_args(site))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # the whole copy was made before maintenance went on, the site serving
    then = open(os.path.join(out, "copy-then")).read().split()
    assert sorted(then) == sorted("./" + k for k in first)
    assert not os.path.exists(os.path.join(out, "site-then"))
    assert site.steps()[0] == "maintenance --enable"
    lines = proc.stdout.splitlines()
    serving = next(i for i, ln in enumerate(lines)
                   if "while the site serves" in ln)
    window = next(i for i, ln in enumerate(lines) if "in maintenance" in ln)
    assert serving < window
    # what changed between the passes is in the new dataroot, as it is in
    # the old one; the tenant's stray file and link are gone
    assert site.row["vdatapath"] == new_data
    old = copied(site.tree(site.rows[0]["vdatapath"]))
    assert "filedir/new/added" in old and "filedir/ef/01/ef012345" not in old
    assert copied(site.tree()) == old
    assert not os.path.islink(os.path.join(new_data, "lang/en/readme.txt"))
    assert open(os.path.join(out, "victim"), "rb").read() == b"not the site's"
    assert os.path.isdir(os.path.join(new_data, "secret/key/sodium.key"))
    assert os.stat(os.path.join(new_data, "lang/en/readme.txt")).st_mtime \
        == 1000000000
    assert not site.in_maintenance() and site.courses() == ["master", "bio"]


def assert_as_it_was(site, before, code, err):
    assert code == 1, err
    assert "the site is as it was" in err, err
    assert state(site) == before
    assert not [n for n in os.listdir(os.path.join(site.root, "locks"))
                if n.endswith(".moved") or n.startswith(".")]


DEEP = "mkdir -p \"$VMOODLE_DATAROOT/filedir/" + "d/" * 70 + "\"\n"


@pytest.mark.parametrize("where", ["serving copy", "maintenance on", "dump",
                                   "load", "copy changes", "purge",
                                   "answer"])
def test_move_failing_at_each_step_is_undone(site, where):
    env = None
    if where == "serving copy":     # a hard link to a file of another user
        other = os.path.join(site.root, "other")
        write(other, b"not the tenant's")
        os.link(other, os.path.join(site.row["vdatapath"], "filedir", "ln"))
    elif where == "maintenance on":
        site.fail_once("maintenance")
    elif where == "dump":
        env = failing_tools(site, "pg_dump", "mariadb-dump")
    elif where == "load":
        env = failing_tools(site, "pg_restore", "mariadb")
    elif where == "copy changes":   # nested past what a copy follows
        write(os.path.join(site.root, "out", "on-enable"), DEEP.encode())
    else:
        site.fail_once("purge_caches" if where == "purge" else "cfg")
    before = state(site)
    proc = site.ctl(*move_args(site), env=env)
    if where == "copy changes":     # the site made it, not the move
        before["tree"] = site.tree()
    assert_as_it_was(site, before, proc.returncode, proc.stderr)
    step = {"serving copy": "copy the dataroot while the site serves",
            "copy changes": "copy what changed in the dataroot since"}
    if where in step:
        assert f"at step '{step[where]}'" in proc.stderr


def holding(site, tool):
    """An environment where tool notes its start in out/steps, then waits
    a little before it runs: time to be interrupted in."""
    bin_dir = os.path.join(site.root, "bin")
    real = shutil.which(tool)
    write(os.path.join(bin_dir, tool),
          f"#!/bin/sh\necho {tool} >> {site.root}/out/steps\nsleep 2\n"
          f"exec {real} \"$@\"\n".encode())
    os.chmod(os.path.join(bin_dir, tool), 0o755)
    return dict(os.environ, PATH=bin_dir + ":" + os.environ["PATH"])


@pytest.mark.parametrize("where", ["serving copy", "maintenance on", "dump",
                                   "purge"])
def test_move_interrupted_at_each_step_is_undone(site, where):
    env = None
    new_data = os.path.join(site.data, "one-moved")
    if where == "serving copy":     # long enough to be caught in
        with open(os.path.join(site.row["vdatapath"], "filedir", "big"),
                  "wb") as f:
            f.truncate(768 << 20)
        web_owned(site.row["vdatapath"])
    elif where == "dump":
        env = holding(site, "pg_dump" if site.kind == "pgsql"
                      else "mariadb-dump")
    else:
        script = "maintenance" if where == "maintenance on" else \
            "purge_caches"
        write(os.path.join(site.root, "out", f"sleep-{script}"), b"2")
    before = state(site)
    p = subprocess.Popen(site.args(*move_args(site)), env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    if where == "serving copy":
        for _ in range(2000):
            if os.path.exists(new_data) or p.poll() is not None:
                break
            time.sleep(0.005)
    else:
        wait_for_step(site, p, {"maintenance on": "maintenance",
                                "dump": "pg_dump" if site.kind == "pgsql"
                                else "mariadb-dump",
                                "purge": "purge_caches"}[where])
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=300)
    assert_as_it_was(site, before, p.returncode, err)
    assert "interrupt" in err
    if where == "serving copy":
        assert "at step 'copy the dataroot while the site serves'" in err
        assert site.steps() == []   # maintenance never went on


# ------------------------------------- a site with a login of its own

def own_login(site):
    """isolate gives the site a login of its own (no CREATEDB, no
    CREATEROLE); the administrative login's flags for the commands."""
    if site.kind == "pgsql":
        site.server.sql(f"ALTER ROLE {USER} CREATEDB CREATEROLE")
    passfile = os.path.join(site.root, "adminpass")
    write(passfile, (PASSWORD + "\n").encode())
    os.chmod(passfile, 0o600)
    admin = ["--admin-dbuser", USER, "--admin-dbpass-file", passfile]
    proc = site.ctl("isolate", "one.test", "--wait", "0", *admin)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert site.row["vdblogin"] != USER
    assert not may_create_databases(site.server, site.row["vdblogin"])
    return admin


def owned_by_the_site(site):
    """The row's login (with the row's password) reads its database; on
    PostgreSQL it owns it."""
    row = site.row
    ok, out = as_login(site.server, row["vdblogin"], row["vdbpass"],
                       row["vdbname"], "SELECT shortname FROM mdl_course "
                       "ORDER BY id")
    assert ok, out
    if site.kind == "pgsql":
        assert site.server.sql(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE "
            f"datname = '{row['vdbname']}'").strip() == row["vdblogin"]
        # the administrative login kept no hold on the site's login
        assert site.server.sql(
            f"SELECT pg_has_role('{USER}', '{row['vdblogin']}', 'MEMBER')"
        ).strip() == "f"
    return out.split()


def login_databases(site, login):
    """The databases the login holds: on PostgreSQL those it owns, on
    MariaDB those its grants name (which a dropped database keeps)."""
    if site.kind == "pgsql":
        out = site.server.sql("SELECT datname FROM pg_database WHERE "
                              f"pg_get_userbyid(datdba) = '{login}'")
    else:
        out = site.server.sql(f"SELECT Db FROM mysql.db WHERE User = "
                              f"'{login}'").replace("\\", "")
    return set(out.split())


def reaches_a_new_database_named(site, login, name):
    """A database made (by the server's administrator) under a name the
    login once had: can the login read it?  (MariaDB: a dropped database
    keeps its grants; PostgreSQL lets any login connect to a new one.)"""
    site.server.sql(f"CREATE DATABASE {name}")
    ok, _ = as_login(site.server, login, site.row["vdbpass"], name,
                     "SELECT 1")
    site.server.sql(f"DROP DATABASE {name}")
    return ok


def test_restore_and_move_of_a_site_with_its_own_login(site):
    admin = own_login(site)
    login = site.row["vdblogin"]
    path = site.backup()
    changed_after_backup(site)
    refused = site.ctl("restore", path)       # the site's login cannot
    assert refused.returncode == 1, refused.stdout
    assert ("--admin-dbuser" if site.kind == "pgsql"     # checked first
            else "the site is as it was") in refused.stderr, refused.stderr
    assert "chem" in site.courses()
    before_restore = site.row["vdbname"]
    proc = site.ctl("restore", path, *admin)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert site.row["vdblogin"] == login and site.row["vdbpass"] != PASSWORD
    assert owned_by_the_site(site) == ["master", "bio"]
    assert login_databases(site, login) == {site.row["vdbname"]}
    if site.kind != "pgsql":   # restored under a new name: the old one's
        assert not reaches_a_new_database_named(site, login, before_restore)
    old_db = site.row["vdbname"]
    new_db = old_db + "_moved"
    moved = site.ctl("move", "one.test", "--dbname", new_db, *admin)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert (site.row["vdbname"], site.row["vdblogin"]) == (new_db, login)
    assert owned_by_the_site(site) == ["master", "bio"]
    clean = site.ctl("move", "one.test", "--cleanup", *admin)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert login_databases(site, login) == {new_db}
    if site.kind != "pgsql":
        assert not reaches_a_new_database_named(site, login, old_db)
    gone = site.ctl("destroy", "one.test", "--yes", *admin)
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert f"dropped database login {login}" in gone.stdout
    assert not login_exists(site.server, login)


def test_a_failed_move_leaves_the_login_its_database_only(site):
    admin = own_login(site)
    login, db = site.row["vdblogin"], site.row["vdbname"]
    site.fail_once("purge_caches")
    proc = site.ctl("move", "one.test", "--dbname", db + "_moved", *admin)
    assert proc.returncode == 1 and "the site is as it was" in proc.stderr
    assert login_databases(site, login) == {db}
    if site.kind != "pgsql":
        assert not reaches_a_new_database_named(site, login, db + "_moved")
    assert owned_by_the_site(site) == ["master", "bio"]


def test_move_to_another_server_makes_the_sites_login_there(site):
    """A site with a login of its own moved to a server that has no such
    login: the login is made there (same name and password, the row
    unchanged but for the host), and dropped again when the move fails."""
    admin = own_login(site)
    login, password = site.row["vdblogin"], site.row["vdbpass"]
    courses = owned_by_the_site(site)
    other = PgServer() if site.kind == "pgsql" else MySQLServer()
    try:
        admin_login(other)
        there = f"127.0.0.1:{other.port}"
        plan = site.ctl("--dry-run", "move", "one.test", "--dbhost", there,
                        *admin)
        assert plan.returncode == 0, plan.stdout + plan.stderr
        assert f"make the site's login {login} on" in plan.stdout
        site.fail_once("purge_caches")
        failed = site.ctl("move", "one.test", "--dbhost", there, *admin)
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert "the site is as it was" in failed.stderr
        assert not login_exists(other, login)
        moved = site.ctl("move", "one.test", "--dbhost", there, *admin)
        assert moved.returncode == 0, moved.stdout + moved.stderr
        row = site.row
        assert (row["vdbhost"], row["vdblogin"], row["vdbpass"]) == (
            there, login, password)
        ok, out = as_login(other, login, password, row["vdbname"],
                           "SELECT shortname FROM mdl_course ORDER BY id")
        assert ok and out.split() == courses, out
        assert not may_create_databases(other, login)
    finally:
        other.cleanup()


@only_on("pgsql")
def test_move_dry_run_and_refusals(site):
    before = state(site)
    plan = site.ctl("--dry-run", "move", "one.test", "--dataroot",
                    os.path.join(site.data, "elsewhere"))
    assert plan.returncode == 0, plan.stderr
    assert "copy " in plan.stdout and "dump" not in plan.stdout
    # the plan is the steps' order: the copy first, while the site serves,
    # then the window and the changes copied in it
    steps = [ln for ln in plan.stdout.splitlines() if ln.startswith("  ")]
    assert "while the site serves" in steps[0]
    assert "maintenance on" in steps[1]
    assert "what changed" in steps[2]
    nowhere = site.ctl("move", "one.test")
    assert nowhere.returncode == 1 and "give where to" in nowhere.stderr
    outside = site.ctl("move", "one.test", "--dataroot", "/tmp/outside-x")
    assert outside.returncode == 1 and "outside" in outside.stderr
    assert state(site) == before and site.steps() == []


# ------------------------------------------------------------ deploy --from-csv

def csv_setup(site):
    templates = os.path.join(site.root, "templates")
    snap = site.ctl("--templates", templates, "snapshot", "--from",
                    "one.test", "--name", "tpl")
    assert snap.returncode == 0, snap.stderr
    return templates


def test_deploy_from_csv_makes_every_line_a_site(site):
    templates = csv_setup(site)
    csv = os.path.join(site.root, "sites.csv")
    cee = os.path.join(site.data, "cee")
    write(csv, ("host,fullname,shortname,template,dbname,dataroot\n"
                "http://a.test,Site A,a,tpl\n"
                'http://b.test,"Site B, the ""second""",b,tpl,vm_bee\n'
                f"http://c.test,Site C,c,tpl,,{cee}\n").encode())
    proc = site.ctl("--templates", templates, "deploy", "--from-csv", csv,
                    "--jobs", "3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(site.table) as f:
        rows = {r["vhostname"]: r for r in json.load(f)}
    assert set(rows) == {"http://one.test", "http://a.test", "http://b.test",
                         "http://c.test"}
    assert rows["http://b.test"]["name"] == 'Site B, the "second"'
    assert rows["http://b.test"]["vdbname"] == "vm_bee"
    assert rows["http://c.test"]["vdatapath"] == cee
    for host in ("a", "b", "c"):
        row = rows[f"http://{host}.test"]
        assert site.sql("SELECT wwwroot FROM mdl_mnet_host WHERE id = 2",
                        row) == f"http://{host}.test"
        assert os.path.isdir(row["vdatapath"])
        assert os.path.exists(os.path.join(site.root, "logs",
                                           f"{host}.test.log"))
        # a login of its own, as deploy gives each new site
        assert row["vdblogin"] not in (USER, rows["http://one.test"]
                                       ["vdblogin"])
        assert not may_create_databases(site.server, row["vdblogin"])
    assert len({rows[h]["vdblogin"] for h in rows}) == 4
    assert re.search(r"3 site\(s\): 3 ok", proc.stdout)


@pytest.mark.parametrize("bad, status", [
    ("http://b.test,B,b,nosuch\n", 1),           # unknown template
    ("http://a.test,A again,a2,tpl\n", 2),       # a host twice
    ("http://b.test,B,b\n", 2),                  # too few fields
    ('http://b.test,"B,b,tpl\n', 2),             # quote not closed
])
@only_on("pgsql")
def test_deploy_from_csv_checks_every_line_first(site, bad, status):
    templates = csv_setup(site)
    csv = os.path.join(site.root, "sites.csv")
    write(csv, ("http://a.test,A,a,tpl\n" + bad).encode())
    before = state(site)
    proc = site.ctl("--templates", templates, "deploy", "--from-csv", csv)
    assert proc.returncode == status, proc.stdout + proc.stderr
    assert state(site) == before
    plan = site.ctl("--templates", templates, "--dry-run", "deploy",
                    "--from-csv", csv)
    assert plan.returncode == status
    assert state(site) == before


def quotas_at(site, percent):
    """A quota file giving each host (host: percent) the quota its use
    (as usage measures it now) is that percent of; and the use."""
    proc = site.ctl("usage", "--json")
    assert proc.returncode == 0, proc.stderr
    used = {r["site"]: r["dataroot_bytes"] + r["database_bytes"]
            for r in json.loads(proc.stdout)}
    return quota_file(site, "".join(f"{h} = {used[h] * 100 // pc}\n"
                                    for h, pc in percent.items())), used


def test_check_warns_from_85_percent_of_the_quota_and_over_it(site):
    site.add("two")
    site.add("three")
    quotas, _ = quotas_at(site, {"one.test": 90, "two.test": 200})
    proc = site.ctl("--quota-file", quotas, "check", "--no-dns")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = {l.split()[0]: l for l in proc.stdout.splitlines()
             if " dns: " in l}
    got = re.search(r"WARN .*quota: warning: (\d+)% of ", lines["one.test"])
    assert got and 85 <= int(got.group(1)) < 100, lines["one.test"]
    got = re.search(r"WARN .*quota: over quota: (\d+)% of ", lines["two.test"])
    assert got and int(got.group(1)) > 100, lines["two.test"]
    assert re.search(r" ok .*quota: none", lines["three.test"])


# -------------------------------------------------------- upgrade --backup

def test_upgrade_backup_backs_each_site_up_before_its_upgrade(site):
    write(os.path.join(site.root, "out", "pending"), b"")
    proc = site.ctl("upgrade", "one.test", "--backup", "--keep", "3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert site.steps() == ["upgrade --is-pending", "maintenance --enable",
                            "upgrade --non-interactive", "purge_caches ",
                            "maintenance --disable"]
    [name] = site.site_backups()
    backup = os.path.join(site.backups, "one.test", name)
    assert os.path.exists(os.path.join(backup, "manifest.json"))
    assert not os.path.exists(os.path.join(backup, "dataroot",
                                           "climaintenance.html"))
    log = open(os.path.join(site.root, "logs", "one.test.log")).read()
    assert log.index("backup " + backup) < log.index("upgraded")


def test_a_failed_upgrade_names_the_restore_that_puts_it_back(site):
    write(os.path.join(site.root, "out", "pending"), b"")
    write(os.path.join(site.root, "out", "break-upgrade"), b"")
    proc = site.ctl("upgrade", "--all", "--no-master", "--backup")
    assert proc.returncode == 1
    assert "vmoodlectl restore" in proc.stdout        # its summary line
    assert site.in_maintenance()
    assert site.tree()["lang/en/readme.txt"] == b"broken\n"
    log = open(os.path.join(site.root, "logs", "one.test.log")).read()
    command = re.search(r"to put it back: (vmoodlectl restore \S+)", log)
    back = site.ctl(*command.group(1).split()[1:])
    assert back.returncode == 0, back.stdout + back.stderr
    assert not site.in_maintenance()
    assert site.tree()["lang/en/readme.txt"] == b"hello"


def test_upgrade_backup_failing_upgrades_nothing(site):
    write(os.path.join(site.root, "out", "pending"), b"")
    site.rows[0]["vdbpass"] = "wrong-secret"
    write_table(site.table, site.rows)
    proc = site.ctl("upgrade", "one.test", "--backup")
    assert proc.returncode == 1
    assert site.steps() == ["upgrade --is-pending", "maintenance --enable",
                            "maintenance --disable"]
    assert not site.in_maintenance() and site.site_backups() == []


def test_upgrade_backup_leaves_the_master_out(site):
    refused = site.ctl("upgrade", "--master", "--backup")
    assert refused.returncode == 2 and "VM00803" in refused.stderr
    write(os.path.join(site.root, "out", "pending"), b"")
    proc = site.ctl("upgrade", "--all", "--backup")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "the master is left out" in proc.stdout
    assert "master" not in proc.stdout.split("SITE ")[1]
    assert len(site.site_backups()) == 1


# ------------------------------------------------ upgrade --to --backup

# The "next" tree's upgrade.php: with out/break-upgrade it notes that it
# began (out/upgrading), waits for out/go (bounded), breaks the dataroot
# and fails.
NEXT_UPGRADE = """case "$1" in
--non-interactive)
    if [ -f "$o/break-upgrade" ]; then
        echo began > "$o/upgrading"; i=0
        while [ ! -f "$o/go" ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done
        echo broken > "$dr/lang/en/readme.txt"; echo "upgrade error"; exit 5
    fi
    echo upgraded ;;
esac
"""


def next_platform(site):
    """A second code tree "next" and the platforms file naming it."""
    nxt = os.path.join(site.root, "next")
    shutil.copytree(site.code, nxt)
    write(os.path.join(nxt, "admin", "cli", "upgrade.php"),
          (PROLOGUE.replace("@ROOT@", site.root) + NEXT_UPGRADE).encode())
    conf = os.path.join(site.root, "platforms.conf")
    write(conf, f"next = {nxt}\n".encode())
    return conf


def move(site, *extra, env=None):
    """upgrade one.test --to next --backup, started."""
    conf = next_platform(site)
    return subprocess.Popen(site.args("--platforms", conf, "upgrade",
                                      "one.test", "--to", "next",
                                      "--settle", "0", "--backup", *extra),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def break_upgrade_then(site, proc, action):
    """The upgrade began; the course added meanwhile; then action."""
    write(os.path.join(site.root, "out", "break-upgrade"), b"")
    upgrading = os.path.join(site.root, "out", "upgrading")
    for _ in range(1200):
        if os.path.exists(upgrading) or proc.poll() is not None:
            break
        time.sleep(0.05)
    assert os.path.exists(upgrading), proc.communicate()
    changed_after_backup(site)
    action()
    out, err = proc.communicate(timeout=300)
    return out, err, proc.returncode


def go(site):
    return lambda: write(os.path.join(site.root, "out", "go"), b"")


def restored(site, before):
    assert site.courses() == ["master", "bio"]      # chem, added later, gone
    assert site.tree()["lang/en/readme.txt"] == b"hello"
    assert site.row.get("platform", "") == ""
    assert site.setting("siteidentifier") == before["siteidentifier"]


def test_upgrade_to_backup_failing_restores_and_serves(site):
    before = {"siteidentifier": site.setting("siteidentifier")}
    write(os.path.join(site.root, "out", "break-upgrade"), b"")
    proc = move(site)
    out, err, code = break_upgrade_then(site, proc, go(site))
    assert code == 1, out + err
    [name] = site.site_backups()
    path = os.path.join(site.backups, "one.test", name)
    assert re.search(r"VM00800: one\.test: upgrade\.php \(new code\) failed"
                     r".*back on platform '' with its database and dataroot "
                     r"restored from " + re.escape(path), err), err
    restored(site, before)
    assert not site.in_maintenance()
    # maintenance on and the backup with the old code; the restore's own
    # scripts with the old code too, the last leaving maintenance
    assert site.steps()[0] == "maintenance --enable"
    assert site.steps()[-3:] == ["purge_caches ", "maintenance --disable",
                                 "cfg --name=siteidentifier"]


def test_upgrade_to_backup_interrupted_restores_and_serves(site):
    before = {"siteidentifier": site.setting("siteidentifier")}
    write(os.path.join(site.root, "out", "break-upgrade"), b"")
    proc = move(site)
    out, err, code = break_upgrade_then(
        site, proc, lambda: proc.send_signal(signal.SIGTERM))
    assert code == 1, out + err
    assert "VM00800" in err, err
    restored(site, before)
    assert not site.in_maintenance()


def test_upgrade_to_backup_whose_restore_fails_names_the_command(site):
    write(os.path.join(site.root, "out", "break-upgrade"), b"")
    proc = move(site, env=failing_tools(site, "pg_restore", "mariadb"))
    out, err, code = break_upgrade_then(site, proc, go(site))
    assert code == 1, out + err
    command = re.search(r"VM00801: .*stays in maintenance; to put it back: "
                        r"(vmoodlectl restore \S+)", err)
    assert command, err
    assert site.in_maintenance()
    assert site.row.get("platform", "") == ""
    back = site.ctl(*command.group(1).split()[1:])
    assert back.returncode == 0, back.stdout + back.stderr
    assert not site.in_maintenance()
    assert site.courses() == ["master", "bio"]
    assert site.tree()["lang/en/readme.txt"] == b"hello"


def test_upgrade_to_backup_moves_and_keeps_the_backup(site):
    proc = move(site, "--keep", "2")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + err
    assert "on platform 'next', upgraded, out of maintenance" in out
    assert site.row["platform"] == "next"
    [name] = site.site_backups()
    assert os.path.exists(os.path.join(site.backups, "one.test", name,
                                       "manifest.json"))
    assert not site.in_maintenance()


def test_upgrade_to_backup_dry_run_plans_backup_and_restore(site):
    before = state(site)
    proc = move(site, "--dry-run")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + err
    backups = os.path.join(site.backups, "one.test")
    for words in ["maintenance on (old code)",
                  f"back up one.test into {backups}/",
                  "should the upgrade fail: back on platform '', restore "
                  "that backup in place",
                  "switch one.test from platform ''", "upgrade.php"]:
        assert words in out, out
    assert out.index("back up") < out.index("should the upgrade fail") \
        < out.index("switch one.test")
    assert state(site) == before and site.steps() == []
    assert site.site_backups() == []


def test_upgrade_to_backup_refuses_a_site_it_could_not_restore(site):
    two = site.add("two")
    site.rows[1]["vdbname"] = site.rows[0]["vdbname"]
    site.rows[1]["vdbprefix"] = "t2_"
    write_table(site.table, site.rows)
    before = state(site)
    proc = move(site)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, out + err
    assert "VM00802" in err and "two.test" in err, err
    assert state(site) == before and site.steps() == []
    assert two

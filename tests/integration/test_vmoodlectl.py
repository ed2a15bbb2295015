"""vmoodlectl against real PostgreSQL and MariaDB servers started by the
tests (dbservers.py): the JSON table commands, snapshot of a Moodle-like
master, deploys with their database rewrite, failed deploys that leave
nothing behind, hostile values, destroy and check."""
import hashlib
import json
import os
import pty
import pwd
import re
import shutil
import signal
import subprocess
import time

import pytest

from dbservers import (PASSWORD, USER, db, mysql_db,  # noqa: F401
                       mysql_server, pg_db, pg_server)

BUILD = os.environ.get("VMOODLE_BUILD", os.path.join(
    os.path.dirname(__file__), "..", "..", "build"))
CTL = os.path.join(BUILD, "vmoodlectl")
WEB_USER = "www-data"
MASTER_WWWROOT = "http://master.test"
MASTER_NAME = "Master Site"

# A small subset of Moodle's tables, created with the prefix given.
MOODLE_TABLES = {
    "pgsql": """
CREATE TABLE {p}config (id BIGSERIAL PRIMARY KEY, name VARCHAR(255) NOT NULL
  UNIQUE, value TEXT NOT NULL);
CREATE TABLE {p}config_plugins (id BIGSERIAL PRIMARY KEY, plugin VARCHAR(100)
  NOT NULL, name VARCHAR(100) NOT NULL, value TEXT NOT NULL);
CREATE TABLE {p}course (id BIGSERIAL PRIMARY KEY, category BIGINT NOT NULL,
  fullname VARCHAR(254) NOT NULL, shortname VARCHAR(255) NOT NULL);
CREATE TABLE {p}mnet_host (id BIGSERIAL PRIMARY KEY, wwwroot VARCHAR(255)
  NOT NULL, name VARCHAR(80) NOT NULL);
CREATE TABLE {p}user (id BIGSERIAL PRIMARY KEY, username VARCHAR(100) NOT NULL,
  email VARCHAR(100) NOT NULL);
""",
    "mysql": """
CREATE TABLE {p}config (id BIGINT AUTO_INCREMENT PRIMARY KEY, name
  VARCHAR(255) NOT NULL UNIQUE, value LONGTEXT NOT NULL);
CREATE TABLE {p}config_plugins (id BIGINT AUTO_INCREMENT PRIMARY KEY, plugin
  VARCHAR(100) NOT NULL, name VARCHAR(100) NOT NULL, value LONGTEXT NOT NULL);
CREATE TABLE {p}course (id BIGINT AUTO_INCREMENT PRIMARY KEY, category BIGINT
  NOT NULL, fullname VARCHAR(254) NOT NULL, shortname VARCHAR(255) NOT NULL);
CREATE TABLE {p}mnet_host (id BIGINT AUTO_INCREMENT PRIMARY KEY, wwwroot
  VARCHAR(255) NOT NULL, name VARCHAR(80) NOT NULL);
CREATE TABLE {p}user (id BIGINT AUTO_INCREMENT PRIMARY KEY, username
  VARCHAR(100) NOT NULL, email VARCHAR(100) NOT NULL);
""",
}

MOODLE_ROWS = """
INSERT INTO {p}config (name, value) VALUES ('mnet_localhost_id', '2'),
  ('sessioncookie', 'master'), ('siteidentifier', 'abc');
INSERT INTO {p}mnet_host (wwwroot, name) VALUES ('', 'All Hosts'),
  ('http://master.test', 'Master Site'), ('http://peer.test', 'Peer');
INSERT INTO {p}course (category, fullname, shortname) VALUES
  (0, 'Master Site', 'master'), (1, 'Biology', 'bio');
INSERT INTO {p}user (username, email) VALUES ('admin', 'a@master.test'),
  ('guest', 'g@master.test');
"""

# Settings that name the master's dataroot or host, as Moodle's defaults do.
MASTER_SETTINGS = """
INSERT INTO {p}config (name, value) VALUES
  ('geoip2file', '{dataroot}/geoip/GeoLite2-City.mmdb'),
  ('noreplyaddress', 'noreply@master.test'),
  ('supportemail', 'admin@master.test'), ('chat_serverhost', 'master.test'),
  ('alternateloginurl', 'http://master.test/login/sso.php'),
  ('pathtophp', '/usr/bin/php');
INSERT INTO {p}config_plugins (plugin, name, value) VALUES
  ('tool_x', 'exportdir', '{dataroot}/export'), ('tool_x', 'plain', 'master');
"""

# A dataroot with files to keep and run-time files to leave out.
DATAROOT_FILES = {
    "filedir/ab/cd/abcd1234": b"file content " * 1000,
    "filedir/ef/01/ef012345": b"\x00\x01binary\xff" * 50,
    "muc/config.php": b"<?php $configuration = array();\n",
    "lang/en/readme.txt": b"hello",
    "secret/key/sodium.key": b"k" * 32,    # \core\encryption's key
}
RUNTIME_FILES = ["sessions/sess_abc", "cache/x/y", "localcache/z",
                 "temp/upload", "trashdir/aa/old", "lock/core_cron",
                 "filedir/stale.lock"]


def ctl(*args, check=True, user=None):
    cmd = ([CTL] if user is None else ["runuser", "-u", user, "--", CTL]) \
        + [str(a) for a in args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} exited {proc.returncode}:\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


class Master:
    """A Moodle-like master: its database, dataroot and vmoodlectl flags."""

    def __init__(self, server, root, prefix="mdl_"):
        self.server, self.kind, self.prefix = server, server.kind, prefix
        self.db = server.new_database("master")
        self.db.sql(MOODLE_TABLES[self.kind].format(p=prefix)
                    + MOODLE_ROWS.format(p=prefix))
        self.dataroot = os.path.join(root, "master-data")
        self.db.sql(MASTER_SETTINGS.format(p=prefix, dataroot=self.dataroot))
        for rel, data in DATAROOT_FILES.items():
            write(os.path.join(self.dataroot, rel), data)
        for rel in RUNTIME_FILES:
            write(os.path.join(self.dataroot, rel), b"runtime")
        self.dbtype = "pgsql" if self.kind == "pgsql" else "mariadb"
        self.dbhost = f"127.0.0.1:{server.port}"

    def flags(self):
        return ["--host", MASTER_WWWROOT, "--dbtype", self.dbtype,
                "--dbhost", self.dbhost, "--dbuser", USER,
                "--dbname", self.db.name, "--prefix", self.prefix,
                "--dataroot", self.dataroot, "--fullname", MASTER_NAME,
                "--shortname", "master"]


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def traversable(path):
    """The web server's user (and nobody) must reach the temp dirs."""
    while path not in ("/", "/tmp"):
        os.chmod(path, os.stat(path).st_mode | 0o755)
        path = os.path.dirname(path)


class Env:
    """Temp dirs, the JSON instance table and the common options."""

    def __init__(self, tmp, server):
        self.tmp, self.server = str(tmp), server
        traversable(self.tmp)
        self.templates = os.path.join(self.tmp, "templates")
        self.data = os.path.join(self.tmp, "data")
        os.makedirs(self.data)
        self.table = os.path.join(self.tmp, "instances.json")
        with open(self.table, "w") as f:
            f.write("[]")
        self.source = "json:" + self.table
        self.passfile = os.path.join(self.tmp, "dbpass")
        with open(self.passfile, "w") as f:
            f.write(PASSWORD + "\n")
        os.chmod(self.passfile, 0o600)

    def opts(self):
        return ["--source", self.source, "--templates",
                self.templates, "--data-parent", self.data, "--user", WEB_USER]

    def rows(self):
        with open(self.table) as f:
            return json.load(f)

    def deploy(self, template, host, *extra, check=True):
        return ctl(*self.opts(), "deploy", "--template", template, "--host",
                   host, "--dbhost", f"127.0.0.1:{self.server.port}",
                   "--dbuser", USER, "--dbpass-file", self.passfile, *extra,
                   check=check)

    def leftovers(self):
        """Everything a failed deploy might have left: dataroots, rows."""
        return os.listdir(self.data), self.rows()


def site_dataroot(env, master, name):
    """A site's dataroot as deploy makes one: a copy of the master's in the
    data parent, the web user's (snapshot copies a site's from there only)."""
    root = os.path.join(env.data, name)
    shutil.copytree(master.dataroot, root)
    for top, dirs, files in os.walk(root):
        for entry in dirs + files:
            shutil.chown(os.path.join(top, entry), WEB_USER, WEB_USER)
    shutil.chown(root, WEB_USER, WEB_USER)
    return root


def site_sql(server, dbname, sql):
    """As the server's superuser: a deployed site's database admits only
    its own login."""
    return server.sql(sql, dbname=dbname)


def databases(server):
    if server.kind == "pgsql":
        out = server.sql("SELECT datname FROM pg_database")
    else:
        out = server.sql("SHOW DATABASES")
    return set(out.split())


@pytest.fixture(params=["pgsql", "mysql"])
def server(request):
    """Each kind in turn; a test may pick one with only_on()."""
    srv = request.getfixturevalue("pg_server" if request.param == "pgsql"
                                  else "mysql_server")
    if not srv.running:
        srv.start()
    admin_login(srv)
    return srv


def admin_login(srv):
    """USER is the administrative login deploy works as: it creates the
    databases and the sites' own logins."""
    if srv.kind == "pgsql":
        srv.sql(f"ALTER ROLE {USER} CREATEDB CREATEROLE")
    else:
        srv.sql(f"GRANT ALL ON *.* TO '{USER}'@'127.0.0.1' WITH GRANT OPTION;"
                f"GRANT ALL ON *.* TO '{USER}'@'localhost' WITH GRANT OPTION;")


def only_on(kind):
    return pytest.mark.parametrize("server", [kind], indirect=True)


@pytest.fixture
def env(tmp_path, server):
    return Env(tmp_path, server)


@pytest.fixture
def master(env, server):
    return Master(server, env.tmp)


def snapshot(env, master, name="tpl", *extra):
    return ctl(*env.opts(), "snapshot", "--from", "master", "--name", name,
               *master.flags(), "--dbpass-file", env.passfile, *extra)


# ---------------------------------------------------------------- snapshot

def test_snapshot_writes_dump_dataroot_and_manifest(env, master):
    out = snapshot(env, master).stdout
    tpl = os.path.join(env.templates, "tpl")
    with open(os.path.join(tpl, "manifest.json")) as f:
        manifest = json.load(f)
    assert manifest["source"]["wwwroot"] == MASTER_WWWROOT
    assert manifest["source"]["vdbprefix"] == "mdl_"
    assert manifest["source"]["vdbtype"] == master.dbtype
    # what deploy rewrites in the new site's settings: the source's names
    assert manifest["source"]["vdatapath"] == master.dataroot
    dump = os.path.join(tpl, manifest["database"]["file"])
    assert os.path.getsize(dump) == manifest["database"]["size"] > 0
    assert sha256(dump) == manifest["database"]["sha256"]
    listed = {e["path"]: e for e in manifest["dataroot"]["list"]}
    assert set(listed) == set(DATAROOT_FILES)
    for rel, data in DATAROOT_FILES.items():
        copy = os.path.join(tpl, "dataroot", rel)
        assert open(copy, "rb").read() == data
        assert listed[rel]["sha256"] == sha256(copy)
    for rel in RUNTIME_FILES:
        assert not os.path.exists(os.path.join(tpl, "dataroot", rel))
    assert PASSWORD not in open(os.path.join(tpl, "manifest.json")).read()
    # not on a terminal: plain progress lines, each step reported done
    assert "dump database:" in out and "copy dataroot:" in out
    assert "\r" not in out and "done in" in out
    assert not [n for n in os.listdir(env.templates) if n.startswith(".")]


def test_snapshot_refuses_existing_name_and_hostile_name(env, master):
    snapshot(env, master)
    again = ctl(*env.opts(), "snapshot", "--from", "master", "--name", "tpl",
                *master.flags(), check=False)
    assert again.returncode != 0 and "already exists" in again.stderr
    for bad in ["../escape", "a/b", ".hidden", "x;rm", "a b"]:
        proc = ctl(*env.opts(), "snapshot", "--from", "master", "--name", bad,
                   *master.flags(), check=False)
        assert proc.returncode != 0
        assert "template name" in proc.stderr
    assert sorted(os.listdir(env.templates)) == ["tpl"]


def test_snapshot_dry_run_prints_plan_and_does_nothing(env, master):
    out = ctl(*env.opts(), "--dry-run", "snapshot", "--from", "master",
              "--name", "tpl", *master.flags()).stdout
    assert "plan:" in out and "dump the database" in out
    assert not os.path.exists(os.path.join(env.templates, "tpl"))


@only_on("pgsql")
def test_snapshot_progress_redraws_one_line_on_a_terminal(env, master,
                                                         server):
    ptm, pts = pty.openpty()
    proc = subprocess.Popen(
        [CTL, *env.opts(), "snapshot", "--from", "master", "--name", "tty",
         *master.flags(), "--dbpass-file", env.passfile],
        stdout=pts, stderr=subprocess.PIPE)
    os.close(pts)
    chunks = []
    while True:
        try:
            data = os.read(ptm, 4096)
        except OSError:              # EIO: the terminal's other side closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(ptm)
    assert proc.wait(timeout=120) == 0
    out = b"".join(chunks).decode()
    # each step starts a line and redraws it in place; the end says done
    assert "\r\x1b[Kcopy dataroot: " in out
    assert re.search(r"copy dataroot: [^\n]*files, [^\n]*/s, done in ", out)


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ------------------------------------------------------------------ deploy

def site_state(server, row):
    """What the new database says about its own site."""
    p, db = row["vdbprefix"], row["vdbname"]
    sql = lambda q: site_sql(server, db, q).strip()  # noqa: E731
    return {
        "wwwroot": sql(f"SELECT wwwroot FROM {p}mnet_host WHERE id = 2"),
        "peer": sql(f"SELECT wwwroot FROM {p}mnet_host WHERE id = 3"),
        "site": sql(f"SELECT fullname FROM {p}course WHERE category = 0"),
        "siteshort": sql(f"SELECT shortname FROM {p}course WHERE category = 0"),
        "other": sql(f"SELECT fullname FROM {p}course WHERE category = 1"),
        "cookie": sql(f"SELECT value FROM {p}config "
                      "WHERE name = 'sessioncookie'"),
        "users": sql(f"SELECT COUNT(*) FROM {p}user"),
    }


def test_deploy_two_instances_each_with_its_own_wwwroot(env, master, server):
    snapshot(env, master)
    one = env.deploy("tpl", "http://one.test:8080", "--fullname", "Site One",
                     "--shortname", "one")
    env.deploy("tpl", "https://Two.Test/", "--prefix", "t2_")
    assert "deployed http://one.test:8080" in one.stdout
    assert "copy dataroot:" in one.stdout and "load database:" in one.stdout
    rows = {r["vhostname"]: r for r in env.rows()}
    assert set(rows) == {"http://one.test:8080", "https://Two.Test/"}
    r1, r2 = rows["http://one.test:8080"], rows["https://Two.Test/"]
    assert r1["enabled"] == 1 and r2["enabled"] == 1
    assert r1["vdbname"] != r2["vdbname"]
    s1, s2 = site_state(server, r1), site_state(server, r2)
    assert s1["wwwroot"] == "http://one.test:8080"
    assert s2["wwwroot"] == "https://two.test"
    assert s1["peer"] == s2["peer"] == "http://peer.test"
    assert (s1["site"], s1["siteshort"], s1["cookie"]) == \
        ("Site One", "one", "one")
    assert (s2["site"], s2["siteshort"]) == ("two.test", "two")
    assert s1["other"] == s2["other"] == "Biology"
    assert s1["users"] == s2["users"] == "2"
    # the master is untouched
    master_row = {"vdbname": master.db.name, "vdbprefix": "mdl_"}
    assert site_state(server, master_row)["wwwroot"] == MASTER_WWWROOT
    www = pwd.getpwnam(WEB_USER)
    for row in (r1, r2):
        root = row["vdatapath"]
        assert os.path.dirname(root) == env.data
        st = os.stat(os.path.join(root, "filedir/ab/cd/abcd1234"))
        assert (st.st_uid, st.st_gid) == (www.pw_uid, www.pw_gid)
        assert open(os.path.join(root, "muc/config.php"), "rb").read() == \
            DATAROOT_FILES["muc/config.php"]
        assert not os.path.exists(os.path.join(root, "sessions"))
    listing = ctl(*env.opts(), "list").stdout
    assert "one.test:8080" in listing and "two.test" in listing


@only_on("pgsql")
def settings(server, row):
    p, db = row["vdbprefix"], row["vdbname"]
    out = site_sql(server, db, f"SELECT name, value FROM {p}config UNION ALL "
                   f"SELECT name, value FROM {p}config_plugins")
    return dict(line.split("|", 1) if "|" in line else line.split("\t", 1)
                for line in out.strip().splitlines())


def test_deploy_makes_names_identifier_key_and_settings_the_sites(
        env, master, server):
    snapshot(env, master)
    env.deploy("tpl", "https://new.test:8443", "--fullname", "New School",
               "--shortname", "new")
    # a host that holds the template's: replaced once, not again inside
    env.deploy("tpl", "http://www.master.test")
    rows = {r["vhostname"]: r for r in env.rows()}
    new, www = rows["https://new.test:8443"], rows["http://www.master.test"]
    state = site_state(server, new)
    assert (state["site"], state["siteshort"]) == ("New School", "new")
    got = settings(server, new)
    root = new["vdatapath"]
    assert got["geoip2file"] == f"{root}/geoip/GeoLite2-City.mmdb"
    assert got["noreplyaddress"] == "noreply@new.test"
    assert got["supportemail"] == "admin@new.test"
    assert got["chat_serverhost"] == "new.test"
    assert got["alternateloginurl"] == "https://new.test:8443/login/sso.php"
    assert got["exportdir"] == f"{root}/export"
    assert (got["plain"], got["pathtophp"]) == ("master", "/usr/bin/php")
    assert re.fullmatch(r"[A-Za-z0-9]{32}new\.test:8443", got["siteidentifier"])
    other = settings(server, www)
    assert other["noreplyaddress"] == "noreply@www.master.test"
    assert other["alternateloginurl"] == "http://www.master.test/login/sso.php"
    assert other["siteidentifier"] != got["siteidentifier"]
    assert other["siteidentifier"].endswith("www.master.test")
    # the template's key stays behind: Moodle makes the site its own
    assert os.path.exists(os.path.join(env.templates, "tpl", "dataroot",
                                       "secret/key/sodium.key"))
    for row in (new, www):
        assert not os.path.exists(os.path.join(row["vdatapath"],
                                               "secret/key/sodium.key"))
        assert os.path.isdir(os.path.join(row["vdatapath"], "secret/key"))
    # the master is untouched
    mine = settings(server, {"vdbname": master.db.name, "vdbprefix": "mdl_"})
    assert mine["siteidentifier"] == "abc"
    assert mine["geoip2file"] == f"{master.dataroot}/geoip/GeoLite2-City.mmdb"
    assert mine["noreplyaddress"] == "noreply@master.test"


def test_deploy_without_a_password_is_refused_before_anything(
        env, master, server):
    snapshot(env, master)
    before = databases(server)
    flags = ["--dbhost", f"127.0.0.1:{server.port}", "--dbuser", USER]
    for dry in ([], ["--dry-run"]):
        proc = ctl(*env.opts(), *dry, "deploy", "--template", "tpl", "--host",
                   "http://nopass.test", *flags, check=False)
        assert proc.returncode == 1, proc.stderr
        assert "nothing done" in proc.stderr
        assert "cannot connect" in proc.stderr
        assert "no password given: --dbpass-file" in proc.stderr
        assert "plan:" not in proc.stdout
    wrong = os.path.join(env.tmp, "wrong")
    with open(wrong, "w") as f:
        f.write("not-the-password\n")
    proc = ctl(*env.opts(), "--dry-run", "deploy", "--template", "tpl",
               "--host", "http://nopass.test", *flags, "--dbpass-file", wrong,
               check=False)
    assert proc.returncode == 1 and "cannot connect" in proc.stderr
    assert "not-the-password" not in proc.stdout + proc.stderr
    assert databases(server) == before
    assert env.leftovers() == ([], [])


@only_on("pgsql")
def test_deploy_by_a_login_without_createdb_is_refused_before_anything(
        env, master, server):
    snapshot(env, master)
    server.sql(f"ALTER ROLE {USER} NOCREATEDB")
    try:
        for dry in ([], ["--dry-run"]):
            proc = env.deploy("tpl", "http://nocreate.test", *dry, check=False)
            assert proc.returncode == 1 and "nothing done" in proc.stderr
            assert f"{USER} may not create databases" in proc.stderr
            assert "plan:" not in proc.stdout
    finally:
        server.sql(f"ALTER ROLE {USER} CREATEDB")
    assert env.leftovers() == ([], [])


def test_deploy_takes_the_password_of_the_template_row(env, master, server):
    """A template of an instance: deploy reaches the same server with that
    row's login and password when none is given."""
    ctl(*env.opts(), "add", "--host", "http://school.test", "--dbtype",
        master.dbtype, "--dbhost", master.dbhost, "--dbuser", USER,
        "--dbpass-file", env.passfile, "--dbname", master.db.name,
        "--dataroot", site_dataroot(env, master, "school"))
    # the school's settings name its own dataroot (a copy of the master's)
    site_sql(server, master.db.name, "UPDATE mdl_config_plugins SET value = "
             f"'{env.data}/school/export' WHERE name = 'exportdir'")
    ctl(*env.opts(), "snapshot", "--from", "school.test", "--name", "school")
    plan = ctl(*env.opts(), "--dry-run", "deploy", "--template", "school",
               "--host", "http://fromrow.test").stdout
    assert "password: the template's row" in plan
    out = ctl(*env.opts(), "deploy", "--template", "school", "--host",
              "http://fromrow.test").stdout
    assert "deployed http://fromrow.test" in out
    row = next(r for r in env.rows() if r["vhostname"] == "http://fromrow.test")
    # the template row's login made the site's own: never in the new row
    assert row["vdbhost"] == master.dbhost
    assert row["vdblogin"] == "vm_fromrow_test" != USER
    assert len(row["vdbpass"]) == 32 and row["vdbpass"] != PASSWORD
    got = settings(server, row)
    assert got["siteidentifier"].endswith("fromrow.test")
    # the template is school.test's: master.test is another site's name
    assert got["noreplyaddress"] == "noreply@master.test"
    assert got["exportdir"] == row["vdatapath"] + "/export"


def test_templates_lists_and_template_remove_deletes(env, master, server):
    snapshot(env, master, "tpl")
    snapshot(env, master, "second", "--template-db")
    keeps_db = server.kind == "pgsql"
    listed = json.loads(ctl(*env.opts(), "templates", "--json").stdout)
    assert [t["name"] for t in listed] == ["second", "tpl"]
    for t in listed:
        assert t["source"] == MASTER_WWWROOT and t["dbtype"] == master.dbtype
        assert re.match(r"\d{4}-\d\d-\d\d", t["created"])
        assert t["bytes"] > sum(len(d) for d in DATAROOT_FILES.values())
        assert t["files"] == len(DATAROOT_FILES)
    assert ("template_db" in listed[0]) == keeps_db
    text = ctl(*env.opts(), "templates").stdout.splitlines()
    assert text[0].split() == ["NAME", "SOURCE", "CREATED", "SIZE"]
    assert [l.split()[0] for l in text[1:]] == ["second", "tpl"]
    assert MASTER_WWWROOT in text[2]
    second = os.path.join(env.templates, "second")
    if keeps_db:
        # the template database is dropped first: no password, nothing done
        proc = ctl(*env.opts(), "template-remove", "second", check=False)
        assert proc.returncode == 1 and "nothing done" in proc.stderr
        assert "no password given" in proc.stderr
        assert os.path.isdir(second) and "vmtpl_second" in databases(server)
    plan = ctl(*env.opts(), "--dry-run", "template-remove", "second",
               "--dbpass-file", env.passfile).stdout
    assert "plan: remove template second" in plan
    assert ("vmtpl_second" in plan) == keeps_db
    assert os.path.isdir(second)
    out = ctl(*env.opts(), "template-remove", "second", "--dbpass-file",
              env.passfile).stdout
    assert "removed template second" in out
    assert not os.path.exists(second)
    assert "vmtpl_second" not in databases(server)
    assert os.listdir(env.templates) == ["tpl"]
    listed = json.loads(ctl(*env.opts(), "templates", "--json").stdout)
    assert [t["name"] for t in listed] == ["tpl"]
    for bad in ["second", "../tpl", ".tpl"]:
        proc = ctl(*env.opts(), "template-remove", bad, check=False)
        assert proc.returncode == 1
        assert "no template" in proc.stderr or "template name" in proc.stderr
    assert os.listdir(env.templates) == ["tpl"]


def test_templates_without_a_folder_lists_none(env):
    out = ctl(*env.opts(), "templates", "--json").stdout
    assert json.loads(out) == []


@only_on("pgsql")
def test_deploy_from_postgresql_template_database(env, master, server):
    snapshot(env, master, "tpl", "--template-db")
    try:
        env.deploy("tpl", "http://copy.test")
        row = env.rows()[0]
        assert site_state(server, row)["wwwroot"] == "http://copy.test"
        assert 'TEMPLATE "vmtpl_tpl"' in server.log_text()
    finally:
        server.sql("ALTER DATABASE vmtpl_tpl WITH IS_TEMPLATE false; "
                   "DROP DATABASE vmtpl_tpl")


@only_on("pgsql")
def test_deploy_loads_the_dump_when_the_template_database_is_gone(
        env, master, server):
    snapshot(env, master, "gone", "--template-db")
    server.sql("ALTER DATABASE vmtpl_gone WITH IS_TEMPLATE false; "
               "DROP DATABASE vmtpl_gone")
    plan = env.deploy("gone", "http://nodb.test", "--dry-run").stdout
    assert "and load" in plan and "as a copy of" not in plan
    out = env.deploy("gone", "http://nodb.test").stdout
    assert "load database:" in out
    assert site_state(server, env.rows()[0])["wwwroot"] == "http://nodb.test"
    # its folder goes without a database to drop
    removed = ctl(*env.opts(), "template-remove", "gone", "--dbpass-file",
                  env.passfile).stdout
    assert "removed template gone" in removed and "database" not in removed


def test_deploy_dry_run_creates_nothing(env, master, server):
    snapshot(env, master)
    before = databases(server)
    out = env.deploy("tpl", "http://dry.test", "--dry-run").stdout
    assert "plan:" in out and "vm_dry_test" in out
    assert f"reached as {USER} (password: given)" in out
    assert databases(server) == before
    assert env.leftovers() == ([], [])


# --------------------------------------------------------- failed deploys

def test_deploy_with_taken_database_name_changes_nothing(env, master, server):
    snapshot(env, master)
    taken = server.new_database("taken")
    proc = env.deploy("tpl", "http://clash.test", "--dbname", taken.name,
                      check=False)
    assert proc.returncode != 0
    assert "nothing done" in proc.stderr      # seen before any step
    assert "already exists" in proc.stderr
    assert env.leftovers() == ([], [])
    assert taken.name in databases(server)      # not dropped by the undo


def test_deploy_with_corrupt_dump_leaves_nothing(env, master, server):
    snapshot(env, master)
    tpl = os.path.join(env.templates, "tpl")
    manifest_path = os.path.join(tpl, "manifest.json")
    manifest = json.load(open(manifest_path))
    dump = os.path.join(tpl, manifest["database"]["file"])
    data = open(dump, "rb").read()
    # a dump damaged before its manifest was written: loading it fails
    with open(dump, "wb") as f:
        f.write(data[:len(data) // 2] + b"\nGARBAGE ;;; \x00\xff\n")
    manifest["database"]["sha256"] = sha256(dump)
    json.dump(manifest, open(manifest_path, "w"))
    before = databases(server)
    proc = env.deploy("tpl", "http://broken.test", check=False)
    assert proc.returncode != 0
    assert "load the template database" in proc.stderr
    assert "dropped database vm_broken_test" in proc.stdout
    assert databases(server) == before
    assert env.leftovers() == ([], [])


def test_deploy_with_tampered_dump_is_refused(env, master, server):
    snapshot(env, master)
    tpl = os.path.join(env.templates, "tpl")
    dump = os.path.join(tpl, json.load(open(os.path.join(
        tpl, "manifest.json")))["database"]["file"])
    with open(dump, "ab") as f:
        f.write(b"x")
    before = databases(server)
    proc = env.deploy("tpl", "http://tampered.test", check=False)
    assert proc.returncode != 0 and "checksum" in proc.stderr
    assert databases(server) == before
    assert env.leftovers() == ([], [])


def test_deploy_failing_in_the_dataroot_copy_is_undone(env, master, server):
    snapshot(env, master)
    # a file the manifest does not know: the copy stops midway
    write(os.path.join(env.templates, "tpl", "dataroot", "zz-extra"), b"?")
    before = databases(server)
    proc = env.deploy("tpl", "http://halfway.test", check=False)
    assert proc.returncode != 0
    assert "copy the dataroot" in proc.stderr
    assert "removed" in proc.stdout and "dropped database" in proc.stdout
    assert databases(server) == before
    assert env.leftovers() == ([], [])


def test_deploy_into_unwritable_data_parent_leaves_nothing(env, master,
                                                           server):
    snapshot(env, master)
    os.chmod(env.data, 0o755)     # root's: nobody cannot write there
    for d in (env.templates, os.path.join(env.templates, "tpl")):
        os.chmod(d, 0o755)
    for f in ("manifest.json", "database.dump", "database.sql"):
        if os.path.exists(os.path.join(env.templates, "tpl", f)):
            os.chmod(os.path.join(env.templates, "tpl", f), 0o644)
    os.chmod(env.table, 0o644)
    shutil.copy(env.passfile, env.passfile + ".nobody")
    os.chown(env.passfile + ".nobody", pwd.getpwnam("nobody").pw_uid, -1)
    before = databases(server)
    proc = ctl(*env.opts()[:-2], "--user", "nobody", "deploy", "--template",
               "tpl", "--host", "http://nowrite.test", "--dbhost",
               f"127.0.0.1:{server.port}", "--dbuser", USER, "--dbpass-file",
               env.passfile + ".nobody", check=False, user="nobody")
    assert proc.returncode != 0
    assert "cannot write in " + env.data in proc.stderr
    assert databases(server) == before
    assert env.leftovers() == ([], [])


@only_on("mysql")
def test_deploy_interrupted_by_a_signal_is_undone(env, master, server):
    snapshot(env, master)
    tpl = os.path.join(env.templates, "tpl")
    big = os.path.join(tpl, "dataroot", "filedir", "big")
    with open(big, "wb") as f:          # sparse: cheap to make, slow to copy
        f.truncate(1 << 30)
    manifest_path = os.path.join(tpl, "manifest.json")
    manifest = json.load(open(manifest_path))
    manifest["dataroot"]["list"].append(
        {"path": "filedir/big", "size": 1 << 30, "sha256": sha256(big)})
    json.dump(manifest, open(manifest_path, "w"))
    before = databases(server)
    cmd = [CTL, *env.opts(), "deploy", "--template", "tpl", "--host",
           "http://sig.test", "--dbhost", f"127.0.0.1:{server.port}",
           "--dbuser", USER, "--dbpass-file", env.passfile]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    copy = os.path.join(env.data, "sig_test", "filedir", "big")
    for _ in range(3000):               # at most 30 s
        if os.path.exists(copy) and os.path.getsize(copy) > 0:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert "copy the dataroot" in err and "interrupted" in err
    assert "dropped database vm_sig_test" in out
    assert databases(server) == before
    assert env.leftovers() == ([], [])


# ---------------------------------------------------------- hostile values

@pytest.mark.parametrize("flags, reason", [
    (["--dbname", "x'; DROP DATABASE postgres; --"], "database name"),
    (["--dbname", "two words"], "database name"),
    (["--prefix", "mdl_; DROP TABLE mdl_user"], "vdbprefix"),
    (["--dataroot", "/tmp/../etc/evil"], "'..'"),
    (["--dataroot", "/etc/evil"], "outside the data parent"),
    (["--dbtype", "pgsql"], "comes from the template"),
])
def test_deploy_refuses_hostile_values(env, master, server, flags, reason):
    snapshot(env, master)
    before = databases(server)
    proc = env.deploy("tpl", "http://hostile.test", *flags, check=False)
    assert proc.returncode != 0 and reason in proc.stderr, proc.stderr
    assert databases(server) == before
    assert env.leftovers() == ([], [])


def test_deploy_refuses_hostile_template_and_host(env, master, server):
    snapshot(env, master)
    for template in ["../tpl", "tpl/../tpl", "tpl;ls"]:
        proc = env.deploy(template, "http://t.test", check=False)
        assert proc.returncode != 0 and "--template" in proc.stderr
    for host in ["http://a'b.test", "http://a b.test", "http://x;y.test",
                 "not a url"]:
        proc = env.deploy("tpl", host, check=False)
        assert proc.returncode != 0 and "--host" in proc.stderr
    assert env.leftovers() == ([], [])


def test_deploy_stores_quoted_values_as_they_are(env, master, server):
    snapshot(env, master)
    name = "O'Brien; DROP TABLE mdl_user; -- \"x\" `y`"
    env.deploy("tpl", "http://quotes.test", "--fullname", name,
               "--dbname", "vm-quotes")
    row = env.rows()[0]
    assert row["name"] == name
    state = site_state(server, row)
    assert state["site"] == name and state["users"] == "2"


# ------------------------------------------------------- destroy and check

def test_destroy_removes_database_dataroot_and_row(env, master, server):
    snapshot(env, master)
    env.deploy("tpl", "http://gone.test")
    env.deploy("tpl", "http://kept.test")
    root = next(r["vdatapath"] for r in env.rows()
                if r["vhostname"] == "http://gone.test")
    refused = ctl(*env.opts(), "destroy", "gone.test", check=False)
    assert refused.returncode != 0 and "--yes" in refused.stderr
    assert os.path.isdir(root)
    out = ctl(*env.opts(), "destroy", "gone.test", "--yes").stdout
    assert "destroyed http://gone.test" in out
    assert not os.path.exists(root)
    assert "vm_gone_test" not in databases(server)
    assert "vm_kept_test" in databases(server)
    assert [r["vhostname"] for r in env.rows()] == ["http://kept.test"]


def test_destroy_refuses_dataroot_outside_data_parent(env, server, tmp_path):
    outside = os.path.join(env.tmp, "elsewhere")
    os.makedirs(outside)
    ctl(*env.opts(), "add", "--host", "http://out.test", "--dbtype",
        "mariadb", "--dbname", "out", "--dataroot", outside)
    proc = ctl(*env.opts(), "destroy", "out.test", "--yes", check=False)
    assert proc.returncode != 0 and "outside the data parent" in proc.stderr
    assert os.path.isdir(outside) and len(env.rows()) == 1


def test_check_reports_each_instance(env, master, server):
    snapshot(env, master)
    env.deploy("tpl", "http://localhost:18080")
    good = ctl(*env.opts(), "check", "localhost:18080")
    assert "dns: ok; database: ok; dataroot: ok" in good.stdout
    ctl(*env.opts(), "add", "--host", "http://nowhere.invalid", "--dbtype",
        master.dbtype, "--dbhost", f"127.0.0.1:{server.port}", "--dbuser",
        USER, "--dbpass", "wrong-password", "--dbname", "vm_nowhere",
        "--dataroot", os.path.join(env.data, "missing"))
    bad = ctl(*env.opts(), "check", check=False)
    assert bad.returncode == 1
    line = next(l for l in bad.stdout.splitlines() if "nowhere" in l)
    assert "FAIL" in line and "does not resolve" in line
    assert "dataroot: " + os.path.join(env.data, "missing") in line
    assert "database: ok" not in line
    assert "wrong-password" not in bad.stdout + bad.stderr
    ok_line = next(l for l in bad.stdout.splitlines() if "18080" in l)
    assert " ok " in ok_line
    # the dataroot must be writable by the web server's user
    root = env.rows()[0]["vdatapath"]
    os.chmod(root, 0o500)
    os.chown(root, 0, 0)
    unwritable = ctl(*env.opts(), "check", "localhost:18080", check=False)
    assert unwritable.returncode == 1
    assert "not writable by www-data" in unwritable.stdout


def test_check_without_dns_record_is_a_warning(env, master, server):
    """Test domains and names only the balancer resolves: the site is
    fine when its database and dataroot are; --no-dns skips the look-up."""
    snapshot(env, master)
    env.deploy("tpl", "http://localhost:18081")
    ctl(*env.opts(), "edit", "localhost:18081", "--host",
        "http://unresolved.invalid:18081")
    warned = ctl(*env.opts(), "check")
    [line] = [l for l in warned.stdout.splitlines() if "unresolved" in l]
    assert " WARN " in line and "dns: warning: does not resolve" in line
    assert "database: ok; dataroot: ok" in line
    quiet = ctl(*env.opts(), "check", "--no-dns", "unresolved.invalid:18081")
    assert " ok " in quiet.stdout and "dns: not checked;" in quiet.stdout
    assert "does not resolve" not in quiet.stdout


# ------------------------------------------------------ JSON table commands

@pytest.fixture
def table(tmp_path):
    path = tmp_path / "instances.json"
    path.write_text(json.dumps([{
        "id": 1, "name": "One", "shortname": "one",
        "vhostname": "https://one.example.edu/", "vdbtype": "pgsql",
        "vdbhost": "db1:5432", "vdblogin": "u1", "vdbpass": "pa55-one",
        "vdbname": "one", "vdatapath": "/srv/data/one"}]))
    return path


def tctl(table, *args, check=True):
    return ctl("--source", f"json:{table}", *args, check=check)


def test_table_add_edit_disable_enable_remove(table):
    tctl(table, "add", "--host", "http://two.example.edu:8080", "--dbtype",
         "mariadb", "--dbname", "two", "--dataroot", "/srv/data/two",
         "--dbpass", "pa55-two", "--set", "mnet=0")
    rows = json.loads(table.read_text())
    assert [r["id"] for r in rows] == [1, 2]
    assert rows[1]["vdbpass"] == "pa55-two" and rows[1]["mnet"] in (0, "0")
    before = table.read_text()
    tctl(table, "edit", "two.example.edu:8080", "--dbname", "two_b")
    assert (table.parent / "instances.json.bak").read_text() == before
    tctl(table, "disable", "http://two.example.edu:8080/")
    listing = tctl(table, "list", "--json").stdout
    two = next(i for i in json.loads(listing)["instances"] if i["id"] == 2)
    assert (two["vdbname"], two["enabled"]) == ("two_b", 0)
    tctl(table, "enable", "2")
    assert json.loads(table.read_text())[1]["enabled"] in (1, "1")
    tctl(table, "remove", "two.example.edu:8080")
    assert [r["id"] for r in json.loads(table.read_text())] == [1]


@pytest.mark.parametrize("args, reason", [
    (["add", "--host", "https://ONE.example.edu", "--dbname", "x",
      "--dataroot", "/srv/x"], "one.example.edu already used"),
    (["add", "--host", "https://three.example.edu", "--dbname", "x",
      "--dataroot", "/srv/../etc"], "'..'"),
    (["add", "--host", "https://three.example.edu", "--dbname", "x",
      "--dataroot", "relative/path"], "absolute"),
    (["add", "--host", "https://three.example.edu", "--dbname", "x",
      "--dataroot", "/srv/x", "--dbtype", "oracle"], "vdbtype"),
    (["add", "--host", "https://th'ree.example.edu", "--dbname", "x",
      "--dataroot", "/srv/x"], "vhostname"),
    (["add", "--dbname", "x", "--dataroot", "/srv/x"], "vhostname"),
    (["edit", "one.example.edu", "--prefix", "mdl; DROP"], "vdbprefix"),
    (["edit", "one.example.edu", "--enabled", "2"], "enabled"),
])
def test_table_refuses_bad_rows_and_writes_nothing(table, args, reason):
    before = table.read_text()
    proc = tctl(table, *args, check=False)
    assert proc.returncode == 1
    assert "refused, nothing written" in proc.stderr and reason in proc.stderr
    assert table.read_text() == before
    assert not (table.parent / "instances.json.bak").exists()


def test_table_hides_passwords_unless_asked(table):
    for args in (["list"], ["list", "--json"], ["show", "one.example.edu"],
                 ["show", "1", "--json"]):
        out = tctl(table, *args).stdout
        assert "pa55-one" not in out and "one.example.edu" in out
    assert "***" in tctl(table, "show", "1").stdout
    assert "pa55-one" in tctl(table, "show", "1", "--show-secrets").stdout
    assert "pa55-one" in tctl(table, "list", "--json",
                              "--show-secrets").stdout


def test_table_from_config_file_and_dry_run(table, tmp_path):
    conf = tmp_path / "vmoodlectl.conf"
    conf.write_text(f"# comment\nsource = json:{table}\nmode = round-robin\n"
                    f"data-parent = {tmp_path}\n")
    out = ctl("--config", conf, "show", "one.example.edu").stdout
    assert "/srv/data/one" in out
    before = table.read_text()
    dry = ctl("--config", conf, "--dry-run", "disable", "1").stdout
    assert "dry run" in dry and table.read_text() == before
    ctl("--config", conf, "edit", "1", "--dataroot", "/var/tmp/vm-elsewhere")
    outside = ctl("--config", conf, "--dry-run", "destroy", "1", check=False)
    assert f"outside the data parent {tmp_path}" in outside.stderr
    missing = ctl("show", "nope.example.edu", "--config", conf, check=False)
    assert missing.returncode == 1 and "no instance" in missing.stderr


def test_table_commands_on_a_database_source(db):
    """The same commands write VMoodle's own table in a database."""
    db.create_vmoodle_table()
    src = ["--source", db.source]
    ctl(*src, "add", "--host", "https://db-one.example.edu", "--dbtype",
        "pgsql", "--dbname", "one", "--dataroot", "/srv/one", "--dbpass",
        "pa55-db")
    bad = ctl(*src, "add", "--host", "https://DB-ONE.example.edu/",
              "--dbname", "x", "--dataroot", "/srv/x", check=False)
    assert bad.returncode == 1 and "already used" in bad.stderr
    ctl(*src, "disable", "db-one.example.edu")
    listed = json.loads(ctl(*src, "list", "--json").stdout)["instances"]
    assert [(i["key"], i["enabled"], i["vdbpass"]) for i in listed] == \
        [("db-one.example.edu", 0, "***")]
    assert db.sql("SELECT COUNT(*) FROM mdl_local_vmoodle").strip() == "1"
    ctl(*src, "remove", "db-one.example.edu")
    assert db.sql("SELECT COUNT(*) FROM mdl_local_vmoodle").strip() == "0"

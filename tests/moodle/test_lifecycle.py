"""The lifecycle commands with real Moodle, on site1 (PostgreSQL), each
test putting it back as it found it:
- backup, a course added through Moodle's API, restore in place: the
  course is gone, the admin logs in, the siteidentifier is the same, no old
  copy left; the same backup restored --as a new host is a site of its own;
- usage: the figures are du's and pg_database_size;
- rename: the admin logs in at the new URL, /my/ links only to it, the old
  one is no site; renamed back;
- move to a second PostgreSQL cluster and another dataroot: the site serves
  under the same URL from there; --cleanup; moved back."""
import html
import json
import os
import re
import subprocess

from browser import Browser, title
from dbservers import PASSWORD, USER, PgServer
from fleetctl import command
from moodle import ADMIN_PASSWORD
from test_deploy import config, wait_for

COPY_WWWROOT = "http://site8.test"

ADD_COURSE = ("define('CLI_SCRIPT', true); require('config.php'); "
              "require_once($CFG->dirroot . '/course/lib.php'); "
              "create_course((object)['fullname' => 'Added after the backup', "
              "'shortname' => 'afterbackup', 'category' => 1]); echo 'ok';")


def vmoodlectl(fleet, *args, timeout=900):
    """fleetctl's command line; --log-dir only for the commands that run
    sites as the fleet does (the others refuse it)."""
    argv = command(fleet, *args)
    if not {"backup", "upgrade", "deploy", "usage"} & set(map(str, args)):
        at = argv.index("--log-dir")
        del argv[at:at + 2]
    return subprocess.run(argv, capture_output=True, text=True,
                          timeout=timeout)


def admin_login(tmp_path):
    """--admin-dbuser and its password file: a site's own login cannot
    drop itself, destroy drops it as the administrative login."""
    path = tmp_path / "adminpass"
    path.write_text(PASSWORD + "\n")
    path.chmod(0o600)
    return ["--admin-dbuser", USER, "--admin-dbpass-file", str(path)]


def courses(fleet, site):
    return fleet.sql(site, "SELECT shortname FROM {p}course "
                     "ORDER BY id").split()


def test_backup_and_restore_in_place_and_as_a_new_site(fleet, event_web,
                                                      tmp_path):
    site = fleet.sites["site1"]
    backups = str(tmp_path / "backups")
    data_parent = os.path.dirname(site.dataroot)
    ident = config(fleet, site, "siteidentifier")
    before = courses(fleet, site)
    # restore makes databases, --as its own login
    fleet.pg.sql(f"ALTER ROLE {USER} CREATEDB CREATEROLE")
    try:
        made = vmoodlectl(fleet, "backup", site.wwwroot, "--backup-dir",
                          backups)
        assert made.returncode == 0, made.stdout + made.stderr
        listed = vmoodlectl(fleet, "backups", "--backup-dir", backups)
        path = [w for w in listed.stdout.split() if w.startswith(backups + "/")]
        assert len(path) == 1, listed.stdout
        path = path[0]
        assert "4.5.5+" in listed.stdout

        added = fleet.php_code(site, ADD_COURSE)
        assert added.stdout.endswith("ok"), added.stdout + added.stderr
        assert "afterbackup" in courses(fleet, site)

        back = vmoodlectl(fleet, "restore", path, "--backup-dir", backups)
        assert back.returncode == 0, back.stdout + back.stderr
        assert courses(fleet, site) == before
        assert config(fleet, site, "siteidentifier") == ident
        assert not [n for n in os.listdir(data_parent) if ".restore-" in n]
        browser = Browser(event_web.port)
        browser.login(site.wwwroot, "admin", ADMIN_PASSWORD)
        page = browser.get(site.wwwroot + "/my/")
        assert page.status == 200 and title(page).startswith("Dashboard"), page

        copy = vmoodlectl(fleet, "restore", path, "--as", COPY_WWWROOT,
                          "--fullname", "A copy of site1", "--shortname",
                          "site8", "--data-parent", data_parent)
        assert copy.returncode == 0, copy.stdout + copy.stderr
        login = wait_for(Browser(event_web.port),
                         COPY_WWWROOT + "/login/index.php", 200)
        assert login.status == 200, login
        assert f"Log in to {html.escape('A copy of site1')}" in login.text
        rid, dbname = fleet.master_sql(
            "SELECT id, vdbname FROM vmoodle_instances WHERE vhostname = "
            f"'{COPY_WWWROOT}'").split()
        # its own login owns it: read as the server's superuser
        copy_ident = fleet.pg.sql("SELECT value FROM mdl_config WHERE name = "
                                  "'siteidentifier'", dbname=dbname).strip()
        assert copy_ident != ident and copy_ident.endswith("site8.test")
    finally:
        gone = fleet.tool("vmoodlectl", "--data-parent", data_parent,
                          "destroy", COPY_WWWROOT, "--yes",
                          *admin_login(tmp_path))
        assert "dropped database login vm_site8_test" in gone.stdout, \
            gone.stdout + gone.stderr
        fleet.pg.sql(f"ALTER ROLE {USER} NOCREATEDB NOCREATEROLE")


def row(fleet, site):
    out = fleet.master_sql("SELECT vhostname, vdbhost, vdbname, vdatapath "
                           f"FROM vmoodle_instances WHERE id = {site.id}")
    return out.strip().split("\t")


def test_usage_is_du_and_pg_database_size(fleet):
    site = fleet.sites["site1"]
    proc = vmoodlectl(fleet, "usage", site.wwwroot, "--json")
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)[0]
    du = subprocess.run(["du", "-s", "-B1", site.dataroot], check=True,
                        capture_output=True, text=True).stdout.split()[0]
    size = fleet.pg.sql(f"SELECT pg_database_size('{site.dbname}')").strip()
    assert got["dataroot_bytes"] == int(du)
    assert got["database_bytes"] == int(size)
    assert got["users"] >= 1
    assert got["moodle_release"].startswith("4.5.5+")


def logs_in(browser, wwwroot):
    page = wait_for(browser, wwwroot + "/login/index.php", 200)
    assert page.status == 200, page
    browser.login(wwwroot, "admin", ADMIN_PASSWORD)
    page = browser.get(wwwroot + "/my/")
    assert page.status == 200 and title(page).startswith("Dashboard"), page
    return page


def test_rename_serves_the_site_at_its_new_url(fleet, event_web):
    site = fleet.sites["site1"]
    new = "http://site1-renamed.test"
    try:
        proc = vmoodlectl(fleet, "rename", site.wwwroot, new)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert row(fleet, site)[0] == new
        page = logs_in(Browser(event_web.port), new)
        assert f'href="{new}/' in page.text
        assert site.wwwroot + "/" not in page.text
        assert config(fleet, site, "noreplyaddress").endswith(
            "@site1-renamed.test")
        gone = wait_for(Browser(event_web.port), site.wwwroot + "/", 404)
        assert gone.status == 404
    finally:
        back = vmoodlectl(fleet, "rename", new, site.wwwroot)
    assert back.returncode == 0, back.stdout + back.stderr
    logs_in(Browser(event_web.port), site.wwwroot)


def test_move_to_a_second_postgresql_cluster_and_back(fleet, event_web):
    site = fleet.sites["site1"]
    parent = os.path.dirname(site.dataroot)
    moved_data = site.dataroot + "-moved"
    other = PgServer()
    try:
        other.sql(f"ALTER ROLE {USER} CREATEDB")
        fleet.pg.sql(f"ALTER ROLE {USER} CREATEDB")
        there = f"127.0.0.1:{other.port}"
        proc = vmoodlectl(fleet, "--data-parent", parent, "move",
                          site.wwwroot, "--dbhost", there, "--dataroot",
                          moved_data)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert row(fleet, site)[1:] == [there, site.dbname, moved_data]
        assert "%s" % site.dbname in other.sql("SELECT datname FROM "
                                               "pg_database")
        logs_in(Browser(event_web.port), site.wwwroot)
        # its sessions are written on the second cluster now
        assert int(other.sql("SELECT COUNT(*) FROM mdl_sessions",
                             dbname=site.dbname)) >= 1
        clean = vmoodlectl(fleet, "move", site.wwwroot, "--cleanup")
        assert clean.returncode == 0, clean.stderr
        assert not os.path.exists(site.dataroot)
    finally:
        if row(fleet, site)[1] != site.dbhost:
            if os.path.exists(site.dataroot):   # the old copies still there
                vmoodlectl(fleet, "move", site.wwwroot, "--cleanup")
            back = vmoodlectl(fleet, "--data-parent", parent, "move",
                              site.wwwroot, "--dbhost", site.dbhost,
                              "--dataroot", site.dataroot)
            assert back.returncode == 0, back.stdout + back.stderr
            assert vmoodlectl(fleet, "move", site.wwwroot,
                              "--cleanup").returncode == 0
        fleet.pg.sql(f"ALTER ROLE {USER} NOCREATEDB")
        other.cleanup()
    assert row(fleet, site)[1:] == [site.dbhost, site.dbname, site.dataroot]
    logs_in(Browser(event_web.port), site.wwwroot)


def test_three_sites_from_a_csv(fleet, event_web, tmp_path):
    site = fleet.sites["site1"]
    templates = str(tmp_path / "templates")
    parent = os.path.dirname(site.dataroot)
    csv = tmp_path / "sites.csv"
    hosts = [f"http://csv{i}.test" for i in (1, 2, 3)]
    csv.write_text("host,fullname,shortname,template\n" + "".join(
        f'{h},"CSV School {i}, deployed",csv{i},site1-csv\n'
        for i, h in enumerate(hosts, 1)))
    opts = ["--templates", templates, "--data-parent", parent]
    fleet.pg.sql(f"ALTER ROLE {USER} CREATEDB CREATEROLE")
    try:
        snap = vmoodlectl(fleet, *opts, "snapshot", "--from", site.wwwroot,
                          "--name", "site1-csv")
        assert snap.returncode == 0, snap.stdout + snap.stderr
        made = vmoodlectl(fleet, *opts, "deploy", "--from-csv", str(csv),
                          "--jobs", "3")
        assert made.returncode == 0, made.stdout + made.stderr
        assert re.search(r"3 site\(s\): 3 ok", made.stdout), made.stdout
        for i, host in enumerate(hosts, 1):
            page = wait_for(Browser(event_web.port),
                            host + "/login/index.php", 200)
            assert page.status == 200, page
            assert f"Log in to {html.escape(f'CSV School {i}, deployed')}" \
                in page.text
    finally:
        for host in hosts:
            gone = vmoodlectl(fleet, *opts, "destroy", host, "--yes",
                              *admin_login(tmp_path))
            assert "dropped database login" in gone.stdout, \
                gone.stdout + gone.stderr
        vmoodlectl(fleet, *opts, "template-remove", "site1-csv")
        fleet.pg.sql(f"ALTER ROLE {USER} NOCREATEDB NOCREATEROLE")
    left = fleet.master_sql("SELECT COUNT(*) FROM vmoodle_instances WHERE "
                            "vhostname LIKE 'http://csv%'")
    assert left.strip() == "0"

"""backup and restore with real Moodle: site1 (PostgreSQL) backed up, a
course added through Moodle's API, the backup restored in place: the
course is gone, the admin logs in, the siteidentifier is the same, nothing
of the old copies is left; then the same backup restored --as a new host
is a site of its own (its own siteidentifier and name), destroyed after."""
import html
import os
import time

from browser import Browser, title
from dbservers import USER
from fleetctl import vmoodlectl
from moodle import ADMIN_PASSWORD

COPY_WWWROOT = "http://site8.test"
SERVE_TIMEOUT = 60          # VMoodleRefresh 2: a new row serves in seconds

ADD_COURSE = ("define('CLI_SCRIPT', true); require('config.php'); "
              "require_once($CFG->dirroot . '/course/lib.php'); "
              "create_course((object)['fullname' => 'Added after the backup', "
              "'shortname' => 'afterbackup', 'category' => 1]); echo 'ok';")


def config(fleet, site, name):
    return fleet.sql(site, "SELECT value FROM {p}config WHERE name = "
                     f"'{name}'").strip()


def courses(fleet, site):
    return fleet.sql(site, "SELECT shortname FROM {p}course "
                     "ORDER BY id").split()


def wait_for(browser, url, status):
    deadline = time.monotonic() + SERVE_TIMEOUT
    while True:
        page = browser.get(url)
        if page.status == status or time.monotonic() > deadline:
            return page
        time.sleep(0.5)


def test_backup_and_restore_in_place_and_as_a_new_site(fleet, event_web,
                                                      tmp_path):
    site = fleet.sites["site1"]
    backups = str(tmp_path / "backups")
    data_parent = os.path.dirname(site.dataroot)
    ident = config(fleet, site, "siteidentifier")
    before = courses(fleet, site)
    fleet.pg.sql(f"ALTER ROLE {USER} CREATEDB")   # restore makes databases
    try:
        made = vmoodlectl(fleet, "backup", site.wwwroot, "--dir", backups)
        assert made.returncode == 0, made.stdout + made.stderr
        listed = vmoodlectl(fleet, "backups", "--dir", backups)
        path = [w for w in listed.stdout.split() if w.startswith(backups + "/")]
        assert len(path) == 1, listed.stdout
        path = path[0]
        assert "4.5.5+" in listed.stdout

        added = fleet.php_code(site, ADD_COURSE)
        assert added.stdout.endswith("ok"), added.stdout + added.stderr
        assert "afterbackup" in courses(fleet, site)

        back = vmoodlectl(fleet, "restore", path, "--dir", backups)
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
        copy_ident = fleet.pg.sql("SELECT value FROM mdl_config WHERE name = "
                                  "'siteidentifier'", dbname=dbname,
                                  user=USER).strip()
        assert copy_ident != ident and copy_ident.endswith("site8.test")
    finally:
        fleet.tool("vmoodlectl", "--data-parent", data_parent, "destroy",
                   COPY_WWWROOT, "--yes")
        fleet.pg.sql(f"ALTER ROLE {USER} NOCREATEDB")

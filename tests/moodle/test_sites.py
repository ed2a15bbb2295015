"""What an administrator checks first: every site answers under its own
wwwroot with its own name, logins work, the table's other hosts are
refused, and the master is Moodle's own clean installation."""
import html
import json

import pytest

from browser import Browser, title
from moodle import ADMIN_PASSWORD, TABLE

SERVED = ["master", "site1", "site2", "site3"]


def other_names(fleet, site):
    return [s.fullname for s in fleet.sites.values() if s.name != site.name]


@pytest.mark.parametrize("name", SERVED)
def test_admin_logs_in_and_sees_the_dashboard_of_this_site(fleet, web, name):
    site = fleet.sites[name]
    browser = Browser(web.port)
    front = browser.get(site.wwwroot + "/")
    assert front.status == 200, front
    assert front.history == [], f"redirected: {front.history}"
    assert html.escape(site.fullname) in front.text
    login = browser.get(site.wwwroot + "/login/index.php")
    assert f"Log in to {html.escape(site.fullname)}" in login.text
    browser.login(site.wwwroot, "admin", ADMIN_PASSWORD)
    page = browser.get(site.wwwroot + "/my/")
    assert page.status == 200 and page.history == [], page
    # Moodle titles its pages with the site's short name.
    assert title(page) == f"Dashboard | {site.name}", title(page)
    # The page is this site's: its links, its name, nobody else's.
    assert f'href="{site.wwwroot}/' in page.text
    assert "/login/logout.php" in page.text        # logged in
    for other in other_names(fleet, site):
        assert other not in page.text, f"{other!r} on {site.name}'s dashboard"
    # Its own session cookie (config.php names it after the shortname).
    cookies = browser.cookies[site.host]
    assert any(c.startswith("MoodleSession") for c in cookies), cookies


def test_sessions_are_per_site(fleet, web):
    """A login on one site is no login on another, even for the same user
    id and the same browser."""
    browser = Browser(web.port)
    site1, site2 = fleet.sites["site1"], fleet.sites["site2"]
    browser.login(site1.wwwroot, "admin", ADMIN_PASSWORD)
    page = browser.get(site2.wwwroot + "/my/")
    assert page.url.startswith(site2.wwwroot + "/login/"), page
    # site1's session cookie sent to site2 is not a session there either.
    stolen = Browser(web.port)
    stolen.cookies[site2.host] = dict(browser.cookies[site1.host])
    page = stolen.get(site2.wwwroot + "/my/")
    assert page.url.startswith(site2.wwwroot + "/login/"), page


def test_unknown_host_is_refused_with_the_modules_page(web):
    page = Browser(web.port).get("http://nosuch.test/login/index.php")
    assert page.status == 404
    assert "nosuch.test" in page.text
    assert page.header("Set-Cookie") is None      # no PHP ran


def test_disabled_instance_is_503_and_never_reaches_moodle(fleet, web):
    site = fleet.sites["closed"]
    page = Browser(web.port).get(site.wwwroot + "/")
    assert page.status == 503
    assert page.header("Retry-After")
    assert page.header("Set-Cookie") is None      # no PHP ran


def test_master_schema_is_moodles_own(fleet):
    """The instance table sits in the master's database (it was there
    before the install), and Moodle's schema check sees nothing of it."""
    master = fleet.master()
    proc = fleet.php(master, "admin/cli/check_database_schema.php")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Database structure is ok" in proc.stdout, proc.stdout
    rows = fleet.master_sql(f"SELECT vhostname FROM {TABLE} ORDER BY id").split()
    assert rows == [s.wwwroot for s in fleet.instances()]


def test_master_and_instances_know_the_master_wwwroot(fleet):
    """$CFG->mainwwwroot, VMoodle's name for the master's wwwroot, on every site."""
    for site in (fleet.master(), fleet.sites["site1"]):
        code = ("define('CLI_SCRIPT', true); require('config.php'); "
                "echo $CFG->mainwwwroot, ' ', $CFG->wwwroot;")
        proc = fleet.php_code(site, code)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split() == [fleet.master().wwwroot, site.wwwroot]


def test_socket_path_reaches_moodle_as_dbsocket(fleet):
    site = fleet.sites["site2"]
    assert site.dbhost.startswith("/")
    code = ("define('CLI_SCRIPT', true); require('config.php'); "
            "echo $CFG->dbhost, ' ', $CFG->dboptions['dbsocket'], ' ', "
            "$DB->get_field('config', 'value', ['name' => 'siteidentifier']) ? 'ok' : 'no';")
    proc = fleet.php_code(site, code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["localhost", site.dbhost, "ok"]



def test_vmoodlectl_sees_the_installed_fleet(fleet):
    """The project's tools read the same table as the module (fleet.tool)."""
    proc = fleet.tool("vmoodlectl", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)
    rows = listed["instances"]
    assert sorted(r["vhostname"] for r in rows) == sorted(s.wwwroot for s in fleet.instances())
    assert "secret" not in proc.stdout            # passwords masked

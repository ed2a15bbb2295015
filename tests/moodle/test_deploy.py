"""snapshot, deploy and destroy with real Moodle: a site deployed from
site1's template (PostgreSQL) or site2's (MariaDB, to a new table prefix) is
a site of its own (its name on its pages, its own siteidentifier and
encryption key, its settings naming its own dataroot and host), the template
site is untouched, and destroy and template-remove leave nothing."""
import html
import os
import time

import pytest

from browser import Browser, title
from moodle import ADMIN_PASSWORD, RUN_USER, Site

NEW_FULLNAME = "Ninth School, deployed"
NEW_WWWROOT = "http://site9.test"
SERVE_TIMEOUT = 60          # VMoodleRefresh 2: the row shows in seconds
KEY = "secret/key/sodium.key"

# \core\encryption makes the key on first use, as the web user would.
KEY_PHP = ("define('CLI_SCRIPT', true); require('config.php'); "
           "\\core\\encryption::encrypt('x'); "
           "echo bin2hex(file_get_contents(\\core\\encryption::get_key_file()));")


def config(fleet, site, name):
    return fleet.sql(site, "SELECT value FROM {p}config WHERE name = "
                     f"'{name}'").strip()


def naming(fleet, site, text):
    """Names of the config and config_plugins values that contain text."""
    out = fleet.sql(site, f"SELECT name FROM {{p}}config WHERE value LIKE "
                    f"'%{text}%' UNION SELECT CONCAT(plugin, '/', name) FROM "
                    f"{{p}}config_plugins WHERE value LIKE '%{text}%'")
    return set(out.split())


def key_of(fleet, site):
    proc = fleet.php_code(site, KEY_PHP)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc.stdout.strip()


def wait_for(browser, url, status):
    deadline = time.monotonic() + SERVE_TIMEOUT
    while True:
        page = browser.get(url)
        if page.status == status or time.monotonic() > deadline:
            return page
        time.sleep(0.5)


def row_of(fleet, wwwroot):
    """id, vdbname, vdatapath, vdblogin, vdbpass of the row, or None."""
    out = fleet.master_sql("SELECT id, vdbname, vdatapath, vdblogin, vdbpass "
                           f"FROM vmoodle_instances WHERE vhostname = "
                           f"'{wwwroot}'")
    return out.strip().split("\t") if out.strip() else None


def databases(fleet, site):
    if site.dbkind == "pgsql":
        return set(fleet.pg.sql("SELECT datname FROM pg_database").split())
    return set(fleet.mysql.sql("SHOW DATABASES").split())


@pytest.mark.parametrize("name, prefix", [("site1", None), ("site2", "s9_")])
def test_deploy_makes_a_site_of_its_own(fleet, event_web, tmp_path, name,
                                        prefix):
    source = fleet.sites[name]
    pg = source.dbkind == "pgsql"
    template = f"{name}-e2e"
    templates = str(tmp_path / "templates")
    data_parent = os.path.dirname(source.dataroot)
    opts = ["--templates", templates, "--data-parent", data_parent,
            "--user", RUN_USER]
    source_key = key_of(fleet, source)
    source_before = {n: config(fleet, source, n)
                     for n in ("siteidentifier", "geoip2file", "noreplyaddress")}
    with_host = naming(fleet, source, source.host)
    with_root = naming(fleet, source, source.dataroot)
    # the template names its site in Moodle's own defaults: not vacuous
    assert "noreplyaddress" in with_host and "geoip2file" in with_root
    browser = Browser(event_web.port)
    try:
        snap = fleet.tool("vmoodlectl", *opts, "snapshot", "--from",
                          source.host, "--name", template)
        assert snap.returncode == 0, snap.stderr
        # no --dbpass-file: the password is the template row's, checked first;
        # so is (PostgreSQL) the right to create databases, which the admin
        # grants
        deploy = ["deploy", "--template", template, "--host", NEW_WWWROOT,
                  "--fullname", NEW_FULLNAME, "--shortname", "site9"]
        deploy += ["--prefix", prefix] if prefix else []
        if pg:
            refused = fleet.tool("vmoodlectl", *opts, "--dry-run", *deploy)
            assert refused.returncode == 1, refused.stdout
            assert "may not create databases" in refused.stderr
        fleet.admin_login(True)     # databases and the sites' own logins
        plan = fleet.tool("vmoodlectl", *opts, "--dry-run", *deploy)
        assert plan.returncode == 0 and "plan:" in plan.stdout, plan.stderr
        assert row_of(fleet, NEW_WWWROOT) is None
        dep = fleet.tool("vmoodlectl", *opts, *deploy)
        assert dep.returncode == 0, dep.stdout + dep.stderr
        rid, dbname, dataroot, login, password = row_of(fleet, NEW_WWWROOT)
        new = Site("site9", NEW_WWWROOT, NEW_FULLNAME, id=int(rid),
                   dbkind=source.dbkind, prefix=prefix or source.prefix,
                   dbname=dbname, dataroot=dataroot, dbhost=source.dbhost,
                   dblogin=login, dbpass=password)
        # the template's key was not copied (Moodle makes one on first use)
        assert "removed the template's encryption key" in dep.stdout
        assert not os.path.exists(os.path.join(dataroot, KEY))

        # its pages say its name, not the template's
        login = wait_for(browser, NEW_WWWROOT + "/login/index.php", 200)
        assert login.status == 200 and login.history == [], login
        assert f"Log in to {html.escape(NEW_FULLNAME)}" in login.text
        assert html.escape(source.fullname) not in login.text
        browser.login(NEW_WWWROOT, "admin", ADMIN_PASSWORD)
        page = browser.get(NEW_WWWROOT + "/my/")
        assert page.status == 200 and title(page) == "Dashboard | site9", page
        assert f'href="{NEW_WWWROOT}/' in page.text

        # its own identifier and key
        ident = config(fleet, new, "siteidentifier")
        assert ident != source_before["siteidentifier"]
        assert ident.endswith("site9.test") and len(ident) == 32 + 10
        new_key = key_of(fleet, new)
        assert new_key and new_key != source_key
        assert os.stat(os.path.join(dataroot, KEY)).st_mode & 0o777 == 0o400

        # its settings name its own dataroot and host
        assert config(fleet, new, "geoip2file") == \
            source_before["geoip2file"].replace(source.dataroot, dataroot)
        assert config(fleet, new, "noreplyaddress") == "noreply@site9.test"
        assert naming(fleet, new, source.host) == set()
        assert naming(fleet, new, source.dataroot + "/") == set()
        assert naming(fleet, new, "site9.test") >= with_host
        assert naming(fleet, new, dataroot) >= with_root

        # the template site is untouched
        assert {n: config(fleet, source, n) for n in source_before} == source_before
        assert key_of(fleet, source) == source_key
        own = Browser(event_web.port).get(source.wwwroot + "/login/index.php")
        assert f"Log in to {html.escape(source.fullname)}" in own.text

        gone = fleet.tool("vmoodlectl", *opts, "destroy", NEW_WWWROOT, "--yes",
                          *fleet.admin_flags())
        assert gone.returncode == 0, gone.stderr
        assert row_of(fleet, NEW_WWWROOT) is None
        assert not os.path.exists(dataroot)
        assert dbname not in databases(fleet, source)
        assert wait_for(Browser(event_web.port), NEW_WWWROOT + "/", 404).status == 404
    finally:
        if row_of(fleet, NEW_WWWROOT):
            fleet.tool("vmoodlectl", *opts, "destroy", NEW_WWWROOT, "--yes",
                       *fleet.admin_flags())
        removed = fleet.tool("vmoodlectl", *opts, "template-remove", template)
        fleet.admin_login(False)
    assert removed.returncode == 0, removed.stderr
    listed = fleet.tool("vmoodlectl", *opts, "templates")
    assert listed.stdout.splitlines()[1:] == [], listed.stdout

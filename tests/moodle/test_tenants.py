"""Issue 19 with real Moodle: two sites deployed from one template each
connect only to their own database (each one's login refused by the
other's and by the template's), both log in and run their cron; a site
deployed the old way (sharing the fleet's login) is given a login of its
own by `isolate` while it keeps serving."""
import os
import subprocess
import threading
import time

import pytest

from browser import Browser, title
from dbservers import PASSWORD, USER
from fleetctl import vmoodlectl
from moodle import ADMIN_PASSWORD, RUN_USER, Site
from test_deploy import row_of, wait_for

HOSTS = ("http://tenant-a.test", "http://tenant-b.test")
OLD = "http://tenant-old.test"


def as_login(fleet, site, login, password, dbname):
    """SELECT from dbname's mdl_user as login over TCP: (ok, output)."""
    if site.dbkind == "pgsql":
        cmd = ["psql", "-X", "-A", "-t", "-h", "127.0.0.1", "-p",
               str(fleet.pg.port), "-U", login, "-d", dbname, "-c",
               f"SELECT username FROM {site.prefix}user"]
        env = {"PGPASSWORD": password}
    else:
        cmd = ["mariadb", "--no-defaults", "-S", fleet.mysql.socket, "-u",
               login, "-N", "-e", f"SELECT username FROM {site.prefix}user",
               dbname]
        env = {"MYSQL_PWD": password}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env})
    return proc.returncode == 0 and "admin" in proc.stdout, proc.stderr


def deployed(fleet, source, wwwroot, opts, name):
    dep = fleet.tool("vmoodlectl", *opts, "deploy", "--template", "tenants",
                     "--host", wwwroot, "--fullname", f"Tenant {name}",
                     "--shortname", name, *fleet.admin_flags())
    assert dep.returncode == 0, dep.stdout + dep.stderr
    rid, dbname, dataroot, login, password = row_of(fleet, wwwroot)
    return Site(name, wwwroot, f"Tenant {name}", id=int(rid),
                dbkind=source.dbkind, prefix=source.prefix, dbname=dbname,
                dataroot=dataroot, dbhost=source.dbhost, dblogin=login,
                dbpass=password)


def logs_in_and_runs_cron(fleet, web, site):
    browser = Browser(web.port)
    page = wait_for(browser, site.wwwroot + "/login/index.php", 200)
    assert page.status == 200, page
    browser.login(site.wwwroot, "admin", ADMIN_PASSWORD)
    page = browser.get(site.wwwroot + "/my/")
    assert page.status == 200 and title(page) == f"Dashboard | {site.name}"
    cron = vmoodlectl(fleet, "cron", site.host)
    assert cron.returncode == 0, cron.stdout + cron.stderr


@pytest.fixture
def template(fleet, tmp_path):
    """site1's template "tenants" and the options that reach it, USER the
    administrative login meanwhile; the template removed after."""
    source = fleet.sites["site1"]
    opts = ["--templates", str(tmp_path / "templates"), "--data-parent",
            os.path.dirname(source.dataroot), "--user", RUN_USER]
    fleet.admin_login(True)
    try:
        snap = fleet.tool("vmoodlectl", *opts, "snapshot", "--from",
                          source.host, "--name", "tenants")
        assert snap.returncode == 0, snap.stderr
        yield source, opts
    finally:
        fleet.tool("vmoodlectl", *opts, "template-remove", "tenants")
        fleet.admin_login(False)


def destroy(fleet, opts, host):
    if row_of(fleet, host):
        gone = fleet.tool("vmoodlectl", *opts, "destroy", host, "--yes",
                          *fleet.admin_flags())
        assert gone.returncode == 0, gone.stdout + gone.stderr


def test_two_deployed_sites_each_reach_only_their_own_database(
        fleet, event_web, template):
    source, opts = template
    try:
        sites = [deployed(fleet, source, h, opts, n)
                 for h, n in zip(HOSTS, ("tenanta", "tenantb"))]
        a, b = sites
        assert len({a.dblogin, b.dblogin, USER}) == 3
        assert PASSWORD not in (a.dbpass, b.dbpass)
        for me, other in ((a, b), (b, a)):
            assert as_login(fleet, me, me.dblogin, me.dbpass, me.dbname)[0]
            ok, why = as_login(fleet, me, me.dblogin, me.dbpass, other.dbname)
            assert not ok, f"{me.dblogin} read {other.dbname}"
            ok, why = as_login(fleet, me, me.dblogin, me.dbpass,
                               source.dbname)
            assert not ok, f"{me.dblogin} read the template's database"
        for site in sites:
            logs_in_and_runs_cron(fleet, event_web, site)
    finally:
        for host in HOSTS:
            destroy(fleet, opts, host)


def share_the_fleets_login(fleet, site):
    """The site as deploy made them before per-site logins: its database
    the fleet's login's, the row naming that login."""
    own = site.dblogin
    fleet.pg.sql(f"ALTER DATABASE {site.dbname} OWNER TO {USER}")
    fleet.pg.sql(f"REASSIGN OWNED BY {own} TO {USER}", dbname=site.dbname)
    fleet.pg.sql(f"GRANT CONNECT, TEMPORARY ON DATABASE {site.dbname} TO "
                 "PUBLIC")
    fleet.master_sql(f"UPDATE vmoodle_instances SET vdblogin = '{USER}', "
                     f"vdbpass = '{PASSWORD.replace(chr(39), chr(39) * 2)}' "
                     f"WHERE id = {site.id}")
    fleet.pg.sql(f"DROP ROLE {own}")


def test_isolate_a_site_sharing_the_fleets_login_while_it_serves(
        fleet, event_web, template):
    source, opts = template
    try:
        old = deployed(fleet, source, OLD, opts, "tenantold")
        share_the_fleets_login(fleet, old)
        assert as_login(fleet, old, USER, PASSWORD, old.dbname)[0]
        warned = fleet.tool("vmoodlectl", "check", "--no-dns", old.host)
        assert f"database login {USER} is also" in warned.stdout
        browser = Browser(event_web.port)
        assert wait_for(browser, OLD + "/login/index.php", 200).status == 200

        # isolate while a visitor keeps loading its pages
        statuses, done = [], threading.Event()

        def visit():
            visitor = Browser(event_web.port)
            while not done.is_set() and len(statuses) < 2000:
                statuses.append(visitor.get(OLD + "/login/index.php").status)
                time.sleep(0.2)
        thread = threading.Thread(target=visit)
        thread.start()
        try:
            iso = fleet.tool("vmoodlectl", *opts, "isolate", old.host,
                             "--wait", "6", *fleet.admin_flags())
        finally:
            done.set()
            thread.join(timeout=60)
        assert iso.returncode == 0, iso.stdout + iso.stderr
        assert len(statuses) > 5 and set(statuses) == {200}, statuses

        _, _, _, login, password = row_of(fleet, OLD)
        # a login of its own (named as deploy names it; the old one gone)
        assert login != USER and password not in (PASSWORD, old.dbpass)
        old.dblogin, old.dbpass = login, password
        assert as_login(fleet, old, login, password, old.dbname)[0]
        ok, _ = as_login(fleet, old, USER, PASSWORD, old.dbname)
        assert not ok, "the fleet's login still reads the isolated site"
        # the fleet's other sites keep their login
        assert as_login(fleet, source, USER, PASSWORD, source.dbname)[0]
        logs_in_and_runs_cron(fleet, event_web, old)
    finally:
        destroy(fleet, opts, OLD)

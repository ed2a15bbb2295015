"""A site's CLI run is the same for every command: rename, move and
upgrade --to run Moodle's scripts of a site on a second platform from that
platform's code tree, as the site's own user (site-user set), with PHP's
opcode file cache, as vcron's cron and vmoodlectl run do.  Before, these
commands ran the scripts of --moodle-dir as the one --user, without the
cache.  Over the stand-in site of test_vmoodlectl_lifecycle (a real
PostgreSQL database, "php" running the scripts with sh): the stand-in php
notes who ran which file, and whether the cache was on its command line."""
import os
import pwd
import subprocess

import pytest

from dbservers import PgServer, pg_server  # noqa: F401
from instances import write_table
from test_vmoodlectl import only_on, server  # noqa: F401
from test_vmoodlectl_lifecycle import Site, next_platform, write

USER = "vmtest-sr1"     # the site's own user: site-user vmtest-sr%id%
RULE = "vmtest-sr%id%"

# php -dname=value... SCRIPT ARGS: who ran which file, with the cache or
# not, then the script run by sh.
PHP = """#!/bin/sh
c=no
while [ "${1#-d}" != "$1" ]; do
    case "$1" in -dopcache.file_cache=*) c=cache ;; esac; shift
done
echo "$(id -un) $c $1" >> @ROOT@/out/runs
exec /bin/sh "$@"
"""


@pytest.fixture(scope="module")
def site_user():
    made = False
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", USER], check=True, timeout=60)
        made = True
    yield USER
    if made:
        subprocess.run(["userdel", USER], timeout=60)


def owned_by(path, user):
    w = pwd.getpwnam(user)
    for top, dirs, files in os.walk(path):
        for n in [top] + [os.path.join(top, f) for f in dirs + files]:
            os.lchown(n, w.pw_uid, w.pw_gid)


@pytest.fixture
def site(tmp_path, server, site_user):  # noqa: F811
    """Site one on platform "next", its dataroot its own user's."""
    s = Site(tmp_path, server)
    write(os.path.join(s.root, "php"), PHP.replace("@ROOT@", s.root).encode())
    os.chmod(os.path.join(s.root, "php"), 0o755)
    s.platforms = next_platform(s)
    s.next = os.path.join(s.root, "next")
    s.rows[0]["platform"] = "next"
    write_table(s.table, s.rows)
    owned_by(s.row["vdatapath"], site_user)
    return s


def ctl(site, *args):
    return site.ctl("--platforms", site.platforms, "--site-user", RULE,
                    "--opcache-dir", os.path.join(site.root, "opcache"), *args)


def runs(site):
    path = os.path.join(site.root, "out", "runs")
    return [line.split() for line in open(path).read().splitlines()] \
        if os.path.exists(path) else []


def assert_runs_as_the_site(site, tree, scripts):
    """Each script of the command, from tree, as the site's user, with the
    cache."""
    got = runs(site)
    assert [r[2] for r in got] == [f"{tree}/{s}" for s in scripts], got
    assert {(r[0], r[1]) for r in got} == {(USER, "cache")}, got


@only_on("pgsql")
def test_rename_runs_the_sites_platform_as_its_user(site):
    proc = ctl(site, "rename", "one.test", "http://school.test")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert site.row["vhostname"] == "http://school.test"
    assert_runs_as_the_site(site, site.next, [
        "admin/cli/maintenance.php", "admin/tool/replace/cli/replace.php",
        "admin/cli/purge_caches.php", "admin/cli/maintenance.php"])
    assert not site.in_maintenance()


@only_on("pgsql")
def test_move_runs_the_sites_platform_as_its_user(site):
    new_db = site.row["vdbname"] + "_moved"
    proc = ctl(site, "move", "one.test", "--dbname", new_db)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert site.row["vdbname"] == new_db
    assert_runs_as_the_site(site, site.next, [
        "admin/cli/maintenance.php", "admin/cli/purge_caches.php",
        "admin/cli/maintenance.php", "admin/cli/cfg.php"])
    assert ctl(site, "move", "one.test", "--cleanup").returncode == 0


@only_on("pgsql")
def test_upgrade_to_runs_each_tree_as_the_sites_user(site):
    """From the default platform to "next": maintenance on with the old
    code, the rest with the new, every script as the site's user."""
    site.rows[0]["platform"] = ""
    write_table(site.table, site.rows)
    proc = ctl(site, "upgrade", "one.test", "--to", "next", "--settle", "0")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = runs(site)
    assert [r[2] for r in got] == [
        f"{site.code}/admin/cli/maintenance.php",
        f"{site.next}/admin/cli/upgrade.php",
        f"{site.next}/admin/cli/purge_caches.php",
        f"{site.next}/admin/cli/maintenance.php"], got
    assert {(r[0], r[1]) for r in got} == {(USER, "cache")}, got
    assert site.row["platform"] == "next" and not site.in_maintenance()


@only_on("pgsql")
def test_a_site_on_a_missing_platform_is_refused_before_anything(site):
    site.rows[0]["platform"] = "gone"
    write_table(site.table, site.rows)
    before = dict(site.row)
    for args in (("rename", "one.test", "http://school.test"),
                 ("move", "one.test", "--dbname", "elsewhere"),
                 ("backup", "one.test", "--maintenance")):
        proc = ctl(site, *args)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        said = proc.stderr
        if args[0] == "backup":  # the fleet: in the site's log
            said = open(os.path.join(site.root, "logs", "one.test.log")).read()
        assert "one.test" in said and "platform 'gone' is not in" in said, \
            said
    assert runs(site) == [] and site.row == before
    assert site.site_backups() == []

"""Platforms, a site under a path and aliases, with real Moodle.

Two platforms: the fleet's code (the default) and "next", unpacked again
from MOODLE_SRC with its core $version bumped (as test_upgrade.py does).
One more site, school1, is installed at http://site1.test/school1, under the
host of site1 (a site at its root), on the default platform.  Then:

  - school1 under its path: login, /my/, a course page, a file served by
    pluginfile.php, every link of its pages under /school1/, with both PHP
    flavours; and a real browser (headless chromium) loading its login page
    and dashboard with every stylesheet, script and image answered 200
    (theme/styles.php/..., javascript.php/..., image.php/...: slash
    arguments under a path);
  - aliases: www.site1.test and old.test/school1 answer 301 to the site's
    URL with the path and query kept, and a login works after following;
  - `vmoodlectl upgrade school1 --to next --backup`, made to fail first (a
    plugin of the new tree alone fails its install, after the core's
    upgrade): school1 goes back to the default platform with its database
    restored from the backup (the core's old version, its course there)
    and serves; then it moves (with --backup too): while it does, every other site is
    served from the default platform, never sent to an upgrade page, each
    running the code version its database has, and after it school1 runs
    next's code on its upgraded database.

This file runs last (conftest LAST): it leaves school1 on "next" until its
teardown removes school1 again."""
import decimal
import html
import os
import re
import shutil
import subprocess
import threading
import time
import urllib.parse

import pytest

from apache import FLAVOURS
from browser import Browser, title
from chromium import Chromium
from fleetctl import vmoodlectl
from moodle import ADMIN_PASSWORD, TABLE, Site, bad_log_lines, unpack_moodle
from test_upgrade import PLUGIN, bump_core_version

SCHOOL = Site("school1", "http://site1.test/school1", "School One under a path",
              id=21)
PROBE = """<?php
// The code version this request runs and the version of the site's database.
define('NO_MOODLE_COOKIES', true);
require(__DIR__ . '/config.php');
$version = null;
require($CFG->dirroot . '/version.php');
header('Content-Type: text/plain');
echo "code=$version db={$CFG->version} dirroot={$CFG->dirroot}\\n";
"""


def version_of(code):
    with open(os.path.join(code, "version.php")) as f:
        return decimal.Decimal(re.search(r"\$version\s*=\s*(\d+\.\d+)", f.read()).group(1))


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)


@pytest.fixture(scope="module")
def platforms(fleet):
    nxt = os.path.join(fleet.root, "next")
    if not os.path.exists(os.path.join(nxt, "version.php")):
        shutil.rmtree(nxt, ignore_errors=True)
        staging = os.path.join(fleet.root, "next-unpack")
        shutil.rmtree(staging, ignore_errors=True)
        os.rename(unpack_moodle(fleet.src, staging), nxt)
        os.rmdir(staging)
        shutil.copy(os.path.join(fleet.code, "config.php"), nxt)
        # one build above the default platform's, whatever it is now
        while version_of(nxt) <= version_of(fleet.code):
            bump_core_version(nxt)
    # the plugins test_upgrade.py added to the fleet's code
    for plugin in (PLUGIN,):
        if os.path.isdir(os.path.join(fleet.code, plugin)):
            shutil.copytree(os.path.join(fleet.code, plugin),
                            os.path.join(nxt, plugin), dirs_exist_ok=True)
    for tree in (fleet.code, nxt):
        write(os.path.join(tree, "vmprobe.php"), PROBE)
    conf = os.path.join(fleet.root, "platforms.conf")
    write(conf, f"# name = code tree\nnext = {nxt}\n")
    site = SCHOOL
    fleet.sites[site.name] = site
    fleet._place(site)
    fleet.write_table()
    if not fleet.installed(site):
        fleet.install(site)
    fleet.master_sql(f"UPDATE {TABLE} SET aliases = 'www.site1.test' WHERE id = 1;"
                     f"UPDATE {TABLE} SET aliases = 'old.test/school1' WHERE id = {site.id};")
    course = make_course(fleet)        # before school1 moves to other code
    # MathJax's filter loads its script from a CDN, and this machine has no
    # Internet: school1 asks for nothing outside itself without it.
    proc = fleet.php_code(site, "define('CLI_SCRIPT', true); require('config.php');"
                          "require_once($CFG->libdir . '/filterlib.php');"
                          "filter_set_global_state('mathjaxloader', TEXTFILTER_DISABLED);"
                          "purge_all_caches();")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    yield {"next": nxt, "conf": conf, "course": course}
    fleet.master_sql(f"UPDATE {TABLE} SET aliases = '' WHERE id = 1;"
                     f"DELETE FROM {TABLE} WHERE id = {site.id};")
    del fleet.sites[site.name]
    fleet.drop_database(site)
    os.unlink(os.path.join(fleet.root, f"installed-{site.name}"))
    os.unlink(os.path.join(fleet.code, "vmprobe.php"))


def serve(fleet, platforms, flavour):
    server = fleet.httpd(flavour)
    server.directives += f"""VMoodlePlatforms {platforms['conf']}
<Directory "{platforms['next']}">
    Require all granted
    AcceptPathInfo On
</Directory>
"""
    server.start()
    return server


def finish(server):
    server.stop()
    bad = bad_log_lines(server.errors_text(), server.access_text())
    print(f"--- error log of {server.flavour} ---\n{server.errors_text()[-6000:]}")
    server.remove()
    if bad:
        pytest.fail("unexpected log lines:\n  " + "\n  ".join(bad))


@pytest.fixture(scope="module", params=FLAVOURS)
def pweb(request, fleet, platforms):
    server = serve(fleet, platforms, request.param)
    yield server
    finish(server)


def links(page):
    return set(re.findall(r'(?:href|src)="(http://site1\.test[^"]*)"', page.text))


def make_course(fleet):
    """A course with a file in its summary area: (course id, file URL path)."""
    proc = fleet.php_code(SCHOOL, """
define('CLI_SCRIPT', true);
require('config.php');
require_once($CFG->dirroot . '/course/lib.php');
global $DB;
$course = $DB->get_record('course', ['shortname' => 'PATHC']);
if (!$course) {
    $course = create_course((object)['fullname' => 'Course under a path',
        'shortname' => 'PATHC', 'category' => 1, 'summary' => 'x']);
}
$context = context_course::instance($course->id);
$fs = get_file_storage();
$fs->delete_area_files($context->id, 'course', 'summary');
$fs->create_file_from_string(['contextid' => $context->id, 'component' => 'course',
    'filearea' => 'summary', 'itemid' => 0, 'filepath' => '/',
    'filename' => 'hello-path.txt'], 'hello from under a path');
echo $course->id, ' ', $context->id;
""")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    course, context = proc.stdout.split()[-2:]
    return course, f"/pluginfile.php/{context}/course/summary/hello-path.txt"


def test_path_site_login_dashboard_course_and_file(fleet, platforms, pweb):
    b = Browser(pweb.port)
    front = b.get(SCHOOL.wwwroot + "/")
    assert front.status == 200 and html.escape(SCHOOL.fullname) in front.text, front
    b.login(SCHOOL.wwwroot, "admin", ADMIN_PASSWORD)
    page = b.get(SCHOOL.wwwroot + "/my/")
    assert page.status == 200 and page.history == [], page
    assert title(page) == "Dashboard | school1"
    bad = [u for u in links(page) if not u.startswith(SCHOOL.wwwroot + "/")]
    assert not bad, bad
    course, path = platforms["course"]
    page = b.get(f"{SCHOOL.wwwroot}/course/view.php?id={course}")
    assert page.status == 200 and page.history == [], page
    assert "Course under a path" in page.text
    bad = [u for u in links(page) if not u.startswith(SCHOOL.wwwroot + "/")]
    assert not bad, bad
    got = b.get(SCHOOL.wwwroot + path)
    assert got.status == 200 and got.text == "hello from under a path", got
    # the site at the host's root is its own site, with its own session
    root = b.get(fleet.sites["site1"].wwwroot + "/my/")
    assert root.url.startswith("http://site1.test/login/"), root
    assert b.get("http://site1.test/school1").history[0][0] == 301


def test_aliases_redirect_and_login_after(fleet, pweb):
    b = Browser(pweb.port)
    first = b.get("http://www.site1.test/login/index.php?lang=en&x=%2Fy", follow=False)
    assert first.status == 301
    assert first.header("Location") == "http://site1.test/login/index.php?lang=en&x=%2Fy"
    page = b.get("http://www.site1.test/login/index.php")
    assert page.url == "http://site1.test/login/index.php" and page.status == 200
    b.login(fleet.sites["site1"].wwwroot, "admin", ADMIN_PASSWORD)
    assert b.get("http://site1.test/my/").status == 200
    moved = b.get("http://old.test/school1/course/index.php?categoryid=1", follow=False)
    assert moved.status == 301
    assert moved.header("Location") == SCHOOL.wwwroot + "/course/index.php?categoryid=1"


def test_browser_loads_every_asset_of_the_path_site(fleet, pweb):
    c = Chromium(pweb.port)
    try:
        loaded = c.open(SCHOOL.wwwroot + "/login/index.php")
        loaded += c.run(f"""document.getElementById('username').value = 'admin';
            document.getElementById('password').value = '{ADMIN_PASSWORD}';
            document.getElementById('loginbtn').click();""")
        loaded += c.open(SCHOOL.wwwroot + "/my/")
        assert c.location() == SCHOOL.wwwroot + "/my/"
        # inline data: and blob: resources are no requests to the site
        loaded = [r for r in loaded if r[2].startswith("http")]
        assets = [r for r in loaded if r[1] in ("Stylesheet", "Script", "Image", "Font")]
        kinds = {r[1] for r in assets}
        assert {"Stylesheet", "Script", "Image"} <= kinds, loaded
        assert any("/theme/styles.php/" in r[2] for r in assets), assets
        bad = [r for r in assets if r[0] != 200]
        assert not bad, bad
        assert not c.failures, c.failures
        outside = [r for r in loaded if not r[2].startswith(SCHOOL.wwwroot + "/")]
        assert not outside, outside
    finally:
        c.close()


@pytest.fixture(scope="module")
def move_web(fleet, platforms):
    server = serve(fleet, platforms, "event-fpm")
    yield server
    finish(server)


def probe(port, site):
    page = Browser(port).get(site.wwwroot + "/vmprobe.php", follow=False)
    m = re.match(r"code=(\S+) db=(\S+) dirroot=(\S+)", page.text)
    return page.status, m.groups() if m else None


def in_maintenance(site):
    return os.path.exists(os.path.join(site.dataroot, "climaintenance.html"))


def move(fleet, *args):
    return vmoodlectl(fleet, "--platforms", fleet_platforms(fleet), "upgrade",
                      SCHOOL.wwwroot, "--to", "next", "--settle", "3", *args)


def fleet_platforms(fleet):
    return os.path.join(fleet.root, "platforms.conf")


def row_platform(fleet):
    return fleet.master_sql(f"SELECT platform FROM {TABLE} WHERE id = {SCHOOL.id}").strip()


# A plugin of the new tree alone whose install fails: upgrade.php has
# upgraded the core (the database changed) when it throws.
BREAK_PLUGIN = "local/vmbreak"
BREAK_FILES = {
    "version.php": "<?php\ndefined('MOODLE_INTERNAL') || die();\n"
                   "$plugin->component = 'local_vmbreak';\n"
                   "$plugin->version = 2025010100;\n$plugin->requires = 2024100700;\n",
    "lang/en/local_vmbreak.php": "<?php\n$string['pluginname'] = 'Breaks';\n",
    "db/install.php": "<?php\ndefined('MOODLE_INTERNAL') || die();\n"
                      "function xmldb_local_vmbreak_install() {\n"
                      "    throw new coding_exception('local_vmbreak: a broken install');\n}\n",
}


def core_version(fleet):
    return fleet.sql(SCHOOL, "SELECT value FROM {p}config WHERE name = 'version'").strip()


def test_failed_move_goes_back_restored_and_serves(fleet, platforms, move_web):
    plugin = os.path.join(platforms["next"], BREAK_PLUGIN)
    for rel, text in BREAK_FILES.items():
        os.makedirs(os.path.dirname(os.path.join(plugin, rel)), exist_ok=True)
        write(os.path.join(plugin, rel), text)
    subprocess.run(["chmod", "-R", "go+rX", os.path.dirname(plugin)], check=True)
    backups = os.path.join(fleet.root, "bk-move")
    before = core_version(fleet)
    fleet.admin_login(True)             # the restore makes a database
    try:
        proc = move(fleet, "--backup", "--backup-dir", backups)
    finally:
        fleet.admin_login(False)
        shutil.rmtree(plugin)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "upgrade.php (new code) failed" in proc.stderr
    said = re.search(r"VM00800: .*back on platform '' with its database and "
                     r"dataroot restored from (\S+), out of maintenance "
                     r"\(log: (\S+)\)", proc.stderr)
    assert said and said.group(1).startswith(backups + "/"), proc.stderr
    assert os.path.exists(os.path.join(said.group(1), "manifest.json"))
    assert "restored " + SCHOOL.wwwroot in proc.stdout, proc.stdout
    # it failed installing the plugin, after the core's upgrade (the
    # database changed): restored, the core's version is the old one
    with open(said.group(2)) as f:
        assert "local_vmbreak: a broken install" in f.read()
    assert row_platform(fleet) == ""
    assert not in_maintenance(SCHOOL)
    assert core_version(fleet) == before
    assert fleet.sql(SCHOOL, "SELECT shortname FROM {p}course WHERE "
                     "shortname = 'PATHC'").strip() == "PATHC"     # data intact
    status, (code, db, dirroot) = probe(move_web.port, SCHOOL)
    assert status == 200 and code == db and dirroot == fleet.code
    b = Browser(move_web.port)
    b.login(SCHOOL.wwwroot, "admin", ADMIN_PASSWORD)
    assert b.get(SCHOOL.wwwroot + "/my/").status == 200
    shutil.rmtree(backups, ignore_errors=True)


class Watcher(threading.Thread):
    """Every site's probe and login page, round after round, while a move
    runs."""

    def __init__(self, port, sites):
        super().__init__(daemon=True)
        self.port, self.sites = port, sites
        self.seen = []          # (site, status, (code, db, dirroot), login status, Location)
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            for site in self.sites:
                try:
                    status, got = probe(self.port, site)
                    login = Browser(self.port).get(site.wwwroot + "/login/index.php",
                                                   follow=False)
                    self.seen.append((site.name, status, got, login.status,
                                      login.header("Location")))
                except OSError as e:
                    self.seen.append((site.name, None, None, None, str(e)))
            time.sleep(0.2)


def test_move_one_site_while_the_others_serve(fleet, platforms, move_web):
    others = [fleet.sites[n] for n in ("site1", "site2", "site3")]
    watcher = Watcher(move_web.port, others + [SCHOOL])
    backups = os.path.join(fleet.root, "bk-move")
    watcher.start()
    fleet.admin_login(True)             # --backup: a restore possible
    try:
        proc = move(fleet, "--backup", "--backup-dir", backups)
    finally:
        fleet.admin_login(False)
        watcher.stop.set()
        watcher.join()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "on platform 'next', upgraded, out of maintenance" in proc.stdout
    kept = re.search(r"backup (\S+) \(", proc.stdout)      # taken first, kept
    assert kept and os.path.exists(os.path.join(kept.group(1), "manifest.json")), \
        proc.stdout
    shutil.rmtree(backups)
    assert row_platform(fleet) == "next"
    nxt = str(version_of(platforms["next"]))
    # the others: served throughout from the default platform, each with
    # the code its database was made for, never sent to an upgrade page
    for name, status, got, login, where in watcher.seen:
        if name == SCHOOL.name:
            # in maintenance (503), or a version pair that agrees
            assert status == 503 or (status == 200 and got[0] == got[1]), (name, status, got)
            continue
        assert status == 200 and got[0] == got[1] and got[2] == fleet.code, (name, status, got)
        assert login == 200, (name, login, where)
    assert any(n == SCHOOL.name and s == 503 for n, s, *_ in watcher.seen)
    status, (code, db, dirroot) = probe(move_web.port, SCHOOL)
    assert status == 200 and code == db == nxt and dirroot == platforms["next"]
    b = Browser(move_web.port)
    b.login(SCHOOL.wwwroot, "admin", ADMIN_PASSWORD)
    assert b.get(SCHOOL.wwwroot + "/my/").status == 200
    listing = fleet.tool("vmoodlectl", "--config", "/dev/null", "--platforms",
                         fleet_platforms(fleet), "--moodle-dir", fleet.code,
                         "platforms")
    assert listing.returncode == 0, listing.stderr
    line = next(l for l in listing.stdout.splitlines() if l.startswith("next "))
    assert nxt in line and line.split()[3] == "1", line

"""A code update from start to end, as the README tells it: new code (here
the core $version of the fleet's code bumped), then `vmoodlectl upgrade
--all --jobs 2`: every site and the master upgraded, each alone in
maintenance while its upgrade runs, the others served meanwhile, and a
second run finds nothing to do.

The code update also brings a local plugin, local_vmbroken; then
`upgrade --all --backup` with its next version, whose upgrade step throws
on one site alone (site3, where its 'breakme' setting is on): that site
fails and stays in maintenance, the others are upgraded and serve, and the
`vmoodlectl restore ...` its summary line prints, run as printed, brings
it back as it was (serving, the admin logs in, its versions the old ones,
the same siteidentifier); the test then finishes its upgrade.

This changes the code for every later test: conftest runs this file last
but one, and the fleet it leaves is upgraded (nothing depends on the old
version).  test_platforms.py's second tree gets local_vmbroken too."""
import decimal
import os
import re
import shutil
import subprocess
import threading
import time

from browser import Browser
from fleetctl import command, summary, vmoodlectl
from moodle import ADMIN_PASSWORD

UPGRADE_TIMEOUT = 900

# A local plugin whose second version's upgrade step fails on a site
# whose 'breakme' setting is on, after changing that site's database.
PLUGIN = "local/vmbroken"
PLUGIN_V1, PLUGIN_V2 = 2025010100, 2025010200
PLUGIN_FILES = {
    "version.php": """<?php
defined('MOODLE_INTERNAL') || die();
$plugin->component = 'local_vmbroken';
$plugin->version = @VERSION@;
$plugin->requires = 2024100700;
""",
    "lang/en/local_vmbroken.php": """<?php
$string['pluginname'] = 'A deliberately broken upgrade step';
""",
    "db/upgrade.php": """<?php
defined('MOODLE_INTERNAL') || die();
function xmldb_local_vmbroken_upgrade($oldversion) {
    if ($oldversion < 2025010200) {
        set_config('stepran', 1, 'local_vmbroken');
        if (get_config('local_vmbroken', 'breakme')) {
            throw new coding_exception('local_vmbroken: a deliberately broken upgrade step');
        }
        upgrade_plugin_savepoint(true, 2025010200, 'local', 'vmbroken');
    }
    return true;
}
""",
}


def write_plugin(code, version):
    """local_vmbroken at version in the code tree code."""
    for rel, text in PLUGIN_FILES.items():
        path = os.path.join(code, PLUGIN, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text.replace("@VERSION@", str(version)))
        os.chmod(path, 0o644)
        os.chmod(os.path.dirname(path), 0o755)
    os.chmod(os.path.join(code, PLUGIN), 0o755)


def bump_core_version(code):
    """$version in version.php + 0.01 (a new build of the same release)."""
    path = os.path.join(code, "version.php")
    with open(path) as f:
        text = f.read()
    pattern = re.compile(r"(\$version\s*=\s*)(\d+\.\d+)")
    old = decimal.Decimal(pattern.search(text).group(2))
    new = old + decimal.Decimal("0.01")
    with open(path, "w") as f:
        f.write(pattern.sub(lambda m: m.group(1) + str(new), text, count=1))
    return old, new


def db_version(fleet, site):
    value = fleet.sql(site, "SELECT value FROM {p}config WHERE name = 'version'")
    return decimal.Decimal(value.strip())


def in_maintenance(site):
    return os.path.exists(os.path.join(site.dataroot, "climaintenance.html"))


class Watcher(threading.Thread):
    """While the upgrade runs: each site's page, with whether the site was
    in maintenance just before and just after the request."""

    def __init__(self, port, sites):
        super().__init__(daemon=True)
        self.port, self.sites = port, sites
        self.rounds = []                # [(site name, before, status, after)]
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.rounds.append([])
            for site in self.sites:
                before = in_maintenance(site)
                try:
                    status = Browser(self.port).get(site.wwwroot + "/login/index.php",
                                                    follow=False).status
                except OSError:
                    status = None
                self.rounds[-1].append((site.name, before, status,
                                        in_maintenance(site)))
            time.sleep(0.2)


def test_code_update_upgrades_every_site_one_at_a_time(fleet, event_web):
    sites = [s for s in fleet.sites.values() if s.install and s.enabled]
    old, new = bump_core_version(fleet.code)
    write_plugin(fleet.code, PLUGIN_V1)      # a new plugin in the update
    assert all(db_version(fleet, s) == old for s in sites)
    dry = vmoodlectl(fleet, "upgrade", "--all", "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert f"dry run: {len(sites)} site(s) would be upgraded" in dry.stdout
    assert all(db_version(fleet, s) == old for s in sites)

    watcher = Watcher(event_web.port, sites)
    watcher.start()
    try:
        proc = subprocess.run(command(fleet, "upgrade", "--all", "--jobs", 2),
                              capture_output=True, text=True, timeout=UPGRADE_TIMEOUT)
    finally:
        watcher.stop.set()
        watcher.join()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = summary(proc.stdout)
    assert list(rows)[0] == "master"
    assert {"master" if s.is_master else s.host for s in sites} <= set(rows)
    assert all(r[:2] == ("ok", "0") and "upgraded, out of maintenance" in r[2]
               for r in rows.values()), rows
    for site in sites:
        assert db_version(fleet, site) == new, site.name
        assert plugin_version(fleet, site) == PLUGIN_V1, site.name
        assert not in_maintenance(site), site.name
        assert Browser(event_web.port).get(site.wwwroot + "/login/index.php").status == 200

    # While a site was in maintenance its visitors got Moodle's 503, and
    # in the same moment another site was served as usual.
    down = [(name, status) for seen in watcher.rounds
            for name, before, status, after in seen if before and after]
    assert down and all(status == 503 for _, status in down), down
    both = [seen for seen in watcher.rounds
            if any(b and a for _, b, _, a in seen)
            and any(not b and not a and status == 200 for _, b, status, a in seen)]
    assert both, watcher.rounds[-5:]

    again = vmoodlectl(fleet, "upgrade", "--all", "--jobs", 2)
    assert again.returncode == 0, again.stdout + again.stderr
    assert all(r == ("ok", "3", "vmoodlectl: up to date")
               for r in summary(again.stdout).values()), again.stdout


def plugin_version(fleet, site):
    value = fleet.sql(site, "SELECT value FROM {p}config_plugins WHERE "
                      "plugin = 'local_vmbroken' AND name = 'version'")
    return int(value.strip() or 0)


def setting(fleet, site, name):
    return fleet.sql(site, "SELECT value FROM {p}config_plugins WHERE "
                     f"plugin = 'local_vmbroken' AND name = '{name}'").strip()


def set_breakme(fleet, site, value):
    code = ("define('CLI_SCRIPT', true); require('config.php'); "
            f"set_config('breakme', {value}, 'local_vmbroken'); echo 'ok';")
    proc = fleet.php_code(site, code)
    assert proc.stdout.endswith("ok"), proc.stdout + proc.stderr


def test_broken_plugin_upgrade_restored_by_the_printed_command(fleet, event_web):
    sites = [s for s in fleet.sites.values() if s.install and s.enabled]
    broken = fleet.sites["site3"]
    backups = os.path.join(fleet.root, "bk")     # short: the summary shows it whole
    before = {n: fleet.sql(broken, "SELECT value FROM {p}config WHERE name = "
                           f"'{n}'").strip() for n in ("version", "siteidentifier")}
    set_breakme(fleet, broken, 1)
    write_plugin(fleet.code, PLUGIN_V2)
    old, new = bump_core_version(fleet.code)   # and a new build of the core
    fleet.admin_login(True)                  # restore makes a database
    try:
        proc = vmoodlectl(fleet, "upgrade", "--all", "--jobs", 2, "--backup",
                          "--backup-dir", backups, timeout=UPGRADE_TIMEOUT)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "the master is left out" in proc.stdout   # no backup of it
        rows = summary(proc.stdout)
        assert "master" not in rows
        result, _, last = rows[broken.host]
        assert result == "FAILED", rows
        printed = re.fullmatch(r"to put it back: (vmoodlectl restore (\S+))", last)
        assert printed and printed.group(2).startswith(backups + "/"), rows
        assert in_maintenance(broken)
        assert Browser(event_web.port).get(broken.wwwroot + "/login/index.php",
                                           follow=False).status == 503
        for site in sites:
            if site is broken or site.is_master:
                continue
            key = site.host
            assert rows[key][:2] == ("ok", "0"), (key, rows[key])
            assert plugin_version(fleet, site) == PLUGIN_V2, site.name
            assert db_version(fleet, site) == new, site.name
            assert not in_maintenance(site), site.name
            assert Browser(event_web.port).get(
                site.wwwroot + "/login/index.php").status == 200, site.name
        assert setting(fleet, broken, "stepran") == "1"   # it changed the database

        argv = command(fleet, *printed.group(1).split()[1:])
        at = argv.index("--log-dir")                      # restore has no logs
        del argv[at:at + 2]
        back = subprocess.run(argv, capture_output=True, text=True,
                              timeout=UPGRADE_TIMEOUT)
        assert back.returncode == 0, back.stdout + back.stderr
        assert not in_maintenance(broken)
        b = Browser(event_web.port)
        b.login(broken.wwwroot, "admin", ADMIN_PASSWORD)
        assert b.get(broken.wwwroot + "/my/").status == 200
        for name, value in before.items():
            assert fleet.sql(broken, "SELECT value FROM {p}config WHERE name = "
                             f"'{name}'").strip() == value, name
        assert db_version(fleet, broken) == old
        assert plugin_version(fleet, broken) == PLUGIN_V1
        assert setting(fleet, broken, "stepran") == ""
    finally:
        fleet.admin_login(False)
        # the step no longer broken: site3 and the master upgraded too
        set_breakme(fleet, broken, 0)
        done = vmoodlectl(fleet, "upgrade", "--all", "--jobs", 2,
                          timeout=UPGRADE_TIMEOUT)
        shutil.rmtree(backups, ignore_errors=True)
    assert done.returncode == 0, done.stdout + done.stderr
    for site in sites:
        assert plugin_version(fleet, site) == PLUGIN_V2, site.name
        assert db_version(fleet, site) == new, site.name
        assert not in_maintenance(site), site.name

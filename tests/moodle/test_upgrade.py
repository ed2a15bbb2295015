"""A code update from start to end, as the README tells it: new code (here
the core $version of the fleet's code bumped), then `vmoodlectl upgrade
--all --jobs 2`: every site and the master upgraded, each alone in
maintenance while its upgrade runs, the others served meanwhile, and a
second run finds nothing to do.

This changes the code for every later test: conftest runs this file last,
and the fleet it leaves is upgraded (nothing depends on the old version)."""
import decimal
import os
import re
import subprocess
import threading
import time

from browser import Browser
from fleetctl import command, summary, vmoodlectl

UPGRADE_TIMEOUT = 900


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

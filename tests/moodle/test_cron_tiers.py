"""vcron's mode activity and the opcode file cache on real sites: an ad hoc
task queued on a site in the quietest tier runs within two ticks while a
quiet site with nothing queued is left alone, and a second CLI run compiles
nothing (the file cache's compiled files are all reused)."""
import json
import os
import time

from fleetctl import vmoodlectl
from test_tasks import adhoc_left, cron_counts, installed, queue_adhoc


def tiers_state(fleet):
    return os.path.join(fleet.root, "vcron-activity")


def vcron(fleet, *args):
    """vcron in mode activity with its own state and tier file (the locks
    are the fleet's: nothing runs twice beside the other tests' vcron)."""
    state = tiers_state(fleet)
    return fleet.vcron("--mode", "activity",
                       "--state-file", os.path.join(state, "vcron.state"),
                       "--tier-file", os.path.join(state, "tiers"),
                       "--jobs", "4", *args)


def queued(fleet, site):
    """What vcron's probe looks for, read independently."""
    now = int(time.time())
    adhoc = fleet.sql(site, "SELECT COUNT(*) FROM {p}task_adhoc "
                      f"WHERE nextruntime <= {now}").strip()
    soon = fleet.sql(site, "SELECT COUNT(*) FROM {p}task_scheduled WHERE "
                     "disabled = 0 AND nextruntime < lastruntime").strip()
    return int(adhoc) + int(soon) > 0


def test_adhoc_task_on_a_quiet_site_runs_within_two_ticks(fleet):
    sites = [s for s in installed(fleet) if not s.is_master]
    for site in sites:
        proc = vcron(fleet, "tier", site.host, "5")
        assert proc.returncode == 0, proc.stderr
    # Whatever was waiting runs now (never run here, or queued work).
    for _ in range(2):
        proc = vcron(fleet, "run")
        assert proc.returncode == 0, proc.stdout + proc.stderr
    status = vcron(fleet, "status", "--json")
    report = {i["shortname"]: i for i in json.loads(status.stdout)["instances"]}
    for site in sites:
        assert report[site.name]["tier"] == 5
        assert report[site.name]["tier_source"] == "override"
    site = fleet.sites["site1"]
    taskid = queue_adhoc(fleet, site)
    idle = [s for s in sites if s is not site and not queued(fleet, s)]
    before = cron_counts(fleet)
    for tick in range(2):
        proc = vcron(fleet, "run")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        if adhoc_left(fleet, site, taskid) == "0":
            break
    assert adhoc_left(fleet, site, taskid) == "0", proc.stdout + proc.stderr
    after = cron_counts(fleet)
    assert after[site.id] > before[site.id]
    # A quiet site with nothing queued was left alone.
    for s in idle:
        assert after[s.id] == before[s.id], s.name
    for site in sites:
        vcron(fleet, "tier", site.host, "auto")


def compiled(cache):
    """Each compiled file of the cache and its modification time.  Read from
    the files because opcache's own statistics do not exist here: in
    file_cache_only mode opcache_get_status() has no statistics (no hits,
    no misses; only opcache_enabled false and the cache's path)."""
    found = {}
    for d, _, files in os.walk(cache):
        for name in files:
            if name.endswith(".bin"):
                path = os.path.join(d, name)
                found[path] = os.stat(path).st_mtime_ns
    return found


def test_a_second_cli_run_compiles_nothing(fleet):
    cache = os.path.join(fleet.root, "opcache")
    args = ("run", "site1.test", "--", "admin/cli/cfg.php", "--name=release")
    first = vmoodlectl(fleet, *args)
    assert first.returncode == 0 and "4.5" in first.stdout, first.stderr
    filled = compiled(cache)
    # Moodle's code, compiled once for the web user, under the code tree's
    # directory: hundreds of files.
    assert len([p for p in filled if "/www-data/" in p]) > 100
    second = vmoodlectl(fleet, *args)
    assert second.returncode == 0 and second.stdout == first.stdout
    assert compiled(cache) == filled
    # vcron's crons use the same cache.
    proc = vcron(fleet, "run")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert any(p.endswith("/admin/cli/cron.php.bin") for p in compiled(cache))

"""Cron and tasks: vcron turns every site's cron (the master's too), and a
task's "Run now" runs the task on the site whose page started it."""
import json
import time
import urllib.parse

import pytest

from browser import Browser, sesskey
from moodle import ADMIN_PASSWORD, TABLE

SERVED = ["master", "site1", "site2", "site3"]
SCHEDULED = r"\core\task\session_cleanup_task"
ADHOC = r"\core\task\calendar_fix_orphaned_events"
DUE = r"\core\task\delete_unconfirmed_users_task"


def installed(fleet):
    return [s for s in fleet.sites.values() if s.install]


def last_run(fleet, site, task=None):
    """Latest lastruntime of site's scheduled tasks (of one task if given)."""
    where = f"WHERE classname = {task_literal(site, task)}" if task else ""
    out = fleet.sql(site, f"SELECT COALESCE(MAX(lastruntime), 0) FROM {{p}}task_scheduled {where}")
    return int(out.strip())


def cron_counts(fleet):
    out = fleet.master_sql(f"SELECT id, croncount FROM {TABLE} ORDER BY id")
    return {int(i): int(c) for i, c in (line.split("\t") for line in out.splitlines())}


def task_literal(site, task):
    return "'" + (task if site.dbkind == "pgsql" else task.replace("\\", "\\\\")) + "'"


def test_vcron_runs_the_cron_of_every_site_and_the_master(fleet):
    # A task due on every site, whatever ran a moment ago.
    for site in installed(fleet):
        fleet.sql(site, "UPDATE {p}task_scheduled SET nextruntime = 0 "
                  f"WHERE classname = {task_literal(site, DUE)}")
    before = {s.name: last_run(fleet, s, DUE) for s in installed(fleet)}
    counts = cron_counts(fleet)
    start = int(time.time())
    proc = fleet.vcron("run", "--master", "--jobs", "4", "--timeout", "600")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "selected=4 run=4 succeeded=4 failed=0" in proc.stdout, proc.stdout
    for site in installed(fleet):
        after = last_run(fleet, site, DUE)
        assert after > before[site.name] and after >= start, \
            f"{site.name}: no task ran in its database ({before[site.name]} -> {after})"
    # Figures in the table: one more cron for each enabled instance.
    now = cron_counts(fleet)
    for site in fleet.instances():
        assert now[site.id] == counts[site.id] + (1 if site.enabled else 0), site.name
    # The master's, which has no row, in vcron's own status.
    status = fleet.vcron("status", "--master", "--json")
    assert status.returncode == 0, status.stderr
    master = json.loads(status.stdout)["master"]
    assert master["croncount"] >= 1 and master["lastcron"] >= start, master


def run_now_scheduled(browser, site, task):
    query = urllib.parse.urlencode({"task": task})
    url = f"{site.wwwroot}/admin/tool/task/schedule_task.php?{query}"
    confirm = browser.get(url)
    assert confirm.status == 200 and "Run now" in confirm.text, confirm
    page = browser.get(url + "&" + urllib.parse.urlencode(
        {"confirm": 1, "sesskey": sesskey(confirm)}))
    assert page.status == 200, page
    return page


@pytest.mark.parametrize("name", SERVED)
def test_run_now_of_a_scheduled_task_runs_it_on_this_site(fleet, web, name):
    site = fleet.sites[name]
    others = [s for s in installed(fleet) if s.name != name]
    browser = Browser(web.port)
    browser.login(site.wwwroot, "admin", ADMIN_PASSWORD)
    before = last_run(fleet, site, SCHEDULED)
    others_before = {s.name: last_run(fleet, s, SCHEDULED) for s in others}
    time.sleep(1.1)               # lastruntime counts seconds
    page = run_now_scheduled(browser, site, SCHEDULED)
    assert "Scheduled task complete" in page.text, page.text[-3000:]
    assert last_run(fleet, site, SCHEDULED) > before
    # ... and on no other site.
    assert {s.name: last_run(fleet, s, SCHEDULED) for s in others} == others_before


def queue_adhoc(fleet, site):
    code = ("define('CLI_SCRIPT', true); require('config.php'); "
            f"$t = new {ADHOC}(); echo \\core\\task\\manager::queue_adhoc_task($t, true);")
    proc = fleet.php_code(site, code)
    assert proc.returncode == 0 and proc.stdout.strip().isdigit(), proc.stdout + proc.stderr
    return int(proc.stdout.strip())


def adhoc_left(fleet, site, taskid):
    return fleet.sql(site, f"SELECT COUNT(*) FROM {{p}}task_adhoc WHERE id = {taskid}").strip()


def adhoc_logged(fleet, site, since):
    return int(fleet.sql(site, "SELECT COUNT(*) FROM {p}task_log WHERE type = 1 "
                         f"AND classname LIKE '%calendar_fix_orphaned_events' "
                         f"AND timestart >= {since} AND result = 0").strip())


@pytest.mark.parametrize("name", SERVED)
def test_run_now_of_an_adhoc_task_runs_it_on_this_site(fleet, web, name):
    site = fleet.sites[name]
    taskid = queue_adhoc(fleet, site)
    assert adhoc_left(fleet, site, taskid) == "1"
    browser = Browser(web.port)
    browser.login(site.wwwroot, "admin", ADMIN_PASSWORD)
    since = int(time.time())
    url = f"{site.wwwroot}/admin/tool/task/run_adhoctasks.php?id={taskid}"
    confirm = browser.get(url)
    assert confirm.status == 200, confirm
    page = browser.get(url + "&" + urllib.parse.urlencode(
        {"confirm": 1, "sesskey": sesskey(confirm)}))
    assert page.status == 200, page
    # The task ran (and succeeded: it left the queue) in this site's database.
    assert adhoc_left(fleet, site, taskid) == "0", page.text[-3000:]
    assert adhoc_logged(fleet, site, since) == 1

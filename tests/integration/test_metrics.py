"""Per-site counters and the vmoodle-metrics endpoint: traffic of a known
shape gives exactly the expected counts per site and status class, under
both MPMs, across a graceful restart and a table change; the output passes
promtool and a real Prometheus scrapes it."""
import json
import os
import re
import shutil
import socket
import subprocess
import time

import yaml

import client
import prom
from apache import copy_readable, eventually, make_workdir
from instances import instance
from shipped import ROOT
from test_vcron import Rig, instance as vcron_instance

ALERTS = os.path.join(ROOT, "conf", "prometheus", "vmoodle-alerts.yml")
HERE = os.path.dirname(os.path.abspath(__file__))

METRICS = """
<Location /vmoodle-metrics>
    SetHandler vmoodle-metrics
    Require ip 127.0.0.1
</Location>
RewriteEngine On
RewriteRule "^/boom$" "-" [R=500]
RewriteRule "^/moved$" "/static.txt" [R=302]
"""

ROWS = [
    instance(1, "alpha.example.edu"),
    instance(2, "beta.example.edu", shortname='be"ta\\x'),
    instance(3, "gamma.example.edu"),
    instance(4, "off.example.edu", enabled=0),
]


def scrape(server, query=""):
    resp = client.get(server.port, "127.0.0.1", "/vmoodle-metrics" + query)
    assert resp.status == 200, resp.text
    assert resp.header("Content-Type").startswith("text/plain; version=0.0.4")
    assert "secret" not in resp.text
    return resp.text


def send(server, host, path, count, status):
    for _ in range(count):
        resp = client.get(server.port, host, path)
        assert resp.status == status, (host, path, resp.status)


def requests_of(samples, site, host):
    return {cls: prom.value(samples, "vmoodle_site_requests_total", site=site,
                            host=host, **{"class": cls})
            for cls in ("2xx", "3xx", "4xx", "5xx")}


def wait_counts(server, want):
    """Counting happens after the answer (log_transaction): wait for it."""
    def counts(text):
        s = prom.parse(text)
        return {site: requests_of(s, site, host) for site, host in want}
    return eventually(lambda: scrape(server), lambda t: counts(t) == want_counts(want),
                      10, "the expected counts")


def want_counts(want):
    return {site: classes for (site, _), classes in want.items()}


def c(ok=0, moved=0, missing=0, failed=0):
    return {"2xx": ok, "3xx": moved, "4xx": missing, "5xx": failed}


def first_round(server):
    send(server, "alpha.example.edu", "/static.txt", 5, 200)
    send(server, "alpha.example.edu", "/nothing-here", 3, 404)
    send(server, "beta.example.edu", "/boom", 2, 500)
    send(server, "beta.example.edu", "/moved", 1, 302)
    send(server, "gamma.example.edu", "/static.txt", 1, 200)


def refusals(server):
    send(server, "nobody.example.edu", "/", 2, 404)
    send(server, "off.example.edu", "/", 1, 503)
    send(server, ".".join(["a" * 60] * 5), "/", 1, 400)


def test_counts_survive_restart_and_table_change(start_vmoodle):
    server = start_vmoodle(ROWS, extra=METRICS)
    first_round(server)
    refusals(server)
    beta = ('be"ta\\x', "beta.example.edu")
    text = wait_counts(server, {("alpha", "alpha.example.edu"): c(5, 0, 3),
                                beta: c(0, 1, 0, 2),
                                ("gamma", "gamma.example.edu"): c(1)})
    samples = prom.parse(text)
    for reason, n in (("unknown_host", 2), ("disabled", 1), ("bad_host", 1)):
        assert prom.value(samples, "vmoodle_refusals_total", reason=reason) == n
    assert prom.value(samples, "vmoodle_site_enabled", site="off",
                      host="off.example.edu") == 0
    assert prom.value(samples, "vmoodle_site_sent_bytes_total", site="alpha",
                      host="alpha.example.edu") > 0
    assert prom.value(samples, "vmoodle_site_request_duration_seconds_count",
                      site="alpha", host="alpha.example.edu") == 8
    assert prom.value(samples, "vmoodle_site_request_duration_seconds_bucket",
                      site="alpha", host="alpha.example.edu", le="+Inf") == 8

    server.graceful()
    send(server, "alpha.example.edu", "/static.txt", 2, 200)
    wait_counts(server, {("alpha", "alpha.example.edu"): c(7, 0, 3),
                         beta: c(0, 1, 0, 2)})

    # gamma leaves, delta comes, beta is renamed: figures follow the row's id
    rows = [ROWS[0], instance(2, "beta.example.edu", shortname="beta2"),
            ROWS[3], instance(5, "delta.example.edu")]
    generation = prom.value(prom.parse(scrape(server)), "vmoodle_table_generation")
    server.write(rows)
    eventually(lambda: prom.value(prom.parse(scrape(server)), "vmoodle_table_generation"),
               lambda g: g > generation, 15, "a new generation")
    send(server, "delta.example.edu", "/static.txt", 4, 200)
    send(server, "beta.example.edu", "/boom", 1, 500)
    text = wait_counts(server, {("alpha", "alpha.example.edu"): c(7, 0, 3),
                                ("beta2", "beta.example.edu"): c(0, 1, 0, 3),
                                ("delta", "delta.example.edu"): c(4)})
    samples = prom.parse(text)
    assert not any(name == "vmoodle_site_requests_total" and ("site", "gamma") in labels
                   for name, labels in samples)
    # the fleet's totals keep what gamma had
    assert prom.value(samples, "vmoodle_requests_total", **{"class": "2xx"}) == 7 + 1 + 4
    assert prom.value(samples, "vmoodle_requests_total", **{"class": "5xx"}) == 3
    code, report = prom.check_metrics(text)
    assert code == 0, report


ROUTED_ROWS = [
    instance(1, "example.edu", shortname="root"),
    instance(2, "example.edu/school1", shortname="school1"),
    instance(3, "next.example.edu", shortname="onnext", platform="next",
             aliases="old.example.edu example.edu/old3"),
    instance(4, "example.edu/school2", shortname="school2", platform="next"),
]


def test_path_and_platform_sites_counted_aliases_not(start_vmoodle):
    """A site under a path and a site on a named platform are counted for
    themselves (an error document's internal redirect once, with its final
    status); an alias's 301 (and a path asked for without its slash) is the
    module's answer, counted for no site."""
    work = make_workdir("vmoodle-metrics-platform-")
    try:
        tree = os.path.join(work, "next")
        copy_readable(os.path.join(HERE, "site"), tree)
        copy_readable(os.path.join(HERE, "platform"), tree)
        with open(os.path.join(tree, "only-next.txt"), "w") as f:
            f.write("the next tree\n")
        os.chmod(os.path.join(tree, "only-next.txt"), 0o644)
        conf = os.path.join(work, "platforms.conf")
        with open(conf, "w") as f:
            f.write(f"next = {tree}\n")
        os.chmod(conf, 0o644)
        server = start_vmoodle(
            ROUTED_ROWS, directives=f"VMoodlePlatforms {conf}\n",
            extra=METRICS + f'<Directory "{work}">\n    Require all granted\n'
                            f'    ErrorDocument 404 /probe.php\n</Directory>\n')
        send(server, "example.edu", "/school1/static.txt", 3, 200)
        send(server, "example.edu", "/school1/nothing-here", 2, 404)
        send(server, "example.edu", "/school1", 1, 301)
        send(server, "example.edu", "/static.txt", 1, 200)
        send(server, "next.example.edu", "/only-next.txt", 4, 200)
        send(server, "next.example.edu", "/nothing-here", 1, 404)
        send(server, "old.example.edu", "/only-next.txt", 2, 301)
        send(server, "example.edu", "/old3/x", 1, 301)
        send(server, "example.edu", "/school2/only-next.txt", 2, 200)
        # an internal redirect (the tree's ErrorDocument) counts once, as 404
        send(server, "example.edu", "/school2/nothing-here", 1, 404)
        text = wait_counts(server, {("root", "example.edu"): c(1),
                                    ("school1", "example.edu/school1"): c(3, 0, 2),
                                    ("onnext", "next.example.edu"): c(4, 0, 1),
                                    ("school2", "example.edu/school2"): c(2, 0, 1)})
        samples = prom.parse(text)
        assert prom.value(samples, "vmoodle_requests_total", **{"class": "3xx"}) == 0
        info = {dict(l)["site"]: dict(l)["platform"]
                for n, l in samples if n == "vmoodle_site_info"}
        assert info == {"root": "", "school1": "", "onnext": "next", "school2": "next"}
        assert prom.value(samples, "vmoodle_site_info", site="onnext",
                          host="next.example.edu", id="3", platform="next") == 1
        code, report = prom.check_metrics(text)
        assert code == 0, report
    finally:
        shutil.rmtree(work, ignore_errors=True)


SPLIT_LOGFILE = "/usr/sbin/split-logfile"      # Apache's (package apache2)


def shipped_log_format():
    """conf/vmoodle.conf's LogFormat string."""
    with open(os.path.join(ROOT, "conf", "vmoodle.conf")) as f:
        [fmt] = re.findall(r'^\s*LogFormat (".*") vmoodle$', f.read(), re.M)
    return fmt


def test_split_logfile_makes_one_log_per_site(start_vmoodle):
    """The shipped LogFormat's first field is a name split-logfile keeps:
    a root site, a site under a path (whose host key has a "/") and an
    unknown host each get their own file."""
    work = make_workdir("vmoodle-splitlog-")
    try:
        log = os.path.join(work, "vmoodle_access.log")
        server = start_vmoodle(ROUTED_ROWS[:2], extra=(
            f"LogFormat {shipped_log_format()} shipped\nCustomLog \"{log}\" shipped\n"))
        send(server, "example.edu", "/static.txt", 2, 200)
        send(server, "example.edu", "/school1/static.txt", 3, 200)
        send(server, "nobody.example.edu", "/static.txt", 1, 404)
        eventually(lambda: open(log).read(), lambda t: t.count("\n") == 6, 10,
                   "six lines in the access log")
        split = os.path.join(work, "sites")
        os.mkdir(split)
        with open(log) as f:
            subprocess.run([SPLIT_LOGFILE], stdin=f, cwd=split, check=True, timeout=60)
        logs = {}
        for name in os.listdir(split):
            with open(os.path.join(split, name)) as f:
                logs[name] = f.read().splitlines()
        assert sorted(logs) == ["-.log", "1.log", "2.log"], logs
        assert len(logs["1.log"]) == 2 and len(logs["2.log"]) == 3, logs
        assert all(l.startswith("example.edu 127.0.0.1 ") and '"root"' in l
                   for l in logs["1.log"]), logs
        assert all(l.startswith("example.edu/school1 127.0.0.1 ")
                   and "GET /school1/static.txt" in l and l.endswith('"school1"')
                   for l in logs["2.log"]), logs
        [unknown] = logs["-.log"]
        assert '" 404 ' in unknown, unknown
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_master_counted_as_a_site_of_its_own(start_vmoodle, reachable_dir):
    """The master's requests (VMoodleMaster) are counted as a site "master"
    with id 0, as vcron names it; its host label is its VMoodleMaster, its
    cron figures vcron's records of its runs."""
    runs = os.path.join(reachable_dir, "cron-runs")
    server = start_vmoodle(ROWS, directives="VMoodleMaster master.example.edu\n",
                           extra=METRICS + f"VMoodleCronRuns {runs}\n")
    send(server, "master.example.edu", "/static.txt", 3, 200)
    send(server, "Master.Example.Edu", "/nothing-here", 1, 404)
    send(server, "alpha.example.edu", "/static.txt", 1, 200)
    text = wait_counts(server, {("master", "master.example.edu"): c(3, 0, 1),
                                ("alpha", "alpha.example.edu"): c(1)})
    samples = prom.parse(text)
    master = {"site": "master", "host": "master.example.edu"}
    assert prom.value(samples, "vmoodle_site_info", id="0", platform="", **master) == 1
    assert prom.value(samples, "vmoodle_site_enabled", **master) == 1
    assert prom.value(samples, "vmoodle_uncounted_requests_total") == 0
    assert prom.value(samples, "vmoodle_requests_total", **{"class": "2xx"}) == 4
    # no cron figures of its own until vcron records a run of it
    assert prom.value(samples, "vmoodle_site_cron_runs_total", **master) is None
    assert prom.value(samples, "vmoodle_metrics_sites_listed") == 5
    only = prom.parse(scrape(server, "?site=master"))
    assert {dict(l)["site"] for n, l in only if n == "vmoodle_site_enabled"} == {"master"}
    code, report = prom.check_metrics(text)
    assert code == 0, report

    os.mkdir(os.path.join(reachable_dir, "rig"))
    rig = Rig(os.path.join(reachable_dir, "rig"), count=1)
    rig.control("master", "fail")
    proc = rig.run("--runs-file", runs, "run", "--master")
    assert proc.returncode == 1, proc.stderr
    samples = prom.parse(scrape(server, "?site=master"))
    assert prom.value(samples, "vmoodle_site_cron_runs_total", **master) == 1
    assert prom.value(samples, "vmoodle_site_cron_failures_total", **master) == 1
    assert prom.value(samples, "vmoodle_site_cron_last_exit_code", **master) == 3
    assert prom.value(samples, "vmoodle_site_cron_last_success", **master) == 0
    assert prom.value(samples, "vmoodle_site_cron_last_run_timestamp_seconds",
                      **master) > 1.7e9
    assert prom.value(samples, "vmoodle_site_cron_last_gap_seconds", **master) is None


def test_site_filter_and_cap(start_vmoodle):
    server = start_vmoodle(ROWS, extra=METRICS + "VMoodleMetricsMaxSites 2\n")
    samples = prom.parse(scrape(server, "?site=alpha&site=gamma.example.edu"))
    sites = {dict(l)["site"] for n, l in samples if n == "vmoodle_site_enabled"}
    assert sites == {"alpha", "gamma"}
    samples = prom.parse(scrape(server, "?match=^(alpha|off)"))
    sites = {dict(l)["site"] for n, l in samples if n == "vmoodle_site_enabled"}
    assert sites == {"alpha", "off"}
    samples = prom.parse(scrape(server))
    assert prom.value(samples, "vmoodle_metrics_sites_listed") == 2
    assert prom.value(samples, "vmoodle_metrics_sites_omitted") == 2
    bad = client.get(server.port, "127.0.0.1", "/vmoodle-metrics?match=(")
    assert bad.status == 400


def test_table_figures(start_vmoodle):
    server = start_vmoodle(ROWS, extra=METRICS)
    samples = prom.parse(scrape(server))
    assert prom.value(samples, "vmoodle_table_sites") == 4
    assert prom.value(samples, "vmoodle_table_loaded") == 1
    assert prom.value(samples, "vmoodle_table_source_up") == 1
    assert prom.value(samples, "vmoodle_table_generation") >= 1
    assert prom.value(samples, "vmoodle_table_last_success_timestamp_seconds") > 1.7e9


def samples_when(server, check, what):
    """The page's samples once check(samples) holds."""
    return prom.parse(eventually(lambda: scrape(server), lambda t: check(prom.parse(t)),
                                 15, what))


def test_source_down_keeps_the_last_success(start_vmoodle):
    server = start_vmoodle(ROWS, extra=METRICS)
    server.expect_error(r"VM\d{5}")          # the module reports the broken source
    before = prom.parse(scrape(server))
    last_ok = prom.value(before, "vmoodle_table_last_success_timestamp_seconds")
    assert prom.value(before, "vmoodle_table_source_up") == 1 and last_ok > 1.7e9
    with open(server.table, "w") as f:
        f.write('[{"id": 1, "vhostname": ')   # truncated JSON
    after = samples_when(server, lambda s: prom.value(s, "vmoodle_table_source_up") == 0,
                         "the source down")
    assert prom.value(after, "vmoodle_table_last_success_timestamp_seconds") == last_ok
    assert prom.value(after, "vmoodle_table_loaded") == 1
    assert prom.value(after, "vmoodle_table_sites") == 4
    assert prom.value(after, "vmoodle_table_generation") == \
        prom.value(before, "vmoodle_table_generation")
    send(server, "alpha.example.edu", "/static.txt", 1, 200)   # still served


def test_requests_without_table_counted(start_vmoodle, tmp_path):
    server = start_vmoodle([], extra=METRICS, source=f"json:{tmp_path}/missing.json")
    server.expect_error("VM00007")
    send(server, "alpha.example.edu", "/static.txt", 3, 503)
    samples = samples_when(
        server, lambda s: prom.value(s, "vmoodle_requests_without_table_total") == 3,
        "three requests without a table")
    assert prom.value(samples, "vmoodle_table_loaded") == 0
    assert prom.value(samples, "vmoodle_table_source_up") == 0
    assert prom.value(samples, "vmoodle_table_last_success_timestamp_seconds") == 0
    assert prom.value(samples, "vmoodle_refusals_total", reason="unknown_host") == 0
    assert prom.value(samples, "vmoodle_metrics_sites_listed") == 0
    text = scrape(server)
    code, report = prom.check_metrics(text)
    assert code == 0, report


def test_site_of_a_missing_platform_is_refused_and_counted(start_vmoodle):
    rows = ROWS[:1] + [instance(5, "lost.example.edu", shortname="lost",
                                platform="nosuch")]
    server = start_vmoodle(rows, extra=METRICS)
    server.expect_error(r"VM00150: instance id 5: platform 'nosuch' is not in "
                        r"VMoodlePlatforms")
    send(server, "lost.example.edu", "/static.txt", 2, 503)
    send(server, "alpha.example.edu", "/static.txt", 1, 200)
    samples = samples_when(
        server, lambda s: prom.value(s, "vmoodle_refusals_total", reason="no_platform") == 2,
        "two refusals for a missing platform")
    for reason in ("unknown_host", "disabled", "bad_host"):
        assert prom.value(samples, "vmoodle_refusals_total", reason=reason) == 0
    assert requests_of(samples, "lost", "lost.example.edu") == c()    # not the site's
    assert prom.value(samples, "vmoodle_site_info", site="lost", host="lost.example.edu",
                      id="5", platform="nosuch") == 1


def test_full_counter_block(start_vmoodle):
    """VMoodleMetricsSites 2 and 4 sites: two have counters, the requests
    of the others are counted together as uncounted, and VM00122 says so."""
    server = start_vmoodle(ROWS, directives="VMoodleMetricsSites 2\n", extra=METRICS)
    assert re.search(r"\[vmoodle:warn\].*VM00122: table .*: 2 sites have no counters "
                     r"\(VMoodleMetricsSites 2 is full\)", server.errors_text()), \
        server.errors_text()
    for host in ("alpha", "beta", "gamma"):
        send(server, f"{host}.example.edu", "/static.txt", 2, 200)
    samples = samples_when(
        server, lambda s: prom.value(s, "vmoodle_uncounted_requests_total") > 0,
        "uncounted requests")
    counted = {dict(l)["site"] for n, l in samples
               if n == "vmoodle_site_requests_total"}
    assert len(counted) == 2, counted
    served = {"alpha", 'be"ta\\x', "gamma"}
    # a request is counted after its answer (log_transaction): wait for all
    samples = samples_when(
        server, lambda s: prom.value(s, "vmoodle_uncounted_requests_total")
        == 2 * len(served - counted) and prom.value(
            s, "vmoodle_requests_total", **{"class": "2xx"})
        == 2 * len(served & counted), "every request counted or uncounted")
    assert prom.value(samples, "vmoodle_metrics_sites_capacity") == 2
    assert prom.value(samples, "vmoodle_metrics_sites_listed") == 4
    # every site is listed still (its state, its cron), without counters
    assert len([1 for n, _ in samples if n == "vmoodle_site_enabled"]) == 4


def shipped_scrape_job(target):
    """conf/'s scrape job, pointed at this server."""
    with open(os.path.join(ROOT, "conf", "prometheus", "vmoodle-scrape.yml")) as f:
        job = yaml.safe_load(f)["scrape_configs"][0]
    job["static_configs"] = [{"targets": [target]}]
    job["scrape_interval"], job["scrape_timeout"] = "1s", "1s"
    return job


def dashboard_queries():
    with open(os.path.join(ROOT, "conf", "grafana", "vmoodle-dashboard.json")) as f:
        dash = json.load(f)
    return [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]


def test_real_prometheus_scrapes_a_site_counter(start_vmoodle):
    server = start_vmoodle(ROWS, extra=METRICS)
    send(server, "gamma.example.edu", "/nothing-here", 6, 404)
    target = f"127.0.0.1:{server.port}"
    p = prom.Prometheus([shipped_scrape_job(target)])
    try:
        result = prom.eventually_query(
            p, 'vmoodle_site_requests_total{site="gamma",class="4xx"}',
            lambda r: len(r) == 1 and r[0][1] == 6)
        assert result[0][0]["host"] == "gamma.example.edu"
        up = prom.eventually_query(p, "up", lambda r: r and r[0][1] == 1)
        assert up[0][0]["instance"] == target
        # every query of the shipped dashboard runs, on metrics the page has
        names = prom.family_names(scrape(server))
        for expr in dashboard_queries():
            used = set(re.findall(r"vmoodle_[a-z_]+", expr))
            assert used <= names, (expr, used - names)
            p.query(expr.replace("$site", "gamma").replace("$node", ".*"))
    finally:
        p.stop()


def test_alert_rules_logic(tmp_path):
    """promtool test rules: conf/'s rules against series of known shape."""
    shutil.copy(ALERTS, tmp_path)
    test = shutil.copy(os.path.join(os.path.dirname(__file__),
                                    "vmoodle-alerts-test.yml"), tmp_path)
    proc = subprocess.run([prom.PROMTOOL, "test", "rules", test], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_failing_cron_recorded_and_its_alert_fires(start_vmoodle):
    """vcron records each run (duration, exit, timeout); the page shows it;
    conf/'s VMoodleCronFailing fires in a real Prometheus for that site."""
    work = make_workdir("vmoodle-runs-")
    try:
        os.mkdir(os.path.join(work, "rig"))
        rig = Rig(os.path.join(work, "rig"), count=3)
        runs = os.path.join(work, "cron-runs")
        server = start_vmoodle([vcron_instance(i) for i in (1, 2, 3)],
                               extra=METRICS + f"VMoodleCronRuns {runs}\n")
        rig.control(1, "hang")
        rig.control(2, "fail")
        proc = rig.run("--per-tick", "3", "--timeout", "1", "--grace", "1",
                       "--runs-file", runs, "run")
        assert proc.returncode == 1, proc.stderr
        assert oct(os.stat(runs).st_mode & 0o777) == "0o644"
        s = prom.parse(scrape(server))
        site = {i: {"site": f"s{i}", "host": f"site{i}.example.edu"} for i in (1, 2, 3)}
        assert prom.value(s, "vmoodle_site_cron_timeouts_total", **site[1]) == 1
        assert prom.value(s, "vmoodle_site_cron_last_exit_code", **site[1]) == -1
        assert prom.value(s, "vmoodle_site_cron_failures_total", **site[2]) == 1
        assert prom.value(s, "vmoodle_site_cron_last_exit_code", **site[2]) == 3
        assert prom.value(s, "vmoodle_site_cron_last_success", **site[3]) == 1
        assert prom.value(s, "vmoodle_site_cron_failures_total", **site[3]) == 0
        assert prom.value(s, "vmoodle_site_cron_last_duration_seconds", **site[1]) >= 1
        # a page with the table's cron figures and vcron's run records passes
        assert prom.value(s, "vmoodle_site_cron_runs_total", **site[3]) is not None
        code, report = prom.check_metrics(scrape(server))
        assert code == 0, report
        # the shipped rules, their waits ("for:") cut to nothing
        rules = os.path.join(work, "alerts.yml")
        with open(ALERTS) as f:
            text = re.sub(r"for: \S+", "for: 0s", f.read())
        with open(rules, "w") as f:
            f.write(text)
        p = prom.Prometheus([{"job_name": "vmoodle", "metrics_path": "/vmoodle-metrics",
                              "static_configs": [{"targets": [f"127.0.0.1:{server.port}"]}]}],
                            rule_files=[rules])
        try:
            firing = prom.eventually_query(
                p, 'ALERTS{alertname="VMoodleCronFailing",alertstate="firing"}',
                lambda r: len(r) == 2)
            assert {m["site"] for m, _ in firing} == {"s1", "s2"}
        finally:
            p.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def next_second():
    """Wait for the clock's next second: run records keep whole seconds."""
    now = int(time.time())
    for _ in range(40):
        if int(time.time()) > now:
            return
        time.sleep(0.05)


def test_run_records_of_several_cron_hosts_merged(start_vmoodle):
    """Two cron hosts, a runs file each on shared storage (runs-file with
    %h, the host's name); VMoodleCronRuns with a glob merges them: counts
    summed, the last run the newest. A cron that failed on one host and
    then ran fine on the other is not failing."""
    work = make_workdir("vmoodle-runs-hosts-")
    try:
        hosts = {}
        for name in ("a", "b"):
            os.mkdir(os.path.join(work, name))
            hosts[name] = Rig(os.path.join(work, name), count=2)
        shared = os.path.join(work, "shared")
        os.mkdir(shared, 0o755)
        server = start_vmoodle([vcron_instance(i) for i in (1, 2)],
                               extra=METRICS + f"VMoodleCronRuns {shared}/cron-runs.*\n")
        hosts["a"].control(1, "fail")
        proc = hosts["a"].run("--runs-file", f"{shared}/cron-runs.%h", "run")
        assert proc.returncode == 1, proc.stderr
        assert os.path.exists(f"{shared}/cron-runs.{socket.gethostname()}")
        site = {i: {"site": f"s{i}", "host": f"site{i}.example.edu"} for i in (1, 2)}
        s = prom.parse(scrape(server))
        assert prom.value(s, "vmoodle_site_cron_last_success", **site[1]) == 0
        next_second()
        proc = hosts["b"].run("--runs-file", f"{shared}/cron-runs.hostb", "run")
        assert proc.returncode == 0, proc.stderr
        s = prom.parse(scrape(server))
        assert prom.value(s, "vmoodle_site_cron_failures_total", **site[1]) == 1
        assert prom.value(s, "vmoodle_site_cron_last_success", **site[1]) == 1
        assert prom.value(s, "vmoodle_site_cron_last_exit_code", **site[1]) == 0
        assert prom.value(s, "vmoodle_site_cron_failures_total", **site[2]) == 0
        for i in (1, 2):
            assert prom.value(s, "vmoodle_site_cron_timeouts_total", **site[i]) == 0
        code, report = prom.check_metrics(scrape(server))
        assert code == 0, report
    finally:
        shutil.rmtree(work, ignore_errors=True)

"""Usage and quotas end to end: `vmoodlectl usage` measures stand-in sites
(real databases, test_vmoodlectl_lifecycle's Site) and records each one's
bytes and quota in its usage file; a real Apache reads it (VMoodleUsage)
and marks the sites at or over 85% of their quota, and over it, on the
status page (HTML, ?json, ?summary) and the metrics page.  A dataroot is
measured without following a link out of it."""
import json
import os
import re
import subprocess

import client
import prom
import pytest

from dbservers import mysql_server, pg_server  # noqa: F401
from test_vmoodlectl import only_on, server, write  # noqa: F401
from test_vmoodlectl_lifecycle import Site, quotas_at, web_owned

METRICS = """
<Location /vmoodle-metrics>
    SetHandler vmoodle-metrics
    Require ip 127.0.0.1
</Location>
"""


@pytest.fixture
def sites(tmp_path, server):
    s = Site(tmp_path, server)
    s.add("two")
    s.add("three")
    return s


def page(server, query):
    resp = client.get(server.port, "127.0.0.1", "/vmoodle-status" + query)
    assert resp.status == 200, resp.text
    return resp


def html_row(text, host):
    return next(r for r in text.split("<tr>") if f"<td>{host}</td>" in r)


@only_on("pgsql")
def test_status_page_marks_sites_at_85_percent_and_over_quota(
        sites, start_vmoodle):
    quotas, used = quotas_at(sites, {"one.test": 90, "two.test": 200,
                                     "three.test": 10})
    figures = os.path.join(sites.root, "usage")
    proc = sites.ctl("--quota-file", quotas, "--usage-file", figures,
                     "usage", "--jobs", "2")
    assert proc.returncode == 3, proc.stdout + proc.stderr  # two: over
    assert oct(os.stat(figures).st_mode & 0o777) == "0o644"
    server = start_vmoodle(sites.rows, extra=METRICS + f"VMoodleUsage {figures}\n")

    status = page(server, "?json").json()
    got = {i["host"]: i for i in status["instances"]}
    assert got["one.test"]["quota"] == "warning"
    assert 85 <= got["one.test"]["quota_percent"] < 100
    assert got["two.test"]["quota"] == "over"
    assert got["two.test"]["quota_percent"] > 100
    assert got["three.test"]["quota"] == "ok"
    for host, i in got.items():
        assert i["usage_bytes"] == i["dataroot_bytes"] + i["database_bytes"]
        assert abs(i["usage_bytes"] - used[host]) < 64 * 1024
        assert i["usage_measured"] > 0
    assert (status["quota_warning"], status["quota_over"]) == (2, 1)
    # counted over every matching site, not only the page shown
    one = page(server, "?json&per_page=1&page=3").json()
    assert len(one["instances"]) == 1
    assert (one["quota_warning"], one["quota_over"]) == (2, 1)
    summary = page(server, "?summary").json()
    assert (summary["quota_warning"], summary["quota_over"]) == (2, 1)

    text = page(server, "").text
    assert "2 at or over 85%, 1 over quota" in text
    assert "WARNING" in html_row(text, "one.test")
    assert "OVER QUOTA" in html_row(text, "two.test")
    row = html_row(text, "three.test")
    assert "WARNING" not in row and "OVER" not in row and "(10%)" in row

    resp = client.get(server.port, "127.0.0.1", "/vmoodle-metrics")
    samples = prom.parse(resp.text)
    for n, host in ((1, "one.test"), (2, "two.test")):
        labels = {"site": ["one", "two"][n - 1], "host": host}
        assert prom.value(samples, "vmoodle_site_usage_bytes",
                          **labels) == got[host]["usage_bytes"]
        assert prom.value(samples, "vmoodle_site_quota_bytes",
                          **labels) == got[host]["quota_bytes"]
    code, report = prom.check_metrics(resp.text)
    assert code == 0, report

    # the check says the same from its own measurement
    proc = sites.ctl("--quota-file", quotas, "check", "--no-dns")
    lines = {l.split()[0]: l for l in proc.stdout.splitlines() if " dns: " in l}
    assert re.search(r"WARN .*quota: warning: \d+% of ", lines["one.test"])
    assert re.search(r"WARN .*quota: over quota: \d+% of ", lines["two.test"])


@only_on("pgsql")
def test_a_later_run_keeps_the_figures_of_sites_it_did_not_measure(
        sites, start_vmoodle):
    figures = os.path.join(sites.root, "usage")
    quotas = os.path.join(sites.root, "quotas")
    write(quotas, b"default = 1T\n")
    assert sites.ctl("--usage-file", figures, "--quota-file", quotas,
                     "usage").returncode == 0
    write(quotas, b"one.test = 1K\ndefault = 1T\n")
    assert sites.ctl("--usage-file", figures, "--quota-file", quotas,
                     "usage", "one.test").returncode == 3
    server = start_vmoodle(sites.rows, extra=f"VMoodleUsage {figures}\n")
    got = {i["host"]: i for i in page(server, "?json").json()["instances"]}
    assert got["one.test"]["quota"] == "over"
    assert got["two.test"]["quota"] == "ok"
    assert got["three.test"]["quota_bytes"] == 1 << 40


def du(path):
    out = subprocess.run(["du", "-s", "-B1", path], check=True,
                         capture_output=True, text=True).stdout
    return int(out.split()[0])


@only_on("pgsql")
def test_a_link_out_of_the_dataroot_is_not_counted(sites):
    """A tenant links a big file and a folder holding it into its dataroot:
    usage counts the links themselves (their own blocks), as du does, not
    what they reach."""
    outside = os.path.join(sites.root, "outside")
    os.makedirs(outside)
    big = os.path.join(outside, "big.bin")
    with open(big, "wb") as f:
        f.write(os.urandom(1 << 20) * 8)  # 8 MiB of real blocks
    dataroot = sites.rows[0]["vdatapath"]
    os.symlink(big, os.path.join(dataroot, "filedir", "big.bin"))
    os.symlink(outside, os.path.join(dataroot, "repository"))
    web_owned(dataroot)
    proc = sites.ctl("usage", "one.test", "--json")
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)[0]
    assert got["dataroot_bytes"] == du(dataroot) < 1 << 20
    assert du(big) >= 8 << 20

    # a dataroot that is itself a link is not measured at all
    os.rename(dataroot, dataroot + ".real")
    os.symlink(outside, dataroot)
    proc = sites.ctl("usage", "one.test", "two.test", "--json")
    assert proc.returncode == 1, proc.stderr
    rows = {r["site"]: r for r in json.loads(proc.stdout)}
    assert "symbolic link" in rows["one.test"]["error"]
    assert "dataroot_bytes" not in rows["one.test"]
    assert rows["two.test"]["dataroot_bytes"] > 0

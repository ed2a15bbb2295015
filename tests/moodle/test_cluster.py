"""Several web nodes behind a balancer, with real Moodle (issue 15,
docs/scale-out.md): HAProxy with TLS on 127.0.0.1 in front of two nodes
(conf/vmoodle-node.conf: Apache event + mod_vmoodle + php-fpm) on 127.0.0.2
and 127.0.0.3, serving the installed fleet from one codebase with
config.php's CLUSTER section on (tests/integration/cluster.py): sessions in
one Redis under a prefix per site, a local cache per node and site.

The fleet's table has http:// and https:// sites, so the balancer's plain
port does not send everything to https (conf/haproxy.cfg says to drop that
line then): an https site must then refuse plain http itself.

Figures are printed (pytest -s) and written to $VMOODLE_FIGURES/
cluster-moodle.json when that is set (docs/scale-out.md quotes one run)."""
import html
import json
import os
import re
import time

import pytest

from apache import eventually
from browser import BalancerBrowser, title
from cluster import Cluster
from moodle import ADMIN_PASSWORD, PHP_SETTINGS, TABLE, bad_log_lines

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason=(
    "the nodes share one codebase, each with its own config.php mounted in "
    "a mount namespace of its own: needs root"))


FIGURES = {}
ALIASED = "site3"                 # an https site: its alias needs a certificate name


def note(name, figures):
    FIGURES[name] = figures
    print(f"\n{name}:", json.dumps(figures))


@pytest.fixture(scope="module")
def cluster(fleet):
    started = time.monotonic()
    c = Cluster(source=fleet.source, codebase=fleet.code, table=TABLE,
                master=fleet.master().host, php_settings=PHP_SETTINGS,
                master_config=fleet.master_config,
                names=[s.host for s in fleet.sites.values()]
                + ["www." + fleet.sites[ALIASED].host], redirect_http=False,
                refresh=2)
    note("set_up_s", round(time.monotonic() - started, 1))
    yield c
    if os.environ.get("VMOODLE_FIGURES"):
        with open(os.path.join(os.environ["VMOODLE_FIGURES"], "cluster-moodle.json"),
                  "w") as f:
            json.dump(FIGURES, f, indent=1)
    bad = []
    for node in c.nodes:
        node.stop()
        text = node.server.errors_text()
        bad += bad_log_lines(text, node.server.access_text())
        print(f"--- error log of {node.name} ---\n{text[-4000:]}")
    c.cleanup()
    assert not bad, "unexpected log lines:\n  " + "\n  ".join(bad)


def logged_in(page, site):
    return (page.status == 200 and title(page) == f"Dashboard | {site.name}"
            and "/login/logout.php" in page.text)


def cookie_name(site):
    """config.php names an instance's session cookie after its short name;
    the master keeps Moodle's own."""
    return "MoodleSession" + ("" if site.is_master else site.name)


def session_id(browser, site):
    return browser.cookies[site.host][cookie_name(site)]


def redis_keys(cluster, pattern):
    """The keys matching pattern, from Redis's own answer (RESP array)."""
    reply = cluster.redis.command("KEYS", pattern)
    return sorted(re.findall(r"^\$\d+\r\n(.*?)\r$", reply, re.M))


@pytest.mark.parametrize("name", ["site1", "site3"])
def test_login_on_one_node_holds_on_the_other(fleet, cluster, name):
    """The login POST on one node, the request after it on the other:
    still logged in (the session is in Redis, not on the node)."""
    site = fleet.sites[name]
    browser = BalancerBrowser(cluster.balancer)
    browser.login(site.wwwroot, "admin", ADMIN_PASSWORD)
    [post] = [i for i, t in enumerate(browser.trail) if t[0] == "POST"]
    served = [t[3] for t in browser.trail]
    assert None not in served, browser.trail
    # Moodle's own check after a login (?testsession=) ran on the other node.
    assert served[post + 1] != served[post], browser.trail
    assert "testsession=" in browser.trail[post + 1][1], browser.trail
    nodes = set()
    for _ in range(4):
        page = browser.get(site.wwwroot + "/my/")
        assert logged_in(page, site), (browser.trail[-1], page.text[:300])
        nodes.add(browser.trail[-1][3])
    assert nodes == {"node1", "node2"}
    # One session, in Redis, under this site's prefix only.
    sid = session_id(browser, site)
    [key] = redis_keys(cluster, f"*session_{sid}")
    assert re.fullmatch(rf"vm{site.id}_[0-9a-f]{{12}}:session_{sid}", key), key
    note(f"login_{name}", [f"{m} {u.split('://', 1)[1].split('/', 1)[1][:30]} "
                           f"{s} {n}" for m, u, s, n in browser.trail])
    browser.close()


def test_session_id_of_one_site_is_no_session_on_another(fleet, cluster):
    """site1's session id sent to site2 under site2's own cookie name (and
    the reverse): the same user id, admin, on both sites, yet no login."""
    site1, site2 = fleet.sites["site1"], fleet.sites["site2"]
    owners = {}
    for site in (site1, site2):
        owners[site.name] = BalancerBrowser(cluster.balancer)
        owners[site.name].login(site.wwwroot, "admin", ADMIN_PASSWORD)
    for victim, target in ((site1, site2), (site2, site1)):
        sid = session_id(owners[victim.name], victim)
        thief = BalancerBrowser(cluster.balancer)
        thief.cookies[target.host] = {cookie_name(target): sid}
        for _ in range(2):                       # on both nodes
            page = thief.get(target.wwwroot + "/my/")
            assert page.url.startswith(target.wwwroot + "/login/"), \
                (page, thief.trail)
            assert "/login/logout.php" not in page.text
        assert {t[3] for t in thief.trail} == {"node1", "node2"}
        # Moodle gave the stranger a new session of its own; the stolen id
        # is a session on its own site only.
        assert session_id(thief, target) != sid
        [key] = redis_keys(cluster, f"*session_{sid}")
        assert key.startswith(f"vm{victim.id}_"), key
        thief.close()
    # The owners are still logged in, each on their own site.
    for site in (site1, site2):
        assert logged_in(owners[site.name].get(site.wwwroot + "/my/"), site)
        owners[site.name].close()


def links(page, host):
    """The URLs of page that point at host, by scheme."""
    found = re.findall(rf'(?:href|src|action)="(https?)://{re.escape(host)}[/"]', page.text)
    return {scheme: found.count(scheme) for scheme in set(found)}


def test_https_instance_through_the_balancer(fleet, cluster):
    """TLS ends at the balancer: the https site answers 200 with https links
    and a Secure cookie, logs in without a redirect loop; over the
    balancer's plain port it sends the client to https, never a page."""
    site = fleet.sites["site3"]
    browser = BalancerBrowser(cluster.balancer)
    page = browser.get(site.wwwroot + "/login/index.php")
    assert page.status == 200 and page.history == [], page
    assert f"Log in to {html.escape(site.fullname)}" in page.text
    found = links(page, site.host)
    assert found.get("https", 0) > 5 and "http" not in found, found
    set_cookie = " ".join(page.headers.get_all("Set-Cookie") or [])
    assert "; secure" in set_cookie.lower(), set_cookie
    browser.login(site.wwwroot, "admin", ADMIN_PASSWORD)
    page = browser.get(site.wwwroot + "/my/")
    assert logged_in(page, site) and page.history == [], page
    found = links(page, site.host)
    assert found.get("https", 0) > 5 and "http" not in found, found
    browser.close()
    # Plain http to the https site: Moodle's redirect to its wwwroot.
    plain = BalancerBrowser(cluster.balancer)
    page = plain.get(f"http://{site.host}/login/index.php", follow=False)
    assert page.status in (301, 302, 303), page
    assert page.header("Location").startswith(site.wwwroot), page.header("Location")
    assert "MoodleSession" not in " ".join(page.headers.get_all("Set-Cookie") or [])
    page = plain.get(f"http://{site.host}/login/index.php")
    assert page.status == 200 and page.url.startswith("https://"), page
    note("https_site", {"links_on_dashboard": found,
                        "plain_http": [f"{m} {u} {s} {n}" for m, u, s, n in plain.trail]})
    plain.close()


def test_alias_through_the_balancer_then_a_login(fleet, cluster):
    """An alias is answered by whichever node gets it (301 to the site's
    https URL, path and query kept): HAProxy needs no rule for it, only
    the alias's name in its certificate."""
    site = fleet.sites[ALIASED]
    alias = "www." + site.host
    fleet.master_sql(f"UPDATE {TABLE} SET aliases = '{alias}' WHERE id = {site.id};")
    browser = BalancerBrowser(cluster.balancer)
    try:
        url = f"https://{alias}/login/index.php?lang=en&x=%2Fy"
        # round robin: one request after another goes to each node in turn
        moved = eventually(lambda: [browser.get(url, follow=False) for _ in cluster.nodes],
                           lambda pages: all(p.status == 301 for p in pages), 20,
                           "both nodes reading the alias")
        assert {(p.status, p.header("Location")) for p in moved} == \
            {(301, site.wwwroot + "/login/index.php?lang=en&x=%2Fy")}
        assert {t[3] for t in browser.trail[-2:]} == {n.name for n in cluster.nodes}
        page = browser.get(f"https://{alias}/login/index.php")
        assert page.url == site.wwwroot + "/login/index.php" and page.status == 200, page
        browser.login(site.wwwroot, "admin", ADMIN_PASSWORD)
        assert logged_in(browser.get(site.wwwroot + "/my/"), site)
        note("alias", [f"{m} {u} {s} {n}" for m, u, s, n in browser.trail[-4:]])
    finally:
        browser.close()
        fleet.master_sql(f"UPDATE {TABLE} SET aliases = '' WHERE id = {site.id};")


def site_tag(site):
    return "master_" if site.is_master else f"vm{site.id}_"


def test_each_node_keeps_each_site_local_cache_apart(fleet, cluster):
    """localcachedir: one folder per site on each node's own disk, named
    as the site's sessions are, holding that site's own bootstrap (its
    siteidentifier: a shared folder would hand one site another's)."""
    sites = [fleet.sites[n] for n in ("master", "site1", "site2", "site3")]
    browser = BalancerBrowser(cluster.balancer)
    for site in sites:
        for _ in cluster.nodes:
            assert browser.get(site.wwwroot + "/login/index.php").status == 200
    assert {t[3] for t in browser.trail} == {n.name for n in cluster.nodes}
    browser.close()
    for node in cluster.nodes:
        folders = os.listdir(node.localcache)
        for site in sites:
            [folder] = [f for f in folders if f.startswith(site_tag(site))]
            identifier = fleet.sql(site, "SELECT value FROM {p}config "
                                   "WHERE name = 'siteidentifier'").strip()
            with open(os.path.join(node.localcache, folder, "bootstrap.php")) as f:
                assert f"$CFG->siteidentifier = '{identifier}';" in f.read(), \
                    (node.name, site.name)
            # The visitor's session is in Redis under the same tag.
            assert redis_keys(cluster, f"{folder}:session_{session_id(browser, site)}")
    note("local_cache", {n.name: sorted(os.listdir(n.localcache)) for n in cluster.nodes})
    note("redis_session_keys", {tag: len(redis_keys(cluster, f"{tag}*:session_*"))
                                for tag in map(site_tag, sites)})

"""An administrator's day: a site behind a TLS-terminating balancer,
maintenance mode on one site, a missing page."""
import os
import re

from browser import Browser, title


def links(page, host):
    """The URLs of page that point at host, by scheme."""
    found = re.findall(rf'(?:href|src|action)="(https?)://{re.escape(host)}[/"]', page.text)
    return {scheme: found.count(scheme) for scheme in set(found)}


def test_https_instance_behind_trusted_proxy_is_served_as_https(fleet, web):
    site = fleet.sites["site3"]
    browser = Browser(web.port)           # from the balancer's address
    page = browser.get(site.wwwroot + "/login/index.php")
    assert page.status == 200, page
    assert page.history == [], f"redirected: {page.history}"
    found = links(page, site.host)
    assert found.get("https", 0) > 5 and "http" not in found, found
    # Moodle marks its session cookie Secure on an https site.
    set_cookie = " ".join(page.headers.get_all("Set-Cookie") or [])
    assert "MoodleSession" in set_cookie and "; secure" in set_cookie.lower(), set_cookie


def test_forwarded_proto_from_an_untrusted_peer_gets_no_https(fleet, web):
    site = fleet.sites["site3"]
    browser = Browser(web.port, proxy=False)   # same headers, not the balancer
    page = browser.get(site.wwwroot + "/login/index.php", follow=False)
    # Moodle sees plain http for an https wwwroot and sends the client there.
    assert page.status == 303, page
    assert page.header("Location") == site.wwwroot, page.header("Location")
    # An http instance told "https" by an untrusted peer stays http.
    site1 = fleet.sites["site1"]
    page = Browser(web.port, proxy=False).request(
        "GET", site1.wwwroot + "/login/index.php")
    assert page.status == 200 and "https" not in links(page, site1.host)


def test_maintenance_mode_of_one_site_only(fleet, event_web):
    site = fleet.sites["site1"]
    others = [fleet.sites[n] for n in ("master", "site2")]
    fleet.php(site, "admin/cli/maintenance.php", "--enable", check=True)
    try:
        with open(os.path.join(site.dataroot, "climaintenance.html")) as f:
            moodle_page = f.read()
        page = Browser(event_web.port).get(site.wwwroot + "/")
        assert page.status == 503, page
        assert "The site is undergoing maintenance" in page.text
        assert page.text.strip() == moodle_page.strip() or moodle_page.strip() in page.text
        for other in others:
            assert Browser(event_web.port).get(other.wwwroot + "/").status == 200, other.name
    finally:
        fleet.php(site, "admin/cli/maintenance.php", "--disable", check=True)
    assert Browser(event_web.port).get(site.wwwroot + "/").status == 200


def test_missing_path_gets_moodles_404_page_of_that_site(fleet, web):
    for name in ("site1", "site2", "master"):
        site = fleet.sites[name]
        page = Browser(web.port).get(site.wwwroot + "/no/such/page.html")
        assert page.status == 404, f"{name}: {page}"
        # Moodle's page (ErrorDocument 404 /error/index.php), of this site.
        assert "404 Error: File not found" in page.text, page.text[:500]
        assert title(page).endswith(f"| {site.name}"), title(page)
        assert f'href="{site.wwwroot}/' in page.text
        for other in fleet.sites.values():
            if other.name != name:
                assert f"//{other.host}/" not in page.text, other.name

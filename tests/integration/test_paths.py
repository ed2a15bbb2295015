"""Platforms, sites under a path and aliases, through mod_vmoodle under
both server flavours: which code tree answers (the file PHP ran, its
DOCUMENT_ROOT and SCRIPT_FILENAME), what Moodle is told of its script
(SCRIPT_NAME, PHP_SELF, slash arguments), the lookup rules (the first path
segment, a root site beside path sites, a host of path sites only) and
the 301s of aliases and of a path asked for without its slash."""
import json
import os
import shutil

import pytest

import client
from apache import copy_readable, make_workdir
from instances import instance
from shipped import ROOT

HERE = os.path.dirname(os.path.abspath(__file__))

ROWS = [
    instance(1, "example.edu", shortname="root"),
    instance(2, "example.edu/school1", shortname="school1", platform="next"),
    instance(3, "example.edu/school2", shortname="school2"),
    instance(4, "paths.example.edu/a", shortname="pa"),
    instance(5, "site5.example.edu", shortname="site5", platform="next",
             aliases="www.site5.example.edu old.example.edu/five"),
    instance(6, "site6.example.edu", shortname="site6",
             aliases="alias6.example.edu:8080 https://example.edu/old6"),
    instance(7, "site7.example.edu", shortname="site7", platform="nosuch"),
    # refused: its alias is site 5's host; its host stays free
    instance(8, "site8.example.edu", shortname="site8", aliases="site5.example.edu"),
    instance(9, "site9.example.edu", shortname="site9", aliases="paths.example.edu/a"),
    instance(10, "example.edu/School1", shortname="upper"),
]


@pytest.fixture(scope="module")
def trees():
    """Two code trees ("next" and "spare") holding config.php, the reporting
    lib/setup.php and probe.php, and the platforms file naming them."""
    root = make_workdir("vmoodle-platforms-")
    for name in ("next", "spare"):
        tree = os.path.join(root, name)
        copy_readable(os.path.join(HERE, "site"), tree)
        copy_readable(os.path.join(HERE, "platform"), tree)
        shutil.copy(os.path.join(ROOT, "templates", "config.php"), tree)
        os.chmod(os.path.join(tree, "config.php"), 0o644)
    conf = os.path.join(root, "platforms.conf")
    with open(conf, "w") as f:
        f.write(f"# name = code tree\nnext = {root}/next/\nspare = {root}/spare\n")
    os.chmod(conf, 0o644)
    yield root
    if not os.environ.get("VMOODLE_KEEP"):
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def server(module_vmoodle, trees, site):
    # The default platform (the DocumentRoot) gets the probe too.
    copy_readable(os.path.join(HERE, "platform"), site)
    s = module_vmoodle(ROWS, directives=f"VMoodlePlatforms {trees}/platforms.conf\n",
                       extra=f'<Directory "{trees}">\n    Require all granted\n</Directory>\n'
                             f'<Directory "{trees}/next">\n    ErrorDocument 404 /probe.php\n'
                             '</Directory>\n')
    s.expect_error(r"VM00150: instance id 7: platform 'nosuch' is not in VMoodlePlatforms")
    return s


def probe(server, host, path):
    resp = client.get(server.port, host, path)
    assert resp.status == 200, f"{host}{path}: {resp.status} {resp.text[:300]}"
    return resp.json()


def test_site_runs_its_platform_code(server, trees, site):
    got = probe(server, "site5.example.edu", "/probe.php")
    assert got["file"] == f"{trees}/next/probe.php"
    assert got["DOCUMENT_ROOT"] == f"{trees}/next"
    assert got["SCRIPT_FILENAME"].endswith(f"{trees}/next/probe.php")
    assert got["SCRIPT_NAME"] == got["PHP_SELF"] == "/probe.php"
    assert got["VMOODLE_ID"] == "5"
    # a site on the default platform: the DocumentRoot, as before
    got = probe(server, "site6.example.edu", "/probe.php")
    assert got["file"] == f"{site}/probe.php"
    assert got["DOCUMENT_ROOT"] == site
    # config.php of the platform boots the site with its own values
    report = probe(server, "site5.example.edu", "/index.php")
    assert report["cfg"]["wwwroot"] == "http://site5.example.edu"
    assert report["server"]["VMOODLE_ID"] == "5"
    # the same script name in two trees, served in turn by the same
    # processes (opcache and the realpath cache on): never the other's
    for _ in range(8):
        assert probe(server, "site5.example.edu", "/probe.php")["file"] \
            == f"{trees}/next/probe.php"
        assert probe(server, "site6.example.edu", "/probe.php")["file"] \
            == f"{site}/probe.php"


def test_unknown_platform_is_503_never_other_code(server):
    resp = client.get(server.port, "site7.example.edu", "/probe.php")
    assert resp.status == 503
    assert "probe.php" not in resp.text and "VMOODLE" not in resp.text


def test_path_site_on_its_platform_keeps_its_path(server, trees):
    got = probe(server, "example.edu", "/school1/probe.php")
    assert got["file"] == f"{trees}/next/probe.php"
    assert got["VMOODLE_ID"] == "2"
    assert got["VMOODLE_WWWROOT"] == "http://example.edu/school1"
    assert got["SCRIPT_NAME"] == "/school1/probe.php"
    assert got["PHP_SELF"] == "/school1/probe.php"
    assert got["REQUEST_URI"] == "/school1/probe.php"
    assert got["DOCUMENT_ROOT"] == f"{trees}/next"
    assert got["CONTEXT_PREFIX"] == "/school1"
    report = probe(server, "example.edu", "/school1/index.php")
    assert report["cfg"]["wwwroot"] == "http://example.edu/school1"
    assert report["server"]["VMOODLE_ID"] == "2"


def test_error_document_stays_on_the_path_site(server, trees):
    """An internal redirect (ErrorDocument 404 /probe.php in the tree) is
    served by the site the request reached, from its tree: not by the
    host's root site, whose path /probe.php is."""
    resp = client.get(server.port, "example.edu", "/school1/nosuch.txt")
    assert resp.status == 404
    got = resp.json()
    assert got["VMOODLE_ID"] == "2" and got["file"] == f"{trees}/next/probe.php"


def test_slash_arguments_under_a_path(server, trees):
    got = probe(server, "example.edu", "/school1/theme/styles.php/boost/17/all?x=1")
    assert got["file"] == f"{trees}/next/theme/styles.php"
    assert got["PATH_INFO"] == "/boost/17/all"
    # Moodle takes SCRIPT_NAME (without PATH_INFO) as the script's URL
    assert got["SCRIPT_NAME"] == "/school1/theme/styles.php"
    assert got["PHP_SELF"].startswith("/school1/theme/styles.php")


def test_directory_index_and_static_files_under_a_path(server):
    resp = client.get(server.port, "example.edu", "/school1/")
    assert resp.status == 200 and resp.json()["server"]["VMOODLE_ID"] == "2"
    resp = client.get(server.port, "example.edu", "/school1/static.txt")
    assert resp.status == 200 and resp.text.strip() == "static file"
    assert resp.header("X-VMoodle-Id") == "2"


def test_path_without_slash_redirects(server):
    resp = client.get(server.port, "example.edu", "/school1?lang=fr")
    assert resp.status == 301
    assert resp.header("Location") == "http://example.edu/school1/?lang=fr"


def test_first_segment_decides_beside_a_root_site(server, site):
    assert probe(server, "example.edu", "/probe.php")["VMOODLE_ID"] == "1"
    got = probe(server, "example.edu", "/school2/probe.php")
    assert got["VMOODLE_ID"] == "3" and got["file"] == f"{site}/probe.php"
    # not a path site's segment: the root site's, which has no such file
    for path in ("/school12/probe.php", "/School1/probe.php", "/school/probe.php"):
        resp = client.get(server.port, "example.edu", path)
        assert resp.status == 404, path
        assert resp.header("X-VMoodle-Id") == "1", path
    # a path normalised out of its site is no file of any site
    resp = client.raw(server.port, b"GET /school1/../probe.php HTTP/1.1\r\n"
                      b"Host: example.edu\r\nConnection: close\r\n\r\n")
    assert resp.status == 404
    assert "VMOODLE" not in resp.text


def test_host_of_path_sites_only(server):
    assert probe(server, "paths.example.edu", "/a/probe.php")["VMOODLE_ID"] == "4"
    for path in ("/", "/b/probe.php", "/probe.php"):
        resp = client.get(server.port, "paths.example.edu", path)
        assert resp.status == 404 and "No such site" in resp.text, path


def test_aliases_redirect_with_path_and_query(server):
    cases = [
        ("www.site5.example.edu", "/course/view.php?id=3&x=%2F",
         "http://site5.example.edu/course/view.php?id=3&x=%2F"),
        ("WWW.Site5.example.edu", "/", "http://site5.example.edu/"),
        ("old.example.edu", "/five/login/index.php?a=b",
         "http://site5.example.edu/login/index.php?a=b"),
        ("old.example.edu", "/five", "http://site5.example.edu/"),
        ("alias6.example.edu:8080", "/x", "http://site6.example.edu/x"),
        ("example.edu", "/old6/my/", "http://site6.example.edu/my/"),
    ]
    for host, path, location in cases:
        resp = client.get(server.port, host, path)
        assert resp.status == 301, (host, path, resp.status)
        assert resp.header("Location") == location, (host, path)
        assert resp.header("X-VMoodle-Id") in (None, "", "(null)"), (host, path)
    # only the aliased path of old.example.edu exists; port 80 is no alias
    assert client.get(server.port, "old.example.edu", "/").status == 404
    assert client.get(server.port, "alias6.example.edu", "/").status == 404


def test_refused_rows_are_reported(server):
    status = json.loads(client.get(server.port, "127.0.0.1", "/vmoodle-status?json").text)
    reasons = {r["id"]: r["reason"] for r in status["rejected"]}
    assert "site5.example.edu already used by id 5" in reasons[8]
    assert "paths.example.edu/a already used by id 4" in reasons[9]
    assert "path" in reasons[10]
    assert client.get(server.port, "site8.example.edu", "/").status == 404
    listed = {i["id"]: i for i in status["instances"]}
    assert listed[2]["path"] == "/school1" and listed[2]["platform"] == "next"
    assert listed[5]["aliases"] == ["www.site5.example.edu", "old.example.edu/five"]


def test_status_page_shows_platform_path_and_aliases(server):
    page = client.get(server.port, "127.0.0.1", "/vmoodle-status").text
    assert "<td>example.edu/school1</td><td>school1</td><td>next</td>" in page
    assert "<td>www.site5.example.edu old.example.edu/five</td>" in page

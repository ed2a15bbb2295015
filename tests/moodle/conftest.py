"""Fixtures of the real-Moodle suite (make test-moodle).

    fleet       (session) the Moodle code from MOODLE_SRC, PostgreSQL and
                MariaDB, the master and the instances installed once
                (moodle.Fleet: .sites, .php(), .sql(), .vcron(), .tool(),
                .add_site(), .code)
    web         (session, both flavours) Apache + mod_vmoodle serving the
                fleet: event + php-fpm, then prefork + mod_php
    event_web   the event + php-fpm server alone, for tests whose subject
                is not the PHP flavour (cron, maintenance mode)
    browser     a fresh Browser on the web server (trusted-proxy https)

Tests that change a site put it back (a finally:), so later tests find the
fleet as installed.  A test that needs a site of its own (a deploy, an
upgrade) adds it with fleet.add_site(Site(...)) or works on a copy.
test_upgrade.py bumps the code's version for every later test: it runs
last but one, and test_platforms.py, which moves sites to a second code
tree, last of all (LAST below); tests/moodle/fleetctl.py runs vmoodlectl's CLI commands.
Without MOODLE_SRC every test is skipped, saying why.
Set VMOODLE_KEEP=1 to keep the fleet's directory for a look."""
import os
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
pytest.register_assert_rewrite("browser")

from moodle import ROOT, Fleet, bad_log_lines  # noqa: E402  (puts tests/integration on the path)
from apache import FLAVOURS  # noqa: E402
from browser import Browser  # noqa: E402

SKIP_REASON = ("MOODLE_SRC is not set: give it a Moodle tree or tarball, e.g. "
               "MOODLE_SRC=../shared/moodle/moodle-4.5.5plus-20250613.tar.xz")

def moodle_src():
    src = os.environ.get("MOODLE_SRC", "")
    if not src:
        return None
    if not os.path.isabs(src):
        src = os.path.join(ROOT, src)
    if not os.path.exists(src):
        raise pytest.UsageError(f"MOODLE_SRC={src}: no such file or directory")
    return src


# Files whose tests change the code (or a site's code) for every later
# test: run last, in this order.
LAST = ("test_upgrade.py", "test_platforms.py")


def _rank(item):
    name = os.path.basename(str(item.fspath))
    return LAST.index(name) + 1 if name in LAST else 0


def pytest_collection_modifyitems(config, items):
    items.sort(key=_rank)
    if moodle_src() is None:
        skip = pytest.mark.skip(reason=SKIP_REASON)
        for item in items:
            item.add_marker(skip)


def build_dir():
    return os.environ.get("VMOODLE_BUILD") or os.path.join(ROOT, "build")


@pytest.fixture(scope="session")
def fleet(request):
    # VMOODLE_FLEET=DIR: a fleet kept there and reused by the next run
    # (installed sites are not installed again), for quick iterations.
    kept = os.environ.get("VMOODLE_FLEET")
    root = kept or tempfile.mkdtemp(prefix="vmoodle-e2e-")
    def say(line):
        """Past pytest's capture: set-up figures belong on the terminal."""
        plugins = request.config.pluginmanager
        capture = plugins.get_plugin("capturemanager")
        terminal = plugins.get_plugin("terminalreporter")
        with capture.global_and_fixture_disabled():
            terminal.write_line(line)
    f = Fleet(root, moodle_src(), build_dir(), log=say)
    try:
        f.setup()
        times = ", ".join(f"{k} {v:.0f} s" for k, v in f.timings.items())
        say(f"fleet ready: {times}")
        yield f
    finally:
        if kept or os.environ.get("VMOODLE_KEEP"):
            f.stop()
            print(f"kept {root}")
        else:
            f.cleanup()


def _serve(fleet, flavour):
    server = fleet.httpd(flavour)
    server.start()
    return server


def _finish(server):
    server.stop()
    text = server.errors_text()
    bad = bad_log_lines(text, server.access_text())
    print(f"--- error log of {server.flavour} ({server.workdir}) ---\n{text[-6000:]}")
    if not os.environ.get("VMOODLE_KEEP"):
        server.remove()
    return bad


@pytest.fixture(scope="session", params=FLAVOURS)
def web(request, fleet):
    server = _serve(fleet, request.param)
    yield server
    bad = _finish(server)
    if bad:
        pytest.fail("unexpected log lines:\n  " + "\n  ".join(bad))


@pytest.fixture(scope="session")
def event_web(fleet):
    server = _serve(fleet, "event-fpm")
    yield server
    bad = _finish(server)
    if bad:
        pytest.fail("unexpected log lines:\n  " + "\n  ".join(bad))


@pytest.fixture
def browser(web):
    return Browser(web.port)

"""Fixtures: a real Apache (+ php-fpm) per test, in both flavours.

    start_httpd(directives, extra, vmoodle=True)  any configuration
    start_vmoodle(rows, directives="", extra="")  mod_vmoodle routing a JSON
                                                  table of rows, plus extras
    module_vmoodle(rows, directives="", extra="") the same, one server for a
                                                  whole test module
    vmoodle_server(flavour, site, rows, ...)      such a server, not started
    reachable_dir                                 a fresh directory www-data
                                                  can reach (for the tools)

At teardown every server is stopped and its error log is checked: an
[error]/[crit]/[alert]/[emerg] line the test did not declare with
server.expect_error(regex) fails the test, as in httpd's own test suite; so
does a password in any log (every test password contains "secret").
Set VMOODLE_KEEP=1 to keep the temporary directories for a look."""
import os
import shutil

import pytest

# Helpers that assert: let pytest show the values when they fail.
pytest.register_assert_rewrite("instances")

from apache import FLAVOURS, Httpd, chown_to_run_user, copy_readable, make_workdir
from instances import write_table
from shipped import ROOT, make_docroot

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(ROOT, "templates")


@pytest.fixture(scope="session")
def site():
    """Docroot: the real templates/config.php next to a reporting lib/setup.php."""
    root = make_workdir("vmoodle-site-")
    yield make_docroot(root, os.path.join(HERE, "site"))
    if not os.environ.get("VMOODLE_KEEP"):
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def reachable_dir():
    """A fresh directory (0755) that www-data, the crons' and the sites'
    user, can reach: pytest's own tmp_path lies under a root-only parent."""
    path = make_workdir("vmoodle-test-")
    yield path
    if not os.environ.get("VMOODLE_KEEP"):
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module", params=FLAVOURS)
def flavour(request):
    return request.param


def _finish(servers):
    """Stop servers; return the unexpected error lines they logged."""
    problems = []
    for server in servers:
        server.stop()
        bad = server.unexpected_errors()
        bad += [f"password in {name}: {line}"
                for name, text in (("error log", server.errors_text()),
                                   ("access log", server.access_text()))
                for line in text.splitlines() if "secret" in line]
        if bad:
            problems.append(f"{server.flavour} {server.workdir}:\n  " + "\n  ".join(bad))
        # Shown by pytest only when the test fails.
        print(f"--- error log of {server.flavour} ({server.workdir}) ---")
        print(server.errors_text()[-4000:])
        if not os.environ.get("VMOODLE_KEEP"):
            server.remove()
    return problems


def _finish_or_fail(servers):
    problems = _finish(servers)
    if problems:
        pytest.fail("unexpected log lines:\n" + "\n".join(problems))


@pytest.fixture
def start_httpd(flavour, site):
    servers = []

    def start(directives="", extra="", vmoodle=True, workdir=None, server=None):
        """Start a server with this configuration, or the given (unstarted) one."""
        server = server or Httpd(flavour, site, directives=directives, extra=extra,
                                 vmoodle=vmoodle, workdir=workdir)
        servers.append(server)
        return server.start()

    yield start
    _finish_or_fail(servers)


def vmoodle_directives(workdir, refresh=1, source=None, written=None):
    """The usual mod_vmoodle set-up for a server living in workdir (its
    JSON table there unless another source is given; written: the
    VMoodleSource argument exactly as written, quotes and all)."""
    source = source or f"json:{workdir}/instances.json"
    return f"""VMoodleEngine On
VMoodleSource {written or f'"{source}"'}
VMoodleSnapshot {workdir}/snap/instances.snap
VMoodleRefresh {refresh}
VMoodleErrorPages {workdir}/errors
VMoodleRetryAfter 120
<Location /vmoodle-status>
    SetHandler vmoodle-status
    Require ip 127.0.0.1
</Location>
# Lets tests (and the load test's static requests) see the routing result.
Header always set X-VMoodle-Id "%{{VMOODLE_ID}}e"
"""


def vmoodle_workdir():
    """A server directory with what vmoodle_directives names: the snapshot
    directory (www-data's) and the error pages."""
    workdir = make_workdir()
    snapdir = os.path.join(workdir, "snap")
    os.mkdir(snapdir, 0o755)
    chown_to_run_user(snapdir)
    copy_readable(os.path.join(TEMPLATES, "errors"), os.path.join(workdir, "errors"))
    return workdir


def vmoodle_server(flavour, site, rows, directives="", extra="", refresh=1,
                   source=None):
    """An Httpd (not started) with mod_vmoodle serving rows from a JSON
    table in its own workdir; .table is the JSON path, .write(rows).  With
    source (e.g. a database's), rows must be empty: the table is that one."""
    workdir = vmoodle_workdir()
    table = os.path.join(workdir, "instances.json")
    write_table(table, rows)
    server = Httpd(flavour, site, directives=vmoodle_directives(workdir, refresh, source)
                   + directives, extra=extra, workdir=workdir)
    server.table = table
    server.write = lambda new_rows: write_table(table, new_rows)
    return server


@pytest.fixture
def start_vmoodle(start_httpd, flavour, site):
    """Start Apache with mod_vmoodle serving rows (see vmoodle_server)."""

    def start(rows, directives="", extra="", refresh=1, source=None):
        return start_httpd(server=vmoodle_server(flavour, site, rows, directives,
                                                 extra, refresh, source))

    return start


@pytest.fixture(scope="module")
def module_vmoodle(flavour, site):
    """One mod_vmoodle server for a whole test module (many cheap cases):
    call it with rows, directives, extra; it is checked at module end."""
    servers = []

    def start(rows, directives="", extra="", refresh=1, source=None):
        server = vmoodle_server(flavour, site, rows, directives, extra, refresh,
                                source)
        servers.append(server)
        return server.start()

    yield start
    _finish_or_fail(servers)

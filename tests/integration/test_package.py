"""The Debian packages as an administrator meets them: `make deb`'s build
(in a copy of the tree), lintian, `apt-get install ./*.deb` on this machine,
`a2enmod vmoodle`, a real Apache loading the installed module through the
enabled .load/.conf and routing a request, the programs' --version, the
manual pages, the systemd units, and a purge that leaves nothing behind.

It installs into this machine's system (CI runs as root here; Apache's
configuration is touched only by a2enmod and undone by the purge) under
one lock, so two runs never share the install; where either package is
installed already it skips rather than remove an administrator's.  `make
check` installs nothing: it sets VMOODLE_INSTALL_TESTS=0 and this file
skips; `make test` sets it to 1 (run alone, the file runs)."""
import fcntl
import glob
import os
import re
import shutil
import subprocess

import pytest

import client
from apache import Httpd, make_workdir, chown_to_run_user
from instances import assert_serves, instance, write_table
from shipped import ROOT

PACKAGES = ("libapache2-mod-vmoodle", "vmoodle-tools")
LOCK = "/run/lock/vmoodle-test-package.lock"
APT = ["apt-get", "-y", "-q", "--no-install-recommends",
       "-o", "DPkg::Lock::Timeout=120"]
MODS = "/etc/apache2/mods-enabled"
TOOLS = ("dpkg-buildpackage", "dh", "dh_apache2", "lintian", "apt-get", "a2enmod")

pytestmark = pytest.mark.skipif(
    os.environ.get("VMOODLE_INSTALL_TESTS") == "0",
    reason="make check installs nothing: make test runs the package test")


def version():
    with open(os.path.join(ROOT, "core", "vm_version.h")) as f:
        return re.search(r'#define VMOODLE_VERSION "([^"]+)"', f.read()).group(1)


def run(cmd, **kw):
    """Run cmd; fail the test with its output when it fails."""
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    assert proc.returncode == 0, \
        f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def installed(package):
    """Known to dpkg: installed, half so, or its configuration files kept
    (a purge would remove them too)."""
    proc = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package],
                          capture_output=True, text=True)
    status = proc.stdout.split()
    return proc.returncode == 0 and status[-1:] not in ([], ["not-installed"])


@pytest.fixture(scope="module")
def debs():
    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        pytest.skip(f"{', '.join(missing)} missing: tools/install-deps installs them")
    out = make_workdir("vmoodle-deb-")
    # The unit tests the package build would run are make test's already.
    env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck")
    run([os.path.join(ROOT, "tools", "make-deb"), out], env=env)
    yield {p: os.path.join(out, f"{p}_{version()}_{arch()}.deb") for p in PACKAGES} \
        | {"changes": os.path.join(out, f"mod-vmoodle_{version()}_{arch()}.changes")}
    shutil.rmtree(out, ignore_errors=True)


def arch():
    return run(["dpkg", "--print-architecture"]).stdout.strip()


def test_the_source_tree_stays_clean(debs):
    """make deb builds in a copy: no build output in the tree's debian/."""
    made = ("tmp", ".debhelper", "files", "debhelper-build-stamp",
            "libapache2-mod-vmoodle", "vmoodle-tools")
    assert [m for m in made if os.path.lexists(os.path.join(ROOT, "debian", m))] == []


def test_the_package_builds_without_werror(debs):
    """debian/rules passes WERROR=0: a newer compiler's new warning must
    not fail a distribution's build (Debian's own -Werror=... stay)."""
    with open(os.path.join(os.path.dirname(debs["changes"]), "build.log")) as f:
        compiles = [line.split() for line in f if line.startswith("cc ")
                    and " -c " in line]
    assert compiles, "no compile line in build.log"
    assert [w for w in compiles if "-Werror" in w] == []
    # dpkg-buildflags' CPPFLAGS still reach them.
    assert all(any(x.startswith("-D_FORTIFY_SOURCE=") for x in w)
               for w in compiles)


def test_lintian_finds_no_error(debs):
    proc = subprocess.run(["lintian", "--allow-root", "--fail-on", "error",
                           debs["changes"]],
                          capture_output=True, text=True, timeout=300)
    errors = [line for line in proc.stdout.splitlines() if line.startswith("E:")]
    assert proc.returncode == 0 and not errors, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def system(debs):
    """The packages installed on this machine; purged at the end whatever
    happened.  Yields what dpkg says each package installed."""
    if os.geteuid() != 0:
        pytest.skip("installing a package needs root (CI runs as root)")
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        already = [p for p in PACKAGES if installed(p)]
        if already:
            pytest.skip(f"{', '.join(already)} installed on this machine "
                        "already: the test would purge that install (apt-get "
                        "purge it first if a test left it)")
        try:
            run(APT + ["install"] + [debs[p] for p in PACKAGES],
                env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
            yield {p: run(["dpkg-query", "-L", p]).stdout.split("\n")
                   for p in PACKAGES}
        finally:
            purge()


def purge():
    present = [p for p in PACKAGES if installed(p)]
    if os.path.exists(os.path.join(MODS, "vmoodle.load")):
        subprocess.run(["a2dismod", "-q", "vmoodle"], capture_output=True)
    if present:
        run(APT + ["purge"] + present,
            env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


def test_a2enmod_and_a_real_apache_routes_with_the_installed_module(system, site):
    assert os.path.exists("/usr/lib/apache2/modules/mod_vmoodle.so")
    run(["a2enmod", "-q", "vmoodle"])
    load = os.path.join(MODS, "vmoodle.load")
    assert os.path.realpath(load) == "/etc/apache2/mods-available/vmoodle.load"
    workdir = make_workdir("vmoodle-pkg-")
    snap = os.path.join(workdir, "snap")
    os.mkdir(snap, 0o755)
    chown_to_run_user(snap)
    table = os.path.join(workdir, "instances.json")
    row = instance(1, "pkg1.example.edu")
    write_table(table, [row])
    # No VMoodleErrorPages: the installed pages, the module's default.
    server = Httpd("event-fpm", site, workdir=workdir,
                   vmoodle_load=f"Include {MODS}/vmoodle.load\n"
                                f"Include {MODS}/vmoodle.conf",
                   directives=f"VMoodleEngine On\n"
                              f'VMoodleSource "json:{table}"\n'
                              f"VMoodleSnapshot {snap}/instances.snap\n")
    try:
        server.start()
        resp = client.get(server.port, "pkg1.example.edu", "/")
        assert resp.status == 200, resp.text
        assert_serves(resp.json(), row)
        unknown = client.get(server.port, "nosuch.example.edu", "/")
        with open("/usr/share/vmoodle/errors/unknown-host.html") as f:
            page = f.read()
        assert unknown.status == 404
        assert unknown.text == page.replace("{{host}}", "nosuch.example.edu")
        # The status page from the enabled vmoodle.conf, with the version.
        status = client.get(server.port, "127.0.0.1", "/vmoodle-status?json")
        assert status.status == 200, status.text
        assert status.json()["version"] == version()
        html = client.get(server.port, "127.0.0.1", "/vmoodle-status").text
        assert f"<dt>Version</dt><dd>{version()}</dd>" in html
        assert f"mod_vmoodle/{version()}" in server.errors_text()
        assert server.unexpected_errors() == []
    finally:
        server.stop()
        server.remove()


def test_programs_say_their_version(system):
    for prog in ("vcron", "vmoodlectl"):
        out = run([f"/usr/bin/{prog}", "--version"]).stdout
        assert out.strip() == f"{prog} {version()}", out


def test_manual_pages_render_without_warnings(system):
    for name in ("vcron", "vmoodlectl"):
        page = f"/usr/share/man/man8/{name}.8.gz"
        assert page in system["vmoodle-tools"]
        env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
        proc = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", page],
                              capture_output=True, text=True, env=env, timeout=60)
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
        assert re.search(rf"^NAME\n\s+{name} - ", proc.stdout, re.M), proc.stdout[:500]
        assert version() in proc.stdout


def test_units_logrotate_and_tmpfiles_are_valid(system):
    units = ["/lib/systemd/system/vcron.service", "/lib/systemd/system/vcron.timer"]
    for unit in units:
        assert unit in system["vmoodle-tools"]
    # Not enabled by the install: the administrator's step.
    assert not glob.glob("/etc/systemd/system/*/vcron.*")
    if shutil.which("systemd-analyze"):
        proc = subprocess.run(["systemd-analyze", "verify"] + units,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and "vcron" not in proc.stderr, proc.stderr
    proc = subprocess.run(["logrotate", "--debug", "/etc/logrotate.d/vmoodle-tools"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "error:" not in proc.stderr, proc.stderr


def test_purge_leaves_nothing_behind(system):
    files = [path for paths in system.values() for path in paths
             if path and not os.path.isdir(path)]
    assert "/usr/lib/apache2/modules/mod_vmoodle.so" in files
    purge()
    assert [p for p in PACKAGES if subprocess.run(
        ["dpkg-query", "-W", p], capture_output=True).returncode == 0] == []
    left = [path for path in files if os.path.lexists(path)]
    left += [path for path in ("/usr/share/vmoodle",
                               "/usr/share/doc/libapache2-mod-vmoodle",
                               "/usr/share/doc/vmoodle-tools")
             if os.path.lexists(path)]
    left += glob.glob(f"{MODS}/vmoodle.*") + glob.glob("/etc/apache2/*/vmoodle*")
    left += glob.glob("/var/lib/apache2/*/*/vmoodle")
    assert left == []

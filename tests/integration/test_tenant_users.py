"""Issue 19, a Unix user per site: with site-user set, vcron runs each
site's cron (and vmoodlectl its CLI) as the site's own user, which reads
neither the module's snapshot (every site's password) nor another site's
dataroot.  Before, every site's cron ran as the one user that owns the
snapshot: a tenant's code planted in its dataroot's cache read it."""
import os
import pwd
import subprocess

import pytest

from apache import eventually
from conftest import vmoodle_server
from dbservers import mysql_server, pg_server  # noqa: F401
from instances import instance, write_table
from programs import build_dir, program
from test_vmoodlectl import only_on, server, traversable  # noqa: F401
from test_vmoodlectl_lifecycle import Site

USERS = ["vmtest-s1", "vmtest-s2"]

# The stand-in cron: who it is, whether it reads the snapshot, its own
# dataroot and the other site's.
PROBE = r"""#!/bin/sh
out=@OUT@/${VMOODLE_SHORTNAME}.txt
if [ "$VMOODLE_SHORTNAME" = s1 ]; then OTHER=s2; else OTHER=s1; fi
{
  echo "uid $(id -un)"
  if cat "@SNAP@" >/dev/null 2>&1; then echo "snapshot read"; else echo "snapshot denied"; fi
  if touch "$VMOODLE_DATAROOT/probe" 2>/dev/null; then echo "own written"; else echo "own denied"; fi
  if ls "@DATA@/$OTHER" >/dev/null 2>&1; then echo "other read"; else echo "other denied"; fi
} > "$out"
"""


@pytest.fixture(scope="module")
def site_users():
    made = []
    for user in USERS:
        try:
            pwd.getpwnam(user)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home",
                            "--shell", "/usr/sbin/nologin", user], check=True,
                           timeout=60)
            made.append(user)
    yield USERS
    for user in made:
        subprocess.run(["userdel", user], timeout=60)


def rows(data):
    return [instance(i, f"s{i}.example.edu", shortname=f"s{i}",
                     vdatapath=os.path.join(data, f"s{i}")) for i in (1, 2)]


def probe_crons(tmp_path, snapshot, site_user):
    tmp_path.mkdir()
    traversable(str(tmp_path))
    data, out = tmp_path / "data", tmp_path / "out"
    data.mkdir(mode=0o755)
    out.mkdir(mode=0o777)
    os.chmod(out, 0o777)
    for i, user in ((1, USERS[0]), (2, USERS[1])):
        root = data / f"s{i}"
        root.mkdir(mode=0o700)
        owner = pwd.getpwnam(user if site_user else "www-data")
        os.chown(root, owner.pw_uid, owner.pw_gid)
    table = tmp_path / "instances.json"
    write_table(str(table), rows(str(data)))
    script = tmp_path / "cron"
    script.write_text(PROBE.replace("@OUT@", str(out))
                      .replace("@SNAP@", snapshot).replace("@DATA@", str(data)))
    os.chmod(script, 0o755)
    argv = [program(build_dir(), "vcron"), "--config", "/dev/null",
            "--source", f"json:{table}", "--log-dir", str(tmp_path / "log"),
            "--lock-dir", str(tmp_path / "lock"), "--state-file",
            str(tmp_path / "state"), "--user", "www-data"]
    if site_user:
        argv += ["--site-user", "vmtest-%shortname%"]
    proc = subprocess.run(argv + ["run", "--command", str(script)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {i: (out / f"s{i}.txt").read_text().split("\n")[:4] for i in (1, 2)}


def test_a_site_users_cron_reads_neither_snapshot_nor_other_dataroot(
        start_httpd, flavour, site, site_users, tmp_path):
    if flavour != "event-fpm":
        pytest.skip("one Apache is enough: the snapshot is the same")
    server = start_httpd(server=vmoodle_server(
        flavour, site, [instance(1, "a.example.edu", vdbpass="pw-in-snap")]))
    snapshot = os.path.join(server.workdir, "snap", "instances.snap")
    eventually(lambda: os.path.exists(snapshot), bool, 30, "the snapshot")
    # the one user (today's default): the probe does read it, so the test
    # can fail
    shared = probe_crons(tmp_path / "shared", snapshot, site_user=False)
    assert shared[1][:2] == ["uid www-data", "snapshot read"]
    own = probe_crons(tmp_path / "own", snapshot, site_user=True)
    assert own[1] == ["uid vmtest-s1", "snapshot denied", "own written",
                      "other denied"]
    assert own[2][:3] == ["uid vmtest-s2", "snapshot denied", "own written"]


def test_vmoodlectl_runs_a_site_as_its_user_and_writes_its_pool(
        site_users, tmp_path):
    traversable(str(tmp_path))
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    table = tmp_path / "instances.json"
    write_table(str(table), rows(str(data)))
    out = tmp_path / "out"
    out.mkdir()
    os.chmod(out, 0o777)
    php = tmp_path / "php"
    php.write_text(f"#!/bin/sh\nid -un > {out}/$VMOODLE_SHORTNAME\n")
    os.chmod(php, 0o755)
    ctl = [program(build_dir(), "vmoodlectl"), "--config", "/dev/null",
           "--source", f"json:{table}", "--user", "www-data",
           "--moodle-dir", "/tmp"]
    own = ctl + ["--site-user", "vmtest-%shortname%"]
    for argv in (own + ["--php", str(php), "--lock-dir", str(tmp_path / "l"),
                        "run", "s2.example.edu", "--", "x.php"],
                 ctl + ["--php", str(php), "--lock-dir", str(tmp_path / "l"),
                        "run", "s1.example.edu", "--", "x.php"]):
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
    assert (out / "s2").read_text().strip() == "vmtest-s2"
    assert (out / "s1").read_text().strip() == "www-data"   # no rule: one user

    printed = subprocess.run(own + ["pool", "s1.example.edu"],
                             capture_output=True, text=True, timeout=60)
    assert printed.returncode == 0, printed.stderr
    text = printed.stdout
    assert "[vmoodle-vmtest-s1]" in text and "user = vmtest-s1" in text
    assert f"open_basedir] = /tmp:{data}/s1\n" in text
    assert "listen.owner = www-data" in text and "VMOODLE_" not in \
        text.split("[vmoodle-")[1]
    pools = tmp_path / "pool.d"
    pools.mkdir()
    written = subprocess.run(own + ["pool", "s1.example.edu", "--dir",
                                    str(pools)],
                             capture_output=True, text=True, timeout=60)
    assert written.returncode == 0, written.stderr
    conf = pools / "vmoodle-vmtest-s1.conf"
    assert conf.read_text() == text and conf.stat().st_mode & 0o777 == 0o644
    # a pool of its own needs a user of its own
    none = subprocess.run(ctl + ["pool", "s1.example.edu"],
                          capture_output=True, text=True, timeout=60)
    assert none.returncode == 2 and "site-user" in none.stderr


def test_a_site_whose_user_is_missing_is_not_started(site_users, tmp_path):
    """A site whose user the rule names does not exist is refused, with the
    reason in its log and vcron's, and the other sites still run as
    theirs; it never runs as the shared user instead."""
    traversable(str(tmp_path))
    data, out = tmp_path / "data", tmp_path / "out"
    data.mkdir(mode=0o755)
    out.mkdir()
    os.chmod(out, 0o777)
    table = tmp_path / "instances.json"
    write_table(str(table), rows(str(data)) + [
        instance(3, "s3.example.edu", shortname="nouser",
                 vdatapath=os.path.join(str(data), "s3"))])
    cron = tmp_path / "cron"
    cron.write_text(f"#!/bin/sh\nid -un > {out}/$VMOODLE_SHORTNAME\n")
    os.chmod(cron, 0o755)
    proc = subprocess.run(
        [program(build_dir(), "vcron"), "--config", "/dev/null",
         "--source", f"json:{table}", "--log-dir", str(tmp_path / "log"),
         "--lock-dir", str(tmp_path / "lock"), "--state-file",
         str(tmp_path / "state"), "--user", "www-data",
         "--site-user", "vmtest-%shortname%", "run", "--command", str(cron)],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "succeeded=2" in proc.stdout and "not_started=1" in proc.stdout
    assert "instance 3 (s3.example.edu): cron not started: user " \
        "vmtest-nouser: no such user" in proc.stderr
    log = (tmp_path / "log" / "s3.example.edu.log").read_text()
    assert "VM00246: cron not started: user vmtest-nouser" in log
    assert sorted(os.listdir(out)) == ["s1", "s2"]
    assert (out / "s1").read_text().strip() == "vmtest-s1"


@only_on("pgsql")
def test_backup_of_a_site_with_its_own_user(site_users, tmp_path, server):  # noqa: F811
    """With site-user set, backup's (and upgrade --backup's) child stays
    root (the backup folder is root's) and only Moodle's scripts run, as
    the site's user.  Before, the child became the site's user: "create
    the backup folder: Permission denied", and with --maintenance
    "setgroups failed"."""
    site = Site(tmp_path, server, short="s1")
    owner = pwd.getpwnam(USERS[0])
    for top, dirs, files in os.walk(site.row["vdatapath"]):
        for n in [top] + [os.path.join(top, f) for f in dirs + files]:
            os.lchown(n, owner.pw_uid, owner.pw_gid)
    out = os.path.join(site.root, "out")
    php = os.path.join(site.root, "php")       # who runs each script
    with open(php, "w") as f:
        f.write('#!/bin/sh\nwhile [ "${1#-d}" != "$1" ]; do shift; done\n'
                f'echo "$(id -un) $(basename "$1")" >> {out}/users\n'
                'exec /bin/sh "$@"\n')
    with open(os.path.join(out, "pending"), "w"):
        pass
    rule = ["--site-user", "vmtest-%shortname%"]
    for args in (["backup", "s1.test"],
                 ["backup", "s1.test", "--maintenance"],
                 ["upgrade", "s1.test", "--backup"]):
        proc = site.ctl(*rule, *args)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(site.site_backups("s1")) == 3
    assert site.steps() == [
        "maintenance --enable", "maintenance --disable",
        "upgrade --is-pending", "maintenance --enable",
        "upgrade --non-interactive", "purge_caches ", "maintenance --disable"]
    with open(os.path.join(out, "users")) as f:
        users = {line.split()[0] for line in f}
    assert users == {USERS[0]}
    assert not site.in_maintenance() and not os.path.exists(
        os.path.join(out, "pending"))
    assert os.stat(site.backups).st_uid == 0

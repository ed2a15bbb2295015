"""A tenant's PHP runs as www-data, Apache's User, and can write the
snapshot directory.  Each test here is an attack from such a process (a
child of the test that has become www-data) on what root does at start-up
or on a graceful restart, or on the files vcron and vmoodlectl (root)
write: root must never follow what www-data planted, and every file that
holds a password stays readable only by whom needs it."""
import json
import os
import pwd
import stat
import subprocess
import traceback

import client
from apache import eventually
from conftest import vmoodle_server
from instances import instance
from programs import build_dir, program

WWW = pwd.getpwnam("www-data")
ONE = instance(1, "one.example.edu")
TWO = instance(2, "two.example.edu")
PRECIOUS = "root's own file\n"


def as_www_data(action):
    """Run action() in a child process that is www-data, as a tenant's PHP
    would be; fail if it raised."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(WWW.pw_gid)
            os.setuid(WWW.pw_uid)
            action()
            os._exit(0)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the www-data helper failed"


def precious(directory):
    """A root-owned file the attacker would like root to chown or fill."""
    path = os.path.join(directory, "precious")
    with open(path, "w") as f:
        f.write(PRECIOUS)
    os.chown(path, 0, 0)
    os.chmod(path, 0o644)
    return path


def assert_untouched(path):
    st = os.lstat(path)
    assert stat.S_ISREG(st.st_mode)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, 0, 0o644), \
        f"{path} changed owner or mode"
    with open(path) as f:
        assert f.read() == PRECIOUS, f"{path} was written to"


def snapshot_of(server):
    return os.path.join(server.workdir, "snap", "instances.snap")


def served_id(server, host):
    return client.get(server.port, host, "/index.php").headers.get("X-VMoodle-Id")


def wait_served(server, host, want):
    eventually(lambda: served_id(server, host), lambda v: v == want, 10,
               f"{host} served as id {want}")


def assert_secret_files(snapdir, newest=None):
    """Every file of the snapshot directory (snapshot, live copies) is a
    regular file, 0600, www-data's; newest: a live copy that must exist."""
    names = sorted(os.listdir(snapdir))
    assert "instances.snap" in names
    assert any(n.startswith("instances.snap.live.") for n in names), names
    if newest is not None:
        assert f"instances.snap.live.{newest}" in names, names
    for name in names:
        st = os.lstat(os.path.join(snapdir, name))
        assert stat.S_ISREG(st.st_mode), name
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (WWW.pw_uid, 0o600), \
            f"{name}: uid {st.st_uid} mode {oct(stat.S_IMODE(st.st_mode))}"


# --- the module's start-up and graceful restarts --------------------------

def test_snapshot_link_is_not_followed_across_graceful_restart(start_vmoodle):
    server = start_vmoodle([ONE], refresh=3600)
    wait_served(server, "one.example.edu", "1")
    target = precious(server.workdir)
    snap = snapshot_of(server)

    def plant():
        os.unlink(snap)
        os.symlink(target, snap)
    as_www_data(plant)
    server.graceful()
    # The start-up refresh replaces what is no snapshot (refresh=3600: no
    # other writer runs).
    eventually(lambda: stat.S_ISREG(os.lstat(snap).st_mode), bool, 10,
               "the link replaced by a snapshot")
    assert_untouched(target)
    wait_served(server, "one.example.edu", "1")
    assert_secret_files(os.path.dirname(snap))


def test_link_at_a_temporary_name_is_not_followed(start_vmoodle):
    """The old temporary name was instances.snap.tmp.<parent pid>: a link
    there made root fill its target with every password.  Temporary names
    are random now; nothing outside the directory may change either."""
    server = start_vmoodle([ONE], refresh=3600)
    wait_served(server, "one.example.edu", "1")
    target = precious(server.workdir)
    snap = snapshot_of(server)
    planted = f"{snap}.tmp.{server.pid}"
    as_www_data(lambda: os.symlink(target, planted))
    outside = {name: os.lstat(os.path.join(server.workdir, name))
               for name in ("precious", "instances.json", "errors", "snap")}
    server.write([ONE, TWO])    # the start-up refresh has a table to write
    server.graceful()
    assert_untouched(target)
    wait_served(server, "two.example.edu", "2")
    assert os.readlink(planted) == target
    for name, before in outside.items():
        after = os.lstat(os.path.join(server.workdir, name))
        if name != "instances.json":     # the test rewrote it
            assert (after.st_uid, after.st_mode) == (before.st_uid, before.st_mode), name
    os.unlink(planted)
    assert_secret_files(os.path.dirname(snap))


def test_existing_snapshot_directory_is_never_chowned(flavour, site, start_httpd):
    server = vmoodle_server(flavour, site, [ONE], refresh=3600)
    snapdir = os.path.join(server.workdir, "snap")
    os.chown(snapdir, 0, 0)
    os.chmod(snapdir, 0o755)
    server.expect_error(r"VM00040: table .*: the snapshot directory "
                        rf"{snapdir} is not writable by User www-data")
    server.expect_error(r"VM00007: ")     # and so no snapshot: 503 meanwhile
    start_httpd(server=server)
    eventually(lambda: client.get(server.port, "one.example.edu").status,
               lambda v: v == 503, 10, "503 without a snapshot")
    st = os.stat(snapdir)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, 0, 0o755)
    assert os.listdir(snapdir) == []
    assert "VM00040" in server.errors_text()


def test_missing_snapshot_directory_is_created_for_user(flavour, site, start_httpd):
    server = vmoodle_server(flavour, site, [ONE])
    snapdir = os.path.join(server.workdir, "snap")
    os.rmdir(snapdir)
    start_httpd(server=server)
    wait_served(server, "one.example.edu", "1")
    st = os.lstat(snapdir)
    assert stat.S_ISDIR(st.st_mode)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == \
        (WWW.pw_uid, WWW.pw_gid, 0o700)
    wait_served(server, "one.example.edu", "1")
    assert_secret_files(snapdir)


def test_snapshot_and_live_copies_are_www_data_0600(start_vmoodle):
    server = start_vmoodle([ONE])
    wait_served(server, "one.example.edu", "1")
    snapdir = os.path.dirname(snapshot_of(server))
    assert_secret_files(snapdir)
    server.write([ONE, TWO])            # a new generation, by the writer child
    wait_served(server, "two.example.edu", "2")
    generation = max(int(n.rsplit(".", 1)[1]) for n in os.listdir(snapdir)
                     if ".live." in n)
    assert_secret_files(snapdir, generation)
    server.graceful()                   # and once more by the start-up refresh
    assert_secret_files(snapdir, generation)


# --- VMoodleTrustedProxy with mod_remoteip's PROXY protocol ---------------

def proxied_get(port, claimed_peer, forwarded_host):
    """A client that speaks PROXY v1 itself, claiming claimed_peer."""
    data = (f"PROXY TCP4 {claimed_peer} 127.0.0.1 40000 {port}\r\n"
            "GET /index.php HTTP/1.1\r\nHost: nosuch.example.edu\r\n"
            f"X-Forwarded-Host: {forwarded_host}\r\nConnection: close\r\n\r\n")
    return client.raw(port, data.encode())


def proxy_protocol_server(flavour, site, start_httpd, trusted):
    server = vmoodle_server(flavour, site, [ONE],
                            directives=f"VMoodleTrustedProxy {trusted}\n",
                            extra="RemoteIPProxyProtocol On\n")
    server.extra_modules = ("remoteip",)
    # The harness's connection probe sends no PROXY line.
    server.expect_error(r"AH0350\d|AH1018\d|RemoteIPProxyProtocol")
    return start_httpd(server=server)


def test_trusted_proxy_is_the_tcp_peer_not_the_proxy_line(flavour, site,
                                                          start_httpd):
    """A client that reaches a RemoteIPProxyProtocol port and claims, in
    its PROXY line, to be the trusted proxy is not believed."""
    server = proxy_protocol_server(flavour, site, start_httpd, "10.9.9.9")
    forged = eventually(lambda: proxied_get(server.port, "10.9.9.9",
                                            "one.example.edu"),
                        lambda r: r.status != 503, 10, "a snapshot")
    assert forged.status == 404, "a PROXY line made the client a trusted proxy"
    assert forged.headers.get("X-VMoodle-Id") != "1"
    eventually(server.access_text, lambda log: "10.9.9.9 404" in log, 10,
               "the PROXY line's address in the access log (mod_remoteip used it)")


def test_trusted_proxy_speaking_proxy_protocol_is_believed(flavour, site,
                                                           start_httpd):
    """The real peer trusted: its X-Forwarded-Host is believed, whatever
    client its PROXY line names."""
    server = proxy_protocol_server(flavour, site, start_httpd, "127.0.0.1")
    trusted = eventually(lambda: proxied_get(server.port, "203.0.113.7",
                                             "one.example.edu"),
                         lambda r: r.status != 503, 10, "a snapshot")
    assert (trusted.status, trusted.headers.get("X-VMoodle-Id")) == (200, "1")
    eventually(server.access_text, lambda log: "203.0.113.7 200" in log, 10,
               "the PROXY line's address in the access log")


# --- files vcron and vmoodlectl (root) write -------------------------------

def shared_table(directory):
    """A JSON table as an administrator sets it up: root's, readable by
    Apache's group only."""
    os.chmod(directory, 0o755)
    table = os.path.join(directory, "instances.json")
    with open(table, "w") as f:
        json.dump([ONE, TWO], f)
    os.chown(table, 0, WWW.pw_gid)
    os.chmod(table, 0o640)
    return table


def owner_mode(path):
    st = os.lstat(path)
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)


def vcron(directory, table, *extra):
    argv = [program(build_dir(), "vcron"), "--source", f"json:{table}",
            "--log-dir", os.path.join(directory, "log"),
            "--lock-dir", os.path.join(directory, "lock"),
            "--state-file", os.path.join(directory, "state", "vcron.state"),
            *extra, "run", "--command", "/bin/true"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def ctl(table, *args):
    return subprocess.run([program(build_dir(), "vmoodlectl"), "--source",
                           f"json:{table}", *args], capture_output=True,
                          text=True, timeout=120)


def test_vcron_state_and_cronstate_modes(tmp_path):
    table = shared_table(str(tmp_path))
    proc = vcron(str(tmp_path), table, "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert owner_mode(str(tmp_path / "state" / "vcron.state")) == (0, 0, 0o600)
    # The cron figures: for the table's readers (the module), no one else.
    assert owner_mode(table + ".cronstate") == (0, WWW.pw_gid, 0o640)
    assert owner_mode(table) == (0, WWW.pw_gid, 0o640)
    with open(table + ".cronstate") as f:
        assert set(json.load(f)) == {"1", "2"}


def test_vmoodlectl_rewrites_keep_the_tables_owner_and_mode(tmp_path):
    table = shared_table(str(tmp_path))
    steps = [["add", "--host", "http://three.example.edu", "--dbname", "three",
              "--dataroot", "/srv/three"],
             ["edit", "three.example.edu", "--dbname", "three_b"],
             ["disable", "1"], ["enable", "1"], ["remove", "three.example.edu"]]
    for args in steps:
        proc = ctl(table, *args)
        assert proc.returncode == 0, (args, proc.stderr)
        assert owner_mode(table) == (0, WWW.pw_gid, 0o640), args
    assert [r["id"] for r in json.load(open(table))] == [1, 2]
    leftovers = [n for n in os.listdir(tmp_path) if ".tmp." in n]
    assert leftovers == []


def test_lock_file_link_is_refused(tmp_path):
    directory = str(tmp_path)
    table = shared_table(directory)
    target = precious(directory)
    os.symlink(target, table + ".lock")
    proc = ctl(table, "disable", "1")
    assert proc.returncode != 0
    assert f"lock {table}.lock is a symbolic link" in proc.stderr
    assert json.load(open(table))[0]["enabled"] == 1, "written without its lock"
    assert_untouched(target)

    state_dir = tmp_path / "state"
    state_dir.mkdir()
    os.symlink(target, state_dir / "vcron.state.lock")
    proc = vcron(directory, table)
    assert proc.returncode == 4, proc.stderr
    assert "vcron.state.lock is a symbolic link" in proc.stderr
    assert_untouched(target)


def test_vcron_refuses_a_link_for_its_directories(tmp_path):
    directory = str(tmp_path)
    table = shared_table(directory)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for name in ("lock", "log"):
        link = tmp_path / name
        os.symlink(elsewhere, link)
        proc = vcron(directory, table)
        assert proc.returncode == 4, proc.stderr
        assert f"{link} is a symbolic link, not a directory" in proc.stderr
        assert os.listdir(elsewhere) == []
        os.unlink(link)
    proc = vcron(directory, table, "--quiet")
    assert proc.returncode == 0, proc.stderr

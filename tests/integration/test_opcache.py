"""PHP's opcode file cache for vcron's and vmoodlectl's runs, with the real
php-cli and a stand-in code tree: the cache directory per code tree and
user (root's above, the user's below, nobody else's), a second run that
compiles nothing, a changed file seen at once, a new tree version in a new
directory, and a planted directory refused."""
import os
import pwd
import stat
import subprocess
import time

import pytest

from test_tenant_users import site_users  # noqa: F401 (a fixture)
from test_vcron import Rig, summary

PHP = "/usr/bin/php"
WEB_USER = "www-data"
pytestmark = [
    pytest.mark.skipif(not os.path.exists(PHP), reason="needs php-cli"),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch user"),
]

CRON = """<?php
require __DIR__ . '/../../lib.php';
echo 'out=' . message() . "\\n";
"""


def write(path, text, age=3600):
    """A code file older than opcache's file_update_protection (2 s)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    t = time.time() - age
    os.utime(path, (t, t))


class Tree:
    def __init__(self, rig):
        self.rig = rig
        self.code = os.path.join(rig.dir, "moodle")
        self.cache = os.path.join(rig.dir, "opcache")
        write(os.path.join(self.code, "version.php"), "<?php $version = 1;\n")
        write(os.path.join(self.code, "admin/cli/cron.php"), CRON)
        self.message("v1")
        rig.write_table(rig_rows(rig, 1))

    def message(self, text, age=3600):
        write(os.path.join(self.code, "lib.php"),
              f"<?php function message() {{ return '{text}'; }}\n", age)

    def run(self, *extra):
        proc = self.rig.run("--php", PHP, "--moodle-dir", self.code,
                            "--opcache-dir", self.cache, *extra, "run",
                            command=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert summary(proc)["succeeded"] == 1, proc.stdout
        return proc

    def log(self):
        with open(os.path.join(self.rig.dir, "log",
                               "site1.example.edu.log")) as f:
            return f.read()

    def last_output(self):
        return [l for l in self.log().splitlines() if l.startswith("out=")][-1]

    def trees(self):
        return sorted(os.listdir(self.cache)) if os.path.isdir(self.cache) \
            else []

    def compiled(self, tree, user=WEB_USER):
        """{script: mtime_ns} of the compiled files under one tree's and
        user's dir."""
        found = {}
        top = os.path.join(self.cache, tree, user)
        for d, _, files in os.walk(top):
            for name in files:
                if name.endswith(".bin"):
                    found[name[:-4]] = os.stat(os.path.join(d, name)).st_mtime_ns
        return found


def rig_rows(rig, n):
    from test_vcron import instance
    return [instance(i) for i in range(1, n + 1)]


def test_cache_per_tree_and_user_used_and_invalidated(reachable_dir):
    tree = Tree(Rig(reachable_dir, count=1))
    tree.run()
    assert tree.last_output() == "out=v1"
    [key] = tree.trees()
    # root's directories above, the user's own below, nobody else's.
    www = pwd.getpwnam(WEB_USER)
    for path, uid, mode in ((tree.cache, 0, 0o755),
                            (os.path.join(tree.cache, key), 0, 0o755),
                            (os.path.join(tree.cache, key, WEB_USER),
                             www.pw_uid, 0o700)):
        st = os.lstat(path)
        assert stat.S_ISDIR(st.st_mode) and st.st_uid == uid, path
        assert stat.S_IMODE(st.st_mode) == mode, (path, oct(st.st_mode))
    first = tree.compiled(key)
    assert {"cron.php", "lib.php"} <= set(first), first
    # A second run compiles nothing: every compiled file left as it was.
    tree.run()
    assert tree.last_output() == "out=v1"
    assert tree.compiled(key) == first
    # A changed file is seen at once, and only it is compiled again.
    tree.message("v2", age=1800)
    tree.run()
    assert tree.last_output() == "out=v2"
    now = tree.compiled(key)
    assert now["lib.php"] != first["lib.php"]
    assert now["cron.php"] == first["cron.php"]
    # A new version of the tree: a new, empty cache beside the old one.
    write(os.path.join(tree.code, "version.php"), "<?php $version = 2;\n")
    tree.run()
    assert len(tree.trees()) == 2
    # Off: no cache settings, nothing new written.
    before = {k: tree.compiled(k) for k in tree.trees()}
    tree.message("v3", age=900)
    tree.run("--opcache=off")
    assert tree.last_output() == "out=v3"
    assert {k: tree.compiled(k) for k in tree.trees()} == before


def test_planted_directory_or_link_is_refused_and_the_cron_still_runs(reachable_dir):
    tree = Tree(Rig(reachable_dir, count=1))
    tree.run()                       # makes the tree's directory
    [key] = tree.trees()
    mine = os.path.join(tree.cache, key, WEB_USER)
    subprocess.run(["rm", "-rf", mine], check=True)
    # Someone else's directory where the user's should be.
    os.mkdir(mine, 0o700)
    nobody = pwd.getpwnam("nobody")
    os.chown(mine, nobody.pw_uid, nobody.pw_gid)
    tree.run()
    assert tree.last_output() == "out=v1"
    assert "VM00279" in tree.log() and "refused" in tree.log()
    assert os.listdir(mine) == []
    # A link to a directory the user could fill is refused as well.
    os.rmdir(mine)
    elsewhere = os.path.join(tree.rig.dir, "elsewhere")
    os.mkdir(elsewhere, 0o700)
    os.chown(elsewhere, pwd.getpwnam(WEB_USER).pw_uid, 0)
    os.symlink(elsewhere, mine)
    tree.run()
    assert tree.log().count("VM00279") == 2
    assert os.listdir(elsewhere) == []
    # A tree directory others may write is refused.
    os.unlink(mine)
    os.chmod(os.path.join(tree.cache, key), 0o777)
    tree.run()
    assert tree.log().count("VM00279") == 3


def test_vmoodlectl_runs_share_the_cache(reachable_dir):
    tree = Tree(Rig(reachable_dir, count=1))
    tree.run()
    [key] = tree.trees()
    first = tree.compiled(key)
    ctl = os.path.join(os.path.dirname(tree.rig.args()[0]), "vmoodlectl")
    proc = subprocess.run(
        [ctl, "--config", "/dev/null", "--source", tree.rig.source,
         "--php", PHP, "--moodle-dir", tree.code, "--opcache-dir", tree.cache,
         "--lock-dir", os.path.join(tree.rig.dir, "lock"),
         "run", "site1.example.edu", "--", "admin/cli/cron.php"],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "out=v1\n"
    assert tree.compiled(key) == first     # compiled by vcron's run, reused


def test_each_site_user_has_its_own_cache(reachable_dir, site_users):
    """With site-user, one tenant's compiled code is never another's: a
    directory per user under the tree's, each the user's alone (0700), and
    none for the shared user."""
    tree = Tree(Rig(reachable_dir, count=1))
    tree.rig.write_table(rig_rows(tree.rig, 2))
    proc = tree.rig.run("--php", PHP, "--moodle-dir", tree.code,
                        "--opcache-dir", tree.cache,
                        "--site-user", "vmtest-%shortname%", "run",
                        command=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert summary(proc)["succeeded"] == 2, proc.stdout
    [key] = tree.trees()
    assert sorted(os.listdir(os.path.join(tree.cache, key))) == site_users
    for user in site_users:
        mine = os.path.join(tree.cache, key, user)
        st = os.lstat(mine)
        assert stat.S_ISDIR(st.st_mode), mine
        assert st.st_uid == pwd.getpwnam(user).pw_uid, mine
        assert stat.S_IMODE(st.st_mode) == 0o700, (mine, oct(st.st_mode))
        assert {"cron.php", "lib.php"} <= set(tree.compiled(key, user))

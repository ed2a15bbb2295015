"""Platforms in vcron and vmoodlectl, over the stand-in Moodle of
test_vmoodlectl_run: a second code tree ("next", its own code version) and
a platforms file.  Each site's CLI runs in its platform's tree (vcron's
cron, run on one site and on many); `platforms` lists the trees with their
version and site counts; `alias` adds, lists and removes aliases, refusing
another site's host; `upgrade --to` moves one site (maintenance, switch,
upgrade, purge, maintenance off, in that order, each with the right
tree's code) while the others are not touched, and a failed upgrade puts
the site back on its old platform, out of maintenance."""
import json
import os

import pytest
import shutil
import subprocess

from test_vmoodlectl_run import CTL, Fleet, WEB_USER, give_to_web_user, write  # noqa: F401

BUILD = os.environ.get("VMOODLE_BUILD",
                       os.path.join(os.path.dirname(__file__), "../../build"))
VCRON = os.path.join(BUILD, "vcron")

# What each tree's scripts leave: which file ran, for which site.
TREE = ('d=@ROOT@\nme=${VMOODLE_SHORTNAME:-master}\n'
        'echo "$0" >> "$d/out/$me.tree"\n')


class Platforms(Fleet):
    """The Fleet, plus tree "next" (code version in @ROOT@/version2) and
    the platforms file; version.php in both trees."""

    def __init__(self, root):
        super().__init__(root)
        self.next = os.path.join(self.root, "next")
        shutil.copytree(self.code, self.next)
        cli = os.path.join(self.next, "admin", "cli")
        for name in os.listdir(cli):
            path = os.path.join(cli, name)
            with open(path) as f:
                text = f.read()
            write(path, text.replace(f"cat {self.root}/version)",
                                     f"cat {self.root}/version2)"), 0o644)
        for tree, version, release in ((self.code, "2024100705.00", "4.5.5"),
                                       (self.next, "2024100706.00", "4.5.6")):
            write(os.path.join(tree, "version.php"),
                  f"<?php\n$version  = {version};  // comment\n"
                  f"$release  = '{release} (Build: 20250613)';\n", 0o644)
            text = TREE.replace("@ROOT@", self.root)
            write(os.path.join(tree, "whoami.php"), text, 0o644)
            write(os.path.join(tree, "admin", "cli", "cron.php"), text, 0o644)
        write(os.path.join(self.root, "version2"), "2\n", 0o644)
        self.platforms = os.path.join(self.root, "platforms.conf")
        write(self.platforms, f"next = {self.next}\n", 0o644)

    def args(self, *args):
        """The Fleet's settings and the platforms file; --log-dir only for
        the commands that run Moodle's CLI on sites."""
        argv = super().args("--platforms", self.platforms, *args)
        if args and args[0] in ("platforms", "alias", "check", "list", "show"):
            i = argv.index("--log-dir")
            del argv[i:i + 2]
        return argv

    def set_platform(self, site, platform):
        for row in self.rows:
            if row["shortname"] == site:
                row["platform"] = platform
        from instances import write_table
        write_table(self.table, self.rows)

    def trees(self, name):
        text = self.out(f"{name}.tree") or ""
        return text.split()

    def steps(self):
        text = self.out("steps") or ""
        return [line.split()[1:3] for line in text.splitlines()]


@pytest.fixture
def root(reachable_dir):
    """A fresh directory www-data can reach (conftest's)."""
    return reachable_dir


def fleet2(root):
    f = Platforms(root)
    f.set_platform("site2", "next")
    return f


def test_each_site_runs_its_platforms_code(root):
    f = fleet2(root)
    proc = f.ctl("run", "site2.test", "--", "whoami.php")
    assert proc.returncode == 0, proc.stderr
    assert f.trees("site2") == [f"{f.next}/whoami.php"]
    proc = f.ctl("run", "--all", "--", "whoami.php")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f.trees("site1") == [f"{f.code}/whoami.php"]
    assert f.trees("site3") == [f"{f.code}/whoami.php"]
    assert f.trees("site2")[-1] == f"{f.next}/whoami.php"


def test_vcron_runs_each_cron_in_its_platform(root):
    f = fleet2(root)
    state = os.path.join(f.root, "state")
    os.mkdir(state)
    proc = subprocess.run([VCRON, "--config", "/dev/null", "--source",
                           f"json:{f.table}", "--php", os.path.join(f.root, "php"),
                           "--moodle-dir", f.code, "--platforms", f.platforms,
                           "--user", WEB_USER, "--log-dir", os.path.join(f.root, "vlog"),
                           "--lock-dir", f.locks, "--state-file",
                           os.path.join(state, "vcron.state"), "--per-tick", "3", "run"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f.trees("site1") == [f"{f.code}/admin/cli/cron.php"]
    assert f.trees("site2") == [f"{f.next}/admin/cli/cron.php"]


def test_unknown_platform_is_refused_not_run_elsewhere(root):
    f = fleet2(root)
    f.set_platform("site3", "gone")
    proc = f.ctl("run", "site3.test", "--", "whoami.php")
    assert proc.returncode != 0
    assert "platform 'gone' is not in" in proc.stderr
    assert f.trees("site3") == []


def test_check_names_a_missing_platform(root):
    f = fleet2(root)
    f.set_platform("site3", "gone")
    os.remove(os.path.join(f.next, "admin", "cli", "upgrade.php"))
    proc = f.ctl("check", "--no-dns", "site2.test", "site3.test")
    assert proc.returncode == 1
    lines = {l.split()[0]: l for l in proc.stdout.splitlines()}
    assert f"platform 'next': {f.next} has no admin/cli/upgrade.php" in lines["site2.test"]
    assert "platform 'gone': 'gone' is not in the platforms file" in lines["site3.test"]


def test_platforms_lists_versions_and_counts(root):
    f = fleet2(root)
    f.set_platform("site3", "gone")
    proc = f.ctl("platforms", "--json")
    assert proc.returncode == 0, proc.stderr
    got = {p["name"]: p for p in json.loads(proc.stdout)["platforms"]}
    assert got["(default)"]["path"] == f.code
    assert got["(default)"]["version"] == "2024100705.00"
    assert got["(default)"]["sites"] == 2            # site1, site4 (disabled)
    assert got["next"]["release"] == "4.5.6 (Build: 20250613)"
    assert got["next"]["sites"] == 1
    assert got["gone"]["missing"] is True and got["gone"]["sites"] == 1
    text = f.ctl("platforms").stdout
    assert "next" in text and "2024100706.00" in text


def test_alias_add_list_remove_and_refusals(root):
    f = Platforms(root)
    proc = f.ctl("alias", "add", "site1.test", "www.site1.test")
    assert proc.returncode == 0, proc.stderr
    proc = f.ctl("alias", "add", "site1.test", "http://old.test/one/")
    assert proc.returncode == 0, proc.stderr
    assert f.ctl("alias", "list", "site1.test").stdout.split("\n")[:2] == \
        ["site1.test www.site1.test", "site1.test old.test/one"]
    with open(f.table) as fh:
        assert json.load(fh)[0]["aliases"] == "www.site1.test old.test/one"
    # another site's host, another site's alias, the same twice: refused
    for host, alias, word in (("site1.test", "site2.test", "already used by id 2"),
                              ("site3.test", "www.site1.test", "already used by id 1"),
                              ("site1.test", "WWW.site1.test", "already an alias")):
        proc = f.ctl("alias", "add", host, alias)
        assert proc.returncode != 0 and word in proc.stderr, (alias, proc.stderr)
    assert f.ctl("alias", "remove", "site1.test", "www.site1.test").returncode == 0
    assert f.ctl("alias", "list").stdout == "site1.test old.test/one\n"
    listed = f.ctl("list").stdout.splitlines()
    assert listed[0].split()[-2:] == ["PLATFORM", "ALIASES"]
    assert listed[1].split()[-2:] == ["-", "old.test/one"]
    shown = f.ctl("show", "site1.test").stdout
    assert "aliases      old.test/one" in shown and "platform     \n" in shown
    proc = f.ctl("alias", "remove", "site1.test", "www.site1.test")
    assert proc.returncode == 2 and "no alias" in proc.stderr
    assert f.ctl("alias", "frob").returncode == 2


def test_check_resolves_each_alias(root):
    f = Platforms(root)
    for site, alias in (("site1.test", "http://old.invalid/one/"),
                        ("site2.test", "localhost")):
        proc = f.ctl("alias", "add", site, alias)
        assert proc.returncode == 0, proc.stderr
    lines = {l.split()[0]: l for l in f.ctl("check", "site1.test", "site2.test",
                                             "site3.test").stdout.splitlines()}
    assert lines["site1.test"].endswith(
        "; aliases 'old.invalid/one': warning: old.invalid/one does not resolve: "
        "Name or service not known"), lines["site1.test"]
    assert lines["site2.test"].endswith("; aliases 'localhost': ok"), lines["site2.test"]
    assert "aliases" not in lines["site3.test"]
    proc = f.ctl("check", "--no-dns", "site1.test")      # (its database: a stand-in)
    assert proc.stdout.rstrip().endswith("; aliases 'old.invalid/one': not checked")


def test_list_and_show_name_a_path_site(root):
    f = fleet2(root)
    f.rows[1]["vhostname"] = "http://site1.test/school2"    # site2, on "next"
    from instances import write_table
    write_table(f.table, f.rows)
    listed = {l.split()[0]: l.split() for l in f.ctl("list").stdout.splitlines()[1:]}
    assert listed["2"][2] == "site1.test/school2" and listed["2"][-1] == "next", listed
    shown = dict(l.split(None, 1) for l in f.ctl("show", "2").stdout.splitlines()
                 if len(l.split(None, 1)) == 2)
    assert (shown["host"], shown["path"], shown["platform"], shown["wwwroot"]) == \
        ("site1.test/school2", "/school2", "next", "http://site1.test/school2")


def test_upgrade_to_moves_one_site_alone(root):
    f = Platforms(root)
    f.set_versions(code=1, db=1)
    proc = f.ctl("upgrade", "site2.test", "--to", "next", "--settle", "0",
                 "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "switch site2.test from platform '' " in proc.stdout
    assert f.db_version("site2") == 1
    proc = f.ctl("upgrade", "site2.test", "--to", "next", "--settle", "0")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "on platform 'next', upgraded" in proc.stdout
    with open(f.table) as fh:
        rows = {r["id"]: r for r in json.load(fh)}
    assert rows[2]["platform"] == "next"
    assert "platform" not in rows[1]
    assert f.db_version("site2") == 2 and f.db_version("site1") == 1
    assert not f.in_maintenance("site2")
    # maintenance on with the old code, the rest with the new, in order
    steps = [(s[0], os.path.relpath(s[1], f.root)) for s in f.steps()]
    assert steps == [("site2", "moodle/admin/cli/maintenance.php"),
                     ("site2", "next/admin/cli/upgrade.php"),
                     ("site2", "next/admin/cli/purge_caches.php"),
                     ("site2", "next/admin/cli/maintenance.php")]
    again = f.ctl("upgrade", "site2.test", "--to", "next", "--settle", "0")
    assert again.returncode == 0 and "already on platform 'next'" in again.stdout


def test_failed_upgrade_goes_back_and_serves(root):
    f = Platforms(root)
    f.flag("site3", "fail-upgrade")
    proc = f.ctl("upgrade", "site3.test", "--to", "next", "--settle", "0")
    assert proc.returncode == 1
    assert "upgrade.php (new code) failed" in proc.stderr
    assert "back on platform ''" in proc.stderr
    with open(f.table) as fh:
        assert {r["id"]: r for r in json.load(fh)}[3].get("platform", "") == ""
    assert not f.in_maintenance("site3")
    assert f.db_version("site3") == 1
    steps = [os.path.relpath(s[1], f.root) for s in f.steps()]
    assert steps[-2:] == ["moodle/admin/cli/purge_caches.php",
                          "moodle/admin/cli/maintenance.php"]


def test_upgrade_to_checks_before_anything(root):
    f = Platforms(root)
    for args, word in ((["--to", "nosuch"], "'nosuch' is not in"),
                       (["--to", "next", "--backup", "--backup-dir", "rel"],
                        "absolute path"),
                       (["--to", "next", "--master"], "master")):
        proc = f.ctl("upgrade", "site1.test", *args)
        assert proc.returncode == 2 and word in proc.stderr, (args, proc.stderr)
    assert f.out("steps") is None

"""vmoodlectl run, cron and upgrade over a stand-in Moodle: "php" is a shell
script that runs the named script with sh, and the scripts record what they
saw (environment, user, start and end times) under out/ and do what
behave/<site> tells them (sleep, exit code).  The stand-in upgrade.php,
maintenance.php and purge_caches.php keep a site's "database version" and
maintenance flag in its dataroot, as Moodle keeps them in its database and
dataroot."""
import fcntl
import json
import os
import pwd
import re
import signal
import subprocess
import time

import pytest

from instances import expected_env, instance, write_table

BUILD = os.environ.get("VMOODLE_BUILD",
                       os.path.join(os.path.dirname(__file__), "../../build"))
CTL = os.path.join(BUILD, "vmoodlectl")
WEB_USER = "www-data"

STAND_IN_PHP = """#!/bin/sh
# php -dname=value... SCRIPT ARGS: the settings noted, the script run by sh.
echo "$*" > "@ROOT@/out/php.args"
while [ "${1#-d}" != "$1" ]; do shift; done
exec /bin/sh "$@"
"""

# The site's name in out/ and behave/: its shortname, or master.
SITE = 'me=${VMOODLE_SHORTNAME:-master}; [ -n "$VMOODLE_MASTER" ] && me=master\n'

RECORD = """d=@ROOT@
""" + SITE + """start=$(date +%s.%N)
env > "$d/out/$me.env"
id -u > "$d/out/$me.uid"
echo "$start" > "$d/out/$me.start"
set -- $(cat "$d/behave/$me" 2>/dev/null || echo "0 0")
echo "$me working"
[ "$1" = hang ] && { sleep 1000 & echo $! > "$d/out/$me.child"; wait; }
sleep "$1"
echo "$start $(date +%s.%N)" > "$d/out/$me.times"
echo "$me says goodbye" >&2
exit "$2"
"""

# The foreground test's script: our stdin, stdout and stderr, exit 7.
ECHO = """read line
echo "got $line"
echo "to stderr" >&2
exit 7
"""

# Stand-in admin/cli scripts: the site's data in its dataroot (the
# master's in @ROOT@/masterdata), the code's version in @ROOT@/version.
SITE_DATA = 'dr=${VMOODLE_DATAROOT:-@ROOT@/masterdata}\n' + SITE + \
    'echo "$(date +%s.%N) $me $0 $*" >> @ROOT@/out/steps\n'

UPGRADE = SITE_DATA + """code=$(cat @ROOT@/version); db=$(cat "$dr/version")
case "$1" in
--is-pending) [ "$db" -lt "$code" ] && { echo "upgrade pending"; exit 2; }
              echo "no upgrade needed"; exit 0 ;;
--non-interactive)
    [ -f "$dr/climaintenance.html" ] || { echo "not in maintenance"; exit 9; }
    [ -f "$dr/fail-upgrade" ] && { echo "upgrade error"; exit 5; }
    sleep "$(cat @ROOT@/upgrade-seconds)"
    echo "$code" > "$dr/version"; echo "upgraded to $code"; exit 0 ;;
esac
exit 8
"""

MAINTENANCE = SITE_DATA + """case "$1" in
--enable) echo on > "$dr/climaintenance.html" ;;
--disable) rm -f "$dr/climaintenance.html" ;;
*) exit 8 ;;
esac
"""

CFG = SITE_DATA + 'echo "cfg $me $*"\n'

PURGE = SITE_DATA + """[ -f "$dr/fail-purge" ] && { echo "purge error"; exit 6; }
echo purged
"""


def write(path, text, mode=0o755):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def give_to_web_user(path):
    if os.geteuid() == 0:
        w = pwd.getpwnam(WEB_USER)
        os.chown(path, w.pw_uid, w.pw_gid)


class Fleet:
    """A table of sites, their dataroots and the stand-in Moodle code."""

    def __init__(self, root, count=4, disabled=(4,)):
        self.root = str(root)
        os.chmod(self.root, 0o755)
        self.code = os.path.join(self.root, "moodle")
        self.logs = os.path.join(self.root, "logs")
        self.locks = os.path.join(self.root, "locks")
        for sub in ("moodle", "moodle/admin/cli", "out", "behave", "locks",
                    "masterdata"):
            os.makedirs(os.path.join(self.root, sub), 0o755, exist_ok=True)
        give_to_web_user(os.path.join(self.root, "out"))
        give_to_web_user(os.path.join(self.root, "masterdata"))
        sub = lambda text: text.replace("@ROOT@", self.root)
        write(os.path.join(self.root, "php"), sub(STAND_IN_PHP))
        write(os.path.join(self.code, "record.php"), sub(RECORD), 0o644)
        write(os.path.join(self.code, "echo.php"), ECHO, 0o644)
        cli = os.path.join(self.code, "admin", "cli")
        write(os.path.join(cli, "upgrade.php"), sub(UPGRADE), 0o644)
        write(os.path.join(cli, "maintenance.php"), sub(MAINTENANCE), 0o644)
        write(os.path.join(cli, "purge_caches.php"), sub(PURGE), 0o644)
        write(os.path.join(cli, "cfg.php"), sub(CFG), 0o644)
        write(os.path.join(cli, "cron.php"), sub(RECORD), 0o644)
        self.rows = []
        for i in range(1, count + 1):
            data = os.path.join(self.root, f"data{i}")
            os.makedirs(data, 0o755)
            give_to_web_user(data)
            self.rows.append(instance(i, f"site{i}.test", vdatapath=data,
                                      shortname=f"site{i}",
                                      enabled=0 if i in disabled else 1))
        self.table = os.path.join(self.root, "instances.json")
        write_table(self.table, self.rows)
        self.set_versions(code=1, db=1)
        write(os.path.join(self.root, "upgrade-seconds"), "0\n", 0o644)

    def dataroot(self, name):
        if name == "master":
            return os.path.join(self.root, "masterdata")
        return next(r["vdatapath"] for r in self.rows if r["shortname"] == name)

    def set_versions(self, code=None, db=None):
        if code is not None:
            write(os.path.join(self.root, "version"), f"{code}\n", 0o644)
        if db is not None:
            for name in ["master"] + [r["shortname"] for r in self.rows]:
                path = os.path.join(self.dataroot(name), "version")
                write(path, f"{db}\n", 0o644)
                give_to_web_user(path)

    def db_version(self, name):
        with open(os.path.join(self.dataroot(name), "version")) as f:
            return int(f.read())

    def in_maintenance(self, name):
        return os.path.exists(os.path.join(self.dataroot(name), "climaintenance.html"))

    def flag(self, name, flag, on=True):
        path = os.path.join(self.dataroot(name), flag)
        if on:
            write(path, "", 0o644)
        elif os.path.exists(path):
            os.unlink(path)

    def behave(self, name, sleep=0, code=0):
        write(os.path.join(self.root, "behave", name), f"{sleep} {code}\n", 0o644)

    def out(self, name):
        path = os.path.join(self.root, "out", name)
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return f.read()

    def args(self, *args):
        return [CTL, "--config", "/dev/null", "--source", f"json:{self.table}",
                "--php", os.path.join(self.root, "php"), "--moodle-dir",
                self.code, "--lock-dir", self.locks, "--user", WEB_USER,
                "--log-dir", self.logs,
                "--opcache-dir", os.path.join(self.root, "opcache")] + [
                    str(a) for a in args]

    def ctl(self, *args, input=None, timeout=120):
        return subprocess.run(self.args(*args), capture_output=True, text=True,
                              input=input, timeout=timeout)

    def summary(self, stdout):
        """The summary table's rows: site -> (result, exit, last line)."""
        lines = stdout.splitlines()
        head = next(i for i, l in enumerate(lines) if l.startswith("SITE "))
        rows = {}
        for line in lines[head + 1:]:
            m = re.match(r"(\S+)\s+(ok|FAILED|-)\s+(-|\d+)\s+[\d.]+  (.*)$", line)
            if not m:
                break
            rows[m.group(1)] = (m.group(2), m.group(3), m.group(4))
        return rows


@pytest.fixture
def fleet(reachable_dir):
    return Fleet(reachable_dir)


def recorded_env(fleet, name):
    text = fleet.out(f"{name}.env")
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def base_env():
    w = pwd.getpwnam(WEB_USER)
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": w.pw_dir,
            "LOGNAME": WEB_USER, "LANG": "C.UTF-8"}


def shell_noise(env):
    """Variables sh sets itself (PWD, SHLVL, _...)."""
    return {k: v for k, v in env.items() if k not in ("PWD", "SHLVL", "_", "OLDPWD")}


# ------------------------------------------------------------ one site

def test_one_site_gets_our_streams_and_gives_its_exit_code(fleet):
    proc = fleet.ctl("run", "site1.test", "--", "echo.php", input="hello\n")
    assert proc.returncode == 7, proc.stderr
    assert proc.stdout == "got hello\n"
    assert proc.stderr == "to stderr\n"
    # The PHP settings Moodle's CLI needs come first, then the opcode
    # file cache's (core/vm_opcache.c), then the script.
    args = fleet.out("php.args").split()
    assert args[0] == "-dmax_input_vars=5000"
    script = args.index(os.path.join(fleet.code, "echo.php"))
    assert all(a.startswith("-dopcache.") for a in args[1:script]), args
    assert f"-dopcache.file_cache={fleet.root}/opcache/" in " ".join(args)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch user")
def test_environment_is_exactly_the_instances_and_the_user_www_data(fleet):
    leaky = dict(os.environ, VMOODLE_HOST="leaked.test", LEAK="x")
    proc = subprocess.run(fleet.args("run", "site2.test", "--", "record.php"),
                          capture_output=True, text=True, timeout=60, env=leaky)
    assert proc.returncode == 0, proc.stderr
    assert "site2 working" in proc.stdout
    assert shell_noise(recorded_env(fleet, "site2")) == dict(
        base_env(), **expected_env(fleet.rows[1]))
    assert fleet.out("site2.uid").strip() == str(pwd.getpwnam(WEB_USER).pw_uid)
    # The master: VMOODLE_MASTER=1 and no instance's variables.
    proc = subprocess.run(fleet.args("run", "--master", "--", "record.php"),
                          capture_output=True, text=True, timeout=60, env=leaky)
    assert proc.returncode == 0, proc.stderr
    assert shell_noise(recorded_env(fleet, "master")) == dict(
        base_env(), VMOODLE_MASTER="1")
    refused = fleet.ctl("--user", "root", "run", "site1.test", "--", "record.php")
    assert refused.returncode != 0 and "never runs as root" in refused.stderr


def test_run_without_script_or_sites_is_a_usage_error(fleet):
    for args in (["run", "site1.test"], ["run", "--", "record.php"],
                 ["run", "--all", "site1.test", "--", "record.php"],
                 ["run", "nosuch.test", "--", "record.php"]):
        proc = fleet.ctl(*args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert "VM00" in proc.stderr
    assert fleet.out("site1.env") is None


# ------------------------------------------------------------ many sites

def test_many_sites_log_per_site_summary_and_exit_code(fleet):
    fleet.behave("site2", code=3)
    proc = fleet.ctl("run", "--all", "--master", "--jobs", 4, "--", "record.php")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    rows = fleet.summary(proc.stdout)
    # Disabled site4 is left out; the master comes first.
    assert list(rows) == ["master", "site1.test", "site2.test", "site3.test"]
    assert rows["site1.test"] == ("ok", "0", "site1 says goodbye")
    assert rows["site2.test"] == ("FAILED", "3", "site2 says goodbye")
    assert "4 site(s): 3 ok, 1 failed, 0 not started" in proc.stdout
    assert f"site2.test failed: see {fleet.logs}/site2.test.log" in proc.stdout
    # A pipe gets plain lines, no cursor movement.
    assert "site1.test: ok (exit 0" in proc.stdout and "\033[" not in proc.stdout
    for name, log in (("site1", "site1.test.log"), ("master", "master.log")):
        with open(os.path.join(fleet.logs, log)) as f:
            assert f.read() == f"{name} working\n{name} says goodbye\n"
    assert fleet.out("site4.env") is None
    every = fleet.ctl("run", "--match", r"^site[34]\.", "--include-disabled",
                      "--", "record.php")
    assert every.returncode == 0, every.stdout
    assert list(fleet.summary(every.stdout)) == ["site3.test", "site4.test"]


def test_site_output_reaches_its_log_made_visible(fleet):
    """What a site's code prints (here escape sequences and a BEL) is in
    its log made visible, newlines and tabs kept: the log is safe to cat."""
    write(os.path.join(fleet.code, "escapes.php"),
          "printf 'x\\033]0;owned\\007\\033[2J\\tdone\\n'; printf 'bell\\a\\n' >&2\n",
          0o644)
    proc = fleet.ctl("run", "--all", "--", "escapes.php")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(os.path.join(fleet.logs, "site1.test.log")) as f:
        log = f.read()
    assert log == "x\\x1b]0;owned\\x07\\x1b[2J\tdone\nbell\\x07\n", log
    # The summary's last line is the log's, not escaped twice.
    assert fleet.summary(proc.stdout)["site1.test"] == ("ok", "0", "bell\\x07")
    assert "\x1b" not in proc.stdout + proc.stderr


def intervals(fleet, names):
    out = []
    for name in names:
        start, end = map(float, fleet.out(f"{name}.times").split())
        out.append((start, end))
    return out


def most_at_once(spans):
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans],
                    key=lambda ev: (ev[0], ev[1]))
    now = top = 0
    for _, step in events:
        now += step
        top = max(top, now)
    return top


def test_jobs_bounds_how_many_run_at_once(reachable_dir):
    fleet = Fleet(reachable_dir, count=6, disabled=())
    names = [f"site{i}" for i in range(1, 7)]
    for name in names:
        fleet.behave(name, sleep=1)
    proc = fleet.ctl("run", "--all", "--jobs", 2, "--", "record.php")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert most_at_once(intervals(fleet, names)) == 2
    proc = fleet.ctl("run", "--all", "--jobs", 6, "--", "record.php")
    assert proc.returncode == 0
    assert most_at_once(intervals(fleet, names)) > 2


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ")[1][0] != "Z"


def test_timeout_ends_a_site_and_its_children(fleet):
    fleet.behave("site1", sleep="hang")
    t0 = time.monotonic()
    proc = fleet.ctl("run", "site1.test", "site2.test", "--timeout", 2, "--",
                     "record.php", timeout=60)
    assert proc.returncode == 1, proc.stdout
    assert time.monotonic() - t0 < 30
    rows = fleet.summary(proc.stdout)
    assert rows["site1.test"][0] == "FAILED" and rows["site1.test"][2] == "timed out"
    assert rows["site2.test"][0] == "ok"
    child = int(fleet.out("site1.child"))
    deadline = time.monotonic() + 10
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(child), "the site's child survived its timeout"


def test_sigint_starts_nothing_new_and_reports_what_ran(fleet):
    for name in ("site1", "site2", "site3"):
        fleet.behave(name, sleep=2)
    proc = subprocess.Popen(fleet.args("run", "--all", "--jobs", 1, "--", "record.php"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while fleet.out("site1.start") is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, out + err
    assert "starting no more sites" in out
    rows = fleet.summary(out)
    assert rows["site1.test"][:2] == ("ok", "0"), rows     # finished its run
    for name in ("site2.test", "site3.test"):
        assert rows[name] == ("-", "-", "not started (interrupted or stopped)")
    assert fleet.out("site2.start") is None and fleet.out("site3.start") is None
    assert "3 site(s): 1 ok, 0 failed, 2 not started" in out


def test_fail_fast_stops_after_the_first_failure(fleet):
    fleet.behave("site1", code=4)
    proc = fleet.ctl("run", "--all", "--jobs", 1, "--fail-fast", "--", "record.php")
    assert proc.returncode == 1
    rows = fleet.summary(proc.stdout)
    assert rows["site1.test"][:2] == ("FAILED", "4")
    assert rows["site2.test"][0] == "-" and fleet.out("site2.start") is None


def test_log_dir_another_user_controls_is_refused(fleet):
    """Root writes the logs: never where another user decides."""
    os.makedirs(fleet.logs)
    os.chmod(fleet.logs, 0o777)
    theirs = os.path.join(fleet.root, "theirs")
    os.makedirs(theirs)
    give_to_web_user(theirs)
    real = os.path.join(fleet.root, "real")
    os.makedirs(real)
    os.symlink(real, os.path.join(fleet.root, "link"))
    for log_dir, reason in ((fleet.logs, "must be ours and writable by nobody else"),
                            (os.path.join(theirs, "logs"), "must be ours or root's"),
                            (os.path.join(fleet.root, "link", "logs"),
                             "is a symbolic link, not a directory"),
                            ("relative/logs", "give an absolute path")):
        proc = fleet.ctl("run", "--all", "--log-dir", log_dir, "--", "record.php")
        assert proc.returncode == 1 and reason in proc.stderr, (log_dir, proc.stderr)
    assert fleet.out("site1.start") is None
    assert os.listdir(real) == [] and os.listdir(theirs) == []


# ------------------------------------------------------------ the lock

def hold_lock(fleet, site_id):
    f = open(os.path.join(fleet.locks, f"{site_id}.lock"), "a")
    fcntl.flock(f, fcntl.LOCK_EX)
    return f


def test_cron_holds_the_site_lock_and_respects_vcrons(fleet):
    held = hold_lock(fleet, 1)
    try:
        proc = fleet.ctl("cron", "site1.test")
        assert proc.returncode == 1 and "locked" in proc.stderr
        assert fleet.out("site1.start") is None
    finally:
        held.close()
    # While vmoodlectl's cron runs, the lock is taken: vcron would pass it over.
    fleet.behave("site1", sleep=2)
    proc = subprocess.Popen(fleet.args("cron", "site1.test"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while fleet.out("site1.start") is None and time.monotonic() < deadline:
        time.sleep(0.05)
    with open(os.path.join(fleet.locks, "1.lock")) as f:
        with pytest.raises(BlockingIOError):
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "site1 working" in out


# ------------------------------------------------------------ shorthands

def test_shorthands_run_moodles_own_scripts(fleet):
    on = fleet.ctl("maintenance", "on", "--all", "--master")
    assert on.returncode == 0, on.stdout + on.stderr
    assert all(fleet.in_maintenance(n) for n in ("master", "site1", "site2", "site3"))
    assert not fleet.in_maintenance("site4")              # disabled
    off = fleet.ctl("maintenance", "off", "site1.test")   # one: foreground
    assert off.returncode == 0 and not fleet.in_maintenance("site1")
    assert fleet.in_maintenance("site2")
    purge = fleet.ctl("purge-caches", "--match", "site[12]")
    assert purge.returncode == 0
    assert {r[2] for r in fleet.summary(purge.stdout).values()} == {"purged"}
    cfg = fleet.ctl("config", "site1.test", "site2.test", "--name", "theme",
                    "--set", "boost; rm -rf /", "--plugin", "core")
    assert cfg.returncode == 0, cfg.stdout + cfg.stderr
    assert fleet.summary(cfg.stdout)["site2.test"][2] == \
        "cfg site2 --name=theme --set=boost; rm -rf / --component=core"
    unset = fleet.ctl("config", "site3.test", "--name", "theme", "--unset")
    assert unset.stdout == "cfg site3 --name=theme --unset\n"
    for bad in (["maintenance", "--all"], ["config", "--all"],
                ["config", "--all", "--name", "x", "--set", "1", "--unset"]):
        assert fleet.ctl(*bad).returncode == 2, bad


# ------------------------------------------------------------ upgrade

def steps(fleet):
    """(time, site, script, args) of every stand-in admin script run."""
    text = fleet.out("steps") or ""
    out = []
    for line in text.splitlines():
        t, site, script, *args = line.split()
        out.append((float(t), site, os.path.basename(script), " ".join(args)))
    return out


def test_upgrade_dry_run_lists_and_changes_nothing(fleet):
    fleet.set_versions(code=2)
    proc = fleet.ctl("upgrade", "--all", "--dry-run")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "dry run: 4 site(s) would be upgraded: master site1.test site2.test " \
           "site3.test" in proc.stdout
    assert all(fleet.db_version(n) == 1 for n in ("master", "site1", "site2"))
    assert {s[3] for s in steps(fleet)} == {"--is-pending"}


def test_upgrade_each_site_in_maintenance_master_first(fleet):
    fleet.set_versions(code=2)
    write(os.path.join(fleet.root, "upgrade-seconds"), "1\n", 0o644)
    proc = fleet.ctl("upgrade", "--all", "--jobs", 2)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = fleet.summary(proc.stdout)
    assert list(rows) == ["master", "site1.test", "site2.test", "site3.test"]
    assert all(r[0] == "ok" and r[2] == "vmoodlectl: upgraded, out of maintenance"
               for r in rows.values()), rows
    for name in ("master", "site1", "site2", "site3"):
        assert fleet.db_version(name) == 2 and not fleet.in_maintenance(name)
        done = [(s[2], s[3]) for s in steps(fleet) if s[1] == name]
        assert done == [("upgrade.php", "--is-pending"),
                        ("maintenance.php", "--enable"),
                        ("upgrade.php", "--non-interactive"),
                        ("purge_caches.php", ""),
                        ("maintenance.php", "--disable")], (name, done)
    assert fleet.db_version("site4") == 1           # disabled: not selected
    # The master ends before any instance starts.
    master_end = max(s[0] for s in steps(fleet) if s[1] == "master")
    assert master_end < min(s[0] for s in steps(fleet) if s[1] != "master")
    # A second run finds nothing to do.
    again = fleet.ctl("upgrade", "--all", "--jobs", 2)
    assert again.returncode == 0
    assert all(r == ("ok", "3", "vmoodlectl: up to date")
               for r in fleet.summary(again.stdout).values())


def test_failed_site_stays_in_maintenance_and_the_next_run_finishes_it(fleet):
    fleet.set_versions(code=2)
    fleet.flag("site1", "fail-upgrade")
    fleet.flag("site2", "fail-purge")            # upgraded, then failed
    proc = fleet.ctl("upgrade", "--all", "--no-master")
    assert proc.returncode == 1
    rows = fleet.summary(proc.stdout)
    assert "master" not in rows
    assert rows["site1.test"][0] == "FAILED"
    assert "the upgrade exited 5, the site stays in maintenance" in rows["site1.test"][2]
    assert "purging caches exited 6" in rows["site2.test"][2]
    assert rows["site3.test"][0] == "ok"
    assert f"site1.test failed: see {fleet.logs}/site1.test.log" in proc.stdout
    assert fleet.in_maintenance("site1") and fleet.in_maintenance("site2")
    assert fleet.db_version("site1") == 1 and fleet.db_version("site2") == 2
    assert not fleet.in_maintenance("site3")
    # Fixed: site1 is upgraded; site2, no longer pending, is finished.
    fleet.flag("site1", "fail-upgrade", on=False)
    fleet.flag("site2", "fail-purge", on=False)
    dry = fleet.ctl("upgrade", "--all", "--no-master", "--dry-run")
    assert "2 site(s) would be upgraded: site1.test site2.test" in dry.stdout
    again = fleet.ctl("upgrade", "--all", "--no-master")
    assert again.returncode == 0, again.stdout
    rows = fleet.summary(again.stdout)
    assert rows["site1.test"][2] == "vmoodlectl: upgraded, out of maintenance"
    assert rows["site2.test"][2] == "vmoodlectl: upgrade finished, out of maintenance"
    assert rows["site3.test"][2] == "vmoodlectl: up to date"
    assert not any(fleet.in_maintenance(n) for n in ("site1", "site2", "site3"))
    assert fleet.ctl("upgrade", "--all", "--no-master").stdout.count("up to date") == 3


def test_upgrade_waits_for_a_running_cron(fleet):
    fleet.set_versions(code=2)
    held = hold_lock(fleet, 2)
    proc = subprocess.Popen(fleet.args("upgrade", "site1.test", "site2.test"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while fleet.db_version("site1") != 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1)
    assert fleet.db_version("site2") == 1           # its "cron" still runs
    held.close()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    assert fleet.db_version("site2") == 2

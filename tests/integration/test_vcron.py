"""vcron against a JSON instance table with a fake cron command.

The fake cron (a shell script) writes down the environment, user and times
it ran with, then succeeds, fails, sleeps or hangs as a control file asks,
so each test checks what vcron really did to real processes."""
import fcntl
import json
import os
import pwd
import signal
import stat
import subprocess
import time

import pytest

BUILD = os.environ.get("VMOODLE_BUILD",
                       os.path.join(os.path.dirname(__file__), "../../build"))
VCRON = os.path.join(BUILD, "vcron")

FAKE_CRON = r"""#!/bin/sh
# Fake Moodle cron: behaviour from ctl/$VMOODLE_ID.
d=@DIR@
me=${VMOODLE_ID:-master}
start=$(date +%s.%N)
env > "$d/out/$me.$$.env"
id -u > "$d/out/$me.$$.uid"
echo "$*" > "$d/out/$me.$$.args"
act=$(cat "$d/ctl/$me" 2>/dev/null || echo ok)
code=0
case "$act" in
    fail) code=3 ;;
    sleep*) sleep "${act#sleep }" ;;
    hang) sleep 1000 ;;
    stubborn) trap '' TERM; sleep 1000 & echo $! > "$d/out/$me.child"; wait ;;
    noisy) head -c 3000 /dev/zero | tr '\0' x; echo ;;
    escapes) printf 'tick\033]0;owned\007\033[2J\tdone\n'; printf 'bell\a\n' >&2 ;;
esac
echo "$start $(date +%s.%N)" > "$d/out/$me.$$.times"
exit $code
"""


def instance(i, enabled=1):
    return {"id": i, "name": f"Site {i}", "shortname": f"s{i}",
            "vhostname": f"https://Site{i}.Example.edu/", "vdbtype": "pgsql",
            "vdbhost": "db.example.edu", "vdblogin": f"user{i}",
            "vdbpass": f"pw{i}", "vdbname": f"moodle{i}", "vdbprefix": "mdl_",
            "vdbpersist": 0, "vdatapath": f"/srv/moodledata/s{i}",
            "mnet": -1, "enabled": enabled}


class Rig:
    """A temporary vcron set-up: table, fake cron, state, locks, logs."""

    def __init__(self, root, count=4, disabled=()):
        self.dir = str(root)
        os.chmod(self.dir, 0o755)
        for sub, mode in (("out", 0o777), ("ctl", 0o755)):
            os.mkdir(os.path.join(self.dir, sub))
            os.chmod(os.path.join(self.dir, sub), mode)
        self.table = os.path.join(self.dir, "instances.json")
        self.source = "json:" + self.table
        self.write_table([instance(i, 0 if i in disabled else 1)
                          for i in range(1, count + 1)])
        self.cron = os.path.join(self.dir, "fakecron")
        with open(self.cron, "w") as f:
            f.write(FAKE_CRON.replace("@DIR@", self.dir))
        os.chmod(self.cron, 0o755)
        self.config = os.path.join(self.dir, "vcron.conf")
        self.set_config("")

    def write_table(self, rows):
        with open(self.table, "w") as f:
            json.dump(rows, f)
        os.chmod(self.table, 0o644)

    def set_config(self, text):
        with open(self.config, "w") as f:
            f.write(text)

    def control(self, i, action):
        with open(os.path.join(self.dir, "ctl", str(i)), "w") as f:
            f.write(action)

    def args(self, *extra, command=True):
        base = [VCRON, "--config", self.config,
                "--source", self.source,
                "--log-dir", os.path.join(self.dir, "log"),
                "--lock-dir", os.path.join(self.dir, "lock"),
                "--state-file", os.path.join(self.dir, "state", "vcron.state"),
                "--opcache-dir", os.path.join(self.dir, "opcache")]
        base += list(extra)
        return base + (["--command", self.cron] if command else [])

    def run(self, *extra, env=None, **kw):
        proc = subprocess.run(self.args(*extra, **kw), capture_output=True,
                              text=True, timeout=120, env=env)
        return proc

    def status_report(self):
        proc = subprocess.run(self.args("status", "--json", command=False),
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    def status(self):
        return {i["id"]: i for i in self.status_report()["instances"]}

    def runs(self, i):
        """Environments of the runs of instance i, oldest first."""
        out = os.path.join(self.dir, "out")
        found = []
        for name in os.listdir(out):
            part = name.split(".")
            if part[0] == str(i) and part[-1] == "env":
                path = os.path.join(out, name)
                with open(path) as f:
                    env = dict(line.rstrip("\n").split("=", 1)
                               for line in f if "=" in line)
                found.append((os.stat(path).st_mtime, name, env))
        return [env for _, _, env in sorted(found)]

    def unfinished(self, i):
        """Pids of the runs of instance i that started and did not end."""
        out = os.path.join(self.dir, "out")
        return [int(n.split(".")[1]) for n in os.listdir(out)
                if n.startswith(f"{i}.") and n.endswith(".env")
                and not os.path.exists(os.path.join(out, n[:-4] + ".times"))]

    def times(self):
        out = os.path.join(self.dir, "out")
        spans = []
        for name in os.listdir(out):
            if name.endswith(".times"):
                with open(os.path.join(out, name)) as f:
                    a, b = f.read().split()
                spans.append((float(a), float(b)))
        return spans

    def wait_for_run(self, i, count=1, limit=30.0):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if len(self.runs(i)) >= count:
                return
            time.sleep(0.05)
        raise AssertionError(f"instance {i} did not run {count} times")


def summary(proc):
    """The numbers of the summary line: {'run': 2, 'succeeded': 2, ...}."""
    lines = [l for l in proc.stdout.splitlines() if l.startswith("vcron: tick")]
    assert len(lines) == 1, proc.stdout + proc.stderr
    return {k: (int(v) if v.isdigit() else v) for k, v in
            (w.split("=") for w in lines[0].split()[2:])}


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def rig(reachable_dir):
    return Rig(reachable_dir)


def test_environment_matches_the_instance(rig):
    rig.write_table([instance(1), instance(2), instance(3, enabled=0)])
    env = dict(os.environ, VCRON_TEST_LEAK="must-not-reach-cron")
    proc = rig.run("run", env=env)
    assert proc.returncode == 0, proc.stderr
    assert summary(proc)["succeeded"] == 2
    for i in (1, 2):
        [got] = rig.runs(i)
        assert got["VMOODLE_HOST"] == f"site{i}.example.edu"
        assert got["VMOODLE_WWWROOT"] == f"https://site{i}.example.edu"
        assert got["VMOODLE_ID"] == str(i)
        assert got["VMOODLE_SHORTNAME"] == f"s{i}"
        assert got["VMOODLE_DBTYPE"] == "pgsql"
        assert got["VMOODLE_DBHOST"] == "db.example.edu"
        assert got["VMOODLE_DBNAME"] == f"moodle{i}"
        assert got["VMOODLE_DBUSER"] == f"user{i}"
        assert got["VMOODLE_DBPASS"] == f"pw{i}"
        assert got["VMOODLE_DBPREFIX"] == "mdl_"
        assert got["VMOODLE_DBPERSIST"] == "0"
        assert got["VMOODLE_DATAROOT"] == f"/srv/moodledata/s{i}"
        assert got["VMOODLE_MNET"] == "-1"
        assert "VCRON_TEST_LEAK" not in got
    assert rig.runs(3) == []            # disabled: never run


def test_master_cron_runs_when_told_with_its_own_lock(rig):
    proc = rig.run("run")
    assert summary(proc)["selected"] == 4 and rig.runs("master") == []
    proc = rig.run("run", "--master")
    assert proc.returncode == 0, proc.stderr
    assert summary(proc)["selected"] == 5 and summary(proc)["succeeded"] == 5
    [got] = rig.runs("master")
    assert got["VMOODLE_MASTER"] == "1"
    assert [k for k in got if k.startswith("VMOODLE_")] == ["VMOODLE_MASTER"]
    assert os.path.exists(os.path.join(rig.dir, "log", "master.log"))
    assert os.path.exists(os.path.join(rig.dir, "lock", "master.lock"))
    # The table has no master row: nothing recorded beside the instances'.
    assert sorted(rig.status()) == [1, 2, 3, 4]
    # Its own lock: a master cron still running is not started again.
    rig.control("master", "sleep 4")
    first = subprocess.Popen(rig.args("run", "--master"), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        rig.wait_for_run("master", 2)
        # Its instances' crons done (9 runs ended before this one): only
        # the master is still running.
        deadline = time.monotonic() + 30
        while len(rig.times()) < 9 + 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc = rig.run("run", "--master")
        assert summary(proc)["skipped_locked"] == 1, proc.stdout
        assert len(rig.runs("master")) == 2
    finally:
        first.communicate(timeout=60)
    # The setting in the configuration file does the same.
    rig.control("master", "ok")
    rig.set_config("master = 1\n")
    before = int(time.time())
    assert summary(rig.run("run"))["selected"] == 5
    assert len(rig.runs("master")) == 3
    # vcron status lists the master beside the table's rows, with the
    # figures this host keeps for it (the table has no row for them).
    master = rig.status_report()["master"]
    assert master["croncount"] == 3
    assert before <= master["lastcron"] <= time.time()
    assert 0 < master["lastcrongap"] <= time.time() - before + 10
    assert master["since"] == pytest.approx(time.time() - master["lastcron"], abs=5)
    text = subprocess.run(rig.args("status", command=False), capture_output=True,
                          text=True, timeout=30).stdout
    [row] = [l.split() for l in text.splitlines() if l.split()[:2] == ["-", "master"]]
    assert row[3] == "3"                # croncount column
    rig.set_config("")
    assert "master" not in rig.status_report()


def test_default_command_is_php_cron_with_keep_alive_zero(rig):
    proc = rig.run("--php", rig.cron, "--moodle-dir", "/srv/moodle",
                   "--per-tick", "1", "run", command=False)
    assert proc.returncode == 0, proc.stderr
    out = os.path.join(rig.dir, "out")
    [args] = [n for n in os.listdir(out) if n.endswith(".args")]
    with open(os.path.join(out, args)) as f:
        # The PHP settings every Moodle CLI run gets (core/vm_cli.c), the
        # opcode file cache's (core/vm_opcache.c), then the script.
        words = f.read().split()
    assert words[0] == "-dmax_input_vars=5000"
    assert words[-2:] == ["/srv/moodle/admin/cli/cron.php", "--keep-alive=0"]
    assert all(w.startswith("-dopcache.") for w in words[1:-2]), words


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch user")
def test_crons_run_as_www_data_never_root(rig):
    proc = rig.run("run")
    assert proc.returncode == 0, proc.stderr
    www = pwd.getpwnam("www-data").pw_uid
    out = os.path.join(rig.dir, "out")
    uids = [open(os.path.join(out, n)).read().strip()
            for n in os.listdir(out) if n.endswith(".uid")]
    assert uids and all(u == str(www) for u in uids)
    refused = rig.run("--user", "root", "run")
    assert refused.returncode == 2
    assert "never runs as root" in refused.stderr


def test_jobs_bounds_concurrency(reachable_dir):
    rig = Rig(reachable_dir, count=6)
    for i in range(1, 7):
        rig.control(i, "sleep 1")
    proc = rig.run("--jobs", "2", "--per-tick", "6", "run")
    assert proc.returncode == 0, proc.stderr
    assert summary(proc)["succeeded"] == 6
    spans = rig.times()
    assert len(spans) == 6
    most = max(sum(1 for a, b in spans if a <= t < b) for t, _ in spans)
    assert most == 2


def test_hanging_cron_and_its_group_are_killed_at_the_timeout(rig):
    rig.control(1, "hang")
    rig.control(2, "stubborn")          # ignores TERM: needs the KILL
    proc = rig.run("--timeout", "1", "--grace", "1", "--per-tick", "3", "run")
    assert proc.returncode == 1
    counts = summary(proc)
    assert (counts["timed_out"], counts["succeeded"]) == (2, 1)
    with open(os.path.join(rig.dir, "out", "2.child")) as f:
        child = int(f.read())
    assert not alive(child)             # the group, not just the leader
    with open(os.path.join(rig.dir, "log", "site2.example.edu.log")) as f:
        assert "timed out" in f.read()
    stats = rig.status()
    assert stats[1]["croncount"] == 1 and stats[2]["croncount"] == 1


def test_failed_cron_is_counted_and_exit_code_says_so(rig):
    rig.control(2, "fail")
    proc = rig.run("--per-tick", "2", "run")
    assert proc.returncode == 1
    counts = summary(proc)
    assert (counts["succeeded"], counts["failed"]) == (1, 1)
    assert "VM00208" in proc.stderr and "site2.example.edu" in proc.stderr


def test_stats_match_what_ran(rig):
    before = int(time.time())
    for _ in range(3):
        proc = rig.run("--per-tick", "3", "run")
        assert proc.returncode == 0, proc.stderr
    after = int(time.time())
    stats = rig.status()
    # Round robin over 4 with 3 per tick, 3 ticks: 9 runs, ids 1 2 3 4 1 2 3 4 1.
    expected = {1: 3, 2: 2, 3: 2, 4: 2}
    for i, count in expected.items():
        assert len(rig.runs(i)) == count
        assert stats[i]["croncount"] == count
        assert before <= stats[i]["lastcron"] <= after
        assert 0 <= stats[i]["lastcrongap"] <= after - before
        assert stats[i]["since"] == pytest.approx(
            time.time() - stats[i]["lastcron"], abs=5)
    text = subprocess.run(rig.args("status", command=False),
                          capture_output=True, text=True, timeout=30).stdout
    row = [l.split() for l in text.splitlines()
           if l.split()[:2] == ["1", "site1.example.edu"]][0]
    assert row[3] == "3"                # croncount column


def test_round_robin_cursor_survives_restarts(rig):
    seen = []
    for _ in range(6):
        proc = rig.run("--per-tick", "3", "run")
        assert proc.returncode == 0, proc.stderr
    for i in range(1, 5):
        seen.append(len(rig.runs(i)))
    assert seen == [5, 5, 4, 4]         # 18 runs over 4: none skipped


def test_round_robin_takes_the_next_instance_when_one_is_locked(reachable_dir):
    """A locked instance (its cron still running, here or on another cron
    host) does not use up the tick's budget: the next ones run instead,
    and the cursor follows."""
    rig = Rig(reachable_dir, count=6)
    lock_dir = os.path.join(rig.dir, "lock")
    os.makedirs(lock_dir)
    with open(os.path.join(lock_dir, "2.lock"), "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        first = rig.run("--per-tick", "3", "run")
        assert first.returncode == 0, first.stderr
        assert (summary(first)["run"], summary(first)["skipped_locked"]) == (3, 1)
        assert [len(rig.runs(i)) for i in range(1, 7)] == [1, 0, 1, 1, 0, 0]
        second = rig.run("--per-tick", "3", "run")
        assert summary(second)["run"] == 3
        assert [len(rig.runs(i)) for i in range(1, 7)] == [2, 0, 1, 1, 1, 1]
    # Released: the next tick goes on from where the last one ended.
    third = rig.run("--per-tick", "3", "run")
    assert summary(third)["skipped_locked"] == 0
    assert [len(rig.runs(i)) for i in range(1, 7)] == [2, 1, 2, 2, 1, 1]


def test_kill9_mid_tick_loses_nothing_and_leaves_no_stale_lock(rig):
    first = rig.run("--per-tick", "4", "--jobs", "1", "run")
    assert first.returncode == 0, first.stderr
    rig.control(3, "hang")
    vc = subprocess.Popen(rig.args("--per-tick", "4", "--jobs", "1", "run"),
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        rig.wait_for_run(3, count=2)
        vc.send_signal(signal.SIGKILL)
    finally:
        vc.wait(timeout=30)
    stats = rig.status()
    assert [stats[i]["croncount"] for i in (1, 2, 3, 4)] == [2, 2, 1, 1]
    [orphan] = rig.unfinished(3)
    assert alive(orphan)
    rig.control(3, "ok")
    # The orphaned cron still holds instance 3: the next tick runs the
    # others and skips 3 rather than running it twice at once.
    second = rig.run("--per-tick", "4", "run")
    assert second.returncode == 0, second.stderr
    assert summary(second)["skipped_locked"] == 1
    assert summary(second)["succeeded"] == 3
    os.killpg(orphan, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while alive(orphan) and time.monotonic() < deadline:
        time.sleep(0.05)
    third = rig.run("--per-tick", "4", "run")
    assert third.returncode == 0, third.stderr
    assert summary(third)["succeeded"] == 4
    assert rig.status()[3]["croncount"] == 2


def test_log_is_per_host_and_size_bounded(rig):
    rig.control(1, "noisy")
    for _ in range(3):
        rig.run("--per-tick", "4", "--log-max", "2048", "run")
    log = os.path.join(rig.dir, "log", "site1.example.edu.log")
    assert os.path.getsize(log) < 2 * 4096
    assert os.path.exists(log + ".1")
    assert stat.S_IMODE(os.stat(log).st_mode) & 0o007 == 0


def test_cron_output_reaches_its_log_made_visible(rig):
    """A tenant's escape sequences (retitle, clear the screen, BEL) are in
    its log as text: `cat`, `tail -f` or `less -R` on it show them, never
    run them.  Newlines and tabs pass as they are."""
    rig.control(1, "escapes")
    proc = rig.run("--per-tick", "4", "run")
    assert summary(proc)["succeeded"] == 4, proc.stdout + proc.stderr
    with open(os.path.join(rig.dir, "log", "site1.example.edu.log")) as f:
        log = f.read()
    assert "tick\\x1b]0;owned\\x07\\x1b[2J\tdone\nbell\\x07\n" in log, log
    assert "\x1b" not in log and "\x07" not in log


def test_lowest_gap_runs_from_the_first_tick(reachable_dir):
    rig = Rig(reachable_dir, count=10)
    args = ("--mode", "lowest-gap", "--period", "5", "--tick", "1", "run")
    proc = rig.run(*args)
    assert proc.returncode == 0, proc.stderr
    assert summary(proc)["succeeded"] == 2       # ceil(10 * 1 / 5)
    # The next tick (a second later: last crons count in whole seconds).
    last = max(i["lastcron"] for i in rig.status().values())
    while time.time() < last + 1:
        time.sleep(0.05)
    proc = rig.run(*args)
    assert proc.returncode == 0, proc.stderr
    ran = [len(rig.runs(i)) for i in range(1, 11)]
    assert ran.count(1) >= 4 and max(ran) == 1   # never-run ones first


def test_config_file_and_flags_override(rig):
    rig.set_config("mode = round-robin\nper-tick = 1\n")
    assert summary(rig.run("run"))["run"] == 1
    assert summary(rig.run("--per-tick", "3", "run"))["run"] == 3
    rig.set_config("per-tick = many\n")
    bad = rig.run("run")
    assert bad.returncode == 2 and "vcron.conf:1" in bad.stderr


class Daemon:
    """vcron daemon in the background; stop() sends TERM and collects its
    output; leaving the block kills it if it is still there."""

    def __init__(self, rig, *args):
        self.proc = subprocess.Popen(rig.args(*args, "daemon"),
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=30)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.communicate(timeout=30)


def test_daemon_term_lets_the_running_cron_finish(rig):
    rig.control(1, "sleep 2")
    with Daemon(rig, "--tick", "1", "--per-tick", "1") as d:
        rig.wait_for_run(1)
        out, err = d.stop()
    assert d.proc.returncode == 0, err
    assert len(rig.times()) == 1        # the cron ran to its end
    assert rig.status()[1]["croncount"] == 1
    assert "SIGTERM" in err


def test_daemon_hup_rereads_configuration(rig):
    rig.set_config("per-tick = 1\n")
    with Daemon(rig, "--tick", "1") as d:
        rig.wait_for_run(1)
        rig.set_config("per-tick = 4\n")
        d.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(
                len(rig.runs(i)) >= 2 for i in range(1, 5)):
            time.sleep(0.1)
        out, err = d.stop()
    assert "selected=1" in out and "selected=4" in out
    assert "SIGHUP" in err

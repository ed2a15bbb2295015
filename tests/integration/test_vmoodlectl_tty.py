"""No terminal of root's within a tenant's reach (issue 19, item 1).

Root types `vmoodlectl run|cron|maintenance|config HOST` in a terminal;
the site's code (here a stand-in script, as a tenant plants code in its
dataroot's cache that Moodle's CLI includes) pushes `id > FILE` into the
terminal with TIOCSTI (on its stdin and on /dev/tty) and prints an escape
sequence.  The test's terminal is a pseudo-terminal whose "shell" runs
vmoodlectl and then reads on, as root's shell would: the pushed command
must never reach it, the site's code must run in a session of its own
without the caller's terminal, and the escape sequence must arrive made
visible."""
import contextlib
import os
import pty
import re
import select
import shlex
import subprocess
import time

import pytest

from dbservers import mysql_server, pg_server  # noqa: F401
from test_vmoodlectl import only_on, server  # noqa: F401
from test_vmoodlectl_lifecycle import Site, move_args
from test_vmoodlectl_run import Fleet

# Run by the stand-in php (sh) as the site's code: the attack, and a note
# of its session and controlling terminal for the test.
INJECT = """me=${VMOODLE_SHORTNAME:-master}
exec /usr/bin/python3 @ROOT@/inject.py "$me"
"""

INJECT_PY = r"""import fcntl, os, sys, termios
root, me = "@ROOT@", sys.argv[1]
notes = []
for name in ("stdin", "tty"):
    try:
        fd = 0 if name == "stdin" else os.open("/dev/tty", os.O_RDWR)
        for ch in f"id > {root}/out/pwned-{name}\n".encode():
            fcntl.ioctl(fd, termios.TIOCSTI, bytes([ch]))
        notes.append(f"{name}=pushed")
    except OSError as e:
        notes.append(f"{name}=refused:{e.errno}")
with open("/proc/self/stat") as f:
    fields = f.read().rsplit(") ", 1)[1].split()
notes.append(f"sid={os.getsid(0)} tty_nr={fields[4]}")
with open(f"{root}/out/{me}.tty", "w") as f:
    f.write(" ".join(notes) + "\n")
sys.stdout.write("before \033]0;owned\007\033[2J after\n")
sys.stdout.flush()
"""

# The escape sequence as it must reach root's terminal.
SHOWN = "before \\x1b]0;owned\\x07\\x1b[2J after"

COMMANDS = {
    "run": ["run", "site1.test", "--", "inject.php"],
    "cron": ["cron", "site1.test"],
    "maintenance": ["maintenance", "on", "site1.test"],
    "config": ["config", "site1.test", "--name", "theme", "--set", "boost"],
    "run-master": ["run", "--master", "--", "inject.php"],
}


def plant(fleet):
    """The injecting code in every script the commands run."""
    sub = lambda text: text.replace("@ROOT@", fleet.root)
    with open(os.path.join(fleet.root, "inject.py"), "w") as f:
        f.write(sub(INJECT_PY))
    os.chmod(os.path.join(fleet.root, "inject.py"), 0o644)
    for script in ("inject.php", "admin/cli/cron.php",
                   "admin/cli/maintenance.php", "admin/cli/cfg.php"):
        path = os.path.join(fleet.code, script)
        with open(path, "w") as f:
            f.write(sub(INJECT))
        os.chmod(path, 0o644)


def read_until(master, marker, deadline, out=b""):
    """What master gives until out holds marker (a regex), it ends, or the
    deadline."""
    while not re.search(marker, out) and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                out += os.read(master, 65536)
            except OSError:          # EIO: the terminal has no one left
                break
    return out


@contextlib.contextmanager
def terminal(argv, env=None):
    """argv started in a new session whose controlling terminal is a new
    pseudo-terminal, as root's login shell: (the process, the master, the
    terminal's device); the process is ended and the master closed after."""
    master, slave = pty.openpty()
    device = os.fstat(slave).st_rdev
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                            env=env, start_new_session=True,
                            preexec_fn=lambda: __import__("fcntl").ioctl(
                                0, __import__("termios").TIOCSCTTY, 0))
    os.close(slave)
    try:
        yield proc, master, device
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def in_terminal(argv, typed=b""):
    """argv run by a shell in a new pseudo-terminal (its controlling
    terminal, as root's login shell has), which then reads on from the
    terminal as an interactive shell does; typed is what root types next.
    (vmoodlectl's exit code, what the terminal showed, vmoodlectl's session
    id, the terminal's device)."""
    script = shlex.join(argv) + '; echo "VMC-EXIT=$?."; exec /bin/sh -i'
    env = {"PATH": "/usr/bin:/bin", "PS1": "$ ", "TERM": "xterm"}
    with terminal(["/bin/sh", "-c", script], env) as (shell, master, device):
        out = read_until(master, rb"VMC-EXIT=\d+\.", time.monotonic() + 180)
        # Whatever was pushed into the terminal is read by the shell first;
        # then root types on, and the shell is told to end (twice: a
        # reader left behind may take a line).
        os.write(master, typed + b"exit\n")
        os.write(master, b"exit\n")
        shell.wait(timeout=60)
        out = read_until(master, rb"\0never", time.monotonic() + 1, out)
    text = out.decode(errors="replace")
    code = int(text.split("VMC-EXIT=", 1)[1].split(".", 1)[0])
    return code, text, shell.pid, device


def tty_of(tty_nr):
    """/proc's tty_nr as (major, minor)."""
    n = int(tty_nr)
    return (n >> 8) & 0xfff, (n & 0xff) | ((n >> 12) & 0xfff00)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch user")
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_site_code_cannot_reach_roots_terminal(reachable_dir, command):
    fleet = Fleet(reachable_dir)
    plant(fleet)
    code, shown, sid, device = in_terminal(fleet.args(*COMMANDS[command]))
    assert code == 0, shown
    me = "master" if command == "run-master" else "site1"
    notes = dict(n.split("=", 1) for n in fleet.out(f"{me}.tty").split())
    # Nothing pushed reached the shell that read on after vmoodlectl.
    for name in ("stdin", "tty"):
        assert not os.path.exists(os.path.join(fleet.root, "out",
                                               f"pwned-{name}")), (notes, shown)
    assert "uid=0" not in shown and "pwned" not in shown, shown
    # A session of its own, without the caller's terminal.
    assert int(notes["sid"]) != sid, notes
    assert tty_of(notes["tty_nr"]) != (os.major(device), os.minor(device)), notes
    # The escape sequence arrived made visible, not as it was written.
    assert SHOWN in shown, shown
    assert "\033]0;owned" not in shown and "\033[2J" not in shown


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch user")
def test_a_terminal_run_still_sees_a_terminal_and_takes_our_input(reachable_dir):
    """run is interactive: our keystrokes reach the script through the
    pseudo-terminal vmoodlectl owns; the script still sees a tty."""
    fleet = Fleet(reachable_dir)
    with open(os.path.join(fleet.code, "ask.php"), "w") as f:
        f.write('[ -t 0 ] && [ -t 1 ] && echo "a tty"\n'
                'printf "name? "; read name; echo "hello $name"; exit 5\n')
    argv = fleet.args("run", "site1.test", "--", "ask.php")
    with terminal(argv) as (proc, master, _):
        out = read_until(master, rb"name\? ", time.monotonic() + 60)
        os.write(master, b"root\n")
        out = read_until(master, rb"hello root", time.monotonic() + 60, out)
        assert proc.wait(timeout=60) == 5
    text = out.decode(errors="replace")
    assert "a tty" in text and "hello root" in text, text


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch user")
def test_ctrl_c_in_our_terminal_ends_the_sites_whole_group(reachable_dir):
    fleet = Fleet(reachable_dir)
    fleet.behave("site1", sleep="hang")          # a child that sleeps on
    argv = fleet.args("run", "site1.test", "--", "record.php")
    with terminal(argv) as (proc, master, _):
        out = read_until(master, rb"site1 working", time.monotonic() + 60)
        deadline = time.monotonic() + 30
        while fleet.out("site1.child") is None and time.monotonic() < deadline:
            time.sleep(0.05)
        os.write(master, b"\x03")                # Ctrl-C, as typed
        assert proc.wait(timeout=60) == 128 + 2, out
    child = int(fleet.out("site1.child"))
    deadline = time.monotonic() + 30
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child), "the site's child survived Ctrl-C"


def test_a_script_that_reads_little_of_a_long_input_does_not_block(reachable_dir):
    """Our stdin is copied only as the script takes it."""
    fleet = Fleet(reachable_dir)
    long_input = "hello\n" + "x" * 1_000_000 + "\n"
    proc = fleet.ctl("run", "site1.test", "--", "echo.php", input=long_input)
    assert proc.returncode == 7, proc.stderr
    assert proc.stdout == "got hello\n"
    assert proc.stderr == "to stderr\n"


# ------------------------------------------------- the lifecycle commands
# rename, restore, move and backup --maintenance run Moodle's scripts as
# steps: the site's code (here maintenance.php --enable, through the
# stand-in's out/on-enable hook) pushes keystrokes, prints an escape
# sequence and leaves a process behind that reads what root types next.

LEFT_BEHIND = r"""import os, time
root = "@ROOT@"
with open(f"{root}/out/left.pid", "w") as f:
    f.write(str(os.getpid()))
for fd in (1, 2, 0):             # root's terminal, when it is one of them
    try:
        data = os.read(fd, 4096)
    except OSError:
        continue
    if data:
        with open(f"{root}/out/left-read", "ab") as f:
            f.write(data)
        break
time.sleep(600)
"""

ON_ENABLE = """/usr/bin/python3 @ROOT@/inject.py one
/usr/bin/python3 @ROOT@/left_behind.py &
i=0
while [ ! -s @ROOT@/out/left.pid ] && [ $i -lt 600 ]; do
    sleep 0.05; i=$((i + 1))
done
"""

TYPED = b"echo typed-by-root\n"


def plant_steps(site):
    sub = lambda text: text.replace("@ROOT@", site.root)
    for name, text in (("inject.py", INJECT_PY),
                       ("left_behind.py", LEFT_BEHIND)):
        with open(os.path.join(site.root, name), "w") as f:
            f.write(sub(text))
        os.chmod(os.path.join(site.root, name), 0o644)
    with open(os.path.join(site.root, "out", "on-enable"), "w") as f:
        f.write(sub(ON_ENABLE))


def lifecycle_args(site, command):
    if command == "rename":
        return ["rename", "one.test", "http://two.test"]
    if command == "restore":
        return ["restore", site.backup()]
    if command == "move":
        return move_args(site)
    return ["backup", "one.test", "--maintenance"]


def site_log(site):
    logs = os.path.join(site.root, "logs")
    return "".join(open(os.path.join(logs, n), errors="replace").read()
                   for n in os.listdir(logs))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch user")
@only_on("pgsql")
@pytest.mark.parametrize("command", ["rename", "restore", "move",
                                     "backup-maintenance"])
def test_lifecycle_steps_cannot_reach_roots_terminal(site, command):
    argv = site.args(*lifecycle_args(site, command))
    plant_steps(site)
    out = lambda name: os.path.join(site.root, "out", name)
    left = None
    try:
        code, shown, sid, device = in_terminal(argv, TYPED)
        assert os.path.exists(out("left.pid")), shown   # the attack ran
        left = int(open(out("left.pid")).read())
        assert code == 0, shown
        # What it left behind ended with its step, having read nothing of
        # root's (it may have read its own pushed keystrokes back, from
        # the pseudo-terminal vmoodlectl owns).
        assert not alive(left), shown
        read = open(out("left-read"), "rb").read() \
            if os.path.exists(out("left-read")) else b""
        assert TYPED.strip() not in read, read
        # Nothing pushed reached the shell that read on.
        for name in ("stdin", "tty"):
            assert not os.path.exists(out(f"pwned-{name}")), shown
        assert "uid=0" not in shown and "pwned" not in shown, shown
        notes = dict(n.split("=", 1) for n in open(out("one.tty")).read()
                     .split())
        assert int(notes["sid"]) != sid, notes
        assert tty_of(notes["tty_nr"]) != (os.major(device),
                                           os.minor(device)), notes
        # The escape sequence arrived made visible (backup's steps write
        # to the site's log), never as it was written.
        seen = site_log(site) if command.startswith("backup") else shown
        assert SHOWN in seen, seen
        assert "\033]0;owned" not in shown + seen
        assert "\033[2J" not in shown + seen
    finally:
        if left and alive(left):
            os.kill(left, 9)        # main's behaviour: nothing outlives us


@pytest.fixture
def site(tmp_path, server):  # noqa: F811
    return Site(tmp_path, server)

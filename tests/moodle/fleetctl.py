"""vmoodlectl's Moodle CLI commands against the fleet: its table, code and
PHP, the web user, vcron's lock directory (fleet.vcron's) and a log
directory of the fleet."""
import os
import subprocess

from moodle import PHP, TABLE


def command(fleet, *args):
    """vmoodlectl ARGS as an argv."""
    state = os.path.join(fleet.root, "vcron")
    return [fleet.program("vmoodlectl"), "--config", "/dev/null",
            "--source", fleet.source, "--table", TABLE, "--php", PHP,
            "--moodle-dir", fleet.code, "--user", "www-data",
            "--lock-dir", os.path.join(state, "lock"),
            "--log-dir", os.path.join(fleet.root, "vmoodlectl-logs"),
            "--master-config", fleet.master_config,
            *[str(a) for a in args]]


def vmoodlectl(fleet, *args, timeout=900):
    return subprocess.run(command(fleet, *args), capture_output=True, text=True,
                          timeout=timeout)


def summary(stdout):
    """The summary table's rows: site -> (result, exit code, last line)."""
    lines = stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("SITE "))
    rows = {}
    for line in lines[head + 1:]:
        words = line.split(None, 4)
        if len(words) < 4 or words[1] not in ("ok", "FAILED", "-"):
            break
        rows[words[0]] = (words[1], words[2], words[4] if len(words) > 4 else "")
    return rows

"""vmoodlectl health and check --nagios on real Moodle sites: Moodle's own
admin/cli/checks.php on each site with NRPE's codes, a warning counted as
a warning, and the fleet's one-line check."""
import re
import subprocess

from fleetctl import summary, vmoodlectl
from moodle import TABLE

STATES = {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}


def checks_code(fleet, site):
    """checks.php's own exit code for one site, run in the foreground."""
    return vmoodlectl(fleet, "run", site.host, "--", "admin/cli/checks.php").returncode


def test_health_of_every_site(fleet):
    served = [s for s in fleet.sites.values() if s.enabled and not s.is_master]
    proc = vmoodlectl(fleet, "health", "--all", "--jobs", 2)
    line = proc.stdout.splitlines()[0]       # what NRPE passes on
    m = re.match(r"VMOODLE HEALTH (\w+) - (\d+) site\(s\): (\d+) ok, (\d+) warning, "
                 r"(\d+) critical, (\d+) unknown \| ok=\3 warning=\4 critical=\5 "
                 r"unknown=\6$", line)
    assert m, proc.stdout + proc.stderr
    assert int(m.group(2)) == len(served)
    assert proc.returncode == STATES[m.group(1)]
    codes = {s.host: checks_code(fleet, s) for s in served}
    assert all(c in (0, 1, 2, 3) for c in codes.values()), codes
    wanted = [sum(1 for c in codes.values() if c == k) for k in (0, 1, 2, 3)]
    assert [int(m.group(i)) for i in (3, 4, 5, 6)] == wanted, (line, codes)
    # a warning is not a failure in the fleet's table
    rows = summary(proc.stdout)
    for host, code in codes.items():
        assert rows[host][0] == ("ok" if code in (0, 1) else "FAILED"), rows
    # one site alone: checks.php's own code
    site = served[0]
    alone = vmoodlectl(fleet, "health", site.host)
    assert alone.returncode == codes[site.host], alone.stdout + alone.stderr


def test_check_nagios_on_the_fleet(fleet):
    proc = subprocess.run([fleet.program("vmoodlectl"), "check", "--nagios",
                           "--config", "/dev/null", "--source", fleet.source,
                           "--table", TABLE, "--user", "www-data",
                           "--cron-warn", str(10 ** 8), "--cron-crit", str(10 ** 9)],
                          capture_output=True, text=True, timeout=300)
    [line] = proc.stdout.splitlines()
    served = [s for s in fleet.sites.values() if s.enabled and not s.is_master]
    # every database answers its site's credentials, every dataroot is
    # www-data's; a site whose cron never ran yet is CRITICAL, nothing else
    assert f" - {len(served)} enabled site(s)" in line, line + proc.stderr
    assert f"| sites={len(served)} failing=0 " in line, line
    assert proc.returncode == (0 if "cron_overdue=0" in line else 2), line

"""Issue 19, no password in a file a tenant reads: config.php, which every
site's PHP (every php-fpm pool, whatever its user) must read, holds none;
the master's database login reaches the master's requests from the
module's VMoodleMasterConfig (root's, 0600) and its command-line runs from
vcron's and vmoodlectl's master-config.  Before, the master's password had
to be written into config.php, where any tenant read it."""
import os
import re
import subprocess

import pytest

import client
from conftest import vmoodle_server
from instances import (MASTER_SETTINGS, instance, master_env,
                       write_master_config, write_table)
from programs import build_dir, program
from test_vmoodlectl import traversable

ROWS = [instance(1, "site1.example.edu")]
POOL_USER = "nobody"      # a pool of its own: not Apache's User, not root


def read_as(user, path):
    proc = subprocess.run(["runuser", "-u", user, "--", "cat", path],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_master_works_with_no_password_in_config_php(start_httpd, flavour,
                                                      site, tmp_path):
    conf = write_master_config(tmp_path / "master.conf")
    server = start_httpd(server=vmoodle_server(
        flavour, site, ROWS, directives="VMoodleMaster master.example.edu\n"
        f"VMoodleMasterConfig {conf}\n"))
    report = client.get(server.port, "master.example.edu", "/index.php").json()
    cfg = report["cfg"]
    assert (cfg["dbname"], cfg["dbuser"], cfg["dbpass"]) == \
        (MASTER_SETTINGS["dbname"], MASTER_SETTINGS["dbuser"],
         MASTER_SETTINGS["dbpass"])
    assert cfg["dataroot"] == MASTER_SETTINGS["dataroot"]
    # what a tenant's pool reads: no password, none to fill in either
    text = read_as(POOL_USER, os.path.join(site, "config.php"))
    assert MASTER_SETTINGS["dbpass"] not in text
    assert not re.search(r"\$CFG->dbpass\s*=\s*['\"]", text)
    # nor the settings file itself
    denied = subprocess.run(["runuser", "-u", POOL_USER, "--", "cat", conf],
                            capture_output=True, text=True, timeout=30)
    assert denied.returncode != 0 and "Permission denied" in denied.stderr
    # an instance's requests get nothing of the master's
    site1 = client.get(server.port, "site1.example.edu", "/index.php").json()
    assert MASTER_SETTINGS["dbpass"] not in str(site1)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o606])
def test_master_config_others_may_read_is_refused(flavour, site, tmp_path,
                                                  mode):
    conf = write_master_config(tmp_path / "master.conf", mode=mode)
    server = vmoodle_server(flavour, site, ROWS,
                            directives=f"VMoodleMasterConfig {conf}\n")
    try:
        with pytest.raises(RuntimeError) as failed:
            server.start()
        assert "VMoodleMasterConfig" in str(failed.value)
        assert "chmod 0600" in str(failed.value)
    finally:
        server.stop()
        server.remove()


def master_run_env(tmp_path, tool, *extra):
    """The environment the master's run got from vcron or vmoodlectl: a
    stand-in command that writes it out."""
    traversable(str(tmp_path))
    table = tmp_path / "instances.json"
    write_table(str(table), ROWS)
    (tmp_path / "out").mkdir(mode=0o777)
    os.chmod(tmp_path / "out", 0o777)
    out = tmp_path / "out" / "master.txt"      # an instance's run: its host
    script = tmp_path / "php"
    script.write_text("#!/bin/sh\nenv > " + str(tmp_path / "out")
                      + "/${VMOODLE_HOST:-master}.txt\n")
    os.chmod(script, 0o755)
    conf = write_master_config(tmp_path / "master.conf")
    common = ["--source", f"json:{table}", "--master-config", conf,
              "--lock-dir", str(tmp_path / "lock"), "--user", "www-data"]
    if tool == "vcron":
        argv = [program(build_dir(), "vcron"), *common, "--log-dir",
                str(tmp_path / "log"), "--state-file", str(tmp_path / "st"),
                *extra, "run", "--master", "--command", str(script)]
    else:
        argv = [program(build_dir(), "vmoodlectl"), *common, "--php",
                str(script), "--moodle-dir", str(tmp_path), "run",
                "--master", "--", "x.php"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return dict(line.split("=", 1) for line in out.read_text().splitlines()
                if line.startswith("VMOODLE_"))


@pytest.mark.parametrize("tool", ["vmoodlectl", "vcron"])
def test_master_runs_get_master_config(tmp_path, tool):
    got = master_run_env(tmp_path, tool)
    assert got == master_env()

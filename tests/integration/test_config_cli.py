"""templates/config.php on the command line: variables from the environment."""
import json
import os
import subprocess

import pytest

from test_config_php import INSTANCE, MASTER

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = os.path.join(os.path.dirname(os.path.dirname(HERE)), "templates", "config.php")


def run_php(script, env):
    return subprocess.run(["/usr/bin/php", script], env=dict(env, PATH="/usr/bin:/bin"),
                          capture_output=True, text=True, timeout=60)


def test_template_without_instance_exits_1():
    proc = run_php(TEMPLATE, {})
    assert proc.returncode == 1
    assert "refusing to boot" in proc.stderr
    assert proc.stdout == ""


def test_instance_from_environment(site):
    proc = run_php(os.path.join(site, "config.php"), INSTANCE)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["sapi"] == "cli"
    assert report["getenv"] == INSTANCE
    assert report["cfg"]["dbname"] == "alphadb"
    assert report["cfg"]["wwwroot"] == "http://alpha.test"


def test_master_from_environment(site):
    proc = run_php(os.path.join(site, "config.php"), MASTER)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["cfg"]["dbname"] == "moodle"
    alone = run_php(os.path.join(site, "config.php"), {"VMOODLE_MASTER": "1"})
    assert alone.returncode == 1
    assert "VMOODLE_WWWROOT is missing" in alone.stderr
    assert "VMoodleMasterConfig" in alone.stderr


@pytest.mark.parametrize("env", [
    {"VMOODLE_MASTER": "0"},
    {"VMOODLE_MASTER": "yes"},
    dict(INSTANCE, VMOODLE_MASTER="1"),
    dict(INSTANCE, VMOODLE_WWWROOT=""),
    {k: v for k, v in INSTANCE.items() if k != "VMOODLE_MNET"},
])
def test_refusals(site, env):
    proc = run_php(os.path.join(site, "config.php"), env)
    assert proc.returncode == 1
    assert "refusing to boot" in proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize("dbhost,host,port", [
    ("db.internal", "db.internal", ""),
    ("db.internal:5433", "db.internal", "5433"),
    ("10.0.0.5:3306", "10.0.0.5", "3306"),
    ("[2001:db8::5]:5433", "2001:db8::5", "5433"),
    ("[::1]", "::1", ""),
    ("::1", "::1", ""),
    ("2001:db8::5", "2001:db8::5", ""),
    ("", "", ""),
])
def test_dbhost_port_split(site, dbhost, host, port):
    proc = run_php(os.path.join(site, "config.php"), dict(INSTANCE, VMOODLE_DBHOST=dbhost))
    assert proc.returncode == 0, proc.stderr
    cfg = json.loads(proc.stdout)["cfg"]
    assert (cfg["dbhost"], cfg["dboptions"]["dbport"]) == (host, port)
    assert cfg["dboptions"]["dbsocket"] == ""


@pytest.mark.parametrize("dbtype,dbhost,host,socket", [
    # MariaDB/MySQL: Moodle connects to a socket given as dbsocket.
    ("mariadb", "/run/mysqld/mysqld.sock", "localhost", "/run/mysqld/mysqld.sock"),
    ("mysqli", "/var/lib/mysql/mysql.sock", "localhost", "/var/lib/mysql/mysql.sock"),
    # PostgreSQL: libpq takes the socket directory as the host itself.
    ("pgsql", "/var/run/postgresql", "/var/run/postgresql", ""),
])
def test_socket_path(site, dbtype, dbhost, host, socket):
    env = dict(INSTANCE, VMOODLE_DBTYPE=dbtype, VMOODLE_DBHOST=dbhost)
    proc = run_php(os.path.join(site, "config.php"), env)
    assert proc.returncode == 0, proc.stderr
    cfg = json.loads(proc.stdout)["cfg"]
    assert (cfg["dbhost"], cfg["dboptions"]["dbport"], cfg["dboptions"]["dbsocket"]) == \
        (host, "", socket)

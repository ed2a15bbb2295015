"""Issue 19, one database login per site, on real PostgreSQL and MariaDB:
deploy gives each new site a login of its own that reaches its database
and nothing else (before, every deployed site got the template's login,
which read and rewrote every other site's and the template's data and
held CREATEDB); destroy drops it; check names sites that share a login;
isolate gives an existing site a login of its own while it keeps
serving."""
import itertools
import json
import os
import shutil
import subprocess
import time

import pytest

from dbservers import PASSWORD, USER, mysql_server, pg_server  # noqa: F401
from instances import write_master_config
from test_vmoodlectl import (Env, Master, MOODLE_ROWS, MOODLE_TABLES,  # noqa: F401
                             ctl, env, master, only_on, server, snapshot)

NAMES = itertools.count(1)


def as_login(server, user, password, dbname, sql):
    """Run sql as this login over TCP, as a site would: (ok, output)."""
    if server.kind == "pgsql":
        cmd = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
               "-h", "127.0.0.1", "-p", str(server.port), "-U", user,
               "-d", dbname, "-c", sql]
        env = {"PGPASSWORD": password, "PGCONNECT_TIMEOUT": "10"}
    else:
        cmd = ["mariadb", "--no-defaults", "-h", "127.0.0.1", "-P",
               str(server.port), "-u", user, "-N", "-B", "-e", sql, dbname]
        env = {"MYSQL_PWD": password}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env})
    return proc.returncode == 0, proc.stdout + proc.stderr


def reads_users(server, row, dbname, prefix="mdl_"):
    ok, out = as_login(server, row["vdblogin"], row["vdbpass"], dbname,
                       f"SELECT username FROM {prefix}user ORDER BY id")
    return ok and "admin" in out


def row_of(env, host):
    return next(r for r in env.rows() if r["vhostname"] == host)


def may_create_databases(server, login):
    if server.kind == "pgsql":
        return server.sql("SELECT rolcreatedb OR rolcreaterole FROM pg_roles "
                          f"WHERE rolname = '{login}'").strip() == "t"
    grants = server.sql(f"SHOW GRANTS FOR '{login}'@'127.0.0.1'")
    return "ON *.*" in grants and "USAGE" not in grants.split("ON *.*")[0]


def login_exists(server, login):
    if server.kind == "pgsql":
        return bool(server.sql("SELECT 1 FROM pg_roles WHERE rolname = "
                               f"'{login}'").strip())
    return bool(server.sql(f"SELECT 1 FROM mysql.user WHERE User = "
                           f"'{login}'").strip())


def test_each_deployed_site_reaches_only_its_own_database(env, master,
                                                          server):
    snapshot(env, master)
    plan = env.deploy("tpl", "http://a.test", "--dry-run").stdout
    assert "own database login vm_a_test" in plan
    env.deploy("tpl", "http://a.test")
    env.deploy("tpl", "http://b.test")
    a, b = row_of(env, "http://a.test"), row_of(env, "http://b.test")
    assert (a["vdblogin"], b["vdblogin"]) == ("vm_a_test", "vm_b_test")
    for row in (a, b):                 # the administrative login is not theirs
        assert row["vdblogin"] != USER and row["vdbpass"] != PASSWORD
        assert len(row["vdbpass"]) == 32
        assert not may_create_databases(server, row["vdblogin"])
    # each its own database...
    assert reads_users(server, a, a["vdbname"])
    assert reads_users(server, b, b["vdbname"])
    # ...and nobody else's: the other site's, the template's
    assert not reads_users(server, b, a["vdbname"])
    assert not reads_users(server, a, b["vdbname"])
    assert not reads_users(server, b, master.db.name)
    ok, _ = as_login(server, b["vdblogin"], b["vdbpass"], a["vdbname"],
                     f"UPDATE {a['vdbprefix']}user SET email = 'x'")
    assert not ok
    # not even a connection: CONNECT is taken from PUBLIC (PostgreSQL), no
    # privilege at all on another site's database (MariaDB)
    ok, out = as_login(server, b["vdblogin"], b["vdbpass"], a["vdbname"],
                       "SELECT 1")
    assert not ok, out
    if server.kind == "pgsql":
        assert "CONNECT privilege" in out, out
        assert server.sql("SELECT has_database_privilege('public', "
                          f"'{a['vdbname']}', 'CONNECT')").strip() == "f"
    else:
        assert "Access denied" in out, out
    ok, out = as_login(server, a["vdblogin"], a["vdbpass"], a["vdbname"],
                       "SELECT 1")
    assert ok and out.strip() == "1", out
    # the administrative login keeps no hold on the sites' logins
    if server.kind == "pgsql":
        assert server.sql("SELECT count(*) FROM pg_auth_members m JOIN "
                          "pg_roles r ON r.oid = m.roleid WHERE r.rolname "
                          "LIKE 'vm\\_%\\_test'").strip() == "0"
    # the sites' own logins are not shared: check has nothing to say
    assert "database login" not in ctl(*env.opts(), "check", "--no-dns",
                                       check=False).stdout


def test_destroy_drops_the_sites_login_with_its_database(env, master,
                                                         server):
    snapshot(env, master)
    env.deploy("tpl", "http://gone.test")
    env.deploy("tpl", "http://kept.test")
    out = ctl(*env.opts(), "destroy", "gone.test", "--yes",
              "--admin-dbuser", USER, "--admin-dbpass-file",
              env.passfile).stdout
    assert "dropped database login vm_gone_test" in out
    assert not login_exists(server, "vm_gone_test")
    assert login_exists(server, "vm_kept_test")
    assert reads_users(server, row_of(env, "http://kept.test"),
                       "vm_kept_test")


def account_hosts(server, login):
    return server.sql(f"SELECT Host FROM mysql.user WHERE User = '{login}'"
                      ).split()


@only_on("mysql")
def test_db_client_host_names_the_accounts_host(env, master, server):
    """MariaDB accounts are per client host: by default the host the server
    sees vmoodlectl connect from (web servers elsewhere are refused);
    db-client-host says which, for deploy and isolate alike."""
    snapshot(env, master)
    env.deploy("tpl", "http://near.test")
    near = row_of(env, "http://near.test")
    assert account_hosts(server, near["vdblogin"]) == ["127.0.0.1"]
    env.deploy("tpl", "http://far.test", "--db-client-host", "127.0.0.%")
    far = row_of(env, "http://far.test")
    assert account_hosts(server, far["vdblogin"]) == ["127.0.0.%"]
    assert reads_users(server, far, far["vdbname"])    # 127.0.0.1 matches
    assert not reads_users(server, far, near["vdbname"])
    # isolate gives the new login the same host part
    login, password = shared_login(server)
    old_style_site(env, server, master, "http://old.test", login, password)
    ctl(*env.opts(), "isolate", "old.test", "--wait", "1", "--admin-dbuser",
        USER, "--admin-dbpass-file", env.passfile, "--db-client-host",
        "127.0.0.0/255.255.255.0")
    old = row_of(env, "http://old.test")
    assert old["vdblogin"] != login
    assert account_hosts(server, old["vdblogin"]) == ["127.0.0.0/255.255.255.0"]
    assert reads_users(server, old, old["vdbname"])
    # a wrong one: refused before anything is made (command line: exit 2;
    # the settings file: 1), naming the setting
    rows = env.rows()
    bad = env.deploy("tpl", "http://bad.test", "--db-client-host",
                     "x' OR '1", check=False)
    assert bad.returncode == 2 and "db-client-host" in bad.stderr, bad.stderr
    conf = os.path.join(env.tmp, "vmoodlectl.conf")
    with open(conf, "w") as f:
        f.write("db-client-host = web host\n")
    bad = ctl("--config", conf, *env.opts(), "list", check=False)
    assert bad.returncode == 1 and "VM00970" in bad.stderr, bad.stderr
    assert env.rows() == rows and not login_exists(server, "vm_bad_test")


def old_style_site(env, server, master, host, login, password):
    """A site as deploy made them before: a database owned by (MySQL:
    granted to) a login other sites use too."""
    dbname = f"old_{os.getpid()}_{next(NAMES)}"
    if server.kind == "pgsql":
        server.sql(f"CREATE DATABASE {dbname} OWNER {login}")
        server.sql(MOODLE_TABLES["pgsql"].format(p="mdl_")
                   + MOODLE_ROWS.format(p="mdl_"), dbname=dbname, user=login)
    else:
        server.sql(f"CREATE DATABASE {dbname};"
                   f"GRANT ALL ON {dbname}.* TO '{login}'@'127.0.0.1';")
        server.sql(MOODLE_TABLES["mysql"].format(p="mdl_")
                   + MOODLE_ROWS.format(p="mdl_"), dbname=dbname)
    ctl(*env.opts(), "add", "--host", host, "--dbtype", master.dbtype,
        "--dbhost", master.dbhost, "--dbuser", login, "--dbpass", password,
        "--dbname", dbname, "--dataroot", os.path.join(env.data, dbname))
    os.makedirs(os.path.join(env.data, dbname))
    shutil.chown(os.path.join(env.data, dbname), "www-data", "www-data")
    return dbname


def shared_login(server):
    login, password = f"tn_sh{next(NAMES)}_{os.getpid() % 1000}", "Sh4red-pw"
    if server.kind == "pgsql":
        server.sql(f"CREATE ROLE {login} LOGIN PASSWORD '{password}' CREATEDB")
    else:
        server.sql(f"CREATE USER '{login}'@'127.0.0.1' IDENTIFIED BY "
                   f"'{password}'")
    return login, password


def test_check_warns_and_isolate_ends_a_shared_login(env, master, server):
    login, password = shared_login(server)
    one = old_style_site(env, server, master, "http://one.test", login,
                         password)
    two = old_style_site(env, server, master, "http://two.test", login,
                         password)
    warned = ctl(*env.opts(), "check", "--no-dns").stdout   # a warning: 0
    assert (f"database login {login} is also http://two.test" in warned
            and f"database login {login} is also http://one.test" in warned)
    # the master's own login (master-config) counts too
    conf = write_master_config(os.path.join(env.tmp, "master.conf"), {
        "wwwroot": "http://master.test", "dbtype": master.dbtype,
        "dbhost": master.dbhost, "dbname": master.db.name, "dbuser": login,
        "dbpass": password, "dataroot": master.dataroot})
    with_master = ctl(*env.opts(), "--master-config", conf, "check",
                      "--no-dns", "one.test").stdout
    assert f"database login {login} is also http://two.test" in with_master
    ctl(*env.opts(), "--master-config", conf, "remove", "two.test")
    alone = ctl(*env.opts(), "--master-config", conf, "check", "--no-dns",
                "one.test").stdout
    assert f"database login {login} is also the master's" in alone
    ctl(*env.opts(), "add", "--host", "http://two.test", "--dbtype",
        master.dbtype, "--dbhost", master.dbhost, "--dbuser", login,
        "--dbpass", password, "--dbname", two, "--dataroot",
        os.path.join(env.data, two))
    admin = ["--admin-dbuser", USER, "--admin-dbpass-file", env.passfile]
    before = env.rows()
    plan = ctl(*env.opts(), "isolate", "one.test", "--dry-run", *admin).stdout
    assert "plan: isolate http://one.test" in plan and "  5. take from" in plan
    assert env.rows() == before and not login_exists(server, "vm_" + one[:13])

    # isolate while the site keeps serving: its row's login works throughout
    proc = subprocess.Popen(
        [os.environ.get("VMOODLE_BUILD", "build") + "/vmoodlectl",
         *env.opts(), "isolate", "one.test", "--wait", "3", *admin],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    served = 0
    for _ in range(600):                      # bounded: 60 s at most
        row = row_of(env, "http://one.test")
        assert reads_users(server, row, one), f"{row['vdblogin']} refused"
        served += 1
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    assert served > 3 and "isolated http://one.test" in out

    row = row_of(env, "http://one.test")
    assert row["vdblogin"] not in (login, USER) and row["vdbpass"] != password
    assert reads_users(server, row, one)
    assert not may_create_databases(server, row["vdblogin"])
    shared = {"vdblogin": login, "vdbpass": password}
    assert not reads_users(server, shared, one)      # the old login: refused
    assert reads_users(server, shared, two)          # still two.test's
    assert not reads_users(server, row, two)
    assert "database login" not in ctl(*env.opts(), "check", "--no-dns",
                                       check=False).stdout

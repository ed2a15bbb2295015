"""From a master Moodle to routed instances (issue 5): `vmoodlectl
snapshot`, then `deploy` into the table a running Apache with mod_vmoodle
reads; each new host is served its own configuration as deployed, without
a restart: within VMoodleRefresh for a JSON table, by NOTIFY for a table
made from templates/schema/pgsql.sql (VMoodleRefresh far longer than the
test)."""
import itertools
import os

import client
from apache import eventually
from dbservers import pg_server  # noqa: F401  (fixture)
from test_vmoodlectl import Env, Master, admin_login, ctl

JSON_DEADLINE = 5          # seconds: VMoodleRefresh 1, with slack
NOTIFY_DEADLINE = 10       # seconds, against VMoodleRefresh 3600
LONG_REFRESH = 3600
_names = itertools.count(1)


def new_dbname(what):
    """Deployed databases stay on the session's server: names must differ
    from one flavour's run to the next."""
    return f"vm_{what}_{os.getpid()}_{next(_names)}"


def served(server, host):
    """(status, the PHP page's VMOODLE_* variables or None) for host."""
    resp = client.get(server.port, host, "/index.php")
    return resp.status, (resp.json()["server"] if resp.status == 200 else None)


def assert_routed(server, expected, deadline):
    """expected: {host: (dbname, dataroot, wwwroot)}; each host is served
    with those values within deadline seconds."""
    for host, (dbname, dataroot, wwwroot) in expected.items():
        _, got = eventually(lambda: served(server, host),
                            lambda v: v[0] == 200, deadline, f"{host} served")
        assert (got["VMOODLE_DBNAME"], got["VMOODLE_DATAROOT"],
                got["VMOODLE_WWWROOT"]) == (dbname, dataroot, wwwroot)


def prepare(tmp_path, pg_server):
    """The master, its snapshot `tpl`, and the vmoodlectl environment."""
    if not pg_server.running:
        pg_server.start()
    admin_login(pg_server)       # deploy creates databases and logins
    env = Env(tmp_path, pg_server)
    master = Master(pg_server, env.tmp)
    ctl(*env.opts(), "snapshot", "--from", "master", "--name", "tpl",
        *master.flags(), "--dbpass-file", env.passfile)
    return env


def test_deployed_instances_in_a_json_table_are_routed(start_vmoodle,
                                                       tmp_path, pg_server):
    env = prepare(tmp_path, pg_server)
    server = start_vmoodle([])
    pid = server.pid
    env.table = server.table
    env.source = "json:" + server.table
    assert served(server, "one.test")[0] == 404
    one, two = new_dbname("one"), new_dbname("two")
    env.deploy("tpl", "http://one.test", "--shortname", "one",
               "--dbname", one)
    env.deploy("tpl", "http://two.test:8080", "--dbname", two,
               "--dataroot", f"{env.data}/two-custom")
    assert len(env.rows()) == 2
    assert_routed(server, {
        "one.test": (one, f"{env.data}/one_test", "http://one.test"),
        "two.test:8080": (two, f"{env.data}/two-custom",
                          "http://two.test:8080")}, JSON_DEADLINE)
    assert server.pid == pid and server.restarts() == 1


def test_deployed_instance_in_a_postgresql_table_is_routed_by_notify(
        start_vmoodle, tmp_path, pg_server):
    env = prepare(tmp_path, pg_server)
    table = pg_server.new_database("vmtable")
    table.create_template_table()
    env.source = table.source
    server = start_vmoodle([], source=table.source, refresh=LONG_REFRESH)
    pid = server.pid
    assert served(server, "three.test")[0] == 404
    dbname = new_dbname("three")
    env.deploy("tpl", "http://three.test", "--dbname", dbname,
               "--dataroot", f"{env.data}/three")
    assert table.sql("SELECT vdbname FROM mdl_local_vmoodle WHERE "
                     "vhostname = 'http://three.test'").strip() == dbname
    assert_routed(server, {"three.test": (dbname, f"{env.data}/three",
                                          "http://three.test")},
                  NOTIFY_DEADLINE)
    assert server.pid == pid and server.restarts() == 1

"""Issue 19, masking: a password the drivers read whole (a backslash-escaped
blank, a double quote inside) is hidden whole on the status page (which a
tenant's PHP may reach over loopback), in the module's log (VM00006) and in
vcron's and vmoodlectl's output, for a pgsql: and a mysql: source.  Before
the one masking rule, the status page showed "password=*** S3cret-tail"
and "***\"XYZ"."""
import subprocess

import pytest

import client
from apache import eventually
from dbservers import (db, mysql_db, mysql_server, pg_db,  # noqa: F401
                       pg_server)
from instances import instance
from programs import build_dir, program

# (the password as the role has it, as written in the source string)
PASSWORDS = [("Sup3r S3cret-tail", r"Sup3r\ S3cret-tail"),
             ('abc"XYZ', 'abc"XYZ')]
LEAKS = ("S3cret", "tail", "XYZ")


def role_source(db, role, password, written):
    """A login of its own with this password, reading db's table."""
    literal = password.replace("'", "''")  # no backslash in them
    if db.kind == "pgsql":
        db.server.sql(f"CREATE ROLE {role} LOGIN PASSWORD '{literal}'")
        db.sql(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
    else:
        db.server.sql(f"CREATE USER '{role}'@'127.0.0.1' IDENTIFIED BY "
                      f"'{literal}'; GRANT ALL ON {db.name}.* TO "
                      f"'{role}'@'127.0.0.1';")
    return (f"{db.kind}:host=127.0.0.1 port={db.server.port} "
            f"dbname={db.name} user={role} password={written}")


def assert_masked(where, text):
    for leak in LEAKS:
        assert leak not in text, f"{leak!r} shown in {where}: {text[:1500]}"


@pytest.mark.parametrize("case", range(len(PASSWORDS)))
def test_whole_password_masked_everywhere(db, start_vmoodle, case):
    password, written = PASSWORDS[case]
    db.create_vmoodle_table()
    db.insert(id=1, vhostname="http://site1.example.edu", vdbtype="pgsql",
              vdbname="s1", vdblogin="u", vdbpass="pw-1", vdatapath="/srv/s1")
    source = role_source(db, f"tn_{db.name}", password, written)
    server = start_vmoodle([], source=source,
                           extra="LogLevel warn vmoodle:info\n")
    status = eventually(lambda: client.get(server.port, "127.0.0.1",
                                           "/vmoodle-status?json").json(),
                        lambda s: s["count"] == 1, 30, "the table loaded")
    # The source really is read with this password: the driver's reading.
    assert "password=***" in status["source"]
    outputs = {"status json": str(status),
               "status html": client.get(server.port, "127.0.0.1",
                                         "/vmoodle-status").text}
    for argv in (["vcron", "--source", source, "status"],
                 ["vmoodlectl", "--source", source, "list"],
                 ["vmoodlectl", "--source", source + "x", "list"]):
        proc = subprocess.run([program(build_dir(), argv[0])] + argv[1:],
                              capture_output=True, text=True, timeout=60)
        outputs[" ".join(argv)] = proc.stdout + proc.stderr
    assert "password=***" in outputs[f"vmoodlectl --source {source}x list"]
    log = server.errors_text()
    assert "VM00006:" in log and "password=***" in log
    outputs["error log"] = log
    for where, text in outputs.items():
        assert_masked(where, text)

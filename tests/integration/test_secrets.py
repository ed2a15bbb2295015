"""No password leaves through a side door: neither the instances' database
passwords nor the source's own password may appear in the error log, on
the status page (HTML and ?json), on any error page, or in vcron and
vmoodlectl output (unless --show-secrets), while the source answers and
while it is down."""
import os
import subprocess

import client
from apache import eventually
from dbservers import PASSWORD, mysql_server, pg_server, pg_db, mysql_db, db  # noqa: F401
from instances import instance
from programs import build_dir, program

ROWS = [
    instance(1, "site1.example.edu"),
    instance(2, "off.example.edu", enabled=0),
    instance(3, "bad.example.edu", vdatapath="relative"),       # rejected
    instance(4, "site1.example.edu", vdbpass="secret-dup-4"),    # rejected
]
SECRETS = [row["vdbpass"] for row in ROWS] + [PASSWORD]


def assert_no_secret(where, text):
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} in {where}"
    # Every test password says "secret": no partial or escaped form either.
    assert "secret" not in text, f"a password in {where}: {text[:2000]}"


def insert_rows(db):
    db.create_vmoodle_table()
    for row in ROWS:
        db.insert(**{k: row[k] for k in ("id", "vhostname", "vdbtype", "vdbname",
                                          "vdblogin", "vdbpass", "vdatapath",
                                          "enabled")})


def web_outputs(server):
    """Every page a client can get that is not an instance's own."""
    pages = {
        "status page": client.get(server.port, "127.0.0.1", "/vmoodle-status"),
        "status json": client.get(server.port, "127.0.0.1", "/vmoodle-status?json"),
        "unknown host page": client.get(server.port, "nosuch.example.edu"),
        "disabled page": client.get(server.port, "off.example.edu"),
        "bad host page": client.raw(server.port, b"GET / HTTP/1.1\r\nHost: a\x01b\r\n"
                                    b"Connection: close\r\n\r\n"),
        "no host page": client.raw(server.port, b"GET / HTTP/1.0\r\n\r\n"),
    }
    assert [p.status for p in pages.values()] == [200, 200, 404, 503, 400, 404]
    return {name: resp.text + str(resp.headers) for name, resp in pages.items()}


def tool_outputs(db, show_secrets=False):
    """vmoodlectl and vcron on the same table: what an operator sees."""
    ctl = [program(build_dir(), "vmoodlectl"), "--source", db.source]
    vcron = [program(build_dir(), "vcron"), "--source", db.source]
    runs = [ctl + ["list"], ctl + ["list", "--json"], ctl + ["show", "1"],
            ctl + ["check", "site1.example.edu"], vcron + ["status"],
            vcron + ["status", "--json"]]
    if show_secrets:
        runs = [ctl + ["list", "--json", "--show-secrets"]]
    outputs = {}
    for argv in runs:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        outputs[" ".join(argv[:1] + argv[3:])] = proc.stdout + proc.stderr
    return outputs


def test_no_password_anywhere(pg_db, start_vmoodle):
    insert_rows(pg_db)
    server = start_vmoodle([], source=pg_db.source,
                           extra="LogLevel warn vmoodle:debug\n")
    server.expect_error(r"VM00(010|1\d\d):")     # the outage below
    outputs = web_outputs(server)
    outputs.update(tool_outputs(pg_db))
    # The check can fail: asked for, the passwords do show.
    shown = tool_outputs(pg_db, show_secrets=True)
    assert all(row["vdbpass"] in "".join(shown.values()) for row in ROWS[:2])

    pg_db.server.stop()                          # the source goes away
    try:
        eventually(lambda: client.get(server.port, "127.0.0.1",
                                      "/vmoodle-status?json").json()["refresh"],
                   lambda refresh: not refresh["ok"], 30, "the outage seen")
        outputs.update({f"{name} (source down)": text
                        for name, text in web_outputs(server).items()})
        outputs.update({f"{name} (source down)": text
                        for name, text in tool_outputs(pg_db).items()})
    finally:
        pg_db.server.start()
    outputs["error log"] = server.errors_text()
    outputs["access log"] = server.access_text()
    assert "VM00010:" in outputs["error log"], "the outage was not logged"
    for where, text in outputs.items():
        assert_no_secret(where, text)

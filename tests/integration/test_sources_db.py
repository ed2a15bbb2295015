"""The PostgreSQL and MySQL instance sources, against real servers, through
the vmsource test tool (vm_source_open -> load -> vm_table_build, as the
module, vcron and vmoodlectl do)."""
import json
import os
import re
import subprocess

import pytest

from dbservers import (PASSWORD, SCHEMA_TABLE, db, free_port, mysql_db,  # noqa: F401
                       mysql_server, pg_db, pg_server)

BUILD = os.environ.get("VMOODLE_BUILD",
                       os.path.join(os.path.dirname(__file__), "../../build"))
VMSOURCE = os.path.join(BUILD, "vmsource")
TIMEOUT = 60   # bound on any one tool run; never a speed assertion


def vmsource(source, *args, table=None, passwords=False, stdin=None):
    cmd = [VMSOURCE] + (["--table", table] if table is not None else []) \
        + (["--passwords"] if passwords else []) + [source] + list(args)
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert proc.stderr == "", proc.stderr
    merged = {}   # one JSON object per line: lock prints got, then released
    for line in proc.stdout.splitlines():
        merged.update(json.loads(line))
    return merged


def instance_row(n, **over):
    row = dict(name=f"Site {n}", shortname=f"site{n}",
               vhostname=f"https://site{n}.example.edu", vdbtype="pgsql",
               vdbhost="db.example.edu", vdblogin=f"user{n}",
               vdbpass=f"pw{n}", vdbname=f"moodle{n}", vdbprefix="mdl_",
               vdatapath=f"/srv/moodledata/site{n}")
    row.update(over)
    return row


def by_id(result):
    return {i["id"]: i for i in result["instances"]}


def rejected(result):
    return {r["id"]: r["reason"] for r in result["rejections"]}


def test_vmoodle_layout_loads_every_instance(db):
    db.create_vmoodle_table()
    db.insert(**instance_row(1, description="A <b>site</b>",
                             timecreated=1700000000, metadata='{"x": 1}'))
    db.insert(**instance_row(2, vhostname="http://Site2.Example.edu:8080/",
                             vdbtype="postgres", enabled=0, mnet=-1))
    result = vmsource(db.source, "load")
    assert result["status"] == "ok"
    got = by_id(result)
    assert sorted(got) == [1, 2]
    assert got[1]["key"] == "site1.example.edu"
    assert got[1]["dbname"] == "moodle1" and got[1]["dblogin"] == "user1"
    assert got[2]["key"] == "site2.example.edu:8080"
    assert got[2]["dbtype"] == "pgsql" and got[2]["enabled"] == 0
    assert got[2]["mnet"] == -1
    assert "dbpass" not in got[1]   # only when asked
    assert by_id(vmsource(db.source, "load", passwords=True))[1]["dbpass"] \
        == "pw1"


def test_template_schema_loads_and_refuses_a_second_row_per_host(db):
    db.create_template_table()
    db.insert(**instance_row(1))
    with pytest.raises(RuntimeError):
        db.insert(**instance_row(2, vhostname="https://site1.example.edu"))
    assert sorted(by_id(vmsource(db.source, "load"))) == [1]


def test_schema_table_is_outside_moodles_prefix(db):
    """The shipped table's own name: Moodle's installer and schema check
    see only tables starting with the site's prefix."""
    db.create_template_table(as_table=None)
    assert not SCHEMA_TABLE.startswith("mdl_")
    db.insert(table=SCHEMA_TABLE, **instance_row(1))
    assert sorted(by_id(vmsource(db.source, "load", table=SCHEMA_TABLE))) == [1]


def test_defaults_of_the_schema_make_a_valid_row(db):
    db.create_template_table()
    db.insert(name="Minimal", shortname="min", vdbpass="x", vdbname="m",
              vhostname="https://min.example.edu", vdatapath="/srv/min")
    got = by_id(vmsource(db.source, "load", passwords=True))[1]
    assert (got["dbtype"], got["dbhost"], got["dblogin"], got["dbprefix"]) \
        == ("mysqli", "localhost", "root", "mdl_")
    assert (got["enabled"], got["dbpersist"], got["mnet"]) == (1, 0, 0)


def test_bad_rows_are_rejected_with_reasons(db):
    db.create_vmoodle_table()
    rows = {
        1: instance_row(1),
        2: instance_row(2, vhostname=None),
        3: instance_row(3, vhostname="https://Dup.Example.edu"),
        4: instance_row(4, vhostname="https://dup.example.edu/"),
        5: instance_row(5, vdatapath="/srv/moodledata/../etc"),
        6: instance_row(6, vdbtype="oracle"),
        7: instance_row(7, enabled=7),
        8: instance_row(8, vdbpersist=3),
        9: instance_row(9, mnet=-5),
        10: instance_row(10, vdbname=None),
    }
    for n, row in rows.items():
        db.insert(id=n, **row)
    result = vmsource(db.source, "load")
    assert sorted(by_id(result)) == [1, 3]
    reasons = rejected(result)
    assert sorted(reasons) == [2, 4, 5, 6, 7, 8, 9, 10]
    assert "vhostname" in reasons[2] and "NULL" in reasons[2]
    assert "dup.example.edu" in reasons[4].lower()
    assert "vdatapath" in reasons[5] and ".." in reasons[5]
    assert "vdbtype" in reasons[6] and "oracle" in reasons[6]
    assert "enabled" in reasons[7] and "range" in reasons[7]
    assert "vdbpersist" in reasons[8]
    assert "mnet" in reasons[9]
    assert "vdbname" in reasons[10]


HOSTILE = ["x'; DROP TABLE mdl_local_vmoodle; --", 'a"b\\c', "O'Brien",
           "$1 ? %s {0}", "é ü 日本"]


def test_hostile_values_are_read_back_unchanged(db):
    db.create_vmoodle_table()
    for n, text in enumerate(HOSTILE, start=1):
        db.insert(**instance_row(n, name=text, vdbpass=text[:32],
                                 shortname=text[:80]))
    got = by_id(vmsource(db.source, "load", passwords=True))
    assert [got[n]["name"] for n in sorted(got)] == HOSTILE
    assert [got[n]["dbpass"] for n in sorted(got)] == [t[:32] for t in HOSTILE]


def test_hostile_values_are_written_as_parameters(db):
    db.create_template_table()
    marker = "zq9marker"
    row = instance_row(1, name=f"{marker}'); DELETE FROM mdl_local_vmoodle; --",
                       vdbpass="p'w\"; --")
    saved = vmsource(db.source, "save", stdin=json.dumps(row))
    assert saved["status"] == "ok"
    got = by_id(vmsource(db.source, "load", passwords=True))[saved["id"]]
    assert got["name"] == row["name"] and got["dbpass"] == "p'w\"; --"
    statements = [line for line in db.server.log_text().splitlines()
                  if "INSERT INTO" in line]
    assert statements, "the server logged no INSERT"
    if db.kind == "pgsql":   # values travel beside the statement
        assert all(marker not in line for line in statements)
    else:                    # MariaDB logs the prepared text, then values
        prepared = [line for line in statements if "Prepare" in line]
        assert prepared and all(marker not in line for line in prepared)


def test_table_name_is_validated(db):
    for bad in ["mdl_x; DROP TABLE y", "a b", "t`x", 't"x', ""]:
        result = vmsource(db.source, "load", table=bad)
        assert result["status"] == "configuration error", bad
        assert "table name" in result["error"]


def test_other_table_name_and_prefix(db):
    db.create_vmoodle_table("moo_local_vmoodle")
    db.insert(table="moo_local_vmoodle", **instance_row(1))
    assert sorted(by_id(vmsource(db.source, "load",
                                 table="moo_local_vmoodle"))) == [1]


def test_wrong_password_is_a_config_error_with_the_password_masked(db):
    wrong = "Wr0ng-s3cret-xyz"
    result = vmsource(db.source_with(password=wrong), "load")
    assert result["status"] == "configuration error"
    assert "password=***" in result["error"]
    assert wrong not in result["error"] and PASSWORD not in result["error"]
    # the core's reason names the source; the program logging it tags it
    assert re.match(r"source (pgsql|mysql):", result["error"])
    assert not re.search(r"VM\d{5}", result["error"])


def test_missing_table_is_a_config_error_naming_the_source(db):
    result = vmsource(db.source, "load", table="no_such_table")
    assert result["status"] == "configuration error"
    assert db.name in result["error"] and "no_such_table" in result["error"]
    assert "password=***" in result["error"]
    assert PASSWORD not in result["error"]


def test_server_not_listening_is_unreachable(db):
    result = vmsource(db.source_with(port=free_port()), "load")
    assert result["status"] == "source unreachable"
    assert PASSWORD not in result["error"]


def test_server_stopped_then_back(db):
    db.create_vmoodle_table()
    db.insert(**instance_row(1))
    db.server.stop()
    try:
        result = vmsource(db.source, "load")
        assert result["status"] == "source unreachable"
    finally:
        db.server.start()
    assert sorted(by_id(vmsource(db.source, "load"))) == [1]


@pytest.mark.parametrize("kind,text,word", [
    ("mysql", "host=127.0.0.1 dbname=x colour=blue", "colour"),
    ("mysql", "host=127.0.0.1 dbname=x port=http", "port"),
    ("mysql", "host=127.0.0.1 user=x", "dbname"),
    ("mysql", "host=127.0.0.1 dbname=x password='Zsecret", "password"),
    ("pgsql", "host=127.0.0.1 dbname=x colour=blue", "colour"),
])
def test_bad_source_strings_are_config_errors(kind, text, word):
    result = vmsource(f"{kind}:{text}", "load")
    assert result["status"] == "configuration error"
    assert word in result["error"]
    assert "Zsecret" not in result["error"]


def test_record_cron_counts_and_measures_the_gap(db):
    db.create_vmoodle_table()
    db.insert(**instance_row(1))
    assert vmsource(db.source, "record-cron", "1", "1000")["status"] == "ok"
    assert vmsource(db.source, "record-cron", "1", "1600")["status"] == "ok"
    got = by_id(vmsource(db.source, "load"))[1]
    assert (got["croncount"], got["lastcron"], got["lastcrongap"]) \
        == (2, 1600, 600)
    missing = vmsource(db.source, "record-cron", "99", "1700")
    assert missing["status"] == "malformed data" and "99" in missing["error"]


def test_save_replace_and_delete(db):
    db.create_template_table()
    first = vmsource(db.source, "save", stdin=json.dumps(instance_row(1)))
    assert first["status"] == "ok" and first["id"] > 0
    moved = vmsource(db.source, "save", stdin=json.dumps(
        instance_row(5, id=40)))            # explicit id, new row
    assert moved["id"] == 40
    after = vmsource(db.source, "save", stdin=json.dumps(instance_row(6)))
    assert after["status"] == "ok" and after["id"] > 40
    vmsource(db.source, "save", stdin=json.dumps(
        instance_row(1, id=first["id"], enabled=0)))
    got = by_id(vmsource(db.source, "load"))
    assert sorted(got) == sorted([first["id"], 40, after["id"]])
    assert got[first["id"]]["enabled"] == 0
    assert vmsource(db.source, "delete", "40")["status"] == "ok"
    assert 40 not in by_id(vmsource(db.source, "load"))
    assert vmsource(db.source, "delete", "40")["status"] == "malformed data"


def test_platform_and_aliases_columns_when_the_table_has_them(db):
    """The shipped schema has platform and aliases: read and written.
    VMoodle's own table has neither: it loads as before, a row without
    them saves, a row needing them is refused naming the column."""
    db.create_template_table()
    db.insert(**instance_row(1, platform="4.5.6",
                             aliases="www.site1.example.edu,old.example.edu/one"))
    db.insert(**instance_row(2, vhostname="https://example.edu/school2/"))
    saved = vmsource(db.source, "save", stdin=json.dumps(
        instance_row(3, platform="next", aliases="http://www.site3.example.edu")))
    assert saved["status"] == "ok"
    got = by_id(vmsource(db.source, "load"))
    assert got[1]["platform"] == "4.5.6"
    assert got[1]["aliases"] == "www.site1.example.edu old.example.edu/one "
    assert got[2]["key"] == "example.edu/school2" and got[2]["path"] == "/school2"
    assert got[2]["wwwroot"] == "https://example.edu/school2"
    assert got[3]["platform"] == "next" and got[3]["aliases"] == "www.site3.example.edu "

    db.create_vmoodle_table(table="plain_vmoodle")
    db.insert(table="plain_vmoodle", **instance_row(4, id=4))
    plain = vmsource(db.source, "load", table="plain_vmoodle")
    assert by_id(plain)[4]["platform"] == "" and by_id(plain)[4]["aliases"] == ""
    assert vmsource(db.source, "save", table="plain_vmoodle", stdin=json.dumps(
        instance_row(5, platform="")))["status"] == "ok"
    refused = vmsource(db.source, "save", table="plain_vmoodle", stdin=json.dumps(
        instance_row(6, platform="next")))
    assert refused["status"] != "ok" and "no column platform" in refused["error"]


def test_duplicate_host_write_is_refused_as_data(db):
    db.create_template_table()
    vmsource(db.source, "save", stdin=json.dumps(instance_row(1)))
    dup = vmsource(db.source, "save", stdin=json.dumps(
        instance_row(2, vhostname="https://site1.example.edu")))
    assert dup["status"] == "malformed data"


def start_tool(source, *args):
    return subprocess.Popen([VMSOURCE, source] + list(args),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)


def read_json_line(proc):
    line = proc.stdout.readline()
    assert line, "the tool exited early"
    return json.loads(line)


def test_try_lock_excludes_another_process(db):
    db.create_vmoodle_table()
    holder = start_tool(db.source, "lock", "7", "hold")
    try:
        assert read_json_line(holder)["got"] == 1
        assert vmsource(db.source, "lock", "7")["got"] == 0
        assert vmsource(db.source, "lock", "8")["released"] == 1
    finally:
        holder.stdin.close()
        assert read_json_line(holder)["released"] == 1
        holder.wait(timeout=TIMEOUT)
    assert vmsource(db.source, "lock", "7")["got"] == 1


def test_locks_of_two_tables_do_not_collide(db):
    holder = start_tool(db.source, "lock", "7", "hold")
    try:
        assert read_json_line(holder)["got"] == 1
        assert vmsource(db.source, "lock", "7", table="other_table")["got"] \
            == 1
    finally:
        holder.stdin.close()
        holder.wait(timeout=TIMEOUT)


def test_lock_dies_with_its_holder(db):
    holder = start_tool(db.source, "lock", "3", "hold")
    assert read_json_line(holder)["got"] == 1
    holder.kill()
    holder.wait(timeout=TIMEOUT)
    # The server notices the closed connection; bounded retries.
    for _ in range(100):
        if vmsource(db.source, "lock", "3")["got"] == 1:
            break
    else:
        pytest.fail("lock still held after its holder died")


def test_notify_is_seen_by_poll_change(pg_db):
    pg_db.create_template_table()
    watcher = start_tool(pg_db.source, "watch", "60")
    try:
        lines = [read_json_line(watcher)]
        while "ready" not in lines[-1]:
            lines.append(read_json_line(watcher))
        pg_db.insert(**instance_row(1))
        assert read_json_line(watcher) == {"status": "ok", "changed": 1}
        pg_db.sql("UPDATE mdl_local_vmoodle SET enabled = 0")
        assert read_json_line(watcher) == {"status": "ok", "changed": 1}
    finally:
        watcher.kill()
        watcher.wait(timeout=TIMEOUT)


def test_mysql_cannot_tell_changes(mysql_db):
    result = vmsource(mysql_db.source, "watch", "1")
    assert result["status"] == "not supported by this source"

"""Instance tables for the JSON source: rows with VMoodle's columns, and a
writer that replaces the file atomically (temporary file, then rename), the
way an administrator's tool should."""
import json
import os
import re


def instance(id, host, scheme="http", **columns):
    """One local_vmoodle row for host (a bare host name, maybe with :port).

    Every value is distinct per instance, so a response carrying another
    instance's value is caught.  Passwords contain "secret" so tests can
    check that none leaks."""
    short = host.split(".")[0].split(":")[0]
    row = {
        "id": id,
        "name": f"Site {short}",
        "shortname": short,
        "vhostname": f"{scheme}://{host}",
        "vdbtype": "pgsql",
        "vdbhost": f"db{id}.internal:{5400 + id % 100}",
        "vdblogin": f"user{id}",
        "vdbpass": f"secret-pass-{id}",
        "vdbname": f"moodle{id}",
        "vdbprefix": f"m{id}_",
        "vdbpersist": id % 2,
        "vdatapath": f"/srv/moodledata/{short}",
        "mnet": -1,
        "enabled": 1,
        "croncount": 0,
        "lastcron": 0,
        "lastcrongap": 0,
    }
    row.update(columns)
    return row


def expected_env(row):
    """The VMOODLE_* variables the module should hand PHP for row: the host
    is the lookup key (lower case, default port dropped), wwwroot is
    scheme://key."""
    scheme, rest = row["vhostname"].rstrip("/").split("://", 1)
    host = rest.lower().rstrip(".")
    default = {"http": ":80", "https": ":443"}[scheme.lower()]
    if host.endswith(default):
        host = host[:-len(default)]
    wwwroot = f"{scheme.lower()}://{host}"
    return {
        "VMOODLE_HOST": host,
        "VMOODLE_ID": str(row["id"]),
        "VMOODLE_SHORTNAME": row["shortname"],
        "VMOODLE_WWWROOT": wwwroot,
        "VMOODLE_DBTYPE": {"postgres": "pgsql"}.get(row["vdbtype"], row["vdbtype"]),
        "VMOODLE_DBHOST": row["vdbhost"],
        "VMOODLE_DBNAME": row["vdbname"],
        "VMOODLE_DBUSER": row["vdblogin"],
        "VMOODLE_DBPASS": row["vdbpass"],
        "VMOODLE_DBPREFIX": row["vdbprefix"],
        "VMOODLE_DBPERSIST": str(row["vdbpersist"]),
        "VMOODLE_DATAROOT": row["vdatapath"],
        "VMOODLE_MNET": str(row["mnet"]),
    }


def write_table(path, rows):
    """Replace the JSON table at path atomically; readable by www-data."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(rows, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o644)
    os.rename(tmp, path)


def split_dbhost(value):
    """What config.php should make of a vdbhost: (host, port)."""
    bracketed = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::(\d+))?", value)
    if bracketed:
        return bracketed.group(1), bracketed.group(2) or ""
    named = re.fullmatch(r"([^:\[\]]+):(\d+)", value)
    return (named.group(1), named.group(2)) if named else (value, "")


def assert_serves(report, row):
    """report (lib/setup.php's JSON) shows row's instance, and only it."""
    env = expected_env(row)
    assert report["server"] == env, "wrong $_SERVER"
    assert report["getenv"] == env, "wrong getenv()"
    assert report["server_other"] == {}, "stray VMOODLE_* variables"
    cfg = report["cfg"]
    assert (cfg["dbhost"], cfg["dboptions"]["dbport"]) == split_dbhost(row["vdbhost"])
    assert cfg["dbtype"] == env["VMOODLE_DBTYPE"]
    assert cfg["dbname"] == row["vdbname"]
    assert cfg["dbuser"] == row["vdblogin"]
    assert cfg["dbpass"] == row["vdbpass"]
    assert cfg["prefix"] == row["vdbprefix"]
    assert cfg["dboptions"]["dbpersist"] == (1 if row["vdbpersist"] else 0)
    assert cfg["wwwroot"] == env["VMOODLE_WWWROOT"]
    assert cfg["dataroot"] == row["vdatapath"]


# The master's settings file (VMoodleMasterConfig; vcron's and vmoodlectl's
# master-config) and the variables the master's requests and runs get.
MASTER_SETTINGS = {
    "wwwroot": "http://master.example.edu", "dbtype": "pgsql",
    "dbhost": "dbmaster.internal:5433", "dbname": "moodle",
    "dbuser": "moodle_master", "dbpass": "master-secret-pw", "prefix": "mdl_",
    "dbpersist": "0", "dataroot": "/srv/moodledata/master",
}


def write_master_config(path, settings=MASTER_SETTINGS, mode=0o600):
    """The file as an administrator writes it: root's, 0600."""
    with open(path, "w") as f:
        f.write("# the master Moodle\n")
        f.writelines(f"{k} = {v}\n" for k, v in settings.items())
    os.chmod(path, mode)
    return str(path)


def master_env(settings=MASTER_SETTINGS):
    names = {"wwwroot": "WWWROOT", "dbtype": "DBTYPE", "dbhost": "DBHOST",
             "dbname": "DBNAME", "dbuser": "DBUSER", "dbpass": "DBPASS",
             "prefix": "DBPREFIX", "dbpersist": "DBPERSIST",
             "dataroot": "DATAROOT"}
    env = {"VMOODLE_MASTER": "1"}
    env.update({f"VMOODLE_{names[k]}": v for k, v in settings.items()})
    return env

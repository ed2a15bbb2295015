"""Instance tables for the JSON source: rows with VMoodle's columns, and a
writer that replaces the file atomically (temporary file, then rename), the
way an administrator's tool should."""
import json
import os


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


def expected_env(row, host_key=None):
    """The VMOODLE_* variables the module should hand PHP for row."""
    wwwroot = row["vhostname"].rstrip("/")
    host = host_key or wwwroot.split("://", 1)[1].lower()
    return {
        "VMOODLE_HOST": host,
        "VMOODLE_ID": str(row["id"]),
        "VMOODLE_SHORTNAME": row["shortname"],
        "VMOODLE_WWWROOT": wwwroot,
        "VMOODLE_DBTYPE": row["vdbtype"],
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

"""The bench's instance tables: host i is h<i>.bench.test, its shortname
s<i> and its database db<i>, written in every form a configuration reads
(VMoodle JSON, RewriteMap txt and dbm, SQL rows)."""
import json
import os
import subprocess
import time

HTTXT2DBM = "/usr/sbin/httxt2dbm"


def host(i):
    return f"h{i}.bench.test"


def shortname(i):
    return f"s{i}"


def row(i, port):
    """One instance as VMoodle's local_vmoodle row."""
    return {
        "id": i, "name": f"Bench site {i}", "shortname": shortname(i),
        "vhostname": f"http://{host(i)}:{port}", "vdbtype": "pgsql",
        "vdbhost": "127.0.0.1", "vdblogin": "moodle", "vdbpass": f"pw{i}",
        "vdbname": f"db{i}", "vdbprefix": "mdl_", "vdbpersist": 0,
        "vdatapath": f"/srv/moodledata/s{i}", "mnet": -1, "enabled": 1,
    }


def write_json(path, n, port, renamed=None):
    """The JSON source; renamed = (i, new shortname) changes one row.
    Returns the monotonic time at which the new file took the old one's
    place."""
    rows = [row(i, port) for i in range(1, n + 1)]
    if renamed:
        i, name = renamed
        rows[i - 1]["shortname"] = name
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(rows))
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)   # readers see the old or the new file, whole
    return time.monotonic()


# The columns the SQL forms fill (the others keep their defaults).
SQL_COLUMNS = ["id", "name", "shortname", "vhostname", "vdbtype", "vdbhost",
               "vdblogin", "vdbpass", "vdbname", "vdbprefix", "vdbpersist",
               "vdatapath", "mnet", "enabled"]


def copy_script(n, port, table="mdl_local_vmoodle"):
    """psql input loading n instances into table with COPY."""
    lines = ["\t".join(str(row(i, port)[c]) for c in SQL_COLUMNS)
             for i in range(1, n + 1)]
    return (f"COPY {table} ({', '.join(SQL_COLUMNS)}) FROM STDIN;\n"
            + "\n".join(lines) + "\n\\.\n")


def write_txt_map(path, n):
    """RewriteMap txt: one "host shortname" line per instance."""
    with open(path, "w") as f:
        for i in range(1, n + 1):
            f.write(f"{host(i)} {shortname(i)}\n")
    os.chmod(path, 0o644)
    return path


def write_dbm_map(path, txt_path):
    """RewriteMap dbm:, compiled from the txt map with httxt2dbm."""
    subprocess.run([HTTXT2DBM, "-i", txt_path, "-o", path], check=True,
                   stdout=subprocess.DEVNULL)
    directory = os.path.dirname(path)
    for name in os.listdir(directory):
        if name.startswith(os.path.basename(path)):
            os.chmod(os.path.join(directory, name), 0o644)
    return path

"""A private PostgreSQL for the bench, in a temporary directory on a
127.0.0.1 port, run as the `postgres` system user (initdb refuses root).
Minimal on purpose: tests/integration/dbservers.py replaces it once it is on
main."""
import glob
import os
import pwd
import shutil
import subprocess

from apache import free_port, wait_for_port

USER = "postgres"


def pg_bin(name):
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is not installed")
    return found[-1]


class PostgreSQL:
    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "pgsql")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.proc = None

    def _as_user(self, cmd, **kw):
        return subprocess.run(["runuser", "-u", USER, "--"] + cmd,
                              check=True, capture_output=True, text=True, **kw)

    def start(self):
        os.makedirs(self.dir)
        pw = pwd.getpwnam(USER)
        os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        os.chmod(os.path.dirname(self.dir), 0o755)
        self._as_user([pg_bin("initdb"), "-D", self.data, "-A", "trust",
                       "-U", "postgres", "--no-sync", "-E", "UTF8"])
        self.proc = subprocess.Popen(
            ["runuser", "-u", USER, "--", pg_bin("postgres"), "-D", self.data,
             "-p", str(self.port), "-c", "listen_addresses=127.0.0.1",
             "-c", f"unix_socket_directories={self.dir}", "-c", "fsync=off",
             "-c", "max_connections=200"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.proc, 30, "postgres")
        self.psql("SELECT 1", db="postgres")   # accepting queries, not only TCP
        return self

    def psql(self, sql, db="postgres", stdin=None):
        """Run SQL (or a script on stdin) as the superuser; returns stdout."""
        cmd = [pg_bin("psql"), "-h", "127.0.0.1", "-p", str(self.port),
               "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-qAt"]
        cmd += ["-c", sql] if sql else []
        return self._as_user(cmd, input=stdin).stdout

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()       # smart shutdown
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

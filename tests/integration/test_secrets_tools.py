"""No password in what vcron and vmoodlectl print or log (issue 7,
Secrets): instance passwords and the source's password are distinctive
strings, and every command's stdout and stderr, and every file vcron
writes besides the table, are searched for them.  vmoodlectl shows them
only when asked with --show-secrets (checked too, so the search can
fail).  The module's side (error log, status and error pages) is tested
elsewhere."""
import json
import os
import subprocess

import pytest

from dbservers import PASSWORD, USER, pg_server  # noqa: F401  (fixture)
from test_vcron import VCRON
from test_vmoodlectl import CTL, Env, Master, traversable

INSTANCE_PASSWORDS = ("Ipw-Quokka-71", "Ipw-Narwhal-72")
WRONG_PASSWORD = "Dpw-Wombat-73"      # given to a deploy and a source
SOURCE_PASSWORD = PASSWORD.split("'")[0]   # any quoting of it contains this
SECRETS = INSTANCE_PASSWORDS + (WRONG_PASSWORD, SOURCE_PASSWORD)

CRON = """#!/bin/sh
# Instance 1's cron succeeds, instance 2's fails: both paths are logged.
echo "cron of $VMOODLE_SHORTNAME"
echo "cron warning of $VMOODLE_SHORTNAME" >&2
[ "$VMOODLE_ID" = 1 ]
"""


def rows(server):
    """Two instances whose databases are on server, with wrong passwords
    (so that `check` reports a failed login)."""
    return [{"id": i, "name": f"Site {i}", "shortname": f"s{i}",
             "vhostname": f"http://secret{i}.test", "vdbtype": "pgsql",
             "vdbhost": f"127.0.0.1:{server.port}", "vdblogin": USER,
             "vdbpass": pw, "vdbname": f"nodb{i}", "vdbprefix": "mdl_",
             "vdatapath": f"/srv/moodledata/s{i}", "enabled": 1}
            for i, pw in enumerate(INSTANCE_PASSWORDS, 1)]


@pytest.fixture(params=["json", "pgsql"])
def env(request, tmp_path, pg_server):
    """vmoodlectl's environment over a JSON table, or over a PostgreSQL
    table (then the source string holds the source's password)."""
    if not pg_server.running:
        pg_server.start()
    pg_server.sql(f"ALTER ROLE {USER} CREATEDB")
    env = Env(tmp_path, pg_server)
    if request.param == "json":
        with open(env.table, "w") as f:
            json.dump(rows(pg_server), f)
        os.chmod(env.table, 0o644)
    else:
        table = pg_server.new_database("secrets")
        table.create_template_table()
        for row in rows(pg_server):
            table.insert(**row)
        env.source = table.source
        env.wrong_source = table.source_with(password=WRONG_PASSWORD)
    return env


class Outputs:
    """Everything the commands printed, by command."""

    def __init__(self):
        self.texts = []

    def run(self, *cmd, expect_ok=True):
        proc = subprocess.run([str(c) for c in cmd], capture_output=True,
                              text=True, timeout=300)
        label = " ".join(str(c) for c in cmd[1:])
        assert (proc.returncode == 0) == expect_ok, \
            f"{label}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        self.texts.append((label, proc.stdout + proc.stderr))
        return proc.stdout + proc.stderr

    def add_files(self, root):
        for base, _, files in os.walk(root):
            for name in files:
                path = os.path.join(base, name)
                with open(path, errors="replace") as f:
                    self.texts.append((path, f.read()))

    def assert_no_secret(self):
        leaks = [f"{secret!r} in {label}" for label, text in self.texts
                 for secret in SECRETS if secret in text]
        assert not leaks, "\n".join(leaks)


def vcron_commands(env, out):
    """run, status, status --json; their logs, locks and state."""
    files = os.path.join(env.tmp, "vcron")
    cron = os.path.join(env.tmp, "cron.sh")
    with open(cron, "w") as f:
        f.write(CRON)
    os.chmod(cron, 0o755)
    traversable(env.tmp)
    base = [VCRON, "--config", "/dev/null", "--source", env.source,
            "--log-dir", f"{files}/log", "--lock-dir", f"{files}/lock",
            "--state-file", f"{files}/state/vcron.state"]
    ran = out.run(*base, "run", "--command", cron, expect_ok=False)
    assert "instance 2 (secret2.test): cron failed" in ran
    assert "secret1.test" in out.run(*base, "status")
    status = json.loads(out.run(*base, "status", "--json"))
    assert [i["croncount"] for i in status["instances"]] == [1, 1]
    if hasattr(env, "wrong_source"):
        base[base.index(env.source)] = env.wrong_source
        out.run(*base, "status", expect_ok=False)
        out.run(*base, "run", "--command", cron, expect_ok=False)
    out.add_files(files)
    assert any("cron warning of s2" in text for _, text in out.texts)


def vmoodlectl_commands(env, out):
    ctl = [CTL, *env.opts()]
    assert "secret1.test" in out.run(*ctl, "list")
    out.run(*ctl, "list", "--json")
    out.run(*ctl, "show", "1")
    out.run(*ctl, "show", "secret2.test", "--json")
    assert "FAIL" in out.run(*ctl, "check", expect_ok=False)
    out.run(*ctl, "--dry-run", "edit", "1", "--dbpass", WRONG_PASSWORD)
    out.run(*ctl, "--dry-run", "add", "--host", "http://new.test",
            "--dbname", "n", "--dataroot", f"{env.data}/n",
            "--dbpass", WRONG_PASSWORD)
    if hasattr(env, "wrong_source"):
        out.run(CTL, "--source", env.wrong_source, "list", expect_ok=False)


def deploy_commands(env, out):
    """A dry run and a deploy refused by the server (wrong password: the
    dry run checks it too) and one failing after it logged in (database
    name taken)."""
    master = Master(env.server, env.tmp)
    out.run(CTL, *env.opts(), "snapshot", "--from", "master", "--name",
            "tpl", *master.flags(), "--dbpass-file", env.passfile)
    deploy = [CTL, *env.opts(), "deploy", "--template", "tpl", "--dbhost",
              f"127.0.0.1:{env.server.port}", "--dbuser", USER]
    out.run(*deploy, "--host", "http://dry.test", "--dbpass",
            WRONG_PASSWORD, "--dry-run", expect_ok=False)
    out.run(*deploy, "--host", "http://refused.test", "--dbpass",
            WRONG_PASSWORD, expect_ok=False)
    out.run(*deploy, "--host", "http://taken.test", "--dbname",
            master.db.name, "--dbpass-file", env.passfile, expect_ok=False)


def test_vcron_prints_and_logs_no_password(env):
    out = Outputs()
    vcron_commands(env, out)
    out.assert_no_secret()


def test_vmoodlectl_prints_no_password_unless_asked(env):
    out = Outputs()
    vmoodlectl_commands(env, out)
    deploy_commands(env, out)
    out.assert_no_secret()
    shown = Outputs()
    shown.run(CTL, *env.opts(), "show", "1", "--show-secrets")
    shown.run(CTL, *env.opts(), "list", "--json", "--show-secrets")
    assert all(pw in shown.texts[1][1] for pw in INSTANCE_PASSWORDS)
    with pytest.raises(AssertionError, match="Ipw-Quokka-71"):
        shown.assert_no_secret()

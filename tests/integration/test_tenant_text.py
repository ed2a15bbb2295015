"""Issue 19, a tenant's file names before root's terminal: a folder named
with terminal escape sequences in a site's dataroot reaches vmoodlectl's
error escaped (\\x1b, \\x07), never as the raw bytes that retitle and clear
the terminal.  Before, the hard-link refusal printed the path as it was."""
import os
import pwd

from dbservers import PASSWORD, mysql_server, pg_server  # noqa: F401
from test_vmoodlectl import (Env, Master, ctl, env, master,  # noqa: F401
                             only_on, server)

EVIL = "\x1b]0;title\x07\x1b[2J"


@only_on("pgsql")
def test_hostile_folder_name_is_shown_escaped(env, master):
    tenant = pwd.getpwnam("www-data")
    evil_dir = os.path.join(master.dataroot, "filedir", EVIL)
    os.makedirs(evil_dir)
    for top, dirs, files in os.walk(master.dataroot):
        for name in dirs + files:
            os.lchown(os.path.join(top, name), tenant.pw_uid, tenant.pw_gid)
    os.chown(master.dataroot, tenant.pw_uid, tenant.pw_gid)
    # root's own file, hard-linked into the tenant's folder: refused
    victim = os.path.join(env.tmp, "root-only")
    with open(victim, "w") as f:
        f.write("root's")
    os.link(victim, os.path.join(evil_dir, "stolen"))
    proc = ctl(*env.opts(), "snapshot", "--from", "master", "--name", "tpl",
               *master.flags(), "--dbpass-file", env.passfile, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "hard link" in proc.stderr
    assert "\\x1b]0;title\\x07\\x1b[2J/stolen" in proc.stderr
    for raw in ("\x1b", "\x07"):
        assert raw not in proc.stdout + proc.stderr

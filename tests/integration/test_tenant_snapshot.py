"""Issue 19, snapshot's source confined: vmoodlectl copies a site's
dataroot as root, so it copies one only from where deploy puts them
(inside data-parent, no link on the way) and only when it is the site's
user's.  Before, a row pointing at a root-only folder had its 0600 files
copied into the template, and handed to the web user by every deploy."""
import os

import pytest

from dbservers import USER, mysql_server, pg_server  # noqa: F401
from test_vmoodlectl import (Env, Master, ctl, env, master,  # noqa: F401
                             only_on, server, site_dataroot)

SECRET_FILE = "shadow-copy"


def add_row(env, master, host, dataroot):
    ctl(*env.opts(), "add", "--host", host, "--dbtype", master.dbtype,
        "--dbhost", master.dbhost, "--dbuser", USER, "--dbpass-file",
        env.passfile, "--dbname", master.db.name, "--dataroot", dataroot)


def root_only_folder(path):
    os.makedirs(path)
    with open(os.path.join(path, SECRET_FILE), "w") as f:
        f.write("root's own")
    os.chmod(os.path.join(path, SECRET_FILE), 0o600)
    return path


def refused(env, host, reason):
    proc = ctl(*env.opts(), "snapshot", "--from", host, "--name", "t",
               check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "snapshot refused, nothing done" in proc.stderr
    assert reason in proc.stderr, proc.stderr
    assert not os.path.exists(os.path.join(env.templates, "t"))
    assert not any(SECRET_FILE in files for _, _, files in
                   os.walk(env.templates))


@only_on("pgsql")
def test_snapshot_of_a_row_outside_the_data_parent_is_refused(env, master):
    outside = root_only_folder(os.path.join(env.tmp, "etc-like"))
    add_row(env, master, "http://outside.test", outside)
    refused(env, "outside.test", "outside the data parent")


@only_on("pgsql")
def test_snapshot_of_a_root_owned_dataroot_is_refused(env, master):
    inside = root_only_folder(os.path.join(env.data, "rootowned"))
    add_row(env, master, "http://rootowned.test", inside)
    refused(env, "rootowned.test", "not to the site's user www-data")


@only_on("pgsql")
def test_snapshot_through_a_link_is_refused(env, master):
    target = root_only_folder(os.path.join(env.tmp, "elsewhere"))
    os.symlink(target, os.path.join(env.data, "linked"))
    add_row(env, master, "http://linked.test", os.path.join(env.data,
                                                            "linked"))
    refused(env, "linked.test", "symbolic link")


@only_on("pgsql")
def test_snapshot_of_a_sites_own_dataroot_works(env, master):
    add_row(env, master, "http://own.test",
            site_dataroot(env, master, "own"))
    ctl(*env.opts(), "snapshot", "--from", "own.test", "--name", "t")
    assert os.path.isdir(os.path.join(env.templates, "t", "dataroot"))

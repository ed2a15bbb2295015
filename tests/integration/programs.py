"""Where the built programs are, for the tests that run them under a
sanitizer, valgrind or a fuzzer."""
import glob
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SANITIZE_BUILD = os.path.join(ROOT, "build-sanitize")
FUZZ_BUILD = os.path.join(ROOT, "build-fuzz")


def build_dir():
    """The build under test (tests/run.py sets VMOODLE_BUILD)."""
    return os.environ.get("VMOODLE_BUILD", os.path.join(ROOT, "build"))


def unit_names():
    """The cmocka programs the sources say exist: test_<name>."""
    return sorted(os.path.basename(p)[:-2] for p in
                  glob.glob(os.path.join(ROOT, "tests", "unit", "test_*.c")))


def fuzz_names():
    """The libFuzzer harnesses: fuzz_<name>.c minus the shared helper."""
    return sorted(os.path.basename(p)[5:-2] for p in
                  glob.glob(os.path.join(ROOT, "tests", "fuzz", "fuzz_*.c"))
                  if not p.endswith("fuzz_util.c"))


def program(build, name):
    """A built program's path, asserting it was built."""
    path = os.path.join(build, name)
    assert os.access(path, os.X_OK), f"{path} is not built (make test builds it)"
    return path


def _json_table(tmp_path):
    """A JSON table with one good row and one rejected row; its source."""
    os.chmod(tmp_path, 0o755)
    table = tmp_path / "instances.json"
    table.write_text('[{"id": 1, "vhostname": "http://a.example.edu", '
                     '"vdbname": "a", "vdbpass": "secret-a", '
                     '"vdatapath": "/srv/a"}, {"id": 2, "vhostname": "bad"}]')
    os.chmod(table, 0o644)
    return f"json:{table}"


def _vmsource_steps(build, source, tmp_path):
    tool = [program(build, "vmsource"), source]
    row = ('{"vhostname": "http://b.example.edu", "vdbname": "b", '
           '"vdatapath": "/srv/b"}')
    return [(tool + ["load"], None), (tool + ["save"], row),
            (tool + ["record-cron", "1", "100"], None),
            (tool + ["delete", "2"], None), (tool + ["load"], None)]


def _vcron_steps(build, source, tmp_path):
    base = [program(build, "vcron"), "--source", source,
            "--log-dir", str(tmp_path / "log"), "--lock-dir", str(tmp_path / "lock"),
            "--state-file", str(tmp_path / "state" / "vcron.state")]
    # Mode activity (its probes fail: no database), the opcode cache's
    # directory made (php: /bin/echo), tiers set, status and plan.
    act = base + ["--mode", "activity", "--tier-file", str(tmp_path / "tiers"),
                  "--opcache-dir", str(tmp_path / "opcache")]
    return [(base + ["run", "--command", "/bin/true"], None),
            (base + ["status"], None), (base + ["status", "--json"], None),
            (act + ["--php", "/bin/echo", "--moodle-dir", str(tmp_path), "run"],
             None),
            (act + ["tier", "a.example.edu", "2"], None),
            (act + ["status"], None), (act + ["status", "--json"], None),
            (act + ["plan"], None)]


def _vmoodlectl_steps(build, source, tmp_path):
    ctl = [program(build, "vmoodlectl"), "--source", source]
    return [(ctl + ["list"], None), (ctl + ["list", "--json"], None),
            (ctl + ["show", "1"], None),
            (ctl + ["--host", "http://b.example.edu", "--dbname", "b",
                    "--dataroot", "/srv/b", "add"], None),
            (ctl + ["disable", "1"], None), (ctl + ["enable", "1"], None),
            (ctl + ["edit", "b.example.edu", "--dbname", "b2"], None),
            (ctl + ["remove", "b.example.edu"], None)] + [
        # Moodle's CLI, /bin/echo standing in for php: many sites, then one.
        (ctl + ["--php", "/bin/echo", "--moodle-dir", "/tmp", "--log-dir",
                str(tmp_path / "runlogs"), "--opcache-dir",
                str(tmp_path / "opcache"), "run"] + sites + ["--", "x"], None)
        for sites in (["--all", "--master"], ["1"])] \
        + _platform_steps(ctl, tmp_path) + _template_steps(ctl, tmp_path) \
        + _backup_steps(ctl, tmp_path)


def _platform_steps(ctl, tmp_path):
    """platforms, alias, upgrade --to on a platform of /tmp (dry run)."""
    conf = os.path.join(str(tmp_path), "platforms.conf")
    tree = os.path.join(str(tmp_path), "next")
    os.makedirs(os.path.join(tree, "admin", "cli"))
    for name, text in (("version.php", "<?php $version = 2024100706.00;\n"
                                       "$release = '4.5.6';\n"),
                       ("admin/cli/upgrade.php", "")):
        with open(os.path.join(tree, name), "w") as f:
            f.write(text)
    with open(conf, "w") as f:
        f.write(f"next = {tree}\n")
    pl = ctl + ["--platforms", conf, "--moodle-dir", "/tmp"]
    return [(pl + ["platforms"], None), (pl + ["platforms", "--json"], None),
            (pl + ["alias", "add", "1", "www.a.example.edu"], None),
            (pl + ["alias", "list"], None),
            (pl + ["alias", "remove", "1", "www.a.example.edu"], None),
            (pl + ["--dry-run", "upgrade", "1", "--to", "next"], None)]


def _backup_steps(ctl, tmp_path):
    """backups on a backup's manifest alone."""
    folder = os.path.join(str(tmp_path), "backups")
    backup = os.path.join(folder, "a.test", "20260101T000000Z")
    os.makedirs(os.path.join(backup, "dataroot"))
    with open(os.path.join(backup, "manifest.json"), "w") as f:
        json.dump({"format": 1, "kind": "backup", "name": "20260101T000000Z",
                   "source": {"wwwroot": "http://a.test", "vdbtype": "pgsql"},
                   "moodle": {"version": "2024100705", "release": "4.5"},
                   "database": {"file": "database.dump", "size": 0,
                                "sha256": "e3b0c44298fc1c149afbf4c8996fb924"
                                          "27ae41e4649b934ca495991b7852b855"},
                   "dataroot": {"bytes": 0, "files": 0, "list": []}}, f)
    open(os.path.join(backup, "database.dump"), "w").close()
    dirs = ctl + ["--dir", folder]
    return [(dirs + ["backups"], None), (dirs + ["backups", "--json"], None)]


def _template_steps(ctl, tmp_path):
    """templates and template-remove on a template's manifest alone."""
    folder = os.path.join(str(tmp_path), "templates")
    os.makedirs(os.path.join(folder, "t1"))
    with open(os.path.join(folder, "t1", "manifest.json"), "w") as f:
        json.dump({"format": 1, "name": "t1", "created": "2026-01-01T00:00:00Z",
                   "source": {"wwwroot": "http://a.test", "vdbtype": "pgsql"},
                   "database": {"file": "db.dump", "size": 10, "sha256": "00"},
                   "dataroot": {"bytes": 5, "files": 1, "list": [
                       {"path": "x", "size": 5, "sha256": "00"}]}}, f)
    tpl = ctl + ["--templates", folder]
    return [(tpl + ["templates"], None), (tpl + ["templates", "--json"], None),
            (tpl + ["--dry-run", "template-remove", "t1"], None),
            (tpl + ["template-remove", "t1"], None)]


# The programs, each driven through a session on a JSON table.
SESSIONS = {"vmsource": _vmsource_steps, "vcron": _vcron_steps,
            "vmoodlectl": _vmoodlectl_steps}


def program_session(name, run, build, tmp_path):
    """Run program name's session, each call wrapped by run(argv,
    input=...) (valgrind, sanitizers); return the completed processes."""
    steps = SESSIONS[name](build, _json_table(tmp_path), tmp_path)
    return [run(argv, input=stdin) for argv, stdin in steps]

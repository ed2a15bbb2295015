"""vmoodlectl's command line as its command table declares it: every command
has its own --help, an option a command does not take is refused (exit 2,
naming the option and the command) before anything is read or written,
the README lists the commands as --help does, and the settings file is
vmoodlectl's own (vcron's names left alone, unknown ones refused)."""
import json
import os
import re
import subprocess

import pytest

from programs import ROOT, build_dir, program

CTL = program(build_dir(), "vmoodlectl")


def ctl(*args):
    return subprocess.run([CTL, "--config", "/dev/null"]
                          + [str(a) for a in args],
                          capture_output=True, text=True, timeout=60)


def commands():
    """{name: synopsis} from `vmoodlectl --help`'s command list."""
    out = ctl("--help").stdout
    block = out.split("commands:\n", 1)[1].split("\nSITES:", 1)[0]
    found = {}
    for line in block.splitlines():
        if line.startswith("  ") and not line.startswith("   "):
            found[line.split()[0]] = line.strip()
    return found


def options_of(name):
    """The options `vmoodlectl NAME --help` lists as its own (not the
    settings every command takes)."""
    out = ctl(name, "--help").stdout
    own = out.split("options:\n", 1)[1].split("settings (", 1)[0]
    return {m.group(1) for m in re.finditer(r"^  --([a-z-]+)", own, re.M)}


COMMANDS = sorted(commands())
EVERY_OPTION = set().union(*(options_of(c) for c in COMMANDS))


def test_the_command_list_is_the_table():
    assert {"list", "show", "add", "edit", "enable", "disable", "remove",
            "check", "snapshot", "deploy", "destroy", "templates",
            "template-remove", "run", "upgrade", "purge-caches",
            "maintenance", "config", "cron"} <= set(COMMANDS)
    lines = ctl("--help").stdout.splitlines()
    # each command listed once
    assert sum(l.startswith("  destroy ") for l in lines) == 1


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_has_its_own_help(name):
    proc = ctl(name, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: vmoodlectl {name}")
    assert "--source" in proc.stdout      # the settings, every command's
    # -h and --help anywhere on the line say the same
    assert ctl("-h", name).stdout == proc.stdout


def test_show_help_is_shows_usage():
    out = ctl("show", "--help").stdout
    assert out.startswith("usage: vmoodlectl show HOST|ID")
    assert options_of("show") == {"json", "show-secrets"}
    assert "deploy" not in out


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_refuses_the_options_it_does_not_take(name, tmp_path):
    table = tmp_path / "instances.json"
    table.write_text('[]')
    foreign = sorted(EVERY_OPTION - options_of(name))
    assert foreign, name
    for option in foreign:
        proc = ctl("--source", f"json:{table}", name, f"--{option}", "x")
        assert proc.returncode == 2, (name, option, proc.stdout)
        assert f"{name} does not take --{option}" in proc.stderr
        assert proc.stdout == ""


def test_the_first_refused_option_is_named(tmp_path):
    proc = ctl("list", "--jobs", "3", "--template", "nope", "--yes",
               "--dbname", "x")
    assert proc.returncode == 2
    assert "list does not take --jobs" in proc.stderr
    assert "--template" not in proc.stderr


def test_enable_refuses_a_column_and_writes_nothing(tmp_path):
    table = tmp_path / "instances.json"
    table.write_text(json.dumps([{
        "id": 1, "vhostname": "http://one.test", "vdbtype": "pgsql",
        "vdbhost": "localhost", "vdblogin": "u", "vdbpass": "p",
        "vdbname": "one", "vdbprefix": "mdl_", "vdatapath": "/srv/one",
        "enabled": 0}]))
    before = table.read_text()
    for args in (["enable", "one.test", "--dbname", "other"],
                 ["enable", "one.test", "--dbname", "other", "--dry-run"]):
        proc = ctl("--source", f"json:{table}", *args)
        assert proc.returncode == 2 and "--dbname" in proc.stderr
        assert "would" not in proc.stdout
        assert table.read_text() == before
    ok = ctl("--source", f"json:{table}", "--dry-run", "enable", "1")
    assert ok.returncode == 0 and "would enable" in ok.stdout
    # the new spelling of add/edit's COLUMN=VALUE, and the old one
    for spelling in ("--column", "--set"):
        proc = ctl("--source", f"json:{table}", "edit", "1", spelling,
                   f"vdbname=by{spelling[2:]}")
        assert proc.returncode == 0, proc.stderr
        assert json.loads(ctl("--source", f"json:{table}", "show", "1",
                              "--json").stdout)["vdbname"] == \
            f"by{spelling[2:]}"


@pytest.mark.parametrize("args, why", [
    (["list", "--bogus"], "unknown option --bogus"),
    (["list", "-x"], "unknown option '-x'"),
    (["list", "extra"], "list takes no arguments"),
    (["list", "--", "x"], "list takes nothing after '--'"),
    (["show"], "show takes one HOST or ID"),
    (["show", "a", "b"], "show takes one HOST or ID"),
    (["run", "--all", "--jobs"], "--jobs needs N"),
    (["list", "--json=1"], "--json takes no value"),
    (["nosuch"], "unknown command 'nosuch'"),
])
def test_a_wrong_command_line_is_exit_2(args, why):
    proc = ctl(*args)
    assert proc.returncode == 2, proc.stdout
    assert why in proc.stderr


def test_no_command_prints_the_usage():
    proc = ctl()
    assert proc.returncode == 2 and "commands:" in proc.stderr
    assert ctl("--help").returncode == 0


def test_version():
    proc = ctl("--version")
    assert proc.returncode == 0
    assert re.fullmatch(r"vmoodlectl \d+\.\d+\.\d+\S*\n", proc.stdout)


def test_readme_lists_the_commands_as_help_does():
    """The README shows --help's command list, line for line."""
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    out = ctl("--help").stdout
    block = out[out.index("commands:\n"):out.index("\nSITES:")]
    assert "".join(f"    {line}\n" for line in block.splitlines()) in readme


def test_settings_file_is_vmoodlectls_own(tmp_path):
    table = tmp_path / "instances.json"
    table.write_text('[]')
    conf = tmp_path / "vmoodlectl.conf"
    # vcron's settings in a shared file are vcron's: left alone
    conf.write_text(f"source = json:{table}\nmode = lowest-gap\n"
                    "log-max = 2048\n")
    proc = subprocess.run([CTL, "--config", conf, "list"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    conf.write_text(f"source = json:{table}\nsourse = typo\n")
    proc = subprocess.run([CTL, "--config", conf, "list"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "vmoodlectl.conf:2" in proc.stderr and "sourse" in proc.stderr
    # a flag wins over the file
    other = tmp_path / "other.json"
    other.write_text('[]')
    proc = subprocess.run([CTL, "--config", conf, "--source", f"json:{other}",
                           "list"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1    # the file's typo is still refused


def test_vmoodlectl_links_no_vcron_objects():
    with open(os.path.join(ROOT, "vmoodlectl", "vmoodlectl.mk")) as f:
        assert "VCRON_OBJD" not in f.read()

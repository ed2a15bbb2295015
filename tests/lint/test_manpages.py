"""The manual pages list every command the programs know: each command
vmoodlectl's --help names has its entry (and its own --help, put in by
tools/gen-man) in man/vmoodlectl.8.in; the built pages carry the programs'
usage verbatim and render without a warning."""
import os
import re
import subprocess

import pytest

from test_apr_formats import ROOT

BUILD = os.environ.get("VMOODLE_BUILD", os.path.join(ROOT, "build"))


def built(name):
    path = os.path.join(BUILD, name)
    if not os.path.exists(path):
        pytest.fail(f"{path} is not built (make builds it)")
    return path


def help_text(*args):
    return subprocess.run([built("vmoodlectl"), *args, "--help"],
                          capture_output=True, text=True, timeout=30).stdout


def commands(usage):
    """Command names in a usage: the first word of each entry of the
    indented line that is not an option, before its description (two
    spaces or more), entries split at ', '."""
    names = set()
    for line in usage.splitlines():
        if not line.startswith("  ") or line.startswith("   "):
            continue
        synopsis = re.split(r"\s{2,}", line.strip())[0]
        for entry in synopsis.split(", "):
            m = re.match(r"([a-z][a-z-]+)(?:\s|$)", entry)
            if m and not entry.startswith("--"):
                names.add(m.group(1))
    return names


def test_every_vmoodlectl_command_has_its_entry():
    usage = help_text()
    names = commands(usage)
    assert {"list", "deploy", "run"} <= names, usage
    page = open(os.path.join(ROOT, "man", "vmoodlectl.8.in")).read()
    missing = sorted(n for n in names if f"@HELP {n}@" not in page)
    assert not missing, ("commands missing from man/vmoodlectl.8.in (add a "
                         f".TP entry with @HELP name@): {missing}")


@pytest.mark.parametrize("name", ["vcron", "vmoodlectl"])
def test_built_page_renders_and_carries_the_usage(name):
    page = built(os.path.join("man", f"{name}.8"))
    proc = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", page],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    text = subprocess.run(["man", "-l", page], capture_output=True, text=True,
                          env=dict(os.environ, MANWIDTH="200", LC_ALL="C.UTF-8"),
                          timeout=60).stdout
    usage = subprocess.run([built(name), "--help"], capture_output=True,
                           text=True, timeout=30).stdout
    if name == "vmoodlectl":             # and each command's own options
        usage += "".join(help_text(c) for c in commands(usage))
    options = set(re.findall(r"--[a-z][a-z-]*", usage))
    assert options, usage
    missing = sorted(o for o in options if o not in text)
    assert not missing, f"options missing from {page}: {missing}"

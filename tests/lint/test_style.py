"""One style, checked: every C file laid out as .clang-format says
(tools/check-format reports, `make format` rewrites), and the version and
the packaging's build dependencies each kept in one place.  No
variable-length array: the build's -Wvla, an error under -Werror, is
tests/integration/test_build_switches.py's (it compiles one)."""
import os
import re
import subprocess

import pytest

from test_apr_formats import ROOT

# False until the tree has been through `make format` once (the branches
# were written before .clang-format); that commit sets it True.  While
# False, the check must fail: strict, so it cannot be forgotten.
FORMATTED = True


def read(*path):
    with open(os.path.join(ROOT, *path)) as f:
        return f.read()


@pytest.mark.xfail(not FORMATTED, strict=True,
                   reason="the tree is formatted once by `make format`")
def test_every_c_file_is_formatted():
    proc = subprocess.run([os.path.join(ROOT, "tools", "check-format")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_version_has_one_home():
    version = re.search(r'^#define VMOODLE_VERSION "([^"]+)"$',
                        read("core", "vm_version.h"), re.M).group(1)
    changelog = re.match(r"\S+ \(([^)]+)\)", read("debian", "changelog"))
    assert changelog.group(1).split("-")[0] == version, \
        "debian/changelog's version differs from core/vm_version.h"
    copies = []
    for base, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in (".git", "debian")
                   and not d.startswith("build")]
        for name in files:
            path = os.path.join(base, name)
            if name.endswith((".c", ".h")) and not path.endswith("vm_version.h") \
                    and f'"{version}"' in read(path):
                copies.append(os.path.relpath(path, ROOT))
    assert not copies, f"the version written out again in {copies}"


def test_build_dependencies_are_installed_by_install_deps():
    control = read("debian", "control")
    field = re.search(r"^Build-Depends:(.*?)^\S", control, re.M | re.S).group(1)
    wanted = [alt.split("|")[0].split("(")[0].strip()
              for alt in field.replace("\n", " ").split(",") if alt.strip()]
    # Names that install-deps gets through the package providing them.
    provided = {"debhelper-compat": "debhelper", "dh-apache2": "apache2-dev",
                "pkgconf": "pkg-config"}
    listed = re.findall(r"[\w.+-]+", read("tools", "install-deps"))
    missing = [w for w in wanted if provided.get(w, w) not in listed]
    assert not missing, f"in debian/control, not in tools/install-deps: {missing}"


@pytest.mark.parametrize("name", ["vcron", "vmoodlectl"])
def test_the_programs_print_the_version(name):
    build = os.environ.get("VMOODLE_BUILD", os.path.join(ROOT, "build"))
    version = re.search(r'VMOODLE_VERSION "([^"]+)"',
                        read("core", "vm_version.h")).group(1)
    proc = subprocess.run([os.path.join(build, name), "--version"],
                          capture_output=True, text=True, timeout=30)
    assert (proc.returncode, proc.stdout) == (0, f"{name} {version}\n"), \
        proc.stderr

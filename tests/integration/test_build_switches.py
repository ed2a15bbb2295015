"""The build's switches as a packager uses them (issue 24): a
variable-length array fails the build, WERROR=0 drops -Werror, CPPFLAGS
reaches every compile line, and `make install DESTDIR=...` writes under
DESTDIR alone, the module included (where apxs says modules live, under
DESTDIR)."""
import os
import shlex
import subprocess
import time

import pytest

from shipped import ROOT

BUILD = os.environ.get("VMOODLE_BUILD", os.path.join(ROOT, "build"))
VLA = "int f(int n) { int a[n]; a[0] = n; return a[0]; }\n"
FIXED = "int f(int n) { int a[4]; a[0] = n; return a[0]; }\n"
MARK = "-DVM_CPPFLAGS_SEEN=1"


def make(*args, timeout=600):
    """The project's make, with none of the caller's flags (a make running
    these tests passes its own)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "CFLAGS",
                        "CPPFLAGS", "LDFLAGS", "WERROR", "DESTDIR")}
    proc = subprocess.run(["make", "--no-print-directory", "-C", ROOT,
                           *args], capture_output=True, text=True,
                          timeout=timeout, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.replace("\\\n", " ")    # one line a command


def cflags(*switches):
    """CFLAGS as the Makefile makes them with these switches."""
    out = make("-s", "--eval", "print-cflags: ; @echo $(CFLAGS)",
               *switches, "print-cflags")
    return shlex.split(out)


def compile_c(tmp_path, flags, text):
    src = tmp_path / "one.c"
    src.write_text(text)
    return subprocess.run(["cc", *flags, "-c", str(src), "-o",
                           str(tmp_path / "one.o")],
                          capture_output=True, text=True, timeout=60)


def test_a_variable_length_array_fails_the_build(tmp_path):
    flags = cflags()
    fixed = compile_c(tmp_path, flags, FIXED)
    assert fixed.returncode == 0, fixed.stderr
    vla = compile_c(tmp_path, flags, VLA)
    assert vla.returncode != 0 and "variable length array" in vla.stderr, \
        vla.stderr
    # WERROR=0: the warning stays, the build goes on.
    lax = compile_c(tmp_path, cflags("WERROR=0"), VLA)
    assert lax.returncode == 0 and "variable length array" in lax.stderr, \
        lax.stderr


def compile_lines(*switches, build):
    """The C compiler's lines that make all would run in a fresh build."""
    out = make("-n", f"BUILD={build}", *switches, "all")
    lines = [shlex.split(line) for line in out.splitlines()
             if line.startswith("cc ")]
    return [words for words in lines if "-std=c11" in words]


def test_werror_0_and_cppflags_reach_every_compile_line(tmp_path):
    build = str(tmp_path / "build")
    default = compile_lines(build=build)
    assert len(default) > 20
    assert all("-Werror" in w and MARK not in w for w in default)
    lax = compile_lines("WERROR=0", f"CPPFLAGS={MARK} -D_FORTIFY_SOURCE=2",
                        build=build)
    assert len(lax) == len(default)
    bad = [" ".join(w) for w in lax if "-Werror" in w or MARK not in w
           or "-D_FORTIFY_SOURCE=2" not in w]
    assert bad == [], bad[:3]
    assert not os.path.exists(build)        # make -n wrote nothing


def install_destinations(destdir, build):
    """What make install would write: the last word of each install or cp
    line, every word of an install -d."""
    out = make("-n", "install", f"DESTDIR={destdir}", f"BUILD={build}")
    found = []
    for words in map(shlex.split, out.splitlines()):
        if words[:1] == ["install"] and "-d" in words:
            found += [w for w in words[1:] if not w.startswith("-")]
        elif words[:1] in (["install"], ["cp"]):
            found.append(words[-1])
        elif words[:1] in (["mkdir"], ["ln"], ["mv"], ["rm"], ["tee"]):
            found.append(" ".join(words))       # not expected: reported
    return found


def apxs_moduledir():
    return subprocess.run(["apxs", "-q", "LIBEXECDIR"], capture_output=True,
                          text=True, timeout=30).stdout.strip()


def test_make_install_writes_under_destdir_only(tmp_path):
    moduledir = apxs_moduledir()
    if not moduledir:
        pytest.skip("apxs -q LIBEXECDIR gives nothing: tools/install-deps "
                    "installs apache2-dev")
    dest = str(tmp_path / "stage")
    planned = install_destinations(dest, BUILD)
    assert len(planned) >= 7, planned
    outside = [d for d in planned if not d.startswith(dest + "/")]
    assert outside == [], outside
    assert os.path.join(dest + moduledir, "mod_vmoodle.so") in planned
    started = time.time()
    make("install", f"DESTDIR={dest}", f"BUILD={BUILD}")
    written = sorted(os.path.relpath(os.path.join(base, name), dest)
                     for base, _, names in os.walk(dest) for name in names)
    for want in (moduledir.lstrip("/") + "/mod_vmoodle.so",
                 "usr/local/bin/vcron", "usr/local/bin/vmoodlectl",
                 "usr/local/share/vmoodle/config.php",
                 "usr/local/share/man/man8/vcron.8",
                 "usr/local/share/man/man8/vmoodlectl.8"):
        assert want in written, written
    # The same paths outside DESTDIR: not written by this install.
    touched = [f"/{rel}" for rel in written
               if os.path.lexists(f"/{rel}")
               and os.lstat(f"/{rel}").st_mtime >= started]
    assert touched == [], touched

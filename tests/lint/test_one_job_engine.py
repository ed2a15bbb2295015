"""One way to start a process: fork, the exec family, posix_spawn, vfork,
clone, system() and popen() appear in the job engine (core/vm_job.c) and
nowhere else in the C tree, so every child gets the engine's guarantees
(descriptors closed, exact environment, a session of its own, exec errors
reported, its group ended on timeout)."""
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SKIP_DIRS = {".git", "build", "build-sanitize", "build-fuzz", "corpus",
             "corpus-run", "__pycache__"}
ENGINE = {os.path.join("core", "vm_job.c")}
# The exceptions, each with its reason.
ALLOWED = {
    # In httpd's parent at start-up: a child that drops to Apache's User
    # through httpd's own ap_unixd_setup_child and runs the module's code
    # (no exec, no site's code); the core engine knows no httpd.
    ("mod_vmoodle_refresh.c", "fork"),
}
# Test harnesses are not the product.
NOT_PRODUCT = ("tests" + os.sep,)
CALLS = re.compile(r"\b(fork|vfork|clone|clone3|execv|execve|execvp|execvpe|"
                   r"execl|execle|execlp|fexecve|posix_spawnp?|system|popen)"
                   r"\s*\(")


def code_only(text):
    """Comments and string literals blanked, line numbers kept."""
    def blank(m):
        return re.sub(r"[^\n]", " ", m.group(0))
    return re.sub(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|'
                  r"/\*.*?\*/|//[^\n]*", blank, text, flags=re.S)


def c_files():
    for top, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        for name in files:
            if name.endswith((".c", ".h")):
                path = os.path.join(top, name)
                yield os.path.relpath(path, ROOT), path


def starts_outside_the_engine(text):
    code = code_only(text)
    return [(code.count("\n", 0, m.start()) + 1, m.group(1))
            for m in CALLS.finditer(code)]


def test_no_process_started_outside_the_engine():
    found = []
    for rel, path in c_files():
        if rel in ENGINE or rel.startswith(NOT_PRODUCT):
            continue
        with open(path, errors="replace") as f:
            found += [f"{rel}:{line}: {call}()"
                      for line, call in starts_outside_the_engine(f.read())
                      if (rel, call) not in ALLOWED]
    assert not found, "start processes through core/vm_job.h:\n" + \
        "\n".join(found)


def test_the_lint_sees_a_fork():
    """The check itself: a call is found, a comment or a string is not."""
    sample = ('/* fork() here */ const char *s = "execvp(";\n'
              "pid_t p = fork ();\nexecvp(argv[0], argv);\n")
    assert starts_outside_the_engine(sample) == [(2, "fork"), (3, "execvp")]


def test_the_engine_is_where_it_says():
    for rel in ENGINE:
        with open(os.path.join(ROOT, rel)) as f:
            calls = {c for _, c in starts_outside_the_engine(f.read())}
        assert {"fork", "execve"} <= calls

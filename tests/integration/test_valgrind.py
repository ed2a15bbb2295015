"""The unit tests and a session of each program (vmsource, vcron,
vmoodlectl) under valgrind: no invalid access, no use of uninitialised
memory, no definite leak."""
import os
import subprocess

import pytest

from programs import SESSIONS, build_dir, program, program_session, unit_names

VALGRIND = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
            "--errors-for-leak-kinds=definite", "--track-origins=yes"]


@pytest.fixture(autouse=True)
def not_sanitized():
    if os.path.basename(build_dir()) == "build-sanitize":
        pytest.skip("AddressSanitizer builds do not run under valgrind; "
                    "the plain build is checked by make test")


def run_under_valgrind(argv, **kw):
    env = dict(os.environ, CMOCKA_MESSAGE_OUTPUT="stdout")
    return subprocess.run(VALGRIND + argv, env=env, capture_output=True,
                          text=True, timeout=900, **kw)


@pytest.mark.parametrize("name", unit_names())
def test_unit_tests_clean_under_valgrind(name):
    binary = program(os.path.join(build_dir(), "tests"), name)
    proc = run_under_valgrind([binary])
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]


@pytest.mark.parametrize("name", sorted(SESSIONS))
def test_program_clean_under_valgrind(name, tmp_path):
    for proc in program_session(name, run_under_valgrind, build_dir(), tmp_path):
        assert proc.returncode == 0, (proc.args, proc.stdout + proc.stderr)

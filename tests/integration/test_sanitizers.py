"""The unit tests and a session of each program (vmsource, vcron,
vmoodlectl) again, built with AddressSanitizer and
UndefinedBehaviorSanitizer (build-sanitize/, built by make test): any
report fails the test."""
import os
import subprocess

import pytest

from programs import SANITIZE_BUILD, SESSIONS, program, program_session, unit_names

SAN_ENV = dict(os.environ, CMOCKA_MESSAGE_OUTPUT="stdout",
               ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=98",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")


def run_sanitized(argv, **kw):
    return subprocess.run(argv, env=SAN_ENV, capture_output=True, text=True,
                          timeout=600, **kw)


def assert_clean(proc):
    report = proc.stdout + proc.stderr
    assert "runtime error" not in report, report[-4000:]
    assert "Sanitizer" not in report, report[-4000:]
    assert proc.returncode == 0, (proc.args, report[-4000:])


@pytest.mark.parametrize("name", unit_names())
def test_unit_tests_clean_under_sanitizers(name):
    assert_clean(run_sanitized([program(os.path.join(SANITIZE_BUILD, "tests"),
                                        name)]))


@pytest.mark.parametrize("name", sorted(SESSIONS))
def test_program_clean_under_sanitizers(name, tmp_path):
    for proc in program_session(name, run_sanitized, SANITIZE_BUILD, tmp_path):
        assert_clean(proc)

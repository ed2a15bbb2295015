"""Each libFuzzer harness runs for FUZZ_SECONDS (60 by default), all of
them side by side, and must end without a crash, a sanitizer report or a
broken property."""
import os
import sys

import pytest

from programs import FUZZ_BUILD, ROOT, fuzz_names, program

sys.path.insert(0, os.path.join(ROOT, "tests", "fuzz"))
import run_fuzzers  # noqa: E402

SECONDS = int(os.environ.get("FUZZ_SECONDS", "60"))


@pytest.fixture(scope="module")
def fuzz_results():
    names = fuzz_names()
    for name in names:
        program(FUZZ_BUILD, f"fuzz_{name}")
    return run_fuzzers.run(FUZZ_BUILD, names, SECONDS)


@pytest.mark.parametrize("name", fuzz_names())
def test_fuzzer_finds_nothing(fuzz_results, name):
    code, log = fuzz_results[name]
    assert code == 0, f"fuzz_{name} failed:\n{run_fuzzers.summary(log)}"
    assert run_fuzzers.executions(log) > 1000, f"fuzz_{name} barely ran: {log}"

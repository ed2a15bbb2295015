"""Where the built programs are, for the tests that run them under a
sanitizer, valgrind or a fuzzer."""
import glob
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


def json_table_session(run, build, tmp_path):
    """Drive a JSON table through every source operation with the vmsource
    tool, each call wrapped by run(argv, input=...) (valgrind, sanitizers).
    Returns the completed processes."""
    table = tmp_path / "instances.json"
    table.write_text('[{"id": 1, "vhostname": "http://a.example.edu", '
                     '"vdbname": "a", "vdbpass": "secret-a", '
                     '"vdatapath": "/srv/a"}, {"id": 2, "vhostname": "bad"}]')
    tool = [program(build, "vmsource"), f"json:{table}"]
    row = ('{"vhostname": "http://b.example.edu", "vdbname": "b", '
           '"vdatapath": "/srv/b"}')
    steps = [(["load"], None), (["save"], row), (["record-cron", "1", "100"],
             None), (["delete", "2"], None), (["load"], None)]
    return [run(tool + argv, input=stdin) for argv, stdin in steps]

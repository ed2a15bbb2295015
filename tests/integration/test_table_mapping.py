"""A generation a process cannot map (here: its live file unreadable to
the server's user, as after EMFILE, ENOMEM or a live file removed) is
tried again with back-off: once it can be read, the process serves it
without any change to the table, whether it had an older generation to
serve meanwhile or none at all."""
import glob
import os
import re

import client
from apache import eventually, wait_until
from instances import assert_serves, instance

RECOVERY = 15   # seconds: the longest retry wait (5 s) with ample slack
REQUESTS = 30   # made while the generation cannot be mapped


def live_file(server, generation):
    return os.path.join(server.workdir, "snap", f"instances.snap.live.{generation}")


def live_files(server):
    """{generation: path} of the live copies in place (not the writer's
    temporary files, instances.snap.live.N.tmp.PID)."""
    paths = glob.glob(os.path.join(server.workdir, "snap", "instances.snap.live.*"))
    return {int(m.group(1)): p for p in paths
            if (m := re.search(r"\.live\.(\d+)$", p))}


def newest_live(server):
    """(generation, path) of the newest live copy the writer made; the port
    answers before the parent has published its first one."""
    wait_until(lambda: live_files(server), 10, "the first generation")
    return max(live_files(server).items())


def refusals(server, generation):
    return len(re.findall(rf"VM00060: .*cannot map generation {generation}:",
                          server.errors_text()))


def status_code(keep, host):
    return keep.get(host, "/index.php").status


def test_no_table_at_start_keeps_trying(start_vmoodle):
    """Before any request, the first generation becomes unreadable: every
    host answers 503, the refusal is logged once per process (not per
    request), and the process serves the table once it is readable."""
    one = instance(1, "one.example.edu")
    server = start_vmoodle([one])
    server.expect_error(r"VM00060: ")
    generation, path = newest_live(server)
    os.chmod(path, 0)
    keep = client.KeepAlive(server.port)
    codes = [status_code(keep, "one.example.edu") for _ in range(REQUESTS)]
    assert codes == [503] * REQUESTS
    assert 1 <= refusals(server, generation) < REQUESTS

    os.chmod(path, 0o644)
    eventually(lambda: status_code(keep, "one.example.edu"), lambda c: c == 200,
               RECOVERY, "table mapped after the file became readable")
    resp = client.get(server.port, "one.example.edu", "/index.php")
    assert_serves(resp.json(), one)
    assert "VM00061: " in server.errors_text()     # the recovery is logged
    assert not os.path.exists(live_file(server, generation + 1))  # no change made


def test_unmappable_new_generation_is_retried(start_vmoodle):
    """A new generation that cannot be mapped: the previous one stays in
    service, and the new one is served once readable, with no further
    change to the table."""
    one, two = instance(1, "one.example.edu"), instance(2, "two.example.edu")
    server = start_vmoodle([one])
    server.expect_error(r"VM00060: ")
    keep = client.KeepAlive(server.port)
    assert status_code(keep, "one.example.edu") == 200    # generation 1 mapped
    first, _ = newest_live(server)

    # Nothing is requested until the new live file is unreadable, so no
    # process can map it first.
    server.write([one, two])
    wait_until(lambda: os.path.exists(live_file(server, first + 1)), 10,
               "the writer's next generation")
    os.chmod(live_file(server, first + 1), 0)
    codes = [status_code(keep, "two.example.edu") for _ in range(REQUESTS)]
    assert codes == [404] * REQUESTS                       # the old table
    assert status_code(keep, "one.example.edu") == 200
    assert 1 <= refusals(server, first + 1) < REQUESTS

    os.chmod(live_file(server, first + 1), 0o644)
    eventually(lambda: status_code(keep, "two.example.edu"), lambda c: c == 200,
               RECOVERY, "new generation mapped after the file became readable")
    assert_serves(client.get(server.port, "two.example.edu", "/index.php").json(), two)
    assert newest_live(server)[0] == first + 1             # no change made

"""The bench's Apache: the tests' Httpd (tests/integration/apache.py, one
way to start and stop an httpd for both), with the bench's configuration:
the event MPM with a fixed number of children, no access log, and every
response echoing the Host it was asked for."""
import os

from apache import MODULES, Httpd, can_connect, free_port, wait_until  # noqa: F401

BASE_MODULES = ["authz_core", "headers"]

# Children are kept at a fixed number (no spare-thread churn during a run).
EVENT_MPM = """\
StartServers {children}
ServerLimit {children}
ThreadsPerChild {threads}
MaxRequestWorkers {workers}
MinSpareThreads 1
MaxSpareThreads {workers}
MaxConnectionsPerChild 0
"""

# One process serving one connection (callgrind's runs, with -X): no
# listener handing each keep-alive request to a worker thread, whose
# cost varies with the threads' timing.
PREFORK_MPM = """\
StartServers 1
ServerLimit {children}
MaxRequestWorkers {children}
MaxConnectionsPerChild 0
"""

CONFIG = """\
ServerRoot "{dir}"
ServerName bench.test
Listen 127.0.0.1:{port}
PidFile "{dir}/httpd.pid"
DefaultRuntimeDir "{dir}/run"
ErrorLog "{dir}/error.log"
LogLevel warn
User www-data
Group www-data
{loads}
{mpm}
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 30
Timeout 30
HostnameLookups Off
DocumentRoot "{docroot}"
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory "{docroot}">
    Require all granted
</Directory>
# Every response names the host it was asked for, so the load generator
# can check the routed value against it.
Header echo ^Host$
{site}
"""


def wait_for_port(port, proc, timeout, what):
    """Wait until something accepts on 127.0.0.1:port, or fail."""
    wait_until(lambda: proc.poll() is not None
               or can_connect(("127.0.0.1", port)), timeout, what)
    if proc.poll() is not None:
        raise RuntimeError(f"{what} exited with {proc.returncode}")


def load_line(module):
    """module is a name under Debian's modules dir, or (name, path)."""
    if isinstance(module, tuple):
        name, path = module
    else:
        name, path = module, f"{MODULES}/mod_{module}.so"
    return f'LoadModule {name}_module "{path}"'


class Apache(Httpd):
    """One configured httpd in workdir/name: start(), stop(), children()."""

    def __init__(self, workdir, name, docroot, site, modules=(),
                 children=2, threads=64, port=None, mpm="event"):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        super().__init__("event-fpm", docroot, workdir=self.dir, port=port)
        self.fpm = None             # the bench starts its own php-fpm
        self.name = name
        loads = "\n".join(load_line(m) for m in
                          [f"mpm_{mpm}"] + BASE_MODULES + list(modules))
        mpm = (PREFORK_MPM if mpm == "prefork" else EVENT_MPM).format(
            children=children, threads=threads, workers=children * threads)
        self.text = CONFIG.format(dir=self.dir, port=self.port, loads=loads,
                                  mpm=mpm, docroot=docroot,
                                  site=site.replace("{port}", str(self.port)))
        self.write_config()

    def config_text(self):
        return self.text

    def start(self, timeout=30, prefix=(), args=("-DFOREGROUND",),
              user=None):
        """prefix: a command to run httpd under (valgrind ...); user: start
        it as this user, not root (the whole process then runs as the
        User, as valgrind needs)."""
        try:
            return super().start(prefix, args, user, timeout)
        except (TimeoutError, RuntimeError) as e:
            raise RuntimeError(f"{self.name}: {e}\n{self.errors_text()[-4000:]}") \
                from None

    def children(self):
        """Process ids of the current children."""
        path = f"/proc/{self.proc.pid}/task/{self.proc.pid}/children"
        with open(path) as f:
            return [int(pid) for pid in f.read().split()]

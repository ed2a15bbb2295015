"""A private Apache httpd (Debian's binary, event MPM) on a 127.0.0.1 port,
with a generated configuration in its own directory."""
import os
import signal
import socket
import subprocess
import time

HTTPD = "/usr/sbin/apache2"
MODULES = "/usr/lib/apache2/modules"
BASE_MODULES = ["mpm_event", "authz_core", "headers"]

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


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, timeout, what):
    """Wait until something accepts on 127.0.0.1:port, or fail with its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout} s")


class Apache:
    """One configured httpd: start(), stop(), children()."""

    def __init__(self, workdir, name, docroot, site, modules=(),
                 children=2, threads=64, port=None):
        self.dir = os.path.join(workdir, name)
        self.name = name
        self.port = port or free_port()
        os.makedirs(os.path.join(self.dir, "run"), exist_ok=True)
        os.chmod(self.dir, 0o755)
        loads = "\n".join(self._load_line(m) for m in BASE_MODULES + list(modules))
        mpm = EVENT_MPM.format(children=children, threads=threads,
                               workers=children * threads)
        self.conf = os.path.join(self.dir, "httpd.conf")
        with open(self.conf, "w") as f:
            f.write(CONFIG.format(dir=self.dir, port=self.port, loads=loads,
                                  mpm=mpm, docroot=docroot,
                                  site=site.replace("{port}", str(self.port))))
        self.proc = None

    @staticmethod
    def _load_line(module):
        """module is a name under Debian's modules dir, or (name, path)."""
        if isinstance(module, tuple):
            name, path = module
        else:
            name, path = module, f"{MODULES}/mod_{module}.so"
        return f'LoadModule {name}_module "{path}"'

    def start(self, timeout=30, prefix=(), args=("-DFOREGROUND",),
              user=None):
        """prefix: a command to run httpd under (valgrind ...); args: its
        flags (-X for one process); user: start it as this user, not root
        (the whole process then runs as the User, as valgrind needs)."""
        check = subprocess.run([HTTPD, "-t", "-f", self.conf],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"{self.name}: bad config: {check.stderr.strip()}")
        self.proc = subprocess.Popen(list(prefix) + [HTTPD, "-f", self.conf]
                                     + list(args), user=user,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        try:
            wait_for_port(self.port, self.proc, timeout, f"apache {self.name}")
        except RuntimeError as e:
            raise RuntimeError(f"{e}\n{self.error_log()}") from None
        return self

    def children(self):
        """Process ids of the current children."""
        path = f"/proc/{self.proc.pid}/task/{self.proc.pid}/children"
        with open(path) as f:
            return [int(pid) for pid in f.read().split()]

    def error_log(self, tail=20):
        try:
            with open(os.path.join(self.dir, "error.log")) as f:
                return "".join(f.readlines()[-tail:])
        except OSError:
            return ""

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

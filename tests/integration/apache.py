"""A real Apache httpd (and php-fpm) on a loopback port, for integration tests.

Two flavours, the two ways PHP runs under Apache:
  event-fpm        event MPM, PHP through mod_proxy_fcgi to a php-fpm pool
  prefork-modphp   prefork MPM with mod_php
Every server lives in its own temporary directory (mode 0755: the children
run as www-data and must read it), with a generated httpd.conf, its logs and
its pid file.  Servers run in the foreground as our children, so a test run
never leaves one behind and never touches the system's Apache."""
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

APACHE = "/usr/sbin/apache2"
MODULES = "/usr/lib/apache2/modules"
# Debian's PHP (8.2 on bookworm); newest first should several be installed.
PHP_FPM = (sorted(glob.glob("/usr/sbin/php-fpm*"), reverse=True) or ["/usr/sbin/php-fpm8.2"])[0]
LIBPHP = (sorted(glob.glob(f"{MODULES}/libphp*.so"), reverse=True) or [f"{MODULES}/libphp8.2.so"])[0]
RUN_USER = "www-data"
FLAVOURS = ("event-fpm", "prefork-modphp")
START_TIMEOUT = 20

# Every flavour loads these (log_config is compiled in).
COMMON_MODULES = ("authz_core", "authz_host", "mime", "dir", "alias", "env",
                  "headers", "rewrite", "setenvif")

# Logged by the event MPM now and then when a client closes its connection
# first (a race in lingering close, not a fault of the request).
KNOWN_BENIGN = (re.compile(r"AH03092: process_lingering_close"),)

# Logged by the event MPM when it is stopped (SIGTERM: an ungraceful stop)
# while a worker is handing a kept-alive connection back to the listener:
# the stop closes every worker's socket first (close_worker_sockets), and
# the worker's pollset add then fails with EBADF.  httpd 2.5 says nothing
# in that case; 2.4 logs it.  Benign only while the server is stopping:
# the same line while it serves means a descriptor closed twice.
BENIGN_WHILE_STOPPING = (
    re.compile(r"\(9\)Bad file descriptor: AH03093: process_socket: "
               r"apr_pollset_add failure for keep alive"),)

# Error-log lines that fail a test unless the test said it expects them:
# error levels, a child that died of a signal (logged as a notice), and a
# sanitizer's report (children's stderr goes to the error log).
BAD_LINE = re.compile(r"^\[[^\]]*\] \[(?:[\w.]+:)?(error|crit|alert|emerg)\]"
                      r"|exit signal|dumped core|ERROR: AddressSanitizer"
                      r"|: runtime error: ", re.M)


def free_port(address="127.0.0.1"):
    """A TCP port on address (loopback) that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def make_workdir(prefix="vmoodle-it-"):
    """A temporary directory that www-data can traverse and read."""
    path = tempfile.mkdtemp(prefix=prefix)
    os.chmod(path, 0o755)
    return path


def chown_to_run_user(path):
    """Give a directory to www-data (e.g. where the module writes its snapshot)."""
    if os.geteuid() == 0:
        shutil.chown(path, RUN_USER, RUN_USER)


def copy_readable(src, dst):
    """Copy a tree so that www-data can read it (dirs 0755, files 0644)."""
    shutil.copytree(src, dst, dirs_exist_ok=True)
    os.chmod(dst, 0o755)
    for base, dirs, files in os.walk(dst):
        for d in dirs:
            os.chmod(os.path.join(base, d), 0o755)
        for f in files:
            os.chmod(os.path.join(base, f), 0o644)


def module_path():
    """Where `make` put mod_vmoodle.so (VMOODLE_BUILD, set by tests/run.py)."""
    build = os.environ.get("VMOODLE_BUILD") or os.path.join(
        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
        "build")
    return os.path.join(build, "mod_vmoodle.so")


def server_env():
    """Apache's environment.  A module built with AddressSanitizer (make
    test SANITIZE=1) needs the ASan runtime first in the process, so it is
    preloaded; leaks are left to the unit tests (httpd frees by pools).
    ASan refuses the RTLD_DEEPBIND with which mod_php loads extensions
    (opcache...): none is loaded then, the test pages need none."""
    env = dict(os.environ)
    ldd = subprocess.run(["ldd", module_path()], capture_output=True, text=True)
    asan = re.search(r"\s(/\S*/libasan\.so[.\d]*)\s", ldd.stdout)
    if asan:
        env["LD_PRELOAD"] = asan.group(1)
        env["ASAN_OPTIONS"] = "detect_leaks=0"
        env["PHP_INI_SCAN_DIR"] = ""
    return env


def wait_until(predicate, timeout, what, interval=0.05):
    """Poll predicate() until it is true or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def eventually(fetch, check, timeout, what, interval=0.1):
    """Call fetch() until check(value) holds; return that value.  On timeout
    fail with the last value seen, so the report shows what was served."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if check(value):
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not {what} after {timeout}s; last: {value!r}")
        time.sleep(interval)


def can_connect(address):
    """True when something accepts connections on address (tuple or path)."""
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    with socket.socket(family) as s:
        s.settimeout(1)
        try:
            s.connect(address)
            return True
        except OSError:
            return False


def stop_process(proc, sig, timeout=20):
    """Send sig and wait; kill what does not exit in time."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def read_text(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


class PhpFpm:
    """A php-fpm master with one static pool of www-data workers on a unix socket."""

    def __init__(self, workdir, children=6):
        self.workdir = workdir
        self.socket = os.path.join(workdir, "php-fpm.sock")
        self.log = os.path.join(workdir, "php-fpm.log")
        self.conf = os.path.join(workdir, "php-fpm.conf")
        self.children = children
        self.pool_extra = ""        # more pool lines (php_admin_value ...)
        self.launcher = []          # runs php-fpm (e.g. in a namespace)
        self.proc = None

    def write_config(self):
        with open(self.conf, "w") as f:
            f.write(f"""[global]
pid = {self.workdir}/php-fpm.pid
error_log = {self.log}
daemonize = no

[vmoodle]
user = {RUN_USER}
group = {RUN_USER}
listen = {self.socket}
listen.owner = {RUN_USER}
listen.group = {RUN_USER}
listen.mode = 0660
pm = static
pm.max_children = {self.children}
catch_workers_output = yes
{self.pool_extra}
""")

    def start(self):
        self.write_config()
        self.proc = subprocess.Popen(self.launcher + [PHP_FPM, "-F", "-y", self.conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT,
                                     start_new_session=True)
        try:
            wait_until(lambda: self.proc.poll() is not None or can_connect(self.socket),
                       START_TIMEOUT, "php-fpm socket")
        except TimeoutError:
            self.stop()
            raise
        if self.proc.poll() is not None:
            raise RuntimeError(f"php-fpm exited {self.proc.returncode}:\n{read_text(self.log)}")

    def stop(self):
        stop_process(self.proc, signal.SIGQUIT)   # graceful: finish requests
        self.proc = None


class Httpd:
    """One Apache httpd with a generated configuration.

    directives: the mod_vmoodle directives (text) for the server scope.
    extra:      more configuration appended at the end (vhosts, headers...).
    vmoodle:    load mod_vmoodle (False for tests of the PHP side alone).
    site_conf:  a whole site configuration (e.g. conf/vmoodle.conf) to use
                instead of the generated docroot, PHP handler and directives;
                it must route .php to PHP itself (see php_handler_target).
    vmoodle_load: the lines that load mod_vmoodle instead of the build's
                (an installed package's: Include .../mods-enabled/vmoodle.*)"""

    def __init__(self, flavour, docroot=None, directives="", extra="", vmoodle=True,
                 workdir=None, port=None, site_conf=None, address="127.0.0.1",
                 extra_modules=(), vmoodle_load=None):
        if flavour not in FLAVOURS:
            raise ValueError(f"unknown flavour {flavour}")
        self.flavour = flavour
        self.docroot = docroot
        self.directives = directives
        self.extra = extra
        self.vmoodle = vmoodle
        self.workdir = workdir or make_workdir()
        self.address = address          # a loopback address: 127.0.0.2 is a node
        self.port = port or free_port(address)
        self.site_conf = site_conf
        self.extra_modules = tuple(extra_modules)   # e.g. ("remoteip",)
        self.vmoodle_load = vmoodle_load
        self.conf = os.path.join(self.workdir, "httpd.conf")
        self.error_log = os.path.join(self.workdir, "error.log")
        self.access_log = os.path.join(self.workdir, "access.log")
        self.fpm = PhpFpm(self.workdir) if flavour == "event-fpm" else None
        self.proc = None
        self.allowed_errors = list(KNOWN_BENIGN)
        self.checked_upto = 0
        self.stopping = []              # (from, to): error-log spans of stops

    # --- configuration -------------------------------------------------

    def module_lines(self):
        mods = list(COMMON_MODULES) + list(self.extra_modules)
        if self.fpm:
            mods = ["mpm_event"] + mods + ["proxy", "proxy_fcgi"]
        else:
            mods = ["mpm_prefork"] + mods
        lines = [f"LoadModule {m}_module {MODULES}/mod_{m}.so" for m in mods]
        if not self.fpm:
            lines.append(f"LoadModule php_module {LIBPHP}")
        if self.vmoodle_load is not None:
            lines.append(self.vmoodle_load)
        elif self.vmoodle:
            so = module_path()
            if not os.path.exists(so):
                raise FileNotFoundError(f"mod_vmoodle is not built: {so} missing")
            lines.append(f"LoadModule vmoodle_module {so}")
        return "\n".join(lines)

    def mpm_settings(self):
        if self.fpm:
            return """StartServers 2
ServerLimit 4
ThreadsPerChild 25
MaxRequestWorkers 100"""
        # prefork holds one process per keep-alive connection: room for 32+
        # (started on demand, and kept once started).
        return """StartServers 8
MinSpareServers 4
MaxSpareServers 64
ServerLimit 64
MaxRequestWorkers 64"""

    @property
    def php_handler_target(self):
        """What SetHandler names to run PHP in this flavour."""
        if self.fpm:
            return f"proxy:unix:{self.fpm.socket}|fcgi://localhost"
        return "application/x-httpd-php"

    def site_text(self):
        """Docroot, PHP and the directives under test (or the given site_conf)."""
        if self.site_conf is not None:
            return self.site_conf
        return f"""DocumentRoot "{self.docroot}"
<Directory "{self.docroot}">
    Require all granted
</Directory>
DirectoryIndex index.php index.html
<FilesMatch "\\.php$">
    SetHandler "{self.php_handler_target}"
</FilesMatch>

# --- mod_vmoodle directives under test ---
{self.directives}
"""

    def config_text(self):
        w = self.workdir
        return f"""# generated by tests/integration/apache.py ({self.flavour})
ServerRoot "{w}"
ServerName 127.0.0.1
Listen {self.address}:{self.port}
PidFile "{w}/httpd.pid"
DefaultRuntimeDir "{w}/run"
Mutex file:{w}/run default
User {RUN_USER}
Group {RUN_USER}
{self.module_lines()}
ErrorLog "{self.error_log}"
LogLevel warn
LogFormat "%h %>s \\"%{{Host}}i\\" vmhost=\\"%{{VMOODLE_HOST}}e\\" vmid=\\"%{{VMOODLE_ID}}e\\" \\"%r\\"" vmoodle
CustomLog "{self.access_log}" vmoodle
TypesConfig /etc/mime.types
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 30
Timeout 30
<Directory />
    AllowOverride None
    Require all denied
</Directory>
{self.mpm_settings()}

{self.site_text()}

# --- extra configuration of the test ---
{self.extra}
"""

    def write_config(self):
        os.makedirs(os.path.join(self.workdir, "run"), exist_ok=True)
        with open(self.conf, "w") as f:
            f.write(self.config_text())

    # --- life cycle ----------------------------------------------------

    def launch(self, prefix=(), args=("-DFOREGROUND",), user=None):
        """Start httpd (and php-fpm) without waiting for it to listen.
        prefix: a command to run httpd under (valgrind ...); args: httpd's
        flags (-X for one process); user: start it as this user, not root."""
        self.write_config()
        if self.fpm:
            self.fpm.start()
        self.console = os.path.join(self.workdir, "console.log")
        with open(self.console, "ab") as out:
            self.proc = subprocess.Popen(list(prefix) + [APACHE, "-d", self.workdir,
                                                         "-f", self.conf] + list(args),
                                         stdout=out, stderr=subprocess.STDOUT,
                                         env=server_env(), user=user,
                                         # prefork signals its whole process
                                         # group on shutdown: keep us out of it.
                                         start_new_session=True)

    def start(self, prefix=(), args=("-DFOREGROUND",), user=None,
              timeout=START_TIMEOUT):
        """launch(), then wait until it listens; fail with its logs if not."""
        started_before = self.restarts()
        self.launch(prefix, args, user)
        # The port answers from the first configuration pass on, before the
        # second has run every module's post_config again (mod_vmoodle
        # publishes its table again then): ready is "resuming normal
        # operations" logged by this start.
        try:
            wait_until(lambda: self.proc.poll() is not None
                       or (can_connect((self.address, self.port))
                           and self.restarts() > started_before),
                       timeout, f"httpd on port {self.port}")
        except TimeoutError:
            self.stop()
            raise
        if self.proc.poll() is not None:
            out = read_text(self.console)
            self.proc = None
            self.stop()
            raise RuntimeError(f"httpd exited at start-up:\n{out}\n{self.errors_text()}")
        return self

    def restarts(self):
        """How many times the server has (re)started with a configuration."""
        return self.errors_text().count("resuming normal operations")

    def graceful(self, directives=None, extra=None):
        """Graceful restart, optionally with new directives; waits until done."""
        if directives is not None:
            self.directives = directives
        if extra is not None:
            self.extra = extra
        self.write_config()
        before = self.restarts()
        self.proc.send_signal(signal.SIGUSR1)
        wait_until(lambda: self.restarts() > before or self.proc.poll() is not None,
                   START_TIMEOUT, "graceful restart")
        if self.proc.poll() is not None:
            raise RuntimeError(f"httpd died on graceful restart:\n{self.errors_text()}")

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def stop(self):
        """Stop httpd (SIGTERM: children are stopped too) and php-fpm."""
        if self.proc is not None and self.proc.poll() is None:
            began = len(self.errors_text())
            stop_process(self.proc, signal.SIGTERM)
            self.stopping.append((began, len(self.errors_text())))
        self.proc = None
        if self.fpm:
            self.fpm.stop()

    def remove(self):
        shutil.rmtree(self.workdir, ignore_errors=True)

    # --- logs ----------------------------------------------------------

    def errors_text(self):
        return read_text(self.error_log)

    def access_text(self):
        return read_text(self.access_log)

    def expect_error(self, pattern):
        """Declare that error-log lines matching pattern (regex) are expected."""
        self.allowed_errors.append(re.compile(pattern))

    def unexpected_errors(self):
        """Error-level lines logged since the last check and not expected."""
        text = self.errors_text()
        at, new, self.checked_upto = self.checked_upto, text[self.checked_upto:], len(text)
        bad = []
        for line in new.splitlines(keepends=True):
            start, at = at, at + len(line)
            if not BAD_LINE.search(line) or any(p.search(line) for p in self.allowed_errors):
                continue
            if self.logged_while_stopping(start) \
                    and any(p.search(line) for p in BENIGN_WHILE_STOPPING):
                continue
            bad.append(line.rstrip("\n"))
        return bad

    def logged_while_stopping(self, offset):
        """Was the error-log line at offset written while a stop was under way?"""
        return any(began <= offset < ended for began, ended in self.stopping)

"""Prometheus for the tests: parse the text exposition, check it with
promtool, and run a real Prometheus on a loopback port for a short while."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

from apache import free_port, wait_until, stop_process

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def unescape(value):
    return re.sub(r'\\(.)', lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), value)


def parse(text):
    """{(name, frozenset(labels.items())): value} of every sample."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = {k: unescape(v) for k, v in LABEL.findall(m.group(2) or "")}
        out[(m.group(1), frozenset(labels.items()))] = float(m.group(3))
    return out


def family_names(text):
    """The metric names a page declares (# TYPE), a histogram's series too."""
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
        names.add(name)
        if kind == "histogram":
            names |= {name + "_bucket", name + "_sum", name + "_count"}
    return names


def value(samples, name, **labels):
    """The sample of name with exactly these labels, None when absent."""
    return samples.get((name, frozenset(labels.items())))


def check_metrics(text):
    """promtool check metrics: (exit code, its report)."""
    proc = subprocess.run([PROMTOOL, "check", "metrics"], input=text,
                          capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stdout + proc.stderr


class Prometheus:
    """A real Prometheus scraping targets every second, in its own
    directory, on a free loopback port; stopped by stop()."""

    def __init__(self, scrape_configs, rule_files=()):
        self.dir = tempfile.mkdtemp(prefix="vmoodle-prom-")
        self.port = free_port()
        rules = []
        for i, path in enumerate(rule_files):
            dest = os.path.join(self.dir, f"rules{i}.yml")
            shutil.copy(path, dest)
            rules.append(dest)
        config = {"global": {"scrape_interval": "1s",
                             "evaluation_interval": "1s"},
                  "rule_files": rules, "scrape_configs": scrape_configs}
        self.config = os.path.join(self.dir, "prometheus.yml")
        with open(self.config, "w") as f:
            json.dump(config, f)          # JSON is YAML
        self.log = open(os.path.join(self.dir, "prometheus.log"), "wb")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={self.config}",
             f"--storage.tsdb.path={self.dir}/data",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: self.proc.poll() is not None or self._ready(), 60,
                   "prometheus ready")
        if self.proc.poll() is not None:
            raise RuntimeError("prometheus exited:\n" + self.log_text())

    def _ready(self):
        try:
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}/-/ready", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def api(self, path, **params):
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.load(r)["data"]

    def query(self, expr):
        """[(labels, value)] of an instant query."""
        return [(r["metric"], float(r["value"][1]))
                for r in self.api("query", query=expr)["result"]]

    def log_text(self):
        with open(os.path.join(self.dir, "prometheus.log"), errors="replace") as f:
            return f.read()

    def stop(self):
        stop_process(self.proc, 15)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def eventually_query(prom, expr, check, timeout=30):
    """Query until check(result) holds; the last result on failure."""
    deadline = time.monotonic() + timeout
    while True:
        result = prom.query(expr)
        if check(result):
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"{expr}: {result!r}\n{prom.log_text()[-3000:]}")
        time.sleep(0.5)

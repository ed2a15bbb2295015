"""What the figures were measured on."""
import os
import platform
import re
import subprocess


def _first(cmd, pattern=None):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True).stdout
    except OSError:
        return "absent"
    line = out.splitlines()[0] if out else "?"
    m = re.search(pattern, line) if pattern else None
    return m.group(1) if m else line


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def memory_gib():
    with open("/proc/meminfo") as f:
        kib = int(f.readline().split()[1])
    return kib / 2**20


def describe():
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "memory": f"{memory_gib():.1f} GiB",
        "kernel": platform.release(),
        "apache": _first(["/usr/sbin/apache2", "-v"], r"Apache/(\S+)"),
        "php": _first(["php", "-v"], r"PHP (\S+)"),
        "postgresql": _first(["/usr/bin/psql", "--version"], r"(\d+\.\d+)"),
        "wrk": _first(["/usr/bin/wrk", "-v"], r"wrk (\S+)"),
    }

"""A real browser for the end-to-end tests: Debian's chromium, headless,
driven over the DevTools protocol on a pipe (--remote-debugging-pipe: JSON
messages ending in a NUL byte on descriptors 3 and 4), so no extra Python
package is needed.  Every request goes to our Apache as to an HTTP proxy
(absolute URIs, which mod_vmoodle routes by their host): the sites keep
their own wwwroots, without a port.  Each response the pages asked for is
recorded with its status, type and URL."""
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
WAIT = 90            # seconds at most for one page and what it loads
QUIET = 1.5          # seconds without network activity: the page is done


class Chromium:
    def __init__(self, port):
        self.profile = tempfile.mkdtemp(prefix="vmoodle-chromium-")
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()
        args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--disable-default-apps", "--disable-sync", "--no-first-run",
                "--disable-extensions", "--mute-audio", "--no-default-browser-check",
                "--remote-debugging-pipe", f"--user-data-dir={self.profile}",
                f"--proxy-server=http://127.0.0.1:{port}",
                "--proxy-bypass-list=<-loopback>", "about:blank"]
        # descriptors 3 and 4 in the child: commands in, answers out
        def fds():
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)
        self.proc = subprocess.Popen(args, preexec_fn=fds, pass_fds=(3, 4),
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._id = 0
        self.session = None
        self.responses = []       # (status, type, url)
        self.failures = []        # (error, type, url)
        self._pending = set()
        self._urls = {}
        self._last_activity = time.monotonic()
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]
        self.call("Network.enable")
        self.call("Page.enable")

    # --- the protocol ---------------------------------------------------

    def _send(self, message):
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._w, data):]

    def _read(self, timeout):
        """One message, or None after timeout seconds."""
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                return None
            chunk = os.read(self._r, 65536)
            if not chunk:
                raise RuntimeError("chromium went away")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        message = json.loads(raw)
        self._note(message)
        return message

    def call(self, method, **params):
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if self.session and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self.session
        self._send(message)
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            reply = self._read(deadline - time.monotonic())
            if reply and reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
        raise TimeoutError(f"chromium did not answer {method}")

    def _note(self, m):
        method, p = m.get("method"), m.get("params", {})
        if method == "Network.requestWillBeSent":
            self._pending.add(p["requestId"])
            self._urls[p["requestId"]] = p["request"]["url"]
        elif method == "Network.responseReceived":
            r = p["response"]
            self.responses.append((r["status"], p.get("type", ""), r["url"]))
        elif method == "Network.loadingFinished":
            self._pending.discard(p["requestId"])
        elif method == "Network.loadingFailed":
            self._pending.discard(p["requestId"])
            self.failures.append((p.get("errorText", ""), p.get("type", ""),
                                  self._urls.get(p["requestId"], "")))
        else:
            return
        self._last_activity = time.monotonic()

    def settle(self):
        """Until the network has been quiet for a while (bounded)."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            self._read(0.2)
            if not self._pending and time.monotonic() - self._last_activity > QUIET:
                return
        raise TimeoutError(f"still loading after {WAIT}s: {len(self._pending)} requests")

    # --- what a test does -----------------------------------------------

    def open(self, url):
        """Load url and everything it asks for; the responses of this load."""
        start = len(self.responses)
        self._last_activity = time.monotonic()   # what follows starts late
        self.call("Page.navigate", url=url)
        self.settle()
        return self.responses[start:]

    def run(self, script):
        """Run script in the page; then whatever it loads."""
        start = len(self.responses)
        self._last_activity = time.monotonic()   # a click navigates later
        self.call("Runtime.evaluate", expression=script)
        self.settle()
        return self.responses[start:]

    def location(self):
        return self.call("Runtime.evaluate", expression="location.href",
                         returnByValue=True)["result"]["value"]

    def close(self):
        try:
            self.call("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._r, self._w):
            os.close(fd)
        shutil.rmtree(self.profile, ignore_errors=True)

"""A browser for the end-to-end tests: cookies, redirects, forms.

Every request goes to our Apache on 127.0.0.1:port whatever the URL's host,
with that host in the Host header: the sites' wwwroots carry no port, as in
production.  An https URL is what a TLS-terminating balancer would forward:
plain HTTP from the balancer's address (source_address) with
X-Forwarded-Proto: https; with proxy=False the same headers come from an
untrusted address instead.  BalancerBrowser goes through a real balancer
(HAProxy, TLS) instead, on keep-alive connections."""
import http.client
import re
import urllib.parse

from moodle import TRUSTED_PROXY

TIMEOUT = 120
MAX_REDIRECTS = 10


class Page:
    def __init__(self, url, status, headers, body, history):
        self.url, self.status, self.headers = url, status, headers
        self.body, self.history = body, history   # history: [(status, url)]

    @property
    def text(self):
        return self.body.decode("utf-8", errors="replace")

    def header(self, name):
        return self.headers.get(name)

    def __repr__(self):
        return f"<Page {self.status} {self.url} after {self.history}>"


class Browser:
    def __init__(self, port, proxy=True, untrusted_peer="127.0.0.1"):
        self.port = port
        self.proxy = proxy
        self.untrusted_peer = untrusted_peer
        self.cookies = {}        # host -> {name: value}

    def _exchange(self, parts, method, path, body, headers):
        """One request to Apache, as the balancer would forward it: plain
        HTTP, and for an https URL from the balancer's address with
        X-Forwarded-Proto.  Returns the response, read."""
        peer = TRUSTED_PROXY if (parts.scheme == "https" and self.proxy) \
            else self.untrusted_peer
        if parts.scheme == "https":
            headers["X-Forwarded-Proto"] = "https"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT,
                                          source_address=(peer, 0))
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.data = resp.read()
            return resp
        finally:
            conn.close()

    def _send(self, method, url, body=None, headers=None):
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
        hdrs = {"Host": host, "User-Agent": "vmoodle-e2e", "Accept": "text/html"}
        jar = self.cookies.get(host, {})
        if jar:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        hdrs.update(headers or {})
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        resp = self._exchange(parts, method, path, body, hdrs)
        for value in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            val = rest.split(";", 1)[0]
            if val == "deleted" or "expires=Thu, 01 Jan 1970" in value:
                self.cookies.setdefault(host, {}).pop(name, None)
            else:
                self.cookies.setdefault(host, {})[name] = val
        return resp.status, resp.headers, resp.data

    def request(self, method, url, data=None, follow=True):
        """One request, following redirects (GET after a 30x) unless told."""
        history = []
        body = urllib.parse.urlencode(data) if data is not None else None
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
        while True:
            status, hdrs, content = self._send(method, url, body, headers)
            location = hdrs.get("Location")
            if not (follow and status in (301, 302, 303, 307) and location):
                return Page(url, status, hdrs, content, history)
            history.append((status, url))
            if len(history) > MAX_REDIRECTS:
                raise AssertionError(f"redirect loop: {history}")
            url = urllib.parse.urljoin(url, location)
            if status != 307:
                method, body, headers = "GET", None, {}

    def get(self, url, follow=True):
        return self.request("GET", url, follow=follow)

    def post(self, url, data, follow=True):
        return self.request("POST", url, data, follow=follow)

    def login(self, wwwroot, username, password):
        """Moodle's login form; returns the page the login lands on."""
        page = self.get(f"{wwwroot}/login/index.php")
        assert page.status == 200, page
        token = re.search(r'name="logintoken" value="([^"]+)"', page.text)
        assert token, "no logintoken on the login page"
        page = self.post(f"{wwwroot}/login/index.php",
                         {"username": username, "password": password,
                          "logintoken": token.group(1), "anchor": ""})
        assert any("testsession=" in url for _, url in page.history), \
            f"login to {wwwroot} did not succeed: {page} {page.text[:500]}"
        return page


class _TlsTo(http.client.HTTPConnection):
    """TLS to address:port, the certificate checked for server_name, as a
    browser checks it for the host in the URL."""

    def __init__(self, address, port, server_name, context):
        super().__init__(address, port, timeout=TIMEOUT)
        self.server_name, self.context = server_name, context

    def connect(self):
        super().connect()
        self.sock = self.context.wrap_socket(self.sock, server_hostname=self.server_name)


class BalancerBrowser(Browser):
    """A browser in front of a TLS-terminating balancer on 127.0.0.1
    (tests/integration/cluster.py's Balancer): https URLs to its TLS port,
    http ones to its plain port, with the URL's host (no port: the sites'
    wwwroots have none, as in production).  Like a browser it keeps one
    keep-alive connection per scheme and host and opens another when the
    balancer closed it.  trail: (method, url, status, node) of every
    response, node from the X-VMoodle-Node header the nodes set."""

    def __init__(self, balancer):
        super().__init__(port=None)
        self.balancer = balancer
        self.conns = {}
        self.trail = []

    def _connection(self, parts):
        key = (parts.scheme, parts.hostname)
        if key not in self.conns:
            if parts.scheme == "https":
                self.conns[key] = _TlsTo("127.0.0.1", self.balancer.tls_port,
                                         parts.hostname,
                                         self.balancer.cert.client_context())
            else:
                self.conns[key] = http.client.HTTPConnection(
                    "127.0.0.1", self.balancer.http_port, timeout=TIMEOUT)
        return key, self.conns[key]

    def _exchange(self, parts, method, path, body, headers):
        for attempt in (1, 2):
            key, conn = self._connection(parts)
            reused = conn.sock is not None
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.data = resp.read()
                break
            except (ConnectionError, http.client.RemoteDisconnected):
                conn.close()
                del self.conns[key]
                if not reused or attempt == 2:
                    raise
        if resp.will_close:
            conn.close()
            del self.conns[key]
        url = f"{parts.scheme}://{parts.hostname}{path}"
        self.trail.append((method, url, resp.status, resp.headers.get("X-VMoodle-Node")))
        return resp

    def close(self):
        for conn in self.conns.values():
            conn.close()
        self.conns.clear()


def sesskey(page):
    m = re.search(r'"sesskey":"([^"]+)"', page.text)
    assert m, f"no sesskey in {page.url}"
    return m.group(1)


def title(page):
    m = re.search(r"<title>(.*?)</title>", page.text, re.S)
    return m.group(1).strip() if m else ""

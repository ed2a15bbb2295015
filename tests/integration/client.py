"""HTTP clients for the tests: the standard library only.

get()        one request with any Host header, on a fresh connection
raw()        bytes exactly as given, for hostile or malformed requests
KeepAlive    one persistent connection reused across requests
Persistent   one connection that is never silently reopened: requests
             sent one by one or pipelined, as a balancer's pool does"""
import http.client
import json
import socket

TIMEOUT = 30


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers          # http.client.HTTPMessage
        self.body = body                # bytes

    @property
    def text(self):
        return self.body.decode("utf-8", errors="replace")

    def header(self, name):
        return self.headers.get(name)

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise AssertionError(f"not JSON (status {self.status}): {self.text[:500]}") from e

    def __repr__(self):
        return f"<Response {self.status} {self.text[:80]!r}>"


def _read(resp):
    body = resp.read()
    return Response(resp.status, resp.headers, body)


def get(port, host, path="/", headers=None, method="GET"):
    """Send one request with Host: host (None: no Host header at all)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        if host is not None:
            conn.putheader("Host", host)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.putheader("Connection", "close")
        conn.endheaders()
        return _read(conn.getresponse())
    finally:
        conn.close()


def raw(port, data, method="GET"):
    """Send data (bytes, a whole request) and parse the response."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        resp = http.client.HTTPResponse(sock, method=method)
        resp.begin()
        return _read(resp)


class KeepAlive:
    """A persistent connection; counts how often it had to reconnect."""

    def __init__(self, port):
        self.port = port
        self.conn = None
        self.connects = 0

    def _connect(self):
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        self.connects += 1

    def get(self, host, path="/", headers=None):
        if self.conn is None:
            self._connect()
        hdrs = dict(headers or {}, Host=host)
        try:
            self.conn.request("GET", path, headers=hdrs)
            resp = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server may close an idle keep-alive connection: retry once.
            self.close()
            self._connect()
            self.conn.request("GET", path, headers=hdrs)
            resp = self.conn.getresponse()
        out = _read(resp)
        if resp.will_close:
            self.close()
        return out

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def request_bytes(host, path="/", method="GET", headers=None, body=b""):
    """One HTTP/1.1 request as a client puts it on the wire."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class _Stream:
    """The connection's one buffered reader, shared by successive
    HTTPResponse objects (each would otherwise close it when done)."""

    def __init__(self, reader):
        self.reader = reader

    def makefile(self, *args, **kwargs):
        return self

    def close(self):
        pass

    def __getattr__(self, name):
        return getattr(self.reader, name)


class Persistent:
    """One TCP connection used until the server ends it, never reopened.

    send() writes requests (several at once: pipelining); read() parses
    the next response.  closed_by_server() tells whether the server has
    closed its side, which it may only do after saying Connection: close."""

    def __init__(self, port, address="127.0.0.1", sock=None):
        """A new connection to address:port, or sock (e.g. a TLS socket)."""
        self.sock = sock or socket.create_connection((address, port), timeout=TIMEOUT)
        self.stream = _Stream(self.sock.makefile("rb"))
        self.methods = []

    def send(self, *requests):
        for req in requests:
            self.methods.append(req.split(b" ", 1)[0].decode())
        self.sock.sendall(b"".join(requests))

    def read(self):
        resp = http.client.HTTPResponse(self.stream, method=self.methods.pop(0))
        resp.begin()
        out = _read(resp)
        out.will_close = resp.will_close
        return out

    def exchange(self, *requests):
        """Send requests together and read one response for each."""
        self.send(*requests)
        return [self.read() for _ in requests]

    def closed_by_server(self, wait=2.0):
        """True when the server closed the connection (EOF within wait s)."""
        self.sock.settimeout(wait)
        try:
            return self.stream.reader.peek(1) == b""
        except (socket.timeout, TimeoutError):
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True
        finally:
            self.sock.settimeout(TIMEOUT)

    def close(self):
        self.stream.reader.close()
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

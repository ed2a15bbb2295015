"""Hostile and unusual hosts, sent as raw bytes, under both server flavours.

Each case names the one outcome a user may accept: the right instance, or
400, 404 or 421 (503 for the disabled instance); never another instance,
never 200 for a host no instance has.  X-Forwarded-* is believed only from
the trusted proxy address (127.0.0.2: the test binds its source address)."""
import re
import socket
import http.client

import pytest

from instances import instance

TRUSTED_PEER = "127.0.0.2"
UNTRUSTED_PEER = "127.0.0.1"

ROWS = [
    instance(1, "site1.example.edu"),
    instance(2, "site2.example.edu"),
    instance(3, "site3.example.edu:8080"),
    instance(4, "secure.example.edu", scheme="https"),
    instance(5, "10.1.2.3"),
    instance(6, "[2001:db8::1]"),
    instance(7, "xn--bcher-kva.example.edu"),
    instance(8, "off.example.edu", enabled=0),
]

DIRECTIVES = f"VMoodleTrustedProxy {TRUSTED_PEER}/32\n"
# Our refusals are logged at info: the log check below needs them.
EXTRA = "LogLevel warn vmoodle:info\n"


def request(host_lines, target="/static.txt", version="HTTP/1.1",
            extra=b""):
    """A GET with the given Host header lines (bytes each; [] for none)."""
    head = f"GET {target} {version}\r\n".encode()
    head += b"".join(b"Host: " + h + b"\r\n" for h in host_lines)
    return head + extra + b"Connection: close\r\n\r\n"


def xfh(value, proto=None):
    extra = b"X-Forwarded-Host: " + value + b"\r\n"
    if proto:
        extra += b"X-Forwarded-Proto: " + proto + b"\r\n"
    return extra


S1, S2 = b"site1.example.edu", b"site2.example.edu"

# (name, request bytes, peer, expected: an instance id or an HTTP status)
CASES = [
    ("plain", request([S1]), UNTRUSTED_PEER, 1),
    ("other instance", request([S2]), UNTRUSTED_PEER, 2),
    ("upper case", request([b"SITE1.Example.EDU"]), UNTRUSTED_PEER, 1),
    ("trailing dot", request([S1 + b"."]), UNTRUSTED_PEER, 1),
    ("upper case and trailing dot", request([b"SITE2.EXAMPLE.EDU."]),
     UNTRUSTED_PEER, 2),
    ("two trailing dots", request([S1 + b".."]), UNTRUSTED_PEER, 400),
    ("explicit default port", request([S1 + b":80"]), UNTRUSTED_PEER, 1),
    ("default port, leading zero", request([S1 + b":080"]), UNTRUSTED_PEER, 1),
    ("non-default port on a default-port instance",
     request([S1 + b":8080"]), UNTRUSTED_PEER, 404),
    ("https port over http", request([S1 + b":443"]), UNTRUSTED_PEER, 404),
    ("instance on a non-default port", request([b"site3.example.edu:8080"]),
     UNTRUSTED_PEER, 3),
    ("non-default-port instance without port",
     request([b"site3.example.edu"]), UNTRUSTED_PEER, 404),
    ("non-default-port instance on port 80",
     request([b"site3.example.edu:80"]), UNTRUSTED_PEER, 404),
    ("port zero", request([S1 + b":0"]), UNTRUSTED_PEER, 400),
    ("port out of range", request([S1 + b":99999"]), UNTRUSTED_PEER, 400),
    ("port not a number", request([S1 + b":http"]), UNTRUSTED_PEER, 400),
    ("IPv4 literal", request([b"10.1.2.3"]), UNTRUSTED_PEER, 5),
    ("IPv4 literal with default port", request([b"10.1.2.3:80"]),
     UNTRUSTED_PEER, 5),
    ("unknown IPv4 literal", request([b"10.1.2.4"]), UNTRUSTED_PEER, 404),
    ("IPv6 literal", request([b"[2001:db8::1]"]), UNTRUSTED_PEER, 6),
    ("IPv6 literal, upper case", request([b"[2001:DB8::1]"]),
     UNTRUSTED_PEER, 6),
    ("IPv6 literal with default port", request([b"[2001:db8::1]:80"]),
     UNTRUSTED_PEER, 6),
    ("IPv6 literal, other port", request([b"[2001:db8::1]:8080"]),
     UNTRUSTED_PEER, 404),
    ("unknown IPv6 literal", request([b"[::1]"]), UNTRUSTED_PEER, 404),
    ("IPv6 without brackets", request([b"2001:db8::1"]), UNTRUSTED_PEER, 400),
    ("absolute URI wins over Host",
     request([S1], target="http://site2.example.edu/static.txt"),
     UNTRUSTED_PEER, 2),
    ("absolute URI of an unknown host",
     request([S1], target="http://nosuch.example.edu/static.txt"),
     UNTRUSTED_PEER, 404),
    ("absolute URI, upper case and default port",
     request([S1], target="http://SITE2.example.edu:80/static.txt"),
     UNTRUSTED_PEER, 2),
    ("two Host headers", request([S1, S2]), UNTRUSTED_PEER, 400),
    ("two equal Host headers", request([S1, S1]), UNTRUSTED_PEER, 400),
    ("8 KB host", request([b"a" * 8192 + b".example.edu"]), UNTRUSTED_PEER,
     400),
    ("host over 253 characters",
     request([b".".join([b"a" * 60] * 5)]), UNTRUSTED_PEER, 400),
    ("label over 63 characters", request([b"a" * 64 + b".example.edu"]),
     UNTRUSTED_PEER, 400),
    ("NUL byte", request([b"site1\x00.example.edu"]), UNTRUSTED_PEER, 400),
    ("control byte", request([b"site1\x01.example.edu"]), UNTRUSTED_PEER, 400),
    ("DEL byte", request([S1 + b"\x7f"]), UNTRUSTED_PEER, 400),
    ("UTF-8 name", request(["bücher.example.edu".encode()]), UNTRUSTED_PEER,
     400),
    ("punycode name", request([b"xn--bcher-kva.example.edu"]),
     UNTRUSTED_PEER, 7),
    ("punycode name, upper case", request([b"XN--BCHER-KVA.example.edu"]),
     UNTRUSTED_PEER, 7),
    ("dot-dot label", request([b"site1..example.edu"]), UNTRUSTED_PEER, 400),
    ("slash dot-dot", request([S1 + b"/.."]), UNTRUSTED_PEER, 400),
    ("percent-encoded name", request([b"%73ite1.example.edu"]),
     UNTRUSTED_PEER, 400),
    ("percent-encoded dot", request([b"site1%2eexample.edu"]),
     UNTRUSTED_PEER, 400),
    ("user information", request([b"evil.com@" + S1]), UNTRUSTED_PEER, 400),
    ("wildcard", request([b"*.example.edu"]), UNTRUSTED_PEER, 400),
    ("prefix look-alike", request([b"evil-site1.example.edu"]),
     UNTRUSTED_PEER, 404),
    ("suffix look-alike", request([b"site1.example.edu.evil.com"]),
     UNTRUSTED_PEER, 404),
    ("one letter more", request([b"xsite1.example.edu"]), UNTRUSTED_PEER, 404),
    ("one letter less", request([b"site1.example.ed"]), UNTRUSTED_PEER, 404),
    ("parent domain", request([b"example.edu"]), UNTRUSTED_PEER, 404),
    ("disabled instance", request([b"off.example.edu"]), UNTRUSTED_PEER, 503),
    ("HTTP/1.0 without Host", request([], version="HTTP/1.0"),
     UNTRUSTED_PEER, 404),
    ("HTTP/1.1 without Host", request([]), UNTRUSTED_PEER, 400),
    ("X-Forwarded-Host from an untrusted peer",
     request([S1], extra=xfh(S2)), UNTRUSTED_PEER, 1),
    ("unknown X-Forwarded-Host from an untrusted peer",
     request([S1], extra=xfh(b"nosuch.example.edu")), UNTRUSTED_PEER, 1),
    ("X-Forwarded-Proto from an untrusted peer",
     request([b"secure.example.edu:443"], extra=xfh(S1, b"https")),
     UNTRUSTED_PEER, 404),
    ("X-Forwarded-Host from the trusted proxy",
     request([S1], extra=xfh(S2)), TRUSTED_PEER, 2),
    ("unknown X-Forwarded-Host from the trusted proxy",
     request([S1], extra=xfh(b"nosuch.example.edu")), TRUSTED_PEER, 404),
    ("X-Forwarded-Host list: the last proxy's entry",
     request([S1], extra=xfh(b"nosuch.example.edu, " + S2)), TRUSTED_PEER, 2),
    ("X-Forwarded-Proto https and port 443 from the trusted proxy",
     request([S1], extra=xfh(b"secure.example.edu:443", b"https")),
     TRUSTED_PEER, 4),
    ("X-Forwarded-Host with a control byte from the trusted proxy",
     request([S1], extra=xfh(b"site2\x01.example.edu")), TRUSTED_PEER, 400),
    ("X-Forwarded-Host in UTF-8 from the trusted proxy",
     request([S1], extra=xfh("bücher.example.edu".encode())), TRUSTED_PEER,
     400),
    ("X-Forwarded-Host with a path from the trusted proxy",
     request([S1], extra=xfh(S2 + b"/..")), TRUSTED_PEER, 400),
    ("X-Forwarded-Host with two trailing dots from the trusted proxy",
     request([S1], extra=xfh(S2 + b"..")), TRUSTED_PEER, 400),
]


def send(port, data, peer):
    """Send data from peer's address; return (status, X-VMoodle-Id, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30,
                                  source_address=(peer, 0)) as sock:
        sock.sendall(data)
        resp = http.client.HTTPResponse(sock, method="GET")
        resp.begin()
        body = resp.read()
        return resp.status, resp.getheader("X-VMoodle-Id"), body


@pytest.fixture(scope="module")
def server(module_vmoodle):
    return module_vmoodle(ROWS, directives=DIRECTIVES, extra=EXTRA)


@pytest.mark.parametrize("name,data,peer,expected", CASES,
                         ids=[c[0] for c in CASES])
def test_host(server, name, data, peer, expected):
    status, routed, body = send(server.port, data, peer)
    if expected < 100:   # an instance id
        assert (status, routed) == (200, str(expected)), body[:300]
        return
    assert status == expected, body[:300]
    assert routed in (None, "", "(null)"), f"routed to instance {routed}"


def test_enough_cases():
    assert len(CASES) >= 40


CONTROL = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f-\xff]")


def test_error_log_escapes_hosts(server):
    """Refused hosts reach the log only escaped: no raw control or
    non-ASCII byte in it, and the escaped form is there.  (Core refuses
    control bytes in any header; a trusted proxy's X-Forwarded-Host in
    UTF-8 is the client text that reaches our refusal, VM00015.)"""
    for data in (xfh(b"site2\x01\x1b[31m.example.edu"),
                 xfh("b\u00fccher.example.edu".encode())):
        assert send(server.port, request([S1], extra=data), TRUSTED_PEER)[0] == 400
    with open(server.error_log, "rb") as f:
        log = f.read()
    assert not CONTROL.search(log), CONTROL.search(log)
    # Apache escapes the backslash of our escape again: either is fine.
    assert re.search(rb"VM00015: refusing host 'b(\\\\)+xc3(\\\\)+xbccher", log)

"""A TCP relay to a local server that can stop passing bytes: the hung
server of test_hung_db.py and of bench/scale_refresh.py (a stopped
process, a half-dead network path: connections accepted, never answered)."""
import select
import socket
import threading
import time


class FreezableRelay:
    """127.0.0.1:port -> the server; freeze() stops every byte."""

    def __init__(self, upstream_port):
        self.upstream = upstream_port
        self.frozen = threading.Event()
        self.closing = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self):
        self.listener.settimeout(0.2)
        while not self.closing.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._relay, args=(conn,), daemon=True)
            t.start()

    def _relay(self, conn):
        while self.frozen.is_set() and not self.closing.is_set():
            time.sleep(0.05)                     # accepted, never answered
        try:
            up = socket.create_connection(("127.0.0.1", self.upstream))
        except OSError:
            conn.close()
            return
        peers = {conn: up, up: conn}
        try:
            while not self.closing.is_set():
                if self.frozen.is_set():
                    time.sleep(0.05)
                    continue
                ready, _, _ = select.select(list(peers), [], [], 0.1)
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    peers[s].sendall(data)
        except OSError:
            return
        finally:
            conn.close()
            up.close()

    def freeze(self):
        self.frozen.set()

    def thaw(self):
        self.frozen.clear()

    def close(self):
        self.closing.set()
        self.listener.close()

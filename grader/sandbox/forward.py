"""A byte pipe between a TCP port and a Unix socket: how a kernel with no network reaches the shared Spark server.

Each graded kernel has a network namespace of its own (only its own loopback): no other kernel,
no Jupyter server, no service of the machine is reachable from it. Inside, ``tcp-to-unix`` listens
on 127.0.0.1:15002 (where SPARK_REMOTE points) and forwards to a Unix socket bound into the
sandbox; outside, the grader runs ``unix-to-tcp`` on that socket, forwarding to the shared server's
current port (a restarted server has a new one). Standard library only: the inside end runs as
``python -c`` with this file's text, in a sandbox that does not see the course's tools.
"""

import socket
import sys
import threading

INSIDE_PORT = 15002


def _pipe(a, b):
    try:
        while data := a.recv(65536):
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _join(client, connect):
    try:
        upstream = connect()
    except OSError:
        client.close()
        return
    threading.Thread(target=_pipe, args=(client, upstream), daemon=True).start()
    _pipe(upstream, client)
    client.close()
    upstream.close()


def serve(listener, connect, stop=None):
    """Accept on ``listener`` forever (or until ``stop`` is set); each connection joined to ``connect()``."""
    listener.settimeout(0.5)
    while stop is None or not stop.is_set():
        try:
            client, _ = listener.accept()
        except socket.timeout:
            continue
        except OSError:
            return
        client.settimeout(None)
        threading.Thread(target=_join, args=(client, connect), daemon=True).start()


def tcp_to_unix(port, path):
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)

    def connect():
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        return s

    serve(listener, connect)


class UnixToTcp(threading.Thread):
    """The grader's end: a Unix socket whose connections go to 127.0.0.1:``port()`` (asked at each connection)."""

    def __init__(self, path, port):
        super().__init__(daemon=True)
        self.path, self.port, self.halt = str(path), port, threading.Event()
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(self.path)
        self.listener.listen(64)

    def run(self):
        serve(self.listener, lambda: socket.create_connection(("127.0.0.1", self.port())), self.halt)

    def stop(self):
        self.halt.set()
        self.listener.close()


if __name__ == "__main__":
    if sys.argv[1] == "tcp-to-unix":
        tcp_to_unix(int(sys.argv[2]), sys.argv[3])

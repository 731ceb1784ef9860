"""One of each small helper the tools and the tests share: free ports, waiting, stopping process groups, CPU time.

Standard library only, so the sandbox's launcher and the cluster launcher can use them too.
"""

import ctypes
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

PR_SET_PDEATHSIG = 1

# Grading's JVMs (the shared server, the checker, a kernel's own local Spark) run many small queries for
# a few minutes: C2's compiling is never paid back, and the C1 JIT alone costs 30-40% less CPU.
C1_JIT = "-XX:TieredStopAtLevel=1"
C1_SUBMIT_ARGS = f"--driver-java-options {C1_JIT} pyspark-shell"  # as PYSPARK_SUBMIT_ARGS



def free_port(host="127.0.0.1"):
    """A TCP port nobody listens on right now (bind to port 0 and ask)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def free_ports(names, host="127.0.0.1"):
    """{name: a distinct free port} for each name."""
    sockets, ports = [], {}
    try:
        for name in names:
            s = socket.socket()
            s.bind((host, 0))
            sockets.append(s)
            ports[name] = s.getsockname()[1]
    finally:
        for s in sockets:
            s.close()
    return ports


def listening(port, host="127.0.0.1"):
    """Does something accept TCP connections on host:port?"""
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def listen_unix(path, kind=socket.SOCK_STREAM, backlog=8):
    """A Unix socket listening at ``path``, readable and writable by its owner only (a service's private door)."""
    server = socket.socket(socket.AF_UNIX, kind)
    server.bind(str(path))
    os.chmod(path, 0o600)
    server.listen(backlog)
    return server


def wait_until(predicate, timeout=10.0, interval=0.2, what="a condition"):
    """Call ``predicate`` until it returns something true; return that, or raise TimeoutError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"gave up after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def stop_group(proc, grace=10.0):
    """Stop a process started with ``start_new_session=True`` and everything it started: TERM, then KILL."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        proc.wait()


def die_with_parent():
    """In a child (preexec_fn, or right after fork): be killed when the process that started it dies.

    A grader killed with SIGKILL then leaves nothing behind that could still write results later.
    """
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class CpuMeter:
    """CPU seconds used by a process tree, whatever else the machine is doing.

    With root and cgroup v1's cpuacct controller (this machine, CI), a cgroup of its own counts every
    process started in it, JVMs included; otherwise the children's rusage after they were waited for.
    Use ``preexec`` as the process's preexec_fn, then ``seconds()`` once it ended.
    """

    ROOT = Path("/sys/fs/cgroup/cpuacct")

    def __init__(self, name):
        self.group = self.ROOT / f"sparkcourse-{name}-{os.getpid()}-{time.monotonic_ns()}"
        try:
            self.group.mkdir()
            self.how = "cgroup"
        except OSError:
            self.group, self.how = None, "rusage"
        self._before = os.times()

    def preexec(self):
        if self.group is not None:
            (self.group / "cgroup.procs").write_text(str(os.getpid()))

    def seconds(self):
        if self.group is not None:
            return int((self.group / "cpuacct.usage").read_text()) / 1e9
        now = os.times()
        return (now.children_user - self._before.children_user) + (now.children_system - self._before.children_system)

    def close(self):
        if self.group is not None:
            try:
                self.group.rmdir()
            except OSError:
                pass  # a straggler still in it; the kernel removes nothing, but an empty group costs nothing

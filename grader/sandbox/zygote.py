"""A kernel zygote: imports what every grading kernel needs once, then forks a kernel into each submission's sandbox.

A new kernel spends about a CPU-second importing ipykernel, pandas, PySpark and matplotlib. The
zygote pays that once per batch. grader/sandbox/kernel.py still builds each submission's own
bubblewrap sandbox; it runs a placeholder in it and sends the sandbox's namespaces here. The zygote
forks; the child joins those namespaces (setns), drops every capability and becomes the kernel.
The kernel so sees exactly what a kernel started in that sandbox would see. Linux only. Anything
unexpected and sandbox_kernel.py starts a kernel the plain way.

    python -m grader.sandbox.zygote SOCKET      (the grading batch starts it; it serves until killed)
"""

import ctypes
import fcntl
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..common import die_with_parent, listen_unix
from .kernel import KERNEL_ENV, join_cgroups, limit_resources
from .policy import base_env

# What the course's notebooks import first. Not pyplot and its inline backend: on import they look for
# the running IPython shell, which exists only after the fork; the kernel imports them as a fresh one does.
# Then what the lessons import or load lazily (df.plot's plotly, Spark ML, scikit-learn): paid once here (the
# whole list imports in 1.8 CPU-s), not up to a second in every kernel.
PRELOAD = ["ipykernel.kernelapp", "ipykernel.ipkernel", "numpy", "pandas", "matplotlib.figure", "matplotlib.axes",
           "matplotlib.image", "matplotlib.backend_bases", "pyspark.sql", "pyspark.sql.functions",
           "pyspark.sql.connect.session", "sparkcourse", "sparkcourse.answers", "sparkcourse.datasets",
           "sparkcourse.plans", "sparkcourse.timing", "pyarrow", "plotly.express", "pyspark.sql.plot.plotly",
           "pyspark.ml.feature", "pyspark.ml.classification", "pyspark.ml.regression", "pyspark.ml.evaluation",
           "pyspark.ml.tuning", "sklearn.linear_model", "sklearn.preprocessing", "sklearn.pipeline",
           "sklearn.model_selection", "sklearn.metrics", "sklearn.feature_extraction.text"]
NAMESPACES = {"user": 0x10000000, "mnt": 0x00020000, "pid": 0x20000000, "ipc": 0x08000000, "uts": 0x04000000,
              "net": 0x40000000}
NS_GET_USERNS = 0xB701  # ioctl: the user namespace that owns a namespace
STARTED = b"started"
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 1, 24, 38, 47, 4

libc = ctypes.CDLL(None, use_errno=True)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _check(result, what):
    if result != 0:
        raise OSError(ctypes.get_errno(), f"{what}: {os.strerror(ctypes.get_errno())}")


def join(namespace_fds):
    """Join a sandbox's namespaces, as its placeholder process is in them.

    Unprivileged, bwrap makes two user namespaces: an outer one owning the mounts, an inner one for
    what runs inside (where the mounts are locked). Join the outer, then mount, PID (for children),
    IPC, UTS and network, then the inner. Run as root, bwrap makes none: there is no user namespace to join.
    """
    def inode(fd_or_path):
        return (os.fstat(fd_or_path) if isinstance(fd_or_path, int) else os.stat(fd_or_path)).st_ino

    if set(namespace_fds) != set(NAMESPACES) or any(
            inode(namespace_fds[name]) == inode(f"/proc/self/ns/{name}") for name in ("mnt", "pid")):
        raise OSError("not the namespaces of a sandbox")  # never run a kernel outside one
    owner = fcntl.ioctl(namespace_fds["mnt"], NS_GET_USERNS)
    current = inode("/proc/self/ns/user")  # /proc is the sandbox's once in its mount namespace
    try:
        if inode(owner) != current:
            _check(libc.setns(owner, NAMESPACES["user"]), "setns user (outer)")
            current = inode(owner)
    finally:
        os.close(owner)
    for name in ("mnt", "pid", "ipc", "uts", "net"):
        _check(libc.setns(namespace_fds[name], NAMESPACES[name]), f"setns {name}")
    if inode(namespace_fds["user"]) != current:
        _check(libc.setns(namespace_fds["user"], NAMESPACES["user"]), "setns user")


def drop_capabilities():
    """No capability left, none to gain: code that runs as root cannot unmount what hides the course."""
    last = int(open("/proc/sys/kernel/cap_last_cap").read())
    for cap in range(last + 1):
        _check(libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), "drop the capability bounding set")
    _check(libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient capabilities")
    _check(libc.capset(ctypes.byref(_CapHeader(0x20080522, 0)), (_CapData * 2)()), "capset")
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
    if any(int(status[key], 16) for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")):
        raise OSError("capabilities are still there after dropping them")


def become_kernel(request, stdio, ready):
    """In the grandchild, inside the sandbox: limits, capabilities, environment; then run ipykernel."""
    os.setsid()
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # its parent (outside the sandbox) waits for it
    for number, fd in enumerate(stdio):
        os.dup2(fd, number)
    os.chdir(request["cwd"])  # joining a mount namespace moved us to its root
    limit_resources(request.get("limits", {}))
    drop_capabilities()
    os.closerange(3, ready)
    os.closerange(ready + 1, os.sysconf("SC_OPEN_MAX"))
    os.environ.clear()
    os.environ.update(request["env"])
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.argv = ["ipykernel_launcher", *request["argv"]]
    sys.path[0] = request["cwd"]  # as `python -m ipykernel_launcher` started there
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()  # a fresh process would not share the zygote's random state
    os.write(ready, STARTED)
    os.close(ready)
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


def serve_one(conn, request, fds):
    """In the child: join the sandbox, fork the kernel, tell the launcher how it started and how it ended."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    stdio, namespace_fds = fds[:3], dict(zip(request.get("namespaces", []), fds[3:]))
    try:
        # The submission's cgroups (a cap on processes and memory), while /sys is still ours to see.
        join_cgroups(os.getpid(), dict(request.get("limits", {}), SANDBOX_CGROUP=request.get("cgroup", "")))
        join(namespace_fds)
        read_end, ready = os.pipe()
        kernel = os.fork()
    except OSError as error:
        conn.send(json.dumps({"error": str(error)}).encode())
        return
    if kernel == 0:
        code = 1
        try:
            conn.close()
            os.close(read_end)
            become_kernel(request, stdio, ready)
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 1
        except BaseException as error:  # noqa: BLE001 - say why, then leave
            print(f"kernel zygote: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        finally:
            os._exit(code)
    os.close(ready)
    started = os.read(read_end, len(STARTED)) == STARTED
    conn.send(json.dumps({"started": started}).encode())
    _, status = os.waitpid(kernel, 0)
    conn.send(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode())


def serve(path):
    for module in PRELOAD:
        __import__(module)
    if threading.active_count() != 1:  # native ones (OpenBLAS, jemalloc) prepare for fork themselves
        sys.exit("kernel zygote: a preloaded module started a Python thread; forking would not be safe")
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    server = listen_unix(path, socket.SOCK_SEQPACKET, backlog=16)
    print("ready", flush=True)
    while True:
        conn, _ = server.accept()
        fds = []
        try:
            message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3 + len(NAMESPACES))
            request = json.loads(message)
            if len(fds) != 3 + len(NAMESPACES):
                raise ValueError("a request needs stdin, stdout, stderr and the sandbox's namespaces")
        except (OSError, ValueError) as error:
            print(f"kernel zygote: refused a request ({error})", file=sys.stderr, flush=True)
        else:
            if os.fork() == 0:
                die_with_parent()  # the zygote gone, this child and the kernel it waits for go too
                server.close()
                try:
                    serve_one(conn, request, fds)
                finally:
                    os._exit(0)
        conn.close()
        for fd in fds:
            os.close(fd)


class KernelZygote:
    """The zygote as grader.autograde runs it: start() returns at once, ready() waits until it serves."""

    def __init__(self, folder, env=None):
        self.folder, self.env, self.proc = Path(folder), env or {}, None

    def start(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        self.socket_path = str(self.folder / "zygote.sock")
        # Started with the sandbox's own environment: a forked kernel's /proc/self/environ is the zygote's.
        env = base_env({**self.env, **KERNEL_ENV, "MPLCONFIGDIR": str(self.folder / "matplotlib")})
        with open(self.folder / "zygote.log", "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "grader.sandbox.zygote", self.socket_path], env=env,
                                         cwd=self.folder, stdout=subprocess.PIPE, stderr=log,
                                         start_new_session=True, preexec_fn=die_with_parent)
        return self

    def ready(self, timeout=60):
        """True once the zygote serves; False if it could not start (kernels then start the plain way)."""
        deadline = time.monotonic() + timeout
        while self.proc is not None and select.select([self.proc.stdout], [], [], max(0, deadline - time.monotonic()))[0]:
            line = self.proc.stdout.readline()
            if line.strip() == b"ready":
                return True
            if not line:
                break  # it exited: zygote.log says why
        self.stop()
        return False

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


if __name__ == "__main__":
    serve(sys.argv[1])

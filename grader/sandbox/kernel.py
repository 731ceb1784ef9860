"""Start the IPython kernel of one graded submission inside the sandbox (grader/sandbox/policy.py).

nbgrader starts this through the grading kernelspec instead of a plain kernel. The kernel talks
to nbgrader over ZeroMQ's IPC transport, never TCP: its sockets are created inside the sandbox's
private /tmp, and the launcher links them from the private folder nbgrader connects to, through
/proc/<sandbox>/root (only processes outside, of the grader's user, can follow that). No other
kernel can reach them, and nothing the kernel writes lands outside its size-limited tmpfs.

If a kernel zygote serves (grader/sandbox/zygote.py, SANDBOX_ZYGOTE), the sandbox holds a
placeholder and the kernel, forked from the zygote, joins it; else the kernel is started in it.
Limits: processes and memory by cgroup when the grader may make cgroups (root), else rlimits;
file size by rlimit; disk by the tmpfs's size. Standard library only.

Each kernel has a network namespace of its own; it reaches the shared Spark server, if there is
one, through a Unix socket bound in (grader/sandbox/forward.py).

Environment (set by the grader): SANDBOX_SHOW (extra read-only paths), SANDBOX_ENV (JSON: variables
for the kernel), SANDBOX_MEMORY_GB, SANDBOX_DISK_MB, SANDBOX_PIDS, SANDBOX_ZYGOTE, SANDBOX_CGROUP,
SANDBOX_CONNECT_SOCKET (the grader's end of the way to the Spark server), SANDBOX_PRIVATE.
"""

import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from .policy import submission_policy

INSIDE = "/tmp/.kernel"  # inside the sandbox: the kernel's connection file and its sockets
KERNEL_ENV = {"MPLCONFIGDIR": "/tmp/matplotlib", "IPYTHONDIR": "/tmp/ipython",
              "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
CGROUPS = Path("/sys/fs/cgroup")


def paths(variable):
    return [p for p in os.environ.get(variable, "").split(os.pathsep) if p]


def kernel_env():
    """What the kernel's environment holds: the policy's allow-list, the grader's chosen variables, ours."""
    from .policy import base_env

    chosen = json.loads(os.environ.get("SANDBOX_ENV") or "{}")
    return base_env(dict(chosen, **KERNEL_ENV))


def limit_resources(env=os.environ):
    """rlimits for what runs in the sandbox: a memory bomb fails (the machine lives), no huge file, no core."""
    gigabytes = float(env.get("SANDBOX_MEMORY_GB", "12"))
    resource.setrlimit(resource.RLIMIT_AS, (int(gigabytes * 2**30),) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (512 * 2**20,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def join_cgroups(pid, env=os.environ):
    """Put a process (and what it starts) in the submission's cgroups: a cap on processes (and memory).

    Needs the right to make cgroups (root here and in most containers); returns the groups made, or [].
    """
    name = env.get("SANDBOX_CGROUP")
    if not name:
        return []
    made = []
    for controller, settings in (("pids", {"pids.max": env.get("SANDBOX_PIDS", "512")}),
                                 ("memory", {"memory.limit_in_bytes": str(int(float(
                                     env.get("SANDBOX_MEMORY_GB", "12")) * 2**30))}),
                                 ("cpuacct", {})):  # what the submission's processes cost, JVM included
        group = CGROUPS / controller / name
        try:
            group.mkdir(exist_ok=True)
            for key, value in settings.items():
                (group / key).write_text(value)
            (group / "cgroup.procs").write_text(str(pid))
            made.append(str(group))
        except OSError:
            continue  # not allowed here: the rlimits still hold
    return made


def read_child_pid(fd):
    """The PID of what runs in the sandbox, from bwrap's --info-fd JSON (it may come in pieces)."""
    data = b""
    with os.fdopen(fd, "rb", buffering=0) as info:
        while chunk := info.read(4096):
            data += chunk
            try:
                return json.loads(data)["child-pid"]
            except ValueError:
                continue
    raise OSError(f"bwrap did not say what it started ({data[:200]!r})")


def connection_files(connection_file, private):
    """(inside connection file, {outside socket path: inside socket path}).

    nbgrader's side keeps its connection file and socket paths; the kernel gets the same keys with
    its sockets under INSIDE. Only IPC transport is accepted: TCP ports would be reachable by others.
    """
    info = json.loads(Path(connection_file).read_text())
    if info.get("transport") != "ipc":
        raise SystemExit("sandbox: kernels are graded over IPC only (set KernelManager.transport = 'ipc')")
    if not os.path.isabs(info["ip"]):
        raise SystemExit("sandbox: the kernel's IPC path must be absolute (give the kernel manager a connection file "
                         "in a private folder)")
    inside = dict(info, ip=f"{INSIDE}/k")
    path = Path(private) / "kernel.json"
    path.write_text(json.dumps(inside))
    links = {f"{info['ip']}-{info[port]}": f"{INSIDE}/k-{info[port]}"
             for port in ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")}
    return str(path), links


def link_sockets(pid, links):
    """Make nbgrader's socket paths lead into the sandbox's /tmp (ZeroMQ connects once the kernel binds)."""
    for outside, inside in links.items():
        if os.path.lexists(outside):
            os.unlink(outside)
        os.symlink(f"/proc/{pid}/root{inside}", outside)


def sandbox_command(command, inside_connection, info_fd):
    """bwrap around ``command``: the submission policy, a network of its own, the way to the Spark server if any."""
    from . import forward
    from .policy import bwrap_command

    policy = submission_policy(show=paths("SANDBOX_SHOW"), env=kernel_env(),
                               tmp_mb=int(os.environ.get("SANDBOX_DISK_MB", "1024")), info_fd=info_fd)
    policy.share_network = False  # its own loopback only: no other kernel or service of this machine to reach
    policy.bind.append((inside_connection, f"{INSIDE}.json", False))
    script = f"mkdir -p {INSIDE}"
    connect = os.environ.get("SANDBOX_CONNECT_SOCKET")
    extra = []
    if connect:
        policy.bind.append((connect, "/tmp/.connect.sock", True))
        script += ' && { "$0" -c "$1" tcp-to-unix %d /tmp/.connect.sock & }' % forward.INSIDE_PORT
        extra = [sys.executable, Path(forward.__file__).read_text()]
    files = policy.files_dir(Path(inside_connection).parent / "etc")
    if extra:
        script += ' && shift && exec "$@"'
        return bwrap_command(policy, ["sh", "-c", script, *extra, *command], files)
    return bwrap_command(policy, ["sh", "-c", script + ' && exec "$@"', "sh", *command], files)


def start(command, inside_connection, links, **popen):
    """Start bwrap around ``command``; link the sockets once its PID is known; the Popen."""
    read_info, write_info = os.pipe()
    cmd = sandbox_command(command, inside_connection, write_info)
    proc = subprocess.Popen(cmd, pass_fds=[write_info], **popen)
    os.close(write_info)
    pid = read_child_pid(read_info)
    link_sockets(pid, links)
    join_cgroups(pid)
    return proc, pid


def run_in_zygote(zygote, inside_connection, links):
    """The kernel, forked from the zygote into a sandbox holding a placeholder. Its exit code, or None if the
    zygote could not start it (then the caller starts a kernel the plain way)."""
    holder, pid = start(["sh", "-c", "echo ready; exec cat"], inside_connection, links,
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        if holder.stdout.readline() != b"ready\n":
            raise OSError("the sandbox did not start")
        names = ["user", "mnt", "pid", "ipc", "uts", "net"]
        namespaces = [os.open(f"/proc/{pid}/ns/{name}", os.O_RDONLY) for name in names]
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as conn:
            conn.connect(zygote)
            request = {"argv": ["-f", f"{INSIDE}.json"], "cwd": "/tmp/work", "env": kernel_env(),
                       "namespaces": names, "cgroup": os.environ.get("SANDBOX_CGROUP", ""),
                       "limits": {k: os.environ[k] for k in ("SANDBOX_MEMORY_GB", "SANDBOX_PIDS") if k in os.environ}}
            socket.send_fds(conn, [json.dumps(request).encode()], [0, 1, 2, *namespaces])
            for fd in namespaces:
                os.close(fd)
            reply = json.loads(conn.recv(4096) or "{}")
            if not reply.get("started"):
                raise OSError(reply.get("error", "the kernel did not start"))
            code = json.loads(conn.recv(4096) or '{"exit": 1}')["exit"]  # blocks while the kernel runs
    except (OSError, TypeError, ValueError, KeyError) as error:
        print(f"sandbox: the kernel zygote could not start this kernel ({error}); starting one the plain way",
              file=sys.stderr, flush=True)
        code = None
    holder.stdin.close()  # the placeholder ends, and the sandbox with it
    holder.wait()
    return code


def main():
    from ..common import die_with_parent

    die_with_parent()  # nbgrader's process gone (a killed grader): this kernel, and its sandbox, go too
    if os.getppid() == 1:
        sys.exit("sandbox: the grader that started this kernel is gone")
    connection_file = str(Path(sys.argv[sys.argv.index("-f") + 1]).resolve())
    limit_resources()
    private = tempfile.mkdtemp(prefix="sandbox-", dir=os.environ.get("SANDBOX_PRIVATE") or None)
    inside_connection, links = connection_files(connection_file, private)
    zygote = os.environ.get("SANDBOX_ZYGOTE")
    if zygote:
        code = run_in_zygote(zygote, inside_connection, links)
        if code is not None:
            sys.exit(code if code >= 0 else 128 - code)
    proc, _ = start([sys.executable, "-m", "ipykernel_launcher", "-f", f"{INSIDE}.json"], inside_connection, links)
    sys.exit(proc.wait())


if __name__ == "__main__":
    main()

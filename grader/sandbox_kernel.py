"""Start an IPython kernel for one submission inside a bubblewrap sandbox, with resource limits.

nbgrader launches this (through the kernelspec `grader.autograde` installs) instead of a plain
kernel. The submission then sees a read-only system, the course's helper package and data, its
own working folder (the only writable place) and a private /tmp: the course directory,
the solutions, the gradebook, other students' folders and other kernels' keys are not there at
all. It has no capabilities, even if the grader runs as root. If a kernel zygote runs
(grader/kernel_zygote.py, SANDBOX_ZYGOTE), the sandbox holds a placeholder and the kernel, forked
from the zygote, joins it; else the kernel is started in it. Standard library only: it runs before
the sandbox exists.

Environment (set by grader.autograde): SANDBOX_HIDE, SANDBOX_SHOW (os.pathsep-separated paths),
SANDBOX_MEMORY_GB, SANDBOX_ZYGOTE (the zygote's socket).
"""

import json
import os
import resource
import shutil
import socket
import subprocess
import sys
from pathlib import Path

KERNEL = [sys.executable, "-m", "ipykernel_launcher"]
KERNEL_ENV = {"MPLCONFIGDIR": "/tmp/matplotlib", "IPYTHONDIR": "/tmp/ipython"}  # in its private /tmp
# Its parent is outside the PID namespace (bwrap ties their lives); the zygote is the grader's business.
NOT_FOR_THE_KERNEL = ("JPY_PARENT_PID", "SANDBOX_ZYGOTE")


def paths(variable):
    return [p for p in os.environ.get(variable, "").split(os.pathsep) if p]


def bwrap_command(connection_file, workdir, command, info_fd=None):
    cmd = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
           "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent", "--new-session",
           "--cap-drop", "ALL"]  # run as root (a container), bwrap keeps every capability: umount would reveal all
    # Other kernels' connection files (and their keys) live in Jupyter's runtime folder.
    runtime = os.environ.get("JUPYTER_RUNTIME_DIR") or os.path.expanduser("~/.local/share/jupyter/runtime")
    for hidden in [*paths("SANDBOX_HIDE"), runtime]:
        if os.path.exists(hidden):
            cmd += ["--tmpfs", hidden]
    for shown in [*paths("SANDBOX_SHOW"), sys.prefix]:
        if os.path.exists(shown):
            cmd += ["--ro-bind", shown, shown]
    cmd += ["--ro-bind", connection_file, connection_file, "--bind", workdir, workdir, "--chdir", workdir]
    for name, value in KERNEL_ENV.items():
        cmd += ["--setenv", name, value]
    for name in NOT_FOR_THE_KERNEL:
        cmd += ["--unsetenv", name]
    if info_fd is not None:
        cmd += ["--info-fd", str(info_fd)]  # where bwrap tells the PID of what runs inside
    return cmd + ["--", *command]


def kernel_env():
    env = {k: v for k, v in os.environ.items() if k not in NOT_FOR_THE_KERNEL}
    return dict(env, **KERNEL_ENV)


def limit_resources(env=os.environ):
    gigabytes = float(env.get("SANDBOX_MEMORY_GB", "12"))
    resource.setrlimit(resource.RLIMIT_AS, (int(gigabytes * 2**30),) * 2)  # a memory bomb fails, the machine lives
    resource.setrlimit(resource.RLIMIT_FSIZE, (512 * 2**20,) * 2)  # no file over 512 MB
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


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


def run_in_zygote(zygote, connection_file, workdir):
    """Start the sandbox with a placeholder; the zygote forks the kernel into it. The kernel's exit code,
    or None if the zygote could not start it (then the caller starts a kernel the plain way)."""
    read_info, write_info = os.pipe()
    # The placeholder says when it runs (bwrap has built the sandbox by then), then waits for its input to close.
    holder = subprocess.Popen(bwrap_command(connection_file, workdir, ["sh", "-c", "echo ready; exec cat"],
                                            info_fd=write_info),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, pass_fds=[write_info])
    os.close(write_info)
    try:
        pid = read_child_pid(read_info)
        if holder.stdout.readline() != b"ready\n":
            raise OSError("the sandbox did not start")
        names = ["user", "mnt", "pid", "ipc", "uts"]
        namespaces = [os.open(f"/proc/{pid}/ns/{name}", os.O_RDONLY) for name in names]
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as conn:
            conn.connect(zygote)
            request = {"argv": ["-f", connection_file], "cwd": workdir, "env": kernel_env(), "namespaces": names}
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
    connection_file = str(Path(sys.argv[sys.argv.index("-f") + 1]).resolve())
    if not shutil.which("bwrap"):
        sys.exit("bubblewrap (bwrap) is not installed: install it (apt install bubblewrap) to grade submissions "
                 "in a sandbox, or pass --no-sandbox to grade trusted notebooks without one.")
    limit_resources()
    zygote = os.environ.get("SANDBOX_ZYGOTE")
    if zygote:
        code = run_in_zygote(zygote, connection_file, os.getcwd())
        if code is not None:
            sys.exit(code if code >= 0 else 128 - code)
    cmd = bwrap_command(connection_file, os.getcwd(), [*KERNEL, "-f", connection_file])
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    main()

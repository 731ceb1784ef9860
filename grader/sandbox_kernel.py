"""Start an IPython kernel for one submission inside a bubblewrap sandbox, with resource limits.

nbgrader launches this (through the kernelspec `grader.autograde` installs) instead of a plain
kernel. The submission then sees a read-only system, the course's helper package and data, its
own working folder (the only writable place) and a private /tmp: the course directory,
the solutions, the gradebook, other students' folders and other kernels' keys are not there at
all. Standard library only: it runs before the sandbox exists.

Environment (set by grader.autograde): SANDBOX_HIDE, SANDBOX_SHOW (os.pathsep-separated paths),
SANDBOX_MEMORY_GB.
"""

import os
import resource
import shutil
import sys
from pathlib import Path


def paths(variable):
    return [p for p in os.environ.get(variable, "").split(os.pathsep) if p]


def bwrap_command(connection_file, workdir):
    cmd = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
           "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent", "--new-session"]
    # Other kernels' connection files (and their keys) live in Jupyter's runtime folder.
    runtime = os.environ.get("JUPYTER_RUNTIME_DIR") or os.path.expanduser("~/.local/share/jupyter/runtime")
    for hidden in [*paths("SANDBOX_HIDE"), runtime]:
        if os.path.exists(hidden):
            cmd += ["--tmpfs", hidden]
    for shown in [*paths("SANDBOX_SHOW"), sys.prefix]:
        if os.path.exists(shown):
            cmd += ["--ro-bind", shown, shown]
    cmd += ["--ro-bind", connection_file, connection_file, "--bind", workdir, workdir, "--chdir", workdir,
            "--setenv", "MPLCONFIGDIR", "/tmp/matplotlib", "--setenv", "IPYTHONDIR", "/tmp/ipython",
            "--unsetenv", "JPY_PARENT_PID"]  # its parent is outside the PID namespace; bwrap ties their lives
    return cmd + ["--", sys.executable, "-m", "ipykernel_launcher", "-f", connection_file]


def limit_resources():
    gigabytes = float(os.environ.get("SANDBOX_MEMORY_GB", "12"))
    resource.setrlimit(resource.RLIMIT_AS, (int(gigabytes * 2**30),) * 2)  # a memory bomb fails, the machine lives
    resource.setrlimit(resource.RLIMIT_FSIZE, (512 * 2**20,) * 2)  # no file over 512 MB
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main():
    connection_file = sys.argv[sys.argv.index("-f") + 1]
    if not shutil.which("bwrap"):
        sys.exit("bubblewrap (bwrap) is not installed: install it (apt install bubblewrap) to grade submissions "
                 "in a sandbox, or pass --no-sandbox to grade trusted notebooks without one.")
    limit_resources()
    cmd = bwrap_command(str(Path(connection_file).resolve()), os.getcwd())
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    main()

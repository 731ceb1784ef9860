"""The one sandbox policy: what a submission (and the shared Spark server) may see and do, as a bubblewrap command.

An allow-list, not a list of things to hide. The sandbox starts from an empty root and gets:
the system's programs and libraries (/usr), a few files of /etc that Python and Java need, the
interpreter and its packages, the course's helper package and data (read-only), and one private,
size-limited tmpfs for everything it writes (/tmp; its working folder is /tmp/work). Nothing else
of the machine exists in it: not the course directory, not another copy of the course, not the
folder submissions were collected from, not /root or /home. Its environment is rebuilt from an
allow-list. It has no capabilities (a grader often runs as root: bwrap would keep them), its own
PID, IPC and UTS namespaces, and dies with its parent. Standard library only: the kernel launcher
runs it before any sandbox exists.
"""

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

# Of /etc, only what the dynamic linker, Java, name lookups and time zones read.
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "hosts", "host.conf", "nsswitch.conf",
             "localtime", "timezone", "os-release", "mime.types")
# Variables a sandboxed process may inherit (everything else is dropped): where programs are, and the locale.
PASSED_ENV = ("JAVA_HOME", "LANG", "LC_ALL", "TZ")
PASSWD = "root:x:0:0:sandbox:/tmp:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
GROUP = "root:x:0:\nnogroup:x:65534:\n"
MB = 2**20


def course_root():
    return Path(__file__).resolve().parents[2]


@dataclass
class Policy:
    """What one sandbox gets. ``env`` is the whole environment inside (nothing else passes)."""

    read_only: list = field(default_factory=list)  # extra paths shown read-only, at the same place
    bind: list = field(default_factory=list)  # (outside, inside, writable) pairs
    tmp_bytes: int = 1024 * MB  # the one writable tmpfs, /tmp: all the disk a submission gets
    env: dict = field(default_factory=dict)
    cwd: str = "/tmp/work"
    share_network: bool = True  # the kernel reaches the shared Spark server on loopback
    info_fd: int = None  # where bwrap reports the PID of what it starts

    def files_dir(self, folder):
        """Write the synthetic /etc/passwd and /etc/group the sandbox sees (no names of this machine's users)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "passwd").write_text(PASSWD)
        (folder / "group").write_text(GROUP)
        return folder


def interpreter_paths():
    """The running interpreter, its standard library and the environment's packages (a venv and its base)."""
    return sorted({sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))})


def java_paths():
    """Java's configuration under /etc (its runtime is under /usr, or JAVA_HOME)."""
    paths = [str(p) for p in Path("/etc").glob("java*")]
    home = os.environ.get("JAVA_HOME")
    if home and not home.startswith("/usr/"):
        paths.append(home)
    return paths


def base_env(extra=None):
    """The environment inside: an allow-list of the outside's, plus what the caller sets."""
    env = {name: os.environ[name] for name in PASSED_ENV if name in os.environ}
    env.setdefault("LANG", "C.UTF-8")
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"])
    env["HOME"] = "/tmp"
    env.update(extra or {})
    return env


def bwrap_command(policy, command, files):
    """The bwrap argv that runs ``command`` under ``policy``; ``files`` holds the synthetic /etc files."""
    if not shutil.which("bwrap"):
        raise FileNotFoundError("bubblewrap (bwrap) is not installed: apt install bubblewrap")
    # bwrap itself starts with an empty environment: its init process is PID 1 inside the sandbox, and
    # /proc/1/environ would otherwise hand the grader's variables to the code it runs.
    cmd = ["env", "-i", shutil.which("bwrap"), "--die-with-parent", "--new-session", "--cap-drop", "ALL",
           "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
           "--hostname", "sandbox", "--clearenv",
           "--proc", "/proc", "--dev", "/dev", "--ro-bind", "/usr", "/usr"]
    for name in ("bin", "lib", "lib32", "lib64", "libx32", "sbin"):
        path = Path("/") / name
        if path.is_symlink():
            cmd += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            cmd += ["--ro-bind", str(path), str(path)]
    for name in ETC_FILES:
        if (Path("/etc") / name).exists():
            cmd += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    cmd += ["--ro-bind", str(Path(files) / "passwd"), "/etc/passwd", "--ro-bind", str(Path(files) / "group"),
            "/etc/group"]
    # The tmpfs before the read-only paths: a course (and its .venv) cloned under /tmp stays visible.
    cmd += ["--size", str(policy.tmp_bytes), "--perms", "1777", "--tmpfs", "/tmp", "--dir", policy.cwd]
    for path in [*interpreter_paths(), *java_paths(), *policy.read_only]:
        if os.path.exists(path):
            cmd += ["--ro-bind", str(path), str(path)]
    for outside, inside, writable in policy.bind:
        cmd += ["--bind" if writable else "--ro-bind", str(outside), str(inside)]
    if not policy.share_network:
        cmd += ["--unshare-net"]
    for name, value in sorted(policy.env.items()):
        cmd += ["--setenv", name, str(value)]
    cmd += ["--chdir", policy.cwd]
    if policy.info_fd is not None:
        cmd += ["--info-fd", str(policy.info_fd)]
    return cmd + ["--", *command]


def submission_policy(show=(), env=None, tmp_mb=1024, info_fd=None):
    """A graded notebook's kernel: the helper package and data read-only, /tmp for the rest."""
    root = course_root()
    read_only = [str(root / "sparkcourse"), str(root / "data"), *show]
    return Policy(read_only=read_only, env=base_env(env), tmp_bytes=tmp_mb * MB, info_fd=info_fd)

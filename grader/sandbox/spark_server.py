"""The shared, warm Spark Connect server for grading: sandboxed like a submission, and watched.

Kernels that grade submissions connect to it (SPARK_REMOTE) instead of starting a JVM each. It
runs under the same policy as a kernel (grader/sandbox/policy.py): it sees the interpreter, the
helper package and the data, read-only, and its own size-limited /tmp (shuffle files, spills);
a submission's UDF, which runs in here, sees nothing more. Persistent tables cannot be made (the
warehouse is read-only), Python workers are never reused (a UDF cannot leave something behind
for another student's UDF), and the FAIR scheduler shares the cores among sessions, so one
endless query slows the others instead of blocking them.

``Watchdog`` probes it every few seconds: a stopped (SIGSTOP), dead, hung or saturated server is
detected, restarted, and the batch told which submissions to grade again.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pyspark

from ..common import C1_JIT, CpuMeter, die_with_parent, free_port, listening, stop_group
from .policy import MB, Policy, base_env, bwrap_command, course_root

FAIR_POOLS = """<?xml version="1.0"?>
<allocations><pool name="default"><schedulingMode>FAIR</schedulingMode><weight>1</weight><minShare>0</minShare></pool>
</allocations>
"""
PROBE = """
import sys
from pyspark.sql import SparkSession
spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
for line in sys.stdin:
    try:
        spark.range(1).count()
        print("ok", flush=True)
    except Exception as error:  # noqa: BLE001
        print("error", type(error).__name__, flush=True)
"""


class GuardMissing(RuntimeError):
    """The catalog guard cannot be built here (no JDK): the server would not keep sessions apart."""


def descendants(pid):
    """PIDs of a process and all it started (from /proc)."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def stopped(pid):
    """True when a process of the tree is stopped (state T): a SIGSTOP freezes the server without killing it."""
    for p in descendants(pid):
        try:
            if Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("T", "t"):
                return True
        except (OSError, IndexError):
            continue
    return False


class WarmSpark:
    def __init__(self, scratch, cores=2, tmp_mb=4096):
        self.scratch = Path(scratch)
        self.cores, self.tmp_mb = cores, tmp_mb
        self.port = None
        self.proc = None
        self.generation = 0  # goes up at every (re)start

    @property
    def url(self):
        return f"sc://127.0.0.1:{self.port}"

    def guard_jar(self):
        """The shared-catalog guard (guard/SharedCatalogGuard.java) compiled against this PySpark's jars.

        Compiled once per source, PySpark and JDK into the grader's own cache (~/.cache/sparkcourse/guard),
        then copied into this server's scratch folder, the only place its sandbox reads it from.
        """
        jar = self.scratch / "guard" / "guard.jar"
        if jar.exists():
            return jar
        for tool in ("javac", "jar"):
            if not shutil.which(tool):
                raise GuardMissing(f"{tool} (a JDK) is needed to build the shared server's catalog guard")
        source = Path(__file__).with_name("guard") / "SharedCatalogGuard.java"
        key = hashlib.sha256(source.read_bytes() + pyspark.__version__.encode()
                             + os.path.realpath(shutil.which("javac")).encode()).hexdigest()[:16]
        cached = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sparkcourse" / "guard" / f"{key}.jar"
        if not cached.exists():
            build = Path(tempfile.mkdtemp(prefix="guard-", dir=self.scratch))
            subprocess.run(["javac", "-cp", f"{Path(pyspark.__file__).parent / 'jars'}/*", "-d", str(build),
                            str(source)], check=True, capture_output=True)
            classes = [p.name for p in build.glob("SharedCatalogGuard*.class")]
            subprocess.run(["jar", "cf", "guard.jar", *classes], cwd=build, check=True, capture_output=True)
            try:
                cached.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(build / "guard.jar", f"{cached}.{os.getpid()}")
                os.replace(f"{cached}.{os.getpid()}", cached)  # whole, even with two servers starting at once
            except OSError:
                cached = build / "guard.jar"  # no cache here (a read-only home): this server's own build
        jar.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(cached, jar)
        return jar

    def command(self):
        spark_home = Path(pyspark.__file__).parent
        (self.scratch / "fairscheduler.xml").write_text(FAIR_POOLS)
        (self.scratch / "warehouse").mkdir(exist_ok=True)
        script = [str(spark_home / "sbin" / "start-connect-server.sh"), "--wait",
                  "--master", f"local[{self.cores}]",
                  "--conf", f"spark.connect.grpc.binding.port={self.port}",
                  "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
                  "--conf", "spark.ui.enabled=false",
                  "--conf", "spark.scheduler.mode=FAIR",  # one busy submission does not starve the others
                  "--conf", f"spark.scheduler.allocation.file={self.scratch / 'fairscheduler.xml'}",
                  "--conf", "spark.python.worker.reuse=false",  # no Python worker outlives one task
                  "--jars", str(self.guard_jar()),  # the catalog every session shares is read-only
                  "--conf", "spark.sql.extensions=SharedCatalogGuard",
                  "--conf", "spark.sql.shuffle.partitions=4",
                  "--conf", "spark.sql.warehouse.dir=/warehouse",  # read-only: no persistent tables
                  "--conf", "spark.local.dir=/tmp/spark-local",  # in the size-limited tmpfs
                  "--conf", "spark.driver.memory=3g",
                  # Many small queries, for a few minutes: the C1 JIT only (grader/common.py). C1 alone
                  # costs about 30% less server CPU per notebook graded (measured on lesson 00).
                  "--driver-java-options", C1_JIT,
                  "--conf", "spark.log.level=WARN"]  # not a line per request; the log keeps what went wrong
        env = base_env({"SPARK_LOG_DIR": str(self.scratch / "logs"), "SPARK_PID_DIR": str(self.scratch),
                        "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable})
        root = course_root()
        policy = Policy(read_only=[str(root / "sparkcourse"), str(root / "data")], env=env,
                        tmp_bytes=self.tmp_mb * MB, cwd="/tmp/work",
                        bind=[(self.scratch, self.scratch, True), (self.scratch / "warehouse", "/warehouse", False)])
        return bwrap_command(policy, script, policy.files_dir(self.scratch / "etc"))

    def start(self, timeout=300):
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.log = open(self.scratch / "connect-server.log", "ab")
        self.meter = CpuMeter("server")
        self.probe = None

        def preexec():
            die_with_parent()
            self.meter.preexec()

        self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True, preexec_fn=preexec)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the Spark Connect server exited; see {self.scratch / 'connect-server.log'}")
            if self.probe is None and listening(self.port):
                # Only now: a client that asks before the port listens backs off exponentially (pyspark's
                # retry policy) and would sleep for seconds after the server is ready (measured: ready in 22 s before, 7-8 s now).
                self.probe = Probe(self.url)
            if self.probe is not None and self.probe.ping(timeout=max(1.0, deadline - time.monotonic())):
                self.generation += 1
                return self
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the Spark Connect server did not answer within {timeout} s")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def cpu_seconds(self):
        """CPU seconds the server (JVM and Python workers) has used since it started (cgroup), or None."""
        meter = getattr(self, "meter", None)
        return meter.seconds() if meter is not None and meter.how == "cgroup" else None

    def healthy(self, timeout=15.0):
        """Running, not stopped, and a trivial query answers within ``timeout`` seconds."""
        return self.alive() and not stopped(self.proc.pid) and self.probe.ping(timeout)

    def stop(self):
        if getattr(self, "probe", None) is not None:
            self.probe.close()
            self.probe = None
        if self.proc is not None:
            for pid in descendants(self.proc.pid):  # a stopped JVM must be woken to die of TERM
                try:
                    os.kill(pid, 18)  # SIGCONT
                except OSError:
                    pass
            stop_group(self.proc, grace=10)
            self.meter.close()
        self.proc = None


class Probe:
    """A Spark Connect client kept open, asked to run ``range(1).count()``; its answer within a timeout."""

    def __init__(self, url):
        env = {k: v for k, v in os.environ.items() if k != "SPARK_REMOTE"}
        self.proc = subprocess.Popen([sys.executable, "-c", PROBE, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env, preexec_fn=die_with_parent, text=True)
        self.lock = threading.Lock()

    def ping(self, timeout):
        with self.lock:
            if self.proc.poll() is not None:
                return False
            answer = []
            try:
                self.proc.stdin.write("ping\n")
                self.proc.stdin.flush()
            except OSError:
                return False
            reader = threading.Thread(target=lambda: answer.append(self.proc.stdout.readline()), daemon=True)
            reader.start()
            reader.join(timeout)
            if reader.is_alive():  # no answer in time: this client is stuck too; a new one next time
                self.proc.kill()
                return False
            return bool(answer) and answer[0].startswith("ok")

    def close(self):
        self.proc.kill()
        self.proc.wait()


class Watchdog(threading.Thread):
    """Every ``interval`` s, is the server healthy? Twice not: ``on_failure(reason)`` (which restarts it)."""

    def __init__(self, server, on_failure, interval=3.0, timeout=30.0):
        super().__init__(daemon=True)
        self.server, self.on_failure, self.interval, self.timeout = server, on_failure, interval, timeout
        self.halt = threading.Event()

    def run(self):
        misses = 0
        while not self.halt.wait(self.interval):
            if not self.server.alive():
                reason = "the shared Spark server died"
            elif stopped(self.server.proc.pid):
                reason = "the shared Spark server was stopped"
            elif not self.server.probe or not self.server.probe.ping(self.timeout):
                if self.server.probe is not None and self.server.probe.proc.poll() is not None:
                    self.server.probe = Probe(self.server.url)
                misses += 1
                if misses < 2:
                    continue
                reason = f"the shared Spark server did not answer a trivial query within {self.timeout:g} s"
            else:
                misses = 0
                continue
            misses = 0
            try:
                self.on_failure(reason)
            except Exception as error:  # noqa: BLE001 - the watchdog must outlive what it reports
                print(f"watchdog: handling '{reason}' failed: {error}", file=sys.stderr, flush=True)

    def stop(self):
        self.halt.set()

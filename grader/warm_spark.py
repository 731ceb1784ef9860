"""A warm Spark Connect server for grading, started with Spark's own script inside a bubblewrap sandbox.

Kernels that grade submissions connect to it (SPARK_REMOTE) instead of starting a JVM each. The
server sees the course data read-only and a scratch folder, not the course directory: a
submission cannot read solutions through Spark either. Each kernel gets its own Spark Connect
session; `spark.stop()` in a submission ends that session only.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyspark

from .course import ROOT


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WarmSpark:
    def __init__(self, scratch, hide=(), cores=2):
        self.scratch = Path(scratch)
        self.hide = [str(p) for p in hide]
        self.cores = cores
        self.port = None
        self.proc = None
        self.generation = 0  # goes up at every (re)start

    @property
    def url(self):
        return f"sc://127.0.0.1:{self.port}"

    def command(self):
        spark_home = Path(pyspark.__file__).parent
        script = [str(spark_home / "sbin" / "start-connect-server.sh"), "--wait",
                  "--master", f"local[{self.cores}]",
                  "--conf", f"spark.connect.grpc.binding.port={self.port}",
                  "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
                  "--conf", "spark.ui.enabled=false",
                  "--conf", "spark.scheduler.mode=FAIR",  # one busy submission does not starve the others
                  "--conf", "spark.sql.shuffle.partitions=4",
                  "--conf", f"spark.sql.warehouse.dir={self.scratch / 'warehouse'}",
                  "--conf", f"spark.local.dir={self.scratch / 'local'}",
                  "--conf", "spark.driver.memory=3g",
                  # Many small queries, for a few minutes: C2's compiling is never paid back. C1 alone
                  # costs about 30% less server CPU per notebook graded (measured on lesson 00).
                  "--driver-java-options", "-XX:TieredStopAtLevel=1",
                  "--conf", "spark.log.level=WARN"]  # not a line per request; the log keeps what went wrong
        if not shutil.which("bwrap"):
            return script
        sandbox = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
                   "--unshare-pid", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]  # a UDF runs in here
        for path in self.hide:
            sandbox += ["--tmpfs", path]
        for path in (sys.prefix, str(ROOT / "data")):
            sandbox += ["--ro-bind", path, path]
        sandbox += ["--bind", str(self.scratch), str(self.scratch), "--chdir", str(self.scratch)]
        return sandbox + ["--"] + script

    def start(self, timeout=120):
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        env = dict(os.environ, SPARK_LOG_DIR=str(self.scratch / "logs"), SPARK_PID_DIR=str(self.scratch),
                   SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=sys.executable)
        env.pop("SPARK_REMOTE", None)
        self.log = open(self.scratch / "connect-server.log", "ab")
        self.proc = subprocess.Popen(self.command(), env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the Spark Connect server exited; see {self.scratch / 'connect-server.log'}")
            if self.answers():
                self.generation += 1
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the Spark Connect server did not answer within {timeout} s")

    def answers(self):
        """True when a client can run a query (the port alone opens before the server is ready)."""
        with socket.socket() as s:
            s.settimeout(1)
            if s.connect_ex(("127.0.0.1", self.port)) != 0:
                return False
        probe = subprocess.run(
            [sys.executable, "-c", f"from pyspark.sql import SparkSession as S; "
                                   f"s = S.builder.remote('{self.url}').getOrCreate(); s.range(1).count(); s.stop()"],
            capture_output=True, timeout=60, env={k: v for k, v in os.environ.items() if k != "SPARK_REMOTE"})
        return probe.returncode == 0

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
        self.proc = None

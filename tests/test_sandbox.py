"""The sandbox's parts on their own: the shared Spark server (its read-only catalog, its watchdog) and the kernels
(forked from the zygote or started plainly, each in its sandbox, reachable only over IPC)."""

import json
import os
import shutil
import signal
import socket
import sys
import time
import uuid

import pytest

from grader.common import wait_until
from grader.course import tool_env
from grader.grade.batch import install_kernelspec
from grader.grade.nbgrader_run import KERNEL_NAME
from grader.sandbox.spark_server import WarmSpark, Watchdog, descendants
from grader.sandbox.zygote import KernelZygote

pytestmark = [pytest.mark.grading,
              pytest.mark.skipif(not shutil.which("bwrap"), reason="bubblewrap is not installed (.ci/run installs it)")]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    saved = dict(os.environ)  # a Connect client sets SPARK_CONNECT_MODE_ENABLED for the whole process
    warm = WarmSpark(tmp_path_factory.mktemp("server")).start()
    yield warm
    warm.stop()
    os.environ.clear()
    os.environ.update(saved)


def session(server):
    from pyspark.sql import SparkSession

    return SparkSession.builder.remote(f"{server.url}/;session_id={uuid.uuid4()}").create()


def outcome(spark, sql):
    try:
        spark.sql(sql).collect()
        return "ok"
    except Exception as error:  # noqa: BLE001 - the message is what the test reads
        return str(error).splitlines()[0]


def test_one_session_can_neither_change_nor_show_another_its_catalog(server):
    a, b = session(server), session(server)
    a.range(3).createOrReplaceTempView("mine")
    assert a.table("mine").count() == 3, "a session's own temporary view must work"
    for sql in ("CREATE OR REPLACE GLOBAL TEMP VIEW g AS SELECT 1 AS x", "CREATE OR REPLACE VIEW default.v AS SELECT 1 AS x",
                "CREATE TABLE default.t (x string)", "CREATE DATABASE d", "CREATE FUNCTION f AS 'java.lang.String'",
                "ADD JAR /tmp/anything.jar", "SELECT reflect('java.lang.System', 'getenv', 'HOME')"):
        assert "not allowed" in outcome(a, sql), sql
    with pytest.raises(Exception, match="read-only"):
        a.range(3).write.saveAsTable("saved")
    assert b.sql("SHOW VIEWS").collect() == [] and b.sql("SHOW TABLES").collect() == []
    assert [r[0] for r in b.sql("SHOW DATABASES").collect()] == ["default"]
    assert "TABLE_OR_VIEW_NOT_FOUND" in outcome(b, "SELECT * FROM mine")
    a.stop()
    b.stop()


def test_a_stopped_server_is_seen_within_seconds(tmp_path):
    warm = WarmSpark(tmp_path / "frozen").start()
    seen = []
    watchdog = Watchdog(warm, seen.append, interval=1.0, timeout=5.0)
    watchdog.start()
    try:
        java = [p for p in descendants(warm.proc.pid) if b"java" in open(f"/proc/{p}/cmdline", "rb").read()]
        assert java, "no JVM under the server"
        started = time.monotonic()
        for pid in java:
            os.kill(pid, signal.SIGSTOP)
        wait_until(lambda: seen, timeout=20, what="the watchdog to see the stopped server")
        assert "stopped" in seen[0] and time.monotonic() - started < 10, (seen, time.monotonic() - started)
    finally:
        watchdog.stop()
        warm.stop()
    assert not warm.alive()


def sandboxed_kernel_says(tmp_path, monkeypatch, zygote_socket):
    """Start a kernel as nbgrader does when grading (the sandbox's kernelspec, IPC), run probes, return outputs."""
    from jupyter_client.manager import KernelManager

    course, scratch = tmp_path / "course", tmp_path / "scratch"
    workdir = course / "autograded" / "x" / "lesson"
    workdir.mkdir(parents=True)
    (course / "gradebook.db").write_text("secret")
    (scratch / "runtime").mkdir(parents=True)
    env = tool_env(SANDBOX_ZYGOTE=zygote_socket, JUPYTER_PATH=install_kernelspec(scratch / "spec"),
                   GRADER_SECRET="s3cr3t")
    monkeypatch.setenv("JUPYTER_PATH", env["JUPYTER_PATH"])
    manager = KernelManager(kernel_name=KERNEL_NAME, transport="ipc",
                            connection_file=str(scratch / "runtime" / "kernel.json"))
    manager.ip = str(scratch / "runtime" / "k")
    manager.start_kernel(cwd=str(workdir), env=env)
    client = manager.client()
    client.start_channels()
    listener = socket.create_server(("127.0.0.1", 0))  # a port of this machine's loopback: out of the kernel's reach
    port = listener.getsockname()[1]
    try:
        client.wait_for_ready(timeout=120)
        code = ("import os, sys, json, socket\n"
                "status = dict(line.split(':\\t', 1) for line in open('/proc/self/status').read().splitlines())\n"
                f"reached = socket.socket().connect_ex(('127.0.0.1', {port})) == 0\n"
                "print(json.dumps([os.getppid(), 'grader.sandbox.kernel' in sys.modules, int(status['CapEff'], 16),"
                f" status['NoNewPrivs'].strip(), os.path.exists({str(course / 'gradebook.db')!r}), os.getcwd(),"
                " 'GRADER_SECRET' in os.environ, reached]))")
        printed, shown = [], []
        client.execute_interactive(code, timeout=60, output_hook=lambda m: printed.append(m["content"].get("text", "")))
        client.execute_interactive("import matplotlib.pyplot as plt\nplt.plot([1, 2])", timeout=60,
                                   output_hook=lambda m: shown.append(m["content"].get("data", {})))
    finally:
        listener.close()
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return json.loads("".join(printed)), any("image/png" in data for data in shown)


def test_a_kernel_forked_from_the_zygote_is_inside_its_sandbox(tmp_path, monkeypatch):
    """The zygote's kernel is a real ipykernel, forked (no re-import), in the sandbox, with no capabilities."""
    zygote = KernelZygote(tmp_path / "zygote").start()
    try:
        assert zygote.ready(), (tmp_path / "zygote" / "zygote.log").read_text()
        said, figure = sandboxed_kernel_says(tmp_path, monkeypatch, zygote.socket_path)
    finally:
        zygote.stop()
    # parent outside its PID namespace, the zygote's modules inherited, nothing to escalate, nothing hidden
    # visible, its own /tmp, none of the grader's variables, no port of the machine's loopback reachable
    assert said == [0, True, 0, "1", False, "/tmp/work", False, False], said
    assert figure


def test_without_its_zygote_a_kernel_starts_the_plain_way_in_the_same_sandbox(tmp_path, monkeypatch):
    said, figure = sandboxed_kernel_says(tmp_path, monkeypatch, str(tmp_path / "no-zygote.sock"))
    assert said[0] != 0 and said[1:] == [False, 0, "1", False, "/tmp/work", False, False], said
    assert figure


def test_the_processes_of_a_sandboxed_run_die_with_it(tmp_path):
    """bwrap started by a process that is then killed: nothing of the sandbox outlives it."""
    import subprocess

    from grader.sandbox.policy import bwrap_command, submission_policy

    policy = submission_policy()
    command = bwrap_command(policy, ["sh", "-c", "sleep 300 & sleep 300"], policy.files_dir(tmp_path))
    parent = subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time; "
                               f"subprocess.Popen({command!r}); time.sleep(300)"], start_new_session=True)
    wait_until(lambda: len(descendants(parent.pid)) >= 4, timeout=30, what="the sandbox to start")
    inside = descendants(parent.pid)[1:]
    parent.kill()
    parent.wait()
    wait_until(lambda: not [p for p in inside if os.path.exists(f"/proc/{p}")], timeout=10,
               what="the sandbox's processes to end")

"""A real multi-process Spark cluster from the pip-installed PySpark: `make cluster-up`'s code, lesson 00
run through it as a standalone-cluster client and through Spark Connect, both workers doing work.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from grader.cluster import local as local_cluster
from grader.common import free_ports

ROOT = Path(__file__).resolve().parents[1]

LESSON = "00_spark_for_pandas_users"
pytestmark = pytest.mark.cluster



def processes_working_in(folder):
    """Live processes whose working directory is inside folder: the cluster's, its executors, their Pythons."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if Path(os.readlink(proc / "cwd")).is_relative_to(folder) and local_cluster.alive(int(proc.name)):
                found.append((int(proc.name), (proc / "cmdline").read_bytes()[:80]))
        except OSError:
            continue
    return found


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    state = tmp_path_factory.mktemp("cluster")
    ports = free_ports(local_cluster.PORTS)
    record = local_cluster.up(state, ports)
    yield state, record
    stopped = local_cluster.down(state)
    assert {p["name"] for p in stopped} == {"master", "worker1", "worker2", "connect"}
    assert not any(local_cluster.alive(p["pid"]) for p in record["processes"]), "a cluster process was left behind"
    assert not processes_working_in(state), f"left behind: {processes_working_in(state)}"


def run_lesson(tmp_path, state=None, **env):
    """Execute lesson 00's solution in a fresh kernel with only these variables set (the session factory
    finds the cluster's secret and token in `state`, as it finds build/cluster/ after `make cluster-up`);
    return its outputs' errors, its printed text and the seconds it took."""
    out = tmp_path / "executed.ipynb"
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("SPARK_REMOTE", "SPARK_MASTER", "SPARK_CONF_DIR", "SPARK_CONNECT_AUTHENTICATE_TOKEN")}
    environment.update(env, SPARKCOURSE_UI="0", PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    if state:
        environment["SPARKCOURSE_CLUSTER"] = str(state)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                    "--ExecutePreprocessor.timeout=180", "--output", str(out),
                    str(ROOT / "solutions" / LESSON / f"{LESSON}.ipynb")],
                   env=environment, check=True, capture_output=True, cwd=tmp_path)
    seconds = time.perf_counter() - start
    nb = nbformat.read(out, as_version=4)
    errors = [f"{o.ename}: {o.evalue}" for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    return errors, text, seconds


def finished_tasks(state, app_name_part, record):
    """Per worker: how many tasks executors of the app, run by that worker, logged as finished.

    The master's /json lists the app; each worker keeps its executors' logs in its work folder
    (<worker>/<app id>/<executor id>/stderr), so a count there was done in that worker's process tree.
    """
    master = local_cluster.master_json(record["ports"])
    apps = {a["id"] for a in master["activeapps"] + master["completedapps"] if app_name_part in a["name"]}
    assert apps, f"the master lists no application named like {app_name_part!r}"
    return {worker: sum(p.read_text(errors="replace").count("Finished task")
                        for app in apps for p in (state / worker / app).glob("*/stderr"))
            for worker in ("worker1", "worker2")}


def test_the_same_lesson_runs_in_local_mode(tmp_path):
    errors, _, _ = run_lesson(tmp_path)
    assert not errors, errors


def test_status_endpoint_lists_two_live_workers(cluster):
    state, record = cluster
    assert len(local_cluster.alive_workers(record["ports"])) == 2
    conf = (Path(record["conf"]) / "spark-defaults.conf").read_text()
    assert "spark.authenticate true" in conf and "spark.master.rest.enabled false" in conf
    for private in (state / "secret", state / "connect-token", Path(record["conf"]) / "spark-defaults.conf"):
        assert oct(private.stat().st_mode)[-3:] == "600", f"{private} is readable by others"
    printed = local_cluster.describe(record) + local_cluster.status(state)
    assert "status http://127.0.0.1:" in printed and str(state / "logs") in printed and "running" in printed


def test_a_second_cluster_up_explains_itself(cluster):
    state, record = cluster
    with pytest.raises(local_cluster.ClusterError, match="still running"):
        local_cluster.up(state, record["ports"])


def test_lesson_runs_as_a_standalone_cluster_client(cluster, tmp_path):
    state, record = cluster
    errors, text, seconds = run_lesson(tmp_path, state, SPARK_MASTER=record["master_url"])
    assert not errors, errors
    assert "running in cluster spark://127.0.0.1" in text
    done = finished_tasks(state, "spark-ml-course", record)
    assert done["worker1"] > 0 and done["worker2"] > 0, f"finished tasks per worker: {done}"


def test_lesson_runs_through_spark_connect(cluster, tmp_path):
    state, record = cluster
    before = finished_tasks(state, "Spark Connect", record)
    # 127.0.0.1 as a student would type it: the factory adds the token and talks to "localhost".
    errors, text, seconds = run_lesson(tmp_path, state, SPARK_REMOTE=f"sc://127.0.0.1:{record['ports']['connect']}")
    assert not errors, errors
    assert "running in connect sc://127.0.0.1" in text
    after = finished_tasks(state, "Spark Connect", record)
    assert all(after[w] > before[w] for w in after), f"finished tasks per worker before {before}, after {after}"


def test_spark_connect_refuses_a_client_without_the_token(cluster):
    _, record = cluster
    code = ("from pyspark.sql import SparkSession\n"
            f"SparkSession.builder.remote('sc://localhost:{record['ports']['connect']}').getOrCreate().range(1).count()\n")
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "SPARK_CONNECT_AUTHENTICATE_TOKEN")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "UNAUTHENTICATED" in result.stderr, result.stderr[-2000:]


def test_the_master_refuses_a_client_without_the_rpc_secret(cluster, tmp_path):
    """A classic client without the cluster's spark-defaults.conf is turned away by SASL authentication.
    (Spark would retry for a minute before giving up: the test stops at the first refusal.)"""
    _, record = cluster
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "SPARK_CONF_DIR")}
    env.update(SPARK_MASTER=record["master_url"], SPARKCOURSE_CLUSTER=str(tmp_path / "none"), SPARKCOURSE_UI="0",
               TMPDIR=str(tmp_path))
    client = subprocess.Popen([sys.executable, "-c", "from sparkcourse import get_spark; get_spark()"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    log = tmp_path / f"sparkcourse-spark-{client.pid}.log"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and client.poll() is None:
            if log.exists() and "does not have SASL enabled" in log.read_text(errors="replace"):
                break
            time.sleep(0.5)
        text = log.read_text(errors="replace") if log.exists() else ""
        assert "Failed to connect to master" in text and "does not have SASL enabled" in text, text[-3000:]
    finally:
        os.killpg(client.pid, signal.SIGKILL)
        client.wait()


def test_a_lesson_that_needs_rdds_falls_back_clearly(cluster):
    state, record = cluster
    code = ("from sparkcourse import get_spark\n"
            "spark = get_spark(needs_classic='RDDs')\n"
            "print('sum', spark.sparkContext.parallelize(range(10)).sum())\n")
    env = dict(os.environ, SPARK_REMOTE=f"sc://127.0.0.1:{record['ports']['connect']}", SPARKCOURSE_UI="0",
               SPARKCOURSE_CLUSTER=str(state))
    env.pop("SPARK_MASTER", None)
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "This lesson needs RDDs, which Spark Connect does not provide: using a classic session in local mode" \
        in result.stdout
    assert "sum 45" in result.stdout


def test_the_factory_gives_a_clusters_secret_and_token_to_that_cluster_only(tmp_path, monkeypatch):
    from sparkcourse import session

    local_cluster.client_info(tmp_path, "spark://127.0.0.1:7177", "sc://localhost:15102")
    (tmp_path / "connect-token").write_text("t0ken")
    monkeypatch.setenv("SPARKCOURSE_CLUSTER", str(tmp_path))
    monkeypatch.delenv("SPARK_CONNECT_AUTHENTICATE_TOKEN", raising=False)
    assert session._cluster_conf_dir("spark://localhost:7177") == str(tmp_path / "conf")
    assert session._cluster_conf_dir("spark://bigger-cluster:7177") is None
    assert session._cluster_conf_dir("spark://127.0.0.1:7077") is None
    assert session._connect_url("sc://bigger-cluster:15102") == "sc://bigger-cluster:15102"
    assert "SPARK_CONNECT_AUTHENTICATE_TOKEN" not in os.environ
    try:
        assert session._connect_url("sc://127.0.0.1:15102/;user_id=ann") == "sc://localhost:15102/;user_id=ann"
        assert os.environ["SPARK_CONNECT_AUTHENTICATE_TOKEN"] == "t0ken"
    finally:
        os.environ.pop("SPARK_CONNECT_AUTHENTICATE_TOKEN", None)


def test_down_never_stops_a_process_that_reused_a_recorded_id(tmp_path):
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        process = {"name": "worker1", "pid": stranger.pid, "started": local_cluster.start_time(stranger.pid) - 1,
                   "log": str(tmp_path / "w.log")}
        (tmp_path / "cluster.json").write_text(json.dumps({"processes": [process]}))
        assert local_cluster.down(tmp_path) == []
        assert stranger.poll() is None, "down stopped a process it did not start"
    finally:
        stranger.kill()
        stranger.wait()


def test_ports_in_use_get_a_clear_message(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        ports = dict(free_ports(local_cluster.PORTS), master=busy.getsockname()[1])
        with pytest.raises(local_cluster.ClusterError, match=r"ports already in use on 127.0.0.1: master"):
            local_cluster.up(tmp_path, ports)


def test_master_json_is_reachable(cluster):
    _, record = cluster
    with urllib.request.urlopen(f"http://127.0.0.1:{record['ports']['master_ui']}/json/", timeout=5) as response:
        assert json.load(response)["status"] == "ALIVE"

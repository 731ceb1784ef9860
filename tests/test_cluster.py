"""A real multi-process Spark cluster from the pip-installed PySpark: `make cluster-up`'s code, lesson 00
run through it as a standalone-cluster client and through Spark Connect, both workers doing work.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docker"))
import local_cluster  # noqa: E402

LESSON = "00_spark_for_pandas_users"
TIMES = {}
pytestmark = pytest.mark.xdist_group("cluster")  # one cluster, one worker


def free_ports(names):
    sockets, ports = [], {}
    for name in names:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
        ports[name] = s.getsockname()[1]
    for s in sockets:
        s.close()
    return ports


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    state = tmp_path_factory.mktemp("cluster")
    ports = free_ports(local_cluster.PORTS)
    start = time.perf_counter()
    record = local_cluster.up(state, ports)
    TIMES["cluster up"] = time.perf_counter() - start
    yield state, record
    stopped = local_cluster.down(state)
    assert {p["name"] for p in stopped} == {"master", "worker1", "worker2", "connect"}
    assert not any(local_cluster.alive(p["pid"]) for p in record["processes"]), "a cluster process was left behind"
    (ROOT / "build").mkdir(exist_ok=True)
    (ROOT / "build" / "cluster-times.json").write_text(json.dumps(TIMES, indent=1) + "\n")


def run_lesson(tmp_path, **env):
    """Execute lesson 00's solution in a fresh kernel with these variables; return its outputs' errors and text."""
    out = tmp_path / "executed.ipynb"
    environment = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "SPARK_MASTER")}
    environment.update(env, SPARKCOURSE_UI="0", PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
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


def executors_with_finished_tasks(state, app_name_part, record):
    """Per worker: does an executor of the app, in that worker's folder, log finished tasks?"""
    master = local_cluster.master_json(record["ports"])
    apps = {a["id"] for a in master["activeapps"] + master["completedapps"] if app_name_part in a["name"]}
    found = {}
    for worker in ("worker1", "worker2"):
        logs = [p for app in apps for p in (state / worker / app).glob("*/stderr")]
        found[worker] = any("Finished task" in p.read_text(errors="replace") for p in logs)
    return found


def test_status_endpoint_lists_two_live_workers(cluster):
    state, record = cluster
    assert len(local_cluster.alive_workers(record["ports"])) == 2
    conf = (Path(record["conf"]) / "spark-defaults.conf").read_text()
    assert "spark.authenticate true" in conf and "spark.master.rest.enabled false" in conf


def test_a_second_cluster_up_explains_itself(cluster):
    state, record = cluster
    with pytest.raises(local_cluster.ClusterError, match="still running"):
        local_cluster.up(state, record["ports"])


def test_lesson_runs_as_a_standalone_cluster_client(cluster, tmp_path):
    state, record = cluster
    errors, text, seconds = run_lesson(tmp_path, SPARK_MASTER=f"spark://127.0.0.1:{record['ports']['master']}",
                                       SPARK_CONF_DIR=record["conf"])
    TIMES["lesson 00 as cluster client"] = seconds
    assert not errors, errors
    assert "running in cluster spark://127.0.0.1" in text
    assert executors_with_finished_tasks(state, "spark-ml-course", record) == {"worker1": True, "worker2": True}


def test_lesson_runs_through_spark_connect(cluster, tmp_path):
    state, record = cluster
    errors, text, seconds = run_lesson(tmp_path, SPARK_REMOTE=f"sc://127.0.0.1:{record['ports']['connect']}")
    TIMES["lesson 00 through Spark Connect"] = seconds
    assert not errors, errors
    assert "running in connect sc://127.0.0.1" in text
    assert executors_with_finished_tasks(state, "Spark Connect", record) == {"worker1": True, "worker2": True}


def test_a_lesson_that_needs_rdds_falls_back_clearly(cluster):
    _, record = cluster
    code = ("from sparkcourse import get_spark\n"
            "spark = get_spark(needs_classic='RDDs')\n"
            "print('sum', spark.sparkContext.parallelize(range(10)).sum())\n")
    env = dict(os.environ, SPARK_REMOTE=f"sc://127.0.0.1:{record['ports']['connect']}", SPARKCOURSE_UI="0")
    env.pop("SPARK_MASTER", None)
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "This lesson needs RDDs, which Spark Connect does not provide" in result.stdout
    assert "sum 45" in result.stdout


def test_ports_in_use_get_a_clear_message(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        ports = dict(free_ports(local_cluster.PORTS), master=busy.getsockname()[1])
        with pytest.raises(local_cluster.ClusterError, match=r"ports already in use on 127.0.0.1: master"):
            local_cluster.up(tmp_path, ports)


def test_local_mode_time_for_comparison(tmp_path):
    errors, _, seconds = run_lesson(tmp_path)
    TIMES["lesson 00 in local mode"] = seconds
    assert not errors, errors


def test_master_json_is_reachable(cluster):
    _, record = cluster
    with urllib.request.urlopen(f"http://127.0.0.1:{record['ports']['master_ui']}/json/", timeout=5) as response:
        assert json.load(response)["status"] == "ALIVE"

"""Start, stop and show the course's Spark cluster without Docker, on 127.0.0.1.

A standalone master, two workers and a Spark Connect server from the pip-installed PySpark, each
run by docker/entrypoint.sh as in the image.

    python -m grader.cluster up|down|status [--state build/cluster]
    python -m grader.cluster docker-config --state build/docker   (what make docker-up runs first:
                                                                   grader/cluster/docker_config.py)

`up` writes a fresh RPC secret, a Spark Connect token and spark-defaults.conf into the state
folder, records each process id (with its start time, so a reused id is never stopped), waits until
the master lists both workers and Spark Connect answers, and prints where everything is. `down`
stops exactly the recorded processes. `client.json` in the state folder tells the course's session
factory (sparkcourse/session.py) which conf and token belong to which URL.
"""

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ..common import listening, wait_until

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DEFAULT_STATE = ROOT / "build" / "cluster"
PORTS = {"master": 7077, "master_ui": 8080, "worker1_ui": 8081, "worker2_ui": 8082, "connect": 15002}


class ClusterError(Exception):
    """A problem stated in one sentence for the person who typed the command."""


def start_time(pid):
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def ours(process):
    """Is the recorded process still the one we started (not a later process that got its id)?"""
    return alive(process["pid"]) and start_time(process["pid"]) == process.get("started")


def alive(pid):
    """True while the process runs (a finished child of ours is reaped, a zombie counts as stopped)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0]:
            return False
    except ChildProcessError:
        pass  # not our child: ask the system
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "\nState:\tZ" in status.read_text())


def read_state(state):
    path = state / "cluster.json"
    return json.loads(path.read_text()) if path.exists() else None


def write_private(path, text):
    """Create or replace a file readable by its owner only, never briefly readable by others."""
    path.unlink(missing_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
        f.write(text)


def write_conf(state, secret):
    """spark-defaults.conf shared by master, workers, the Connect server and notebook clients."""
    conf = state / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    write_private(state / "secret", secret)
    write_private(conf / "spark-defaults.conf", "\n".join([
        "# Written by docker/local_cluster.py up: RPC authentication with this cluster's own secret.",
        "spark.authenticate true",
        f"spark.authenticate.secret {secret}",
        "spark.master.rest.enabled false",
        # Two apps at once (the Connect server and a notebook) share two workers of 2 cores each.
        "spark.cores.max 2",
        "spark.executor.cores 1",
        "spark.executor.memory 768m",
        "spark.sql.shuffle.partitions 4",
        "spark.ui.showConsoleProgress false",
        "",
    ]))
    return conf


def client_info(state, master, connect):
    """What the session factory needs to use this cluster: which URL gets which conf and token."""
    info = {"master": master, "connect": connect, "conf": str(state / "conf"),
            "token_file": str(state / "connect-token")}
    (state / "client.json").write_text(json.dumps(info, indent=1) + "\n")


def up(state, ports=PORTS, timeout=120):
    state = Path(state).resolve()
    previous = read_state(state)
    if previous and any(ours(p) for p in previous["processes"]):
        raise ClusterError(f"a cluster started by `make cluster-up` is still running (state in {state}): "
                           "run `make cluster-down` first")
    taken = [f"{name} ({port})" for name, port in ports.items() if listening(port)]
    if taken:
        raise ClusterError(f"ports already in use on 127.0.0.1: {', '.join(taken)}; stop what uses them "
                           "(`make cluster-status` shows whether it is a cluster of ours) or pass other ports")
    start = time.perf_counter()
    (state / "logs").mkdir(parents=True, exist_ok=True)
    conf = write_conf(state, secrets.token_hex(32))
    token = secrets.token_hex(32)
    write_private(state / "connect-token", token)
    base = dict(os.environ, SPARK_CONF_DIR=str(conf), SPARK_MASTER_HOST="127.0.0.1", SPARK_LOCAL_IP="127.0.0.1",
                SPARK_MASTER_PORT=str(ports["master"]), SPARK_MASTER_WEBUI_PORT=str(ports["master_ui"]),
                SPARK_CONNECT_PORT=str(ports["connect"]), SPARK_LOG_DIR=str(state / "logs"),
                PYSPARK_PYTHON=sys.executable, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    for variable in ("SPARK_REMOTE", "SPARK_MASTER", "SPARK_CONNECT_MODE_ENABLED", "SPARK_CONNECT_AUTHENTICATE_TOKEN"):
        base.pop(variable, None)
    roles = [
        ("master", {}),
        ("worker", {"SPARK_WORKER_WEBUI_PORT": str(ports["worker1_ui"]), "SPARK_WORKER_DIR": str(state / "worker1")}),
        ("worker", {"SPARK_WORKER_WEBUI_PORT": str(ports["worker2_ui"]), "SPARK_WORKER_DIR": str(state / "worker2")}),
        # Spark Connect (Spark 4) checks a pre-shared bearer token; from the environment, so never in `ps`.
        ("connect", {"SPARK_CONNECT_AUTHENTICATE_TOKEN": token}),
    ]
    processes = []
    record = {"ports": ports, "processes": processes, "conf": str(conf),
              "master_url": f"spark://127.0.0.1:{ports['master']}",
              # PySpark sends a token without TLS only to "localhost" (Spark Connect has no TLS of its own).
              "connect_url": f"sc://localhost:{ports['connect']}"}
    try:
        for index, (role, extra) in enumerate(roles):
            name = f"{role}{index if role == 'worker' else ''}"
            log_path = state / "logs" / f"{name}.log"
            with open(log_path, "ab") as log:
                proc = subprocess.Popen([str(ROOT / "docker" / "entrypoint.sh"), role], env=dict(base, **extra), stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True, cwd=state)
            processes.append({"name": name, "pid": proc.pid, "started": start_time(proc.pid), "log": str(log_path)})
            (state / "cluster.json").write_text(json.dumps(record, indent=1))
            if role == "master":
                wait_for(lambda: listening(ports["master"]), timeout, "the master to listen", processes)
            if name == "worker2":
                wait_for(lambda: len(alive_workers(ports)) == 2, timeout, "both workers to register", processes)
        wait_for(lambda: connect_answers(ports["connect"], token), timeout, "Spark Connect to answer", processes)
    except BaseException:
        down(state)
        raise
    client_info(state, record["master_url"], record["connect_url"])
    record["started_in_s"] = round(time.perf_counter() - start, 1)
    (state / "cluster.json").write_text(json.dumps(record, indent=1))
    return record


def wait_for(condition, timeout, what, processes):
    """wait_until the condition holds, failing at once (with its log) if a process of the cluster exits."""
    def ready():
        dead = [p for p in processes if not alive(p["pid"])]
        if dead:
            raise ClusterError(f"{dead[0]['name']} exited while waiting for {what}; see {dead[0]['log']}")
        return condition()

    try:
        wait_until(ready, timeout, interval=0.25, what=what)
    except TimeoutError:
        raise ClusterError(f"gave up after {timeout} s waiting for {what}; logs in {Path(processes[0]['log']).parent}") from None


def master_json(ports):
    with urllib.request.urlopen(f"http://127.0.0.1:{ports['master_ui']}/json/", timeout=5) as response:
        return json.load(response)


def alive_workers(ports):
    try:
        return [w for w in master_json(ports)["workers"] if w["state"] == "ALIVE"]
    except OSError:
        return []


def connect_answers(port, token):
    """Does the Connect server run a query for a client holding the token? (A fresh process: PySpark
    keeps one Connect session per process.)"""
    if not listening(port):
        return False
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED")}
    env["SPARK_CONNECT_AUTHENTICATE_TOKEN"] = token
    probe = subprocess.run(
        [sys.executable, "-c", "from pyspark.sql import SparkSession as S; "
                               f"s = S.builder.remote('sc://localhost:{port}').getOrCreate(); s.range(1).count()"],
        capture_output=True, timeout=120, env=env)
    return probe.returncode == 0


def down(state):
    """Stop exactly the processes `up` recorded (each with its process group: a worker's executors,
    the Connect server's Python workers), then forget them."""
    state = Path(state)
    record = read_state(state)
    if not record:
        return []
    stopped = []
    for process in reversed(record["processes"]):
        if ours(process):
            try:
                os.killpg(process["pid"], signal.SIGTERM)
            except ProcessLookupError:
                continue
            stopped.append(process)
    deadline = time.monotonic() + 30
    while any(alive(p["pid"]) for p in stopped) and time.monotonic() < deadline:
        time.sleep(0.2)
    for process in stopped:
        if alive(process["pid"]):
            os.killpg(process["pid"], signal.SIGKILL)
    (state / "cluster.json").unlink(missing_ok=True)
    (state / "client.json").unlink(missing_ok=True)
    return stopped


def describe(record):
    ports = record["ports"]
    lines = [
        f"Spark cluster up in {record.get('started_in_s', '?')} s:",
        f"  master      {record['master_url']}   status http://127.0.0.1:{ports['master_ui']}",
        f"  workers     http://127.0.0.1:{ports['worker1_ui']}  http://127.0.0.1:{ports['worker2_ui']}",
        f"  connect     {record['connect_url']}   (token in {Path(record['conf']).parent / 'connect-token'})",
        f"  logs        {Path(record['processes'][0]['log']).parent}",
        "Use it from the same notebooks (one variable; get_spark() finds the secret and the token):",
        f"  SPARK_REMOTE={record['connect_url']} make lab      # through Spark Connect",
        f"  SPARK_MASTER={record['master_url']} make lab    # as a standalone-cluster client",
        "Stop it with: make cluster-down",
    ]
    return "\n".join(lines)


def status(state):
    record = read_state(state)
    if not record:
        return "no cluster is running (make cluster-up starts one)"
    lines = [f"  {p['name']:8s} pid {p['pid']:7d} {'running' if ours(p) else 'STOPPED'}  log {p['log']}"
             for p in record["processes"]]
    lines.append(f"  workers alive: {len(alive_workers(record['ports']))}   master {record['master_url']}   "
                 f"connect {record['connect_url']}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "status", "docker-config"])
    parser.add_argument("--state", type=Path, default=DEFAULT_STATE, help="folder for pids, logs, secret and conf")
    docker = parser.add_argument_group("docker-config (grader/cluster/docker_config.py)")
    docker.add_argument("--notebooks", type=Path, help="the folder the lab mounts (default: the clone's notebooks/)")
    docker.add_argument("--image", default="spark-ml-course:local", help="the image every container runs")
    docker.add_argument("--project", default="spark-ml-course", help="the compose project's name")
    docker.add_argument("--free-ports", action="store_true", help="publish on free ports instead of 8888, 15002, 8080-8082")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            print(describe(up(args.state)))
        elif args.command == "docker-config":
            from . import docker_config  # imports this module: loaded on demand

            docker_config.main(args)
        elif args.command == "down":
            stopped = down(args.state)
            print(f"stopped {', '.join(p['name'] for p in stopped)}" if stopped else "no cluster was running")
        else:
            print(status(args.state))
    except ClusterError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

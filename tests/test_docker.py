"""What can be checked of the Docker image, the compose file and Binder without a Docker engine (none runs here).

hadolint lints the Dockerfile; the compose file is validated against the Compose Specification
schema and against the course's own rules; the health check and the entrypoint are run natively
(tests/test_cluster.py runs every Spark role through the same entrypoint). Building and running
the image, and building on Binder, are NOT tested here.
"""

import os
import re
import socket
import stat
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COMPOSE = yaml.safe_load((ROOT / "docker" / "compose.yml").read_text())
DOCKERFILE = (ROOT / "docker" / "Dockerfile").read_text()
ROLES = {"lab", "master", "worker", "connect"}


def test_hadolint_passes():
    result = subprocess.run([str(BIN / "hadolint"), str(ROOT / "docker" / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_file_follows_the_compose_specification():
    result = subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec",
                             str(ROOT / "docker" / "compose.yml")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_has_every_role_and_publishes_only_on_loopback():
    services = COMPOSE["services"]
    assert set(services) == {"master", "worker1", "worker2", "connect", "lab"}
    assert {s["command"][0] for s in services.values()} == ROLES
    for name, service in services.items():
        assert service["image"] == "spark-ml-course:local", f"{name} must run the course image"
        assert service["environment"]["ROLE"] == service["command"][0], f"{name}: the health check reads ROLE"
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond 127.0.0.1"
    assert [s["environment"]["SPARK_WORKER_HOST"] for n, s in services.items() if n.startswith("worker")] == \
        ["worker1", "worker2"]


def test_every_entry_point_asks_for_a_credential():
    services = COMPOSE["services"]
    assert "JUPYTER_TOKEN:?" in services["lab"]["environment"]["JUPYTER_TOKEN"]
    assert "SPARK_CONNECT_AUTHENTICATE_TOKEN:?" in services["connect"]["environment"]["SPARK_CONNECT_AUTHENTICATE_TOKEN"]
    for name, service in services.items():
        assert "../build/docker/conf:/course/conf:ro" in service["volumes"], f"{name} lacks the RPC secret"
        assert service["environment"]["SPARK_CONF_DIR"] == "/course/conf"
    # Notebooks use the cluster as classic clients: PySpark would not send the Connect token to "connect".
    assert services["lab"]["environment"]["SPARK_MASTER"] == "spark://master:7077"
    assert "SPARK_REMOTE" not in services["lab"]["environment"]


def test_student_work_and_data_live_on_the_host():
    volumes = COMPOSE["services"]["lab"]["volumes"]
    assert "../notebooks:/course/notebooks" in volumes, "student work must be on the host"
    assert "../data:/course/data:ro" in volumes


def test_docker_config_writes_a_fresh_secret_and_tokens(tmp_path):
    """docker-up writes these first; the spark-defaults it mounts turns auth on and REST submission off."""
    state = tmp_path / "docker"
    runs = [subprocess.run([sys.executable, str(ROOT / "docker" / "local_cluster.py"), "docker-config", "--state",
                            str(state)], capture_output=True, text=True, check=True) for _ in range(2)]
    conf = (state / "conf" / "spark-defaults.conf").read_text()
    assert "spark.authenticate true" in conf and "spark.master.rest.enabled false" in conf
    secret = re.search(r"spark.authenticate.secret (\w+)", conf).group(1)
    assert len(secret) == 64 and secret == (state / "secret").read_text()
    env = dict(line.split("=", 1) for line in (state / ".env").read_text().splitlines())
    assert set(env) == {"JUPYTER_TOKEN", "SPARK_CONNECT_AUTHENTICATE_TOKEN"}
    assert env["SPARK_CONNECT_AUTHENTICATE_TOKEN"] == (state / "connect-token").read_text()
    assert f"token={env['JUPYTER_TOKEN']}" in runs[1].stdout
    assert runs[0].stdout != runs[1].stdout, "every docker-up must generate new tokens"
    mode = {p: stat.S_IMODE((state / p).stat().st_mode) for p in (".", ".env", "secret", "connect-token")}
    assert mode == {".": 0o700, ".env": 0o600, "secret": 0o600, "connect-token": 0o600}, mode


def test_image_uses_the_single_list_of_pins_and_a_non_root_user():
    assert "COPY requirements.txt pyproject.toml ./" in DOCKERFILE
    assert "pip install --no-cache-dir -r requirements.txt" in DOCKERFILE
    assert re.findall(r"^USER (\S+)", DOCKERFILE, re.M)[-1] == "${NB_USER}"
    assert "HEALTHCHECK" in DOCKERFILE and 'ENTRYPOINT ["tini", "--", "/course/docker/entrypoint.sh"]' in DOCKERFILE


def test_image_holds_nothing_of_the_instructors():
    """Only what the student bundle holds (grader/bundle.py), plus the entrypoint and health check."""
    from grader.bundle import INCLUDE

    copied = [src for line in re.findall(r"^COPY (?:--\S+ )*(.+)$", DOCKERFILE, re.M) for src in line.split()[:-1]]
    allowed = set(INCLUDE) | {"docker/entrypoint.sh", "docker/healthcheck.py"}
    assert copied and all(src.rstrip("/") in allowed for src in copied), copied
    ignore = (ROOT / "docker" / "Dockerfile.dockerignore").read_text().splitlines()
    assert [line for line in ignore if line and not line.startswith("#")][0] == "*", "the context is an allow-list"
    assert {line[1:].rstrip("/") for line in ignore if line.startswith("!")} == {s.rstrip("/") for s in copied}


def test_health_check_answers_for_a_listening_role_only():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        env = dict(os.environ, ROLE="master", SPARK_MASTER_PORT=str(port), SPARK_LOCAL_IP="127.0.0.1")
        check = [sys.executable, str(ROOT / "docker" / "healthcheck.py")]
        assert subprocess.run(check, env=env).returncode == 0
    assert subprocess.run(check, env=env).returncode == 1


def test_entrypoint_knows_its_roles():
    entrypoint = ROOT / "docker" / "entrypoint.sh"
    assert os.access(entrypoint, os.X_OK)
    subprocess.run(["bash", "-n", str(entrypoint)], check=True)
    result = subprocess.run([str(entrypoint), "nonsense"], capture_output=True, text=True,
                            env=dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}"))
    assert result.returncode == 2 and "lab|master|worker|connect" in result.stderr
    assert set(re.findall(r"^  (\w+)\)$", entrypoint.read_text(), re.M)) == ROLES


def test_binder_files_agree_with_the_pins_and_the_image():
    """repo2docker builds from environment.yml (pins checked by test_repository.py) and runs postBuild."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {d.split("=")[0]: d.split("=", 1)[1] for d in env["dependencies"] if isinstance(d, str) and "=" in d}
    makefile = (ROOT / "Makefile").read_text()
    # Java and Python: the same versions for Binder, the image and `make lab`.
    assert conda["openjdk"] == "17" and "openjdk-17-jre-headless" in DOCKERFILE
    assert conda["python"] == "3.11" and "ARG PYTHON_VERSION=3.11" in DOCKERFILE and "PYTHON ?= python3.11" in makefile
    # Java comes from conda-forge; an apt.txt would install a second one.
    assert not (ROOT / "apt.txt").exists() or "openjdk-17" in (ROOT / "apt.txt").read_text()
    post_build = ROOT / "postBuild"
    assert os.access(post_build, os.X_OK)
    install = re.search(r"pip install (--no-deps -e \.)", post_build.read_text()).group(1)
    assert f"pip install --quiet {install}" in makefile, "postBuild installs the helper package as make install does"

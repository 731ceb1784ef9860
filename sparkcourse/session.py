"""The one place where the course makes a SparkSession: local, a standalone cluster, or Spark Connect."""

import os
import tempfile
from pathlib import Path

from .errors import CourseError
from .java import java_problem

LOCAL_CLUSTER_CONF = Path(__file__).resolve().parents[1] / "build" / "cluster" / "conf" / "spark-defaults.conf"

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
        print(
            f"This lesson needs {needs_classic}, which Spark Connect does not provide: "
            f"using a classic session on {os.environ.get('SPARK_MASTER') or 'local mode'} instead of {url}."
        )
        os.environ.pop("SPARK_REMOTE")
        os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)  # PySpark's own switch to Connect
        mode, url = describe_mode()

    if mode == "connect":
        spark = SparkSession.builder.remote(url).appName(app_name).getOrCreate()
        for key in ("spark.sql.shuffle.partitions", "spark.sql.execution.arrow.pyspark.enabled",
                    "spark.sql.session.timeZone"):
            spark.conf.set(key, LAPTOP_CONF[key])
        return spark

    require_java()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # stay on loopback, and no hostname warning
    if mode == "cluster" and "SPARK_CONF_DIR" not in os.environ and LOCAL_CLUSTER_CONF.exists():
        # `make cluster-up` wrote the RPC secret and limits there; spark-submit reads SPARK_CONF_DIR.
        os.environ["SPARK_CONF_DIR"] = str(LOCAL_CLUSTER_CONF.parent)
    builder = SparkSession.builder.master(url).appName(app_name)
    for key, value in LAPTOP_CONF.items():
        builder = builder.config(key, value)
    # The web UI helps students (http://localhost:4040) but only costs time under tests and grading.
    if os.environ.get("NBGRADER_EXECUTION") or os.environ.get("SPARKCOURSE_UI") == "0":
        builder = builder.config("spark.ui.enabled", "false")
    spark = _start_quietly(builder)
    spark.sparkContext.setLogLevel("ERROR")
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

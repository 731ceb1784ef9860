"""Measurements shared by lesson 07 and `make bench`: the UDF ladder, where rows go, and what Python costs.

One computation (Celsius to Fahrenheit, ``x * 1.8 + 32.0``) is written eight ways, from the RDD map
that ships every row to Python and back to the built-in column expression that never leaves the JVM,
with Spark 4's rungs between them (a Python UDTF, ``arrow_udf`` on pyarrow arrays, ``mapInArrow``).
Every way gives the same doubles, so the only difference between them is where the work is done.
Timing is sparkcourse.timing's, plans are sparkcourse.plans'; this module keeps what is lesson 07's.
"""

import os
import pstats
import re
import tempfile
import uuid
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType

from .plans import broadcast_subtrees, plan_text, python_operators  # noqa: F401 - lesson 07 uses them as perf.*
from .timing import Timing, measure  # noqa: F401

# The rungs of the ladder: first the ways that call Python once per row, then once per batch, then none.
RDD, PYTHON_UDF, ARROW_UDF, UDTF, PANDAS_UDF, ARROW_ARRAYS, MAP_IN_ARROW, BUILTIN = (
    "RDD map with a lambda", "Python UDF, row at a time", "Arrow-optimized Python UDF", "Python UDTF",
    "pandas UDF", "arrow_udf on pyarrow arrays", "mapInArrow on record batches", "built-in column functions",
)
LADDER = (RDD, PYTHON_UDF, ARROW_UDF, UDTF, PANDAS_UDF, ARROW_ARRAYS, MAP_IN_ARROW, BUILTIN)
# What travels to Python for each rung, and how often your function is called (the lesson's table).
HOW_ROWS_TRAVEL = {
    RDD: ("every row, pickled as a Python Row", "once per row"),
    PYTHON_UDF: ("batches of values, pickled", "once per row"),
    ARROW_UDF: ("Arrow batches, turned into Python values", "once per row"),
    UDTF: ("Arrow batches, turned into Python values", "once per row (eval), yielding rows"),
    PANDAS_UDF: ("Arrow batches, handed over as pandas Series", "once per batch"),
    ARROW_ARRAYS: ("Arrow batches, handed over as pyarrow arrays", "once per batch"),
    MAP_IN_ARROW: ("Arrow record batches, whole", "once per partition (an iterator of batches)"),
    BUILTIN: ("nothing: it stays in the JVM", "never"),
}

# What others measured, to set beside your own figures (as ratios of run times).
FIELD_FIGURES = {
    (PYTHON_UDF, PANDAS_UDF): "up to 100x (Databricks documentation, pandas UDFs)",
    (PYTHON_UDF, ARROW_UDF): "about 1.6x (Databricks, Arrow-optimized Python UDFs in Spark 3.5)",
}

ARROW_UDF_SETTING = "spark.sql.execution.pythonUDF.arrow.enabled"
PROFILER_SETTING = "spark.sql.pyspark.udf.profiler"


def fahrenheit(celsius):
    """The computation of the ladder, in plain Python (for one value, or a pandas Series)."""
    return celsius * 1.8 + 32.0


@F.pandas_udf(DoubleType())  # a type object, not "double": no session is needed to import this module
def fahrenheit_pandas(celsius: pd.Series) -> pd.Series:
    """The same computation as a pandas UDF: Spark hands it whole Arrow batches as Series."""
    return fahrenheit(celsius)


def fahrenheit_arrow(celsius: pa.Array) -> pa.Array:
    """The same computation on a pyarrow array (Arrow's compute kernels, no Python loop)."""
    return pc.add(pc.multiply(celsius, 1.8), 32.0)


def fahrenheit_batches(batches):
    """The same computation for ``mapInArrow``: an iterator of record batches in, one of record batches out."""
    for batch in batches:
        yield pa.RecordBatch.from_arrays([fahrenheit_arrow(batch.column("celsius"))], names=["fahrenheit"])


class FahrenheitRows:
    """The same computation as a Python UDTF: ``eval`` is called once per input row and yields output rows."""

    def eval(self, row):
        yield (fahrenheit(row["celsius"]),)


def ladder_input(spark, rows, partitions=None):
    """``rows`` temperatures in one double column ``celsius``, made inside the JVM (nothing to read).

    One partition per core by default: every core busy, and no more Python tasks than that.
    """
    partitions = partitions or cores(spark)
    return spark.range(0, rows, 1, partitions).select(((F.col("id") % 1000) / 10.0 - 40.0).alias("celsius"))


def ladder_frames(data):
    """The eight ways, as lazy DataFrames with one double column ``fahrenheit``, keyed by the names in LADDER."""
    spark = data.sparkSession
    # useArrow=False is the classic pickled, row-at-a-time UDF; whether a plain F.udf uses Arrow
    # depends on ARROW_UDF_SETTING, so both are spelt out rather than left to the default.
    row_udf = F.udf(fahrenheit, "double", useArrow=False)
    arrow_udf = F.udf(fahrenheit, "double", useArrow=True)
    arrays_udf = F.arrow_udf(fahrenheit_arrow, "double")  # Spark 4.1: pyarrow arrays in and out
    rows_udtf = F.udtf(FahrenheitRows, returnType="fahrenheit double")
    # Every row travels JVM -> Python worker (pickled Row objects) -> back to the JVM as a DataFrame.
    from_rdd = spark.createDataFrame(data.rdd.map(lambda row: (fahrenheit(row.celsius),)), "fahrenheit double")
    return {
        RDD: from_rdd,
        PYTHON_UDF: data.select(row_udf("celsius").alias("fahrenheit")),
        ARROW_UDF: data.select(arrow_udf("celsius").alias("fahrenheit")),
        UDTF: rows_udtf(data.asTable()),  # a table argument: the UDTF sees every row of `data`
        PANDAS_UDF: data.select(fahrenheit_pandas("celsius").alias("fahrenheit")),
        ARROW_ARRAYS: data.select(arrays_udf("celsius").alias("fahrenheit")),
        MAP_IN_ARROW: data.mapInArrow(fahrenheit_batches, "fahrenheit double"),
        BUILTIN: data.select((F.col("celsius") * 1.8 + 32.0).alias("fahrenheit")),
    }


def force(df):
    """Compute every row and column of ``df`` and throw the result away (the ``noop`` writer).

    ``count()`` is not an honest trigger: Spark prunes columns a count does not need, UDFs included.
    """
    df.write.format("noop").mode("overwrite").save()


def run_ladder(spark, rows, repeats=3, warmup=1, progress=None):
    """Time the eight ways alike on ``rows`` rows; return a table (see ``ladder_table``)."""
    frames = ladder_frames(ladder_input(spark, rows))
    timings = []
    for name, frame in frames.items():
        timings.append(measure(lambda frame=frame: force(frame), name, repeats, warmup))
        if progress:
            progress(timings[-1])
    return ladder_table(timings)


def ladder_table(timings):
    """A pandas table: one row per way, median/min/max seconds and how many times slower than built-ins."""
    table = pd.DataFrame({
        "method": [t.name for t in timings],
        "median_s": [t.median for t in timings],
        "min_s": [t.min for t in timings],
        "max_s": [t.max for t in timings],
        "runs": [len(t.runs) for t in timings],
    })
    builtin = table.loc[table.method == BUILTIN, "median_s"]
    table["x_builtin"] = table.median_s / (builtin.iloc[0] if len(builtin) else float("nan"))
    return table


def field_comparison(table):
    """Your ratios next to the published ones: a pandas table with columns comparison, yours, field."""
    median = dict(zip(table.method, table.median_s))
    rows = [(f"{slow} / {fast}", median[slow] / median[fast], figure)
            for (slow, fast), figure in FIELD_FIGURES.items() if slow in median and fast in median]
    return pd.DataFrame(rows, columns=["comparison", "yours", "field"])


def plot_ladder(table, ax, title=None):
    """Horizontal bars of median seconds (log scale) with min-max whiskers, each labelled with its ratio."""
    y = range(len(table))
    ax.barh(y, table.median_s, color="tab:blue",
            xerr=[table.median_s - table.min_s, table.max_s - table.median_s], capsize=3)
    for i, (seconds, ratio) in enumerate(zip(table.max_s, table.x_builtin)):
        ax.text(seconds * 1.1, i, f"{ratio:.1f}x", va="center")
    ax.set_yticks(list(y), table.method)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlim(right=table.max_s.max() * 3)
    ax.set_xlabel("seconds (median, whiskers min to max; log scale)")
    if title:
        ax.set_title(title)
    return ax


def markdown_table(table, floatfmt=".3f"):
    """A pandas table as Markdown, without the optional `tabulate` package."""
    def cell(value):
        return format(value, floatfmt) if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(table.columns) + " |",
             "|" + "|".join("---:" if table[c].dtype.kind in "if" else "---" for c in table.columns) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def arrow_settings(spark):
    """The session's Arrow settings as Spark itself lists them (``SET -v``): key, value here, since which release.

    Read them rather than assume them: several defaults changed between releases (a plain ``F.udf``
    uses Arrow by default since Spark 4.2), and this course sets ``arrow.pyspark.enabled`` itself.
    """
    keys = ("spark.sql.execution.arrow.pyspark.enabled", "spark.sql.execution.arrow.pyspark.fallback.enabled",
            "spark.sql.execution.arrow.maxRecordsPerBatch", ARROW_UDF_SETTING,
            "spark.sql.execution.pythonUDTF.arrow.enabled", "spark.sql.execution.arrow.useLargeVarTypes")
    listed = spark.sql("SET -v").filter(F.col("key").isin(*keys)).toPandas()
    listed = listed.rename(columns={"Since version": "since"}).set_index("key").reindex(list(keys)).reset_index()
    return listed[["key", "value", "since"]]


def calls_per_udf(spark, frames, function):
    """How many times ``function`` ran inside each frame's Python UDF, from Spark's UDF profiler.

    ``frames``: {name: DataFrame}. Each is computed once with ``spark.sql.pyspark.udf.profiler=perf``;
    the profiler (``spark.profile``) keeps one cProfile result per UDF, which ``dump`` writes as
    pstats files. Needs a classic session or Spark Connect; RDD maps are not profiled (UDFs only).
    """
    previous = spark.conf.get(PROFILER_SETTING, None)
    spark.conf.set(PROFILER_SETTING, "perf")
    found = {}
    try:
        for name, frame in frames.items():
            spark.profile.clear(type="perf")
            force(frame)
            with tempfile.TemporaryDirectory(prefix="udf-profile-") as folder:
                spark.profile.dump(folder, type="perf")
                calls = 0
                for path in Path(folder).glob("*.pstats"):
                    stats = pstats.Stats(str(path)).stats
                    calls += sum(entry[1] for key, entry in stats.items() if key[2] == function.__name__)
            found[name] = calls
    finally:
        spark.profile.clear(type="perf")
        if previous is None:
            spark.conf.unset(PROFILER_SETTING)
        else:
            spark.conf.set(PROFILER_SETTING, previous)
    return found


class RecordedPlan:
    """A DataFrame's plan as text (``plan_of``: the live plan, or the one recorded with a graded answer),
    with the ``explain`` that sparkcourse.plans reads: ``python_operators(RecordedPlan(df))`` then works on
    an answer the grading checker rebuilt from data, whose own plan is only a scan of its rows.
    """

    def __init__(self, df):
        from .answers import plan_of

        self.text = plan_of(df)

    def explain(self, mode="simple"):
        physical = self.text.split("== Physical Plan ==", 1)
        print(physical[1].lstrip("\n") if len(physical) == 2 and mode == "simple" else self.text)

    def hints(self):
        """The join and broadcast hints the optimizer kept, e.g. ``["rightHint=(strategy=broadcast)"]``."""
        return re.findall(r"\w+Hint=\(strategy=\w+\)", self.text)


def transfer_frame(spark, rows):
    """A Spark DataFrame of ``rows`` rows (a long, a double and a string column) to move to pandas and back."""
    return spark.range(rows).select("id", (F.col("id") * 0.5).alias("x"), F.format_string("s%d", "id").alias("s"))


def skewed_events(spark, rows, partitions=4):
    """``rows`` events (``id``, ``key``, ``amount``): 85% have the key "hot", the rest spread over "k0" to "k96"."""
    return spark.range(0, rows, 1, partitions).select(
        "id",
        F.when(F.col("id") % 20 < 17, F.lit("hot"))
        .otherwise(F.concat(F.lit("k"), (F.col("id") % 97).cast("string"))).alias("key"),
        ((F.col("id") * 7919) % 1000 / 10.0).alias("amount"),
    )


@F.pandas_udf(DoubleType())
def pandas_sum(amount: pd.Series) -> float:
    """A sum written in Python (a grouped-aggregate pandas UDF): Spark cannot pre-combine it before a shuffle."""
    return float(amount.sum())


def rows_per_task(df):
    """How many rows each partition of ``df`` holds, as a pandas table (partition, rows, share), largest first.

    After a shuffle, partition *i* is read by exactly one task of the next stage, so this is the work
    each task gets. It is measured by Spark itself (``spark_partition_id()``), with the web UI off.
    """
    counts = df.groupBy(F.spark_partition_id().alias("partition")).count().toPandas()
    counts = counts.rename(columns={"count": "rows"}).sort_values(["rows", "partition"], ascending=[False, True])
    counts["share"] = counts.rows / counts.rows.sum()
    return counts.reset_index(drop=True)


def cores(spark):
    """How many tasks the session runs at once: the cores of local mode, else Spark's default parallelism."""
    master = spark.sparkContext.master
    if master.startswith("local"):
        slots = master.partition("[")[2].partition("]")[0].split(",")[0]
        return (os.cpu_count() or 1) if slots in ("", "*") else int(slots)
    return spark.sparkContext.defaultParallelism  # a cluster: its total cores, unless set in the configuration


def _jobs_of(spark, action):
    """Run ``action()`` in a job group of its own; return the ids of the stages it ran, in order."""
    context = spark.sparkContext
    group = f"sparkcourse-{uuid.uuid4().hex}"
    context.setJobGroup(group, "measuring tasks")
    try:
        action()
    finally:
        context.setLocalProperty("spark.jobGroup.id", None)
        context.setLocalProperty("spark.job.description", None)
    # Listeners hear of finished tasks asynchronously: wait until the status store has caught up.
    context._jsc.sc().listenerBus().waitUntilEmpty()
    tracker = context.statusTracker()
    jobs = [tracker.getJobInfo(job) for job in sorted(tracker.getJobIdsForGroup(group))]
    stages = [tracker.getStageInfo(stage) for job in jobs if job for stage in sorted(job.stageIds)]
    # A stage whose output an earlier job left behind is skipped: it ran no task.
    return [stage for stage in stages if stage and stage.numCompletedTasks]


def task_metrics(spark, action):
    """Run ``action()`` and return Spark's metrics for every task it ran, as a pandas table.

    One row per task: ``stage``, ``task`` (its partition), ``input_rows`` (read from the source),
    ``shuffle_rows`` (read from a shuffle) and ``seconds`` (its run time). The figures come from Spark's
    status store, which Spark's own listener fills as tasks end: the data the web UI and its REST API
    show, read here with the UI off. Needs a classic session.
    """
    store = spark.sparkContext._jsc.sc().statusStore()
    rows = []
    for stage in _jobs_of(spark, action):
        tasks = store.taskList(stage.stageId, stage.currentAttemptId, stage.numTasks)
        for i in range(tasks.size()):
            task = tasks.apply(i)
            if task.status() != "SUCCESS" or not task.taskMetrics().isDefined():
                continue
            metrics = task.taskMetrics().get()
            rows.append((stage.stageId, task.index(), metrics.inputMetrics().recordsRead(),
                         metrics.shuffleReadMetrics().recordsRead(), metrics.executorRunTime() / 1000))
    table = pd.DataFrame(rows, columns=["stage", "task", "input_rows", "shuffle_rows", "seconds"])
    return table.sort_values(["stage", "task"]).reset_index(drop=True)


def shuffle_read(tasks):
    """From ``task_metrics``: the tasks of the stage that read the most rows from a shuffle (task, rows, share, seconds)."""
    per_stage = tasks.groupby("stage").shuffle_rows.sum()
    stage = tasks[tasks.stage == per_stage.idxmax()]
    return pd.DataFrame({"task": stage.task, "rows": stage.shuffle_rows,
                         "share": stage.shuffle_rows / stage.shuffle_rows.sum(),
                         "seconds": stage.seconds}).reset_index(drop=True)


def task_counts(spark, action):
    """Run ``action()`` and return how many tasks each of its stages ran (skipped stages left out)."""
    return [stage.numCompletedTasks for stage in _jobs_of(spark, action)]

"""Benchmark: lesson 07's performance traps (UDF ladder, Arrow, shuffles, skew, joins) at full size, outside the notebook.

Runs the measurements of solutions/07_pyspark_performance with sparkcourse.performance on one local
session: every figure is the median of --repeats timed runs after --warmup untimed ones, with the
min and max beside it (sparkcourse.timing, the same for every rung). The ladder has Spark 4's rungs
(a Python UDTF, arrow_udf, mapInArrow) beside the classic ones; the UDF profiler counts how often the
function runs under each UDF; the session's Arrow settings head the report. Writes
build/bench/performance.md (the tables) and build/bench/performance.png (the plots), and prints the
ratios. A benchmark, not a test: nothing here asserts a time.
Run: python -m grader.bench.performance [--rows 1000000] [--repeats 3]
"""

import argparse
import os
import sys
import time
from pathlib import Path

import pandas as pd

from ..course import ROOT

SECTIONS = ("ladder", "profiler", "arrow", "shuffles", "skew", "joins")
PROFILED_ROWS = 100_000  # cProfile costs per call: the profiler counts calls on at most this many rows


def timing_row(label, timing, **extra):
    """One table row: a label, median/min/max seconds and the number of timed runs."""
    return {"case": label, **extra, "median_s": timing.median, "min_s": timing.min, "max_s": timing.max,
            "runs": len(timing.runs)}


def bench_profiler(spark, perf, rows):
    """How many times the ladder's function runs under the row, Arrow and pandas UDFs (Spark's UDF profiler)."""
    frames = perf.ladder_frames(perf.ladder_input(spark, rows))
    calls = perf.calls_per_udf(spark, {name: frames[name] for name in (perf.PYTHON_UDF, perf.ARROW_UDF, perf.PANDAS_UDF)},
                               perf.fahrenheit)
    table = pd.DataFrame({"method": list(calls), "rows": rows, "calls": list(calls.values())})
    ratios = {f"rows per call, {method}": rows / count for method, count in calls.items() if count}
    return table, ratios


def bench_arrow(spark, perf, rows, tiny, repeats, warmup):
    """toPandas() and createDataFrame(pandas) with Arrow on and off, at a large and a tiny size."""
    arrow = "spark.sql.execution.arrow.pyspark.enabled"
    found = []
    for size in (rows, tiny):
        frame = perf.transfer_frame(spark, size)
        pdf = frame.toPandas()
        for on in (True, False):
            spark.conf.set(arrow, on)
            found.append(timing_row(f"{size:,} rows, toPandas()", perf.measure(frame.toPandas, "", repeats, warmup),
                                    arrow=on))
            found.append(timing_row(
                f"{size:,} rows, createDataFrame(pandas)",
                perf.measure(lambda pdf=pdf: perf.force(spark.createDataFrame(pdf)), "", repeats, warmup), arrow=on))
    spark.conf.set(arrow, True)
    table = pd.DataFrame(found)
    speedup = table.pivot(index="case", columns="arrow", values="median_s")
    ratios = {f"{case}: Arrow speed-up": row[False] / row[True] for case, row in speedup.iterrows()}
    return table, ratios


def bench_shuffles(spark, perf, events, repeats, warmup):
    """The same groupBy-sum with 200 shuffle partitions, with as many as the machine's cores, and with AQE."""
    from pyspark.sql import functions as F

    cores = perf.cores(spark)
    totals = events.groupBy("key").agg(F.sum("amount").alias("total"))
    found = []
    for label, partitions, adaptive in [("200 partitions, AQE off", 200, False),
                                        (f"{cores} partitions (the cores), AQE off", cores, False),
                                        ("200 partitions, AQE on", 200, True)]:
        spark.conf.set("spark.sql.shuffle.partitions", partitions)
        spark.conf.set("spark.sql.adaptive.enabled", adaptive)
        tasks = perf.task_counts(spark, lambda: perf.force(totals))  # counts the tasks, and warms up
        timing = perf.measure(lambda: perf.force(totals), "", repeats, max(warmup - 1, 0))
        found.append(timing_row(label, timing, tasks_per_stage=str(tasks)))
    spark.conf.unset("spark.sql.adaptive.enabled")
    table = pd.DataFrame(found)
    base = table.median_s.iloc[1]
    ratios = {f"{label} / {table.case.iloc[1]}": seconds / base for label, seconds in zip(table.case, table.median_s)
              if label != table.case.iloc[1]}
    return table, ratios


def bench_skew(spark, perf, events, repeats, warmup, partitions=8, salts=16):
    """A Python (pandas UDF) sum per key, by key and salted; rows per task from Spark's task metrics."""
    from pyspark.sql import functions as F

    spark.conf.set("spark.sql.shuffle.partitions", partitions)
    # Coalescing would merge a small benchmark's partitions into one task and hide the skew.
    spark.conf.set("spark.sql.adaptive.coalescePartitions.enabled", False)
    by_key = events.groupBy("key").agg(perf.pandas_sum("amount").alias("total"))
    salted = (events.withColumn("salt", (F.col("id") % salts).cast("int"))
              .groupBy("key", "salt").agg(perf.pandas_sum("amount").alias("part"))
              .groupBy("key").agg(F.sum("part").alias("total")))
    found, tasks = [], {}
    for label, frame in [("by key", by_key), (f"salted ({salts} salts)", salted)]:
        tasks[label] = perf.shuffle_read(perf.task_metrics(spark, lambda frame=frame: perf.force(frame)))
        timing = perf.measure(lambda frame=frame: perf.force(frame), "", repeats, max(warmup - 1, 0))
        found.append(timing_row(label, timing, largest_task_share=tasks[label].share.max()))
    spark.conf.unset("spark.sql.adaptive.coalescePartitions.enabled")
    table = pd.DataFrame(found)
    ratios = {"skewed / salted time": table.median_s.iloc[0] / table.median_s.iloc[1],
              "largest task's share, by key": table.largest_task_share.iloc[0],
              "largest task's share, salted": table.largest_task_share.iloc[1]}
    return table, ratios, tasks


def bench_joins(spark, perf, events, repeats, warmup):
    """events joined with a 98-row table: sort-merge (both sides shuffled) against broadcast hash join."""
    from pyspark.sql import functions as F

    keys = spark.createDataFrame([("hot", "north")] + [(f"k{i}", ("south", "east", "west")[i % 3]) for i in range(97)],
                                 "key string, region string")
    spark.conf.set("spark.sql.autoBroadcastJoinThreshold", -1)
    found = []
    for label, frame in [("sort-merge join", events.join(keys, "key")),
                         ("broadcast hash join", events.join(F.broadcast(keys), "key"))]:
        found.append(timing_row(label, perf.measure(lambda frame=frame: perf.force(frame), "", repeats, warmup)))
    spark.conf.unset("spark.sql.autoBroadcastJoinThreshold")
    table = pd.DataFrame(found)
    return table, {"sort-merge / broadcast": table.median_s.iloc[0] / table.median_s.iloc[1]}


def _unit(label):
    """Ratios of times print as "2.50x"; shares and rows per call are plain numbers."""
    return "" if "share" in label or "per call" in label else "x"


def plot(results, path):
    """One PNG with a panel per section that ran."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sparkcourse import performance as perf

    panels = [name for name in SECTIONS if name in results]
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 2.6 * len(panels)), squeeze=False)
    for ax, name in zip(axes[:, 0], panels):
        table = results[name]["table"]
        if name == "ladder":
            perf.plot_ladder(table, ax, title=results[name]["title"])
            continue
        if name == "profiler":
            ax.barh(range(len(table)), table.calls, color="tab:blue")
            ax.set_yticks(list(range(len(table))), table.method)
            ax.invert_yaxis()
            ax.set(xscale="log", xlabel="calls of the function (log scale)", title=results[name]["title"])
            continue
        if name == "skew":
            tasks = results[name]["tasks"]
            width = 0.8 / len(tasks)
            for i, (label, frame) in enumerate(tasks.items()):
                ax.bar(frame.task + (i - (len(tasks) - 1) / 2) * width, frame.rows, width=width, label=label)
            ax.set(xlabel="task (shuffle partition)", ylabel="rows read", title=results[name]["title"])
            ax.legend()
            continue
        labels = [f"{case} (Arrow {'on' if arrow else 'off'})" for case, arrow in zip(table.case, table.arrow)] \
            if name == "arrow" else list(table.case)
        y = range(len(table))
        ax.barh(y, table.median_s, xerr=[table.median_s - table.min_s, table.max_s - table.median_s],
                color="tab:blue", capsize=3)
        ax.set_yticks(list(y), labels)
        ax.invert_yaxis()
        ax.set(xlabel="seconds (median, whiskers min to max)", title=results[name]["title"])
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000,
                        help="rows of the UDF ladder and of the skewed events (default: 1,000,000)")
    parser.add_argument("--transfer-rows", type=int, default=200_000,
                        help="the large size for toPandas()/createDataFrame (default: 200,000; the tiny one is 10)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per figure (default: 3)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs before them (default: 1)")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="what to measure")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench",
                        help="folder for performance.md and performance.png (default: build/bench)")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.transfer_rows < 1 or args.repeats < 1 or args.warmup < 0:
        parser.error("--rows, --transfer-rows and --repeats must be positive, --warmup at least 0")
    os.environ.setdefault("SPARKCOURSE_UI", "0")  # the web UI only costs time here
    # Python workers run this interpreter (with pandas and pyarrow), even when .venv/bin is not on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

    from sparkcourse import get_spark
    from sparkcourse import performance as perf

    started = time.perf_counter()
    spark = get_spark("bench-performance", needs_classic="RDDs and Spark's task metrics")
    cores = perf.cores(spark)
    partitions = spark.conf.get("spark.sql.shuffle.partitions")  # put back at the end (tests share the session)
    setting = spark.conf.get(perf.ARROW_UDF_SETTING)
    header = (f"Spark {spark.version}, local mode on {cores} cores; median of {args.repeats} runs after "
              f"{args.warmup} warm-up run(s), min and max beside it; {perf.ARROW_UDF_SETTING} = {setting}.")
    arrow = perf.arrow_settings(spark)  # read from the session: defaults changed between releases
    header += f"\n\nThe session's Arrow settings (`SET -v`):\n\n{perf.markdown_table(arrow)}"
    print(header, flush=True)
    results = {}

    def report(name, title, table, ratios, **more):
        results[name] = {"title": title, "table": table, "ratios": ratios, **more}
        print(f"\n## {title}\n\n{perf.markdown_table(table)}", flush=True)
        for label, value in ratios.items():
            print(f"  {label}: {value:.2f}" + _unit(label), flush=True)

    if "ladder" in args.sections:
        def progress(timing):
            print(f"  {timing.name}: {timing.median:.3f} s", file=sys.stderr, flush=True)

        ladder = perf.run_ladder(spark, args.rows, args.repeats, args.warmup, progress=progress)
        field = perf.field_comparison(ladder)
        ratios = {f"{method} / built-in": ratio for method, ratio in zip(ladder.method, ladder.x_builtin)
                  if method != perf.BUILTIN}
        ratios.update({f"{c} (field: {f})": yours for c, yours, f in field.itertuples(index=False)})
        report("ladder", f"The UDF ladder: x * 1.8 + 32 on {args.rows:,} rows, {len(ladder)} ways", ladder, ratios)
    if "profiler" in args.sections:
        rows = min(args.rows, PROFILED_ROWS)
        table, ratios = bench_profiler(spark, perf, rows)
        report("profiler", f"The UDF profiler: calls of the function on {rows:,} rows", table, ratios)
    if "arrow" in args.sections:
        table, ratios = bench_arrow(spark, perf, args.transfer_rows, 10, args.repeats, args.warmup)
        report("arrow", f"Arrow on and off: {args.transfer_rows:,} and 10 rows", table, ratios)
    events = perf.skewed_events(spark, args.rows)
    if "shuffles" in args.sections:
        table, ratios = bench_shuffles(spark, perf, events, args.repeats, args.warmup)
        report("shuffles", f"groupBy-sum of {args.rows:,} events: shuffle partitions and AQE", table, ratios)
    if "skew" in args.sections:
        table, ratios, tasks = bench_skew(spark, perf, events, args.repeats, args.warmup)
        report("skew", f"Skew: a Python sum per key of {args.rows:,} events, 85% on one key", table, ratios,
               tasks=tasks)
    if "joins" in args.sections:
        table, ratios = bench_joins(spark, perf, events, args.repeats, args.warmup)
        report("joins", f"Joining {args.rows:,} events with 98 keys", table, ratios)
    spark.conf.set("spark.sql.shuffle.partitions", partitions)

    args.out.mkdir(parents=True, exist_ok=True)
    markdown = [f"# PySpark performance traps (`make bench`)\n\n{header}\n"]
    for name in SECTIONS:
        if name in results:
            result = results[name]
            markdown.append(f"## {result['title']}\n\n{perf.markdown_table(result['table'])}\n")
            markdown.append("\n".join(f"- {label}: {value:.2f}" + _unit(label)
                                      for label, value in result["ratios"].items()) + "\n")
    markdown.append(f"Total time: {time.perf_counter() - started:.0f} s.\n")
    (args.out / "performance.md").write_text("\n".join(markdown))
    plot(results, args.out / "performance.png")
    print(f"\nwrote {args.out / 'performance.md'} and {args.out / 'performance.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Small, deterministic streams for lesson 08: event files that arrive in a folder, a local socket producer,
a runner that drives a streaming query to the end of its input and hands back what it wrote, and what a
test reads of a query that has finished (its sink, its checkpoint's commits, the Parquet files it wrote).

Nothing here sleeps or waits on a clock: files carry fixed modification times (Spark's file source
reads them in that order), and queries run with ``trigger(availableNow=True)``.
"""

import json
import os
import socket
import threading
import uuid
from pathlib import Path

from .checks import check_dataframe_type, check_schema, describe
from .errors import AnswerError

# The events of lesson 08, as Spark reads them (a streaming file source needs its schema up front).
EVENT_SCHEMA = (
    "event_id INT, application_id INT, event_time TIMESTAMP, team_size INT, lead_successful_grants INT, "
    "lead_unsuccessful_grants INT, pubs_a_star INT, pubs_a INT"
)
FEATURES = ["team_size", "lead_successful_grants", "lead_unsuccessful_grants", "pubs_a_star", "pubs_a"]
DAY = "2026-03-02"
UNKNOWN_APPLICATION = 99999  # a new application that the static grants table does not know yet
# Minutes after 10:00 at which each file's events happened. File 3 also re-sends event 10 (a duplicate);
# file 4 brings two late events: 10:04 (its window closed long ago: dropped) and 10:27 (counted). The times
# sit on the edges of a 10-minute watermark: Spark filters file 4's late events with the watermark after
# file 2 (10:39 - 10 min = 10:29, before the end of 10:27's window at 10:30; 9 minutes would drop it), and
# the last watermark (11:00 - 10 min) closes the 10:40 window exactly (11 minutes would not).
SCHEDULE = [
    [0, 2, 3, 7, 11, 14, 18],
    [21, 24, 25, 29, 32, 36, 39],
    [41, 44, 47, 49],
    [4, 27, 52, 55, 58, 60],
]
RESENT_EVENT = 10
LATE_DROPPED_EVENT, LATE_COUNTED_EVENT = 19, 20
_FIRST_MTIME = 1_772_445_600  # 2026-03-02 10:00 UTC; files get one second more each, so their order is fixed


def _clock(minutes):
    return f"{DAY}T{10 + minutes // 60:02d}:{minutes % 60:02d}:00"


def event_files(grants_pd):
    """The lesson's events, as a list of files, each a list of dicts (one per event), built from grants.

    Event i is about one of the last applications in grants.csv (event 12 about an application grants
    does not know); it carries the features the lesson's model uses, so the stream can be scored alone.
    """
    apps = grants_pd.sort_values("application_id").tail(23).to_dict("records")
    files, event_id = [], 0
    for minutes in SCHEDULE:
        rows = []
        for minute in minutes:
            event_id += 1
            app = apps[(event_id - 1) % len(apps)]
            row = {"event_id": event_id, "application_id": int(app["application_id"]), "event_time": _clock(minute)}
            if event_id == 12:
                row["application_id"] = UNKNOWN_APPLICATION
            row.update({f: int(app[f]) for f in FEATURES})
            rows.append(row)
        files.append(rows)
    resent = next(r for rows in files for r in rows if r["event_id"] == RESENT_EVENT)
    files[2].append(dict(resent))
    return files


def write_event_file(folder, number, rows):
    """Write one file of events as JSON lines into folder, the way a producer should: complete files only.

    The file is written under a hidden name and then renamed (Spark ignores names starting with "."), so
    a query never sees half a file; its modification time fixes its place in the order Spark reads files.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"events-{number:03d}.json"
    partial = folder / f".{final.name}.{uuid.uuid4().hex}"
    partial.write_text("".join(json.dumps(row) + "\n" for row in rows))
    mtime = _FIRST_MTIME + number
    os.utime(partial, (mtime, mtime))
    os.replace(partial, final)
    return str(final)


def run_to_end(stream, output_mode="append", name="answer"):
    """Run a streaming DataFrame over all the input available now, into a memory table; return that table.

    The query stops by itself at the end of the input (``availableNow``) and is stopped in any case.
    Spark's refusals (an output mode the query cannot use, say) come back as one plain sentence.
    """
    check_dataframe_type(stream, name)
    if not stream.isStreaming:
        raise AnswerError(f"`{name}` is a static Spark DataFrame: build it from the stream (`events`), "
                          "not from spark.read.")
    table = f"{name}_{uuid.uuid4().hex[:8]}"
    query = None
    try:
        query = (stream.writeStream.format("memory").queryName(table).outputMode(output_mode)
                 .trigger(availableNow=True).start())
        query.awaitTermination()
    except Exception as error:  # AnalysisException or StreamingQueryException, classic or Connect
        first = str(error).strip().splitlines()[0][:300]
        hint = " (an aggregation in append mode needs a watermark: withWatermark)" if "watermark" in first.lower() else ""
        raise AnswerError(f"Spark could not run `{name}` as a stream in {output_mode} mode{hint}: {first}") from None
    finally:
        if query is not None:
            query.stop()
    return stream.sparkSession.table(table)


def window_counts(table, name="answer"):
    """A windowed count's rows with each window as text: its start and end as "HH:mm" in the session's time
    zone (the same on every machine, unlike Python datetimes), and its count. The columns must be those of
    ``groupBy(F.window(...)).count()``: ``window`` (start, end) and ``count`` (bigint)."""
    from pyspark.sql import functions as F

    check_schema(table, {"window": "struct<start:timestamp,end:timestamp>", "count": "bigint"}, name=name)
    return table.select(F.date_format("window.start", "HH:mm").alias("start"),
                        F.date_format("window.end", "HH:mm").alias("end"), "count")


def socket_producer(lines, timeout=30):
    """Serve lines of text to the first client on a free port of 127.0.0.1, from a thread; return (port, thread).

    The thread sends every line, closes the connection and ends by itself, or gives up after timeout
    seconds if no client comes; it never outlives the notebook (it is a daemon thread).
    """
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(timeout)

    def serve():
        with server:
            try:
                connection, _ = server.accept()
            except OSError:  # no client came
                return
            with connection:
                connection.sendall("".join(line + "\n" for line in lines).encode())

    thread = threading.Thread(target=serve, name="socket-producer", daemon=True)
    thread.start()
    return server.getsockname()[1], thread


def read_parquet_folder(spark, folder, name="the folder"):
    """The Parquet files a job wrote into folder, as a DataFrame (a file sink's own log is honoured);
    a plain sentence when the folder holds none."""
    found = [p for p in Path(folder).rglob("*") if p.is_file() and not p.name.startswith((".", "_"))]
    if not any(p.name.endswith(".parquet") for p in found):
        kinds = sorted({p.suffix or p.name for p in found})
        raise AnswerError(f"{name} holds no Parquet files" + (f" (only {kinds})" if kinds else " (it is empty)")
                          + ": write Parquet there (`.parquet(...)`, or `format(\"parquet\")` for a stream).")
    return spark.read.parquet(str(folder))


def sink_of(query, name="query"):
    """What a streaming query wrote to, from its last progress report: "ForeachBatchSink", "FileSink", "MemorySink"..."""
    if not hasattr(query, "recentProgress") or not hasattr(query, "isActive"):
        raise AnswerError(f"`{name}` should be the streaming query that `writeStream....start()` returned, "
                          f"but it is {describe(query)}.")
    progress = query.lastProgress or (query.recentProgress[-1] if query.recentProgress else None)
    if not progress:
        raise AnswerError(f"`{name}` has not run a single micro-batch: wait for it (awaitTermination) before stopping it.")
    return str(progress["sink"]["description"]).split("[", 1)[0]


def committed_batches(checkpoint):
    """The ids of the micro-batches a query committed in this checkpoint folder (its commits/ log), in order."""
    commits = Path(checkpoint) / "commits"
    return sorted(int(p.name) for p in commits.iterdir() if p.name.isdigit()) if commits.is_dir() else []

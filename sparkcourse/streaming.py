"""Small, deterministic streams for lesson 08: event files that arrive in a folder, a local socket producer,
and a runner that drives a streaming query to the end of its input and hands back what it wrote.

Nothing here sleeps or waits on a clock: files carry fixed modification times (Spark's file source
reads them in that order), and queries run with ``trigger(availableNow=True)``.
"""

import json
import os
import socket
import threading
import uuid
from pathlib import Path

from .checks import check_dataframe_type
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
# file 4 brings two late events: 10:04 (far behind the watermark: dropped) and 10:33 (within it: counted).
SCHEDULE = [
    [0, 2, 3, 7, 11, 14, 18],
    [21, 24, 25, 29, 32, 36, 38],
    [41, 44, 47, 49],
    [4, 33, 52, 55, 58, 63],
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

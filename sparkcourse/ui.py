"""What a student sees of Spark in JupyterLab: the Spark UI one click away, and live progress in the cell.

The Spark UI. JupyterLab serves it through jupyter-server-proxy, so it needs no port of its own in
the browser (a container, JupyterHub, Binder): a classic session's UI at <base>/spark-ui/ (the
"Spark UI" card in the launcher, jupyter_server_config.json beside this file) when it got port 4040,
else at <base>/proxy/<port>/. `spark.ui.proxyBase` carries that path, so the UI's own links work
there. The card and the links open <path>/jobs/: Spark answers its root with an absolute redirect
to /jobs/ that drops the proxy's path (jupyter-server-proxy rewrites only relative ones). Under Spark
Connect the UI is the server's: the compose stack serves it at the same place and says so in
SPARKCOURSE_CONNECT_UI. get_spark() shows the link under the cell that made the session.

Progress. While a cell runs, one bar under it counts the tasks done of the Spark work it started:
for classic sessions from the SparkContext's status tracker (polled from a thread), for Spark
Connect from the progress the server streams (spark.registerProgressHandler, PySpark 4). Only
work that lasts over a second gets a bar; when the cell ends, the bar says what was done.
(sparkmonitor shows more, but for classic sessions only.) It is plain HTML updated in place
(IPython display ids), so it needs no widget extension and a saved notebook shows it as text.

Everything here is off under tests and grading (SPARKCOURSE_UI=0, NBGRADER_EXECUTION) and outside
a Jupyter kernel.
"""

import contextvars
import html
import os
import socket
import threading
import time
from importlib.util import find_spec

UI_PORT = 4040  # Spark's own default, and the port of the launcher's "Spark UI" card
NAMED_PATH = "spark-ui"  # jupyter_server_config.json: ServerProxy.servers
SHOW_AFTER_S = 1.0  # quick cells keep their output clean
POLL_S = 0.25

_watcher = None  # the progress watcher of the kernel's current session


def enabled():
    """The UI, its link and the progress bars: on, except under tests and grading."""
    return not (os.environ.get("NBGRADER_EXECUTION") or os.environ.get("SPARKCOURSE_UI") == "0")


def _kernel_shell():
    """The IPython shell when this runs in a Jupyter kernel, else None (a script, a terminal IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return shell if shell is not None and getattr(shell, "kernel", None) is not None else None


def _port_free(port):
    """Can Spark's UI bind this port? (It binds SPARK_LOCAL_IP, or every address.)"""
    with socket.socket() as s:
        try:
            s.bind((os.environ.get("SPARK_LOCAL_IP", "0.0.0.0"), port))
            return True
        except OSError:
            return False


def _server_prefix():
    """The Jupyter server's base URL: / for `make lab`, /user/<name>/ under JupyterHub and Binder."""
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/")
    return prefix if prefix.endswith("/") else prefix + "/"


def classic_conf():
    """Spark settings for a classic session's UI: where jupyter-server-proxy will serve it.

    Empty outside a Jupyter kernel or without jupyter-server-proxy: the UI stays at its own port.
    """
    if not _kernel_shell() or find_spec("jupyter_server_proxy") is None:
        return {}
    if _port_free(UI_PORT):
        port, path = UI_PORT, NAMED_PATH
    else:  # a second notebook, or the compose lab (4040 is the Connect server's UI there)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        path = f"proxy/{port}"
    return {"spark.ui.port": str(port), "spark.ui.proxyBase": f"{_server_prefix()}{path}".rstrip("/")}


def attach(spark, connect=False):
    """After get_spark() made a session in a kernel: show the UI's link, start the progress bars."""
    global _watcher
    shell = _kernel_shell()
    if not enabled() or shell is None:
        return
    _show_ui_link(spark, connect)
    if _watcher is not None:
        _watcher.close()
    _watcher = (_ConnectWatcher if connect else _ClassicWatcher)(spark, shell)


def _show_ui_link(spark, connect):
    from IPython.display import display

    if connect:
        where = os.environ.get("SPARKCOURSE_CONNECT_UI")
        if not where:
            return  # a Connect server elsewhere: its UI is wherever its owner put it
        href, what = where, "the Spark Connect server's Spark UI"
    else:
        base = spark.sparkContext.getConf().get("spark.ui.proxyBase", "")
        url = spark.sparkContext.uiWebUrl
        if not url:
            return
        base = _proxy_base_for(spark, base, url)
        href, what = (f"{base}/jobs/", "Spark UI") if base else (url, "Spark UI")
    display({"text/html": f'<a href="{html.escape(href)}" target="_blank">{html.escape(what)}</a>: jobs, stages, '
                          "storage and SQL plans of this session",
             "text/plain": f"{what}: {href}"}, raw=True)


def _proxy_base_for(spark, base, url):
    """The proxy path of the port the UI really got. classic_conf() chose a free port, but another Spark on
    this machine may take it before this session's JVM binds it (Spark then takes the next one): the
    launcher's card would show that other application. Then the path is /proxy/<port>, and the UI's own
    links follow (Spark reads spark.ui.proxyBase from the JVM's system properties at each request)."""
    if not base:
        return base
    port = url.rsplit(":", 1)[-1].strip("/")
    expected = f"proxy/{port}" if port != str(UI_PORT) else NAMED_PATH
    if base.rstrip("/").endswith("/" + expected) or not port.isdigit():
        return base
    base = f"{_server_prefix()}proxy/{port}"
    spark.sparkContext._jvm.java.lang.System.setProperty("spark.ui.proxyBase", base)
    return base


class _Bar:
    """One bar under the running cell, drawn once the cell's Spark work has lasted SHOW_AFTER_S."""

    def __init__(self):
        self.started = time.monotonic()
        self.handle = None
        self.shown = None

    def draw(self, done, total, running, stages, final=None):
        from IPython.display import display

        if total <= 0 or (self.handle is None and final is None and time.monotonic() - self.started < SHOW_AFTER_S):
            return
        if self.handle is None and final is not None:
            return  # the work ended before it was worth a bar
        seconds = time.monotonic() - self.started
        state = final or (f"{running} running" if running else "waiting")
        text = f"{done}/{total} tasks · {stages} stage{'s' if stages != 1 else ''} · {state} · {seconds:.1f} s"
        if (done, total, state) == self.shown and final is None:
            return
        self.shown = (done, total, state)
        percent = 100 * done / total
        data = {
            "text/html": (
                '<div class="sparkcourse-progress" style="font-size: 12px; line-height: 18px">'
                '<span style="display: inline-block; width: 240px; height: 10px; margin-right: 8px;'
                ' background: #ddd; border-radius: 3px; vertical-align: middle">'
                f'<span style="display: block; width: {percent:.1f}%; height: 100%; background: #e25a1c;'
                f' border-radius: 3px"></span></span>Spark: {html.escape(text)}</div>'),
            "text/plain": f"Spark: [{'#' * round(percent / 5):<20}] {text}",
        }
        if self.handle is None:
            self.handle = display(data, raw=True, display_id=True)
        else:
            self.handle.update(data, raw=True)


class _Watcher:
    """Per cell: a fresh bar when it starts (IPython's pre_run_cell), its last word when it ends."""

    def __init__(self, spark, shell):
        self.spark, self.shell = spark, shell
        self.lock = threading.Lock()
        self.bar, self.stages = None, {}
        shell.events.register("pre_run_cell", self.cell_starts)
        shell.events.register("post_run_cell", self.cell_ends)

    def close(self):
        for event, callback in (("pre_run_cell", self.cell_starts), ("post_run_cell", self.cell_ends)):
            try:
                self.shell.events.unregister(event, callback)
            except ValueError:
                pass

    def cell_starts(self, info=None):
        with self.lock:
            self.bar, self.stages = _Bar(), {}

    def cell_ends(self, result=None):
        with self.lock:
            bar, self.bar = self.bar, None
            if bar is not None and self.stages:
                total = sum(t for t, _ in self.stages.values())
                failed = result is not None and not result.success
                done = sum(d for _, d in self.stages.values()) if failed else total
                bar.draw(done, total, 0, len(self.stages), final="stopped" if failed else "done")

    def _draw(self, running):
        if self.bar is not None and self.stages:
            self.bar.draw(sum(d for _, d in self.stages.values()), sum(t for t, _ in self.stages.values()),
                          running, len(self.stages))


class _ConnectWatcher(_Watcher):
    """Spark Connect: the server streams each operation's stages while it runs (in this thread)."""

    def __init__(self, spark, shell):
        super().__init__(spark, shell)
        spark.registerProgressHandler(self.on_progress)

    def close(self):
        super().close()
        try:
            self.spark.removeProgressHandler(self.on_progress)
        except Exception:
            pass  # the session is gone already

    def on_progress(self, stages, inflight_tasks, operation_id, done):
        with self.lock:
            if self.bar is None:
                return
            for stage in stages or []:
                self.stages[(operation_id, stage.stage_id)] = (
                    stage.num_tasks, stage.num_tasks if stage.done else stage.num_completed_tasks)
            self._draw(0 if done else inflight_tasks)


class _ClassicWatcher(_Watcher):
    """A classic session: a thread asks the status tracker about active jobs while a cell runs."""

    def __init__(self, spark, shell):
        super().__init__(spark, shell)
        self.tracker = spark.sparkContext.statusTracker()
        self.running = threading.Event()
        self.closed = False
        self.context, self.jobs = None, set()
        threading.Thread(target=self._poll, name="sparkcourse-progress", daemon=True).start()

    def close(self):
        super().close()
        self.closed = True
        self.running.set()

    def cell_starts(self, info=None):
        super().cell_starts(info)
        self.jobs = set()
        # The thread's output belongs to this cell: it draws in a copy of the cell's context.
        self.context = contextvars.copy_context()
        self.running.set()

    def cell_ends(self, result=None):
        self.running.clear()
        with self.lock:
            try:
                self._update()  # the last state, so "done" counts what really ran
            except Exception:  # the cell stopped the session
                self.stages = {}
        super().cell_ends(result)

    def _update(self):
        """Record the stages of every job seen running in this cell; True while one still runs."""
        active = set(self.tracker.getActiveJobsIds())
        self.jobs |= active
        running = 0
        for job_id in self.jobs:
            job = self.tracker.getJobInfo(job_id)
            if job is None:
                continue
            for stage_id in job.stageIds:
                stage = self.tracker.getStageInfo(stage_id)
                if stage is None:
                    continue
                # A finished job's skipped stages (reused shuffle output) never count tasks: done.
                finished = job.status == "SUCCEEDED"
                self.stages[stage_id] = (stage.numTasks, stage.numTasks if finished else stage.numCompletedTasks)
                running += stage.numActiveTasks
        return running

    def _poll(self):
        while not self.closed:
            self.running.wait()
            if self.closed:
                return
            try:
                with self.lock:
                    if self.bar is not None and self.running.is_set():
                        running = self._update()
                        self.context.run(self._draw, running)
            except Exception:  # the session was stopped: no more bars for it
                self.close()
                return
            time.sleep(POLL_S)

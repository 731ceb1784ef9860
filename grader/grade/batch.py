"""Grade a whole class: every new or changed submission, two at a time, sandboxed, scored by clean checkers.

For each submission: the preflight (a courtesy: not a notebook, another lesson), then real
``nbgrader autograde`` in a process forked from one that imported nbgrader once
(grader/grade/nbgrader_run.py), whose Execute step runs the notebook in the sandbox and lets the
lesson's checker decide every test (grader/grade/execute.py, checker.py), then nbgrader's feedback
page. Kernels share one warm, sandboxed Spark Connect server (grader/sandbox/spark_server.py),
watched: if it stops, dies, hangs or saturates, it is restarted and every submission that was
running is graded again (on the new server once, then with a Spark of its own).

A run owns its batch: a lock refuses a second run on the same course; every process it starts
dies with it; a record is written only once the gradebook and the feedback agree with it. So a
grader killed at any moment can be started again and loses nothing. The grader's own trouble is
never kept as a grade: such a submission is graded again by the next run.

    python -m grader.grade [LESSON ...] [--course DIR] [--workers N] [--spark connect|local]
"""

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import nbformat

from ..course import ROOT, nbgrader, tool_env
from ..sandbox.zygote import KernelZygote
from . import feedback, gradebook, records
from .checker import Checker, CheckerError
from .nbgrader_run import KERNEL_NAME, Run, grading_config
from .preflight import lesson_cells, preflight
from .records import Outcome

# Workers: one more than the cores. A kernel waits on the shared server part of the time; with one spare the
# cores stay busy (measured on 2 cores: 8 lesson-00 submissions, 83.5 s with 2 workers, 79.6 s with 3, 76.9 s
# with 4; make bench-grading's 20, 141 s with 3 and 142 s with 4).
DEFAULTS = {"workers": min(8, (os.cpu_count() or 2) + 1), "cell_timeout": 120, "notebook_timeout": 900,
            "sandbox": True, "spark": "connect"}
REGRADE = object()  # a run stopped because the shared server failed under it: graded again


class BatchLocked(RuntimeError):
    """Another grading run holds this course."""


# --- the course directory ------------------------------------------------------------------------


def submissions(course, lessons):
    """(student, lesson, folder) for every submitted/<student>/<lesson>/ folder."""
    found = []
    for lesson_dir in sorted((course / "submitted").glob("*/*")):
        student, lesson = lesson_dir.parent.name, lesson_dir.name
        if lesson_dir.is_dir() and not lesson_dir.is_symlink() and (not lessons or lesson in lessons):
            found.append((student, lesson, lesson_dir))
    return found


def source_notebook(course, lesson):
    """The lesson's trusted source (the instructors' notebook, with solutions and hidden tests)."""
    for folder in ("solutions", "source"):
        path = course / folder / lesson / f"{lesson}.ipynb"
        if path.exists():
            return path
    raise FileNotFoundError(f"no source notebook for {lesson} in {course}")


def prepare(course, lessons):
    """Make sure the gradebook knows each lesson (nbgrader generate_assignment stores its cells)."""
    known = gradebook.known_assignments(course) if (course / "gradebook.db").exists() else set()
    for lesson in lessons:
        if lesson not in known or not (course / "notebooks" / lesson / f"{lesson}.ipynb").exists():
            nbgrader("generate_assignment", lesson, "--force", cwd=course)


def install_kernelspec(folder):
    """The kernelspec that starts kernels through the sandbox launcher; returns a JUPYTER_PATH entry."""
    spec = Path(folder) / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "grader.sandbox.kernel", "-f", "{connection_file}"],
        "display_name": "Python 3 (sandboxed for grading)", "language": "python",
        "interrupt_mode": "message",  # a signal would reach bubblewrap, not the kernel inside it
    }))
    return str(folder)


def digest_of(notebook):
    return hashlib.sha256(notebook.read_bytes()).hexdigest() if notebook.is_file() else ""


class BatchLock:
    """An exclusive lock on the course's grading; released by the kernel if the run dies."""

    def __init__(self, course):
        self.path = course / "grading" / ".lock"

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.path, "a+")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.seek(0)
            holder = self.handle.read().strip() or "another process"
            self.handle.close()
            raise BatchLocked(f"another grading run is grading this course ({holder}); wait for it, or stop it") from None
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        self.handle.flush()
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


# --- what the logs and the graded notebook say ----------------------------------------------------------


def explain_failure(log):
    if "DeadKernelError" in log or "Kernel died" in log or "kernel died" in log.lower():
        return "the kernel died while running the notebook (os._exit, a crash, or memory exhausted)"
    if "CheckerError" in log:
        line = next((line for line in log.splitlines() if "CheckerError" in line), "")
        return "the grader's checker failed: " + line.split("CheckerError:", 1)[-1].strip()[:200]
    errors = [line for line in log.splitlines() if "| ERROR]" in line and "There was an error" not in line
              and "Please see" not in line and "Traceback" not in line]
    return (errors[-1].split("]", 1)[-1].strip()[:200] if errors else "nbgrader could not grade it") or "nbgrader failed"


def notes_from(graded_notebook, submitted_notebook, released_notebook, cell_timeout):
    """What a student should know about how their graded run went."""
    if not graded_notebook.exists():
        return ""
    nb = nbformat.read(graded_notebook, as_version=4)
    names = {o.get("ename") for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"}
    notes = []
    tests = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nbformat.read(released_notebook, as_version=4).cells
             if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"}
    theirs = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source
              for c in nbformat.read(submitted_notebook, as_version=4).cells}
    missing = sorted(set(tests) - set(theirs))
    if missing:
        notes.append(f"test cells {', '.join(missing)} were deleted or renamed and score 0")
    if any(g in theirs and theirs[g] != source for g, source in tests.items()):
        notes.append("test cells were edited; the original tests were run")
    if "CellTimeoutError" in names:
        notes.append(f"a cell ran past the {cell_timeout} s limit and was stopped")
    if "SystemExit" in names:
        notes.append("the notebook called sys.exit(); grading went on")
    if "DeadKernelError" in names:
        notes.append("the kernel died; tests after that point score 0")
    return "; ".join(notes)


# --- the batch -------------------------------------------------------------------------------------------


class Batch:
    """One grading run over a course (see the module's docstring)."""

    def __init__(self, course, lessons=(), out=sys.stdout, checkers=None, server=None, **settings):
        """``checkers`` ({lesson: a ready Checker}) and ``server`` (a started WarmSpark) may be given, as the
        harness does to reuse them; the batch then neither starts nor stops them."""
        self.course = Path(course).resolve()
        self.given = {"checkers": dict(checkers or {}), "server": server}
        self.lessons = set(lessons)
        self.settings = dict(DEFAULTS, **settings)
        self.out = out
        self.lock = threading.Lock()
        self.running = {}  # task -> Run of its nbgrader autograde
        self.server = self.zygote = self.watchdog = self.forwarder = self.inside_url = None
        self.shared_failed = False
        self.checkers = {}

    def say(self, text):
        print(text, file=self.out, flush=True)

    def todo(self):
        found = submissions(self.course, self.lessons)
        tasks = [t for t in found if not records.unchanged(self.course, t[0], t[1], digest_of(t[2] / f"{t[1]}.ipynb"))]
        return found, tasks

    def run(self):
        with BatchLock(self.course):
            found, tasks = self.todo()
            lessons = sorted({lesson for _, lesson, _ in found})
            prepare(self.course, lessons)
            gradebook.ensure_students(self.course, [student for student, _, _ in tasks])
            self.say(f"{len(found)} submissions, {len(found) - len(tasks)} unchanged, grading {len(tasks)} "
                     f"with {self.settings['workers']} workers and {self.settings['spark']} Spark")
            released = {p.parent.name: p for folder in (ROOT / "notebooks", self.course / "notebooks")
                        for p in folder.glob("*/*.ipynb")}
            self.cells = {lesson: lesson_cells(path) for lesson, path in released.items()}
            with tempfile.TemporaryDirectory(prefix="grading-") as scratch:
                self.scratch = Path(scratch)
                try:
                    if tasks:
                        self.start(sorted({lesson for _, lesson, _ in tasks}))
                    self.grade_all(tasks)
                finally:
                    self.stop()
            return records.write_csv(self.course)

    # --- what serves the batch -------------------------------------------------------------------------

    def start(self, lessons):
        self.env = tool_env(JUPYTER_PATH=install_kernelspec(self.scratch / "spec"),
                            SANDBOX_PRIVATE=str(self.scratch / "private"))
        (self.scratch / "private").mkdir()
        self.env.pop("SPARK_REMOTE", None)
        for lesson in lessons:  # each runs its solution while the rest starts
            self.checkers[lesson] = self.given["checkers"].get(lesson) or Checker(
                source_notebook(self.course, lesson), self.scratch / "checkers" / lesson, env=tool_env()).start()
        if self.settings["sandbox"]:
            self.zygote = KernelZygote(self.scratch / "zygote").start()
        if self.settings["spark"] == "connect":
            from ..sandbox.spark_server import WarmSpark, Watchdog

            self.server = self.given["server"] or WarmSpark(self.scratch / "connect").start()
            self.watchdog = Watchdog(self.server, self.server_failed)
            self.watchdog.start()
            if self.settings["sandbox"]:  # kernels have no network: they reach the server through this socket
                from ..sandbox.forward import INSIDE_PORT, UnixToTcp

                self.forwarder = UnixToTcp(self.scratch / "private" / "connect.sock", lambda: self.server.port)
                self.forwarder.start()
                self.env["SANDBOX_CONNECT_SOCKET"] = self.forwarder.path
                self.inside_url = f"sc://127.0.0.1:{INSIDE_PORT}"
        if self.zygote is not None and self.zygote.ready():
            self.env["SANDBOX_ZYGOTE"] = self.zygote.socket_path
        self.failed_checkers = {}
        for lesson, checker in self.checkers.items():  # kernels start grading while checkers still get ready
            threading.Thread(target=self._await_checker, args=(lesson, checker), daemon=True).start()

    def _await_checker(self, lesson, checker):
        try:
            checker.ready()
        except CheckerError as error:
            self.failed_checkers[lesson] = str(error)
            self.say(f"the checker of {lesson} could not start: {error}")

    def stop(self):
        if self.watchdog is not None:
            self.watchdog.stop()
        if self.forwarder is not None:
            self.forwarder.stop()
        mine = [c for lesson, c in self.checkers.items() if lesson not in self.given["checkers"]]
        for part in [self.server if self.given["server"] is None else None, self.zygote, *mine]:
            if part is not None:
                part.stop()

    def server_failed(self, reason):
        """The watchdog's call: restart the shared server; what was running is stopped and graded again.

        If it cannot be restarted (twice), the rest of the batch runs with a Spark per kernel.
        """
        with self.lock:
            self.say(f"{reason}: restarting it; the submissions that were running will be graded again")
            for run in list(self.running.values()):
                run.kill()
            self.server.stop()
            for _attempt in (1, 2):
                try:
                    self.server.start()
                    return
                except RuntimeError as error:
                    self.say(f"the shared Spark server did not restart ({error})")
            self.server.generation += 1  # what ran on the old one is graded again
            self.shared_failed = True
            self.say("grading the rest with a Spark of its own per submission")

    # --- the work --------------------------------------------------------------------------------------

    def grade_all(self, tasks):
        progress = Progress(len(tasks), self.out)
        attempts = {task: 0 for task in tasks}
        queue = list(tasks)
        while queue:
            again = []
            with ThreadPoolExecutor(max_workers=self.settings["workers"]) as pool:
                futures = {pool.submit(self.grade_one, task, attempts[task]): task for task in queue}
                for future in as_completed(futures):
                    task, outcome = futures[future], future.result()
                    if outcome is REGRADE:
                        attempts[task] += 1
                        again.append(task)
                    else:
                        records.save(self.course, outcome)
                        progress.done(outcome)
            queue = again

    def grade_one(self, task, attempt):
        """Preflight, nbgrader autograde in the sandbox, feedback; an Outcome whatever happens (or REGRADE)."""
        student, lesson, folder = task
        try:
            return self._grade_one(student, lesson, folder, attempt)
        except Exception as error:  # a bug of ours or a file we did not foresee must not stop the batch
            return Outcome(student, lesson, 0.0, 0.0, "error",
                           f"the grader itself failed on this submission ({type(error).__name__}: {error}); "
                           "it will be graded again by the next run")

    def _env(self, attempt):
        env = dict(self.env)
        if self.server is not None and attempt < 2 and not self.shared_failed:  # else: a Spark of its own
            with self.lock:
                env["SPARK_REMOTE"] = self.inside_url or self.server.url
        return env

    def _grade_one(self, student, lesson, folder, attempt):
        notebook = folder / f"{lesson}.ipynb"
        digest = digest_of(notebook)
        start = time.perf_counter()
        log_path = records.record_path(self.course, student, lesson).with_suffix(".log")
        log_path.parent.mkdir(parents=True, exist_ok=True)
        given = self.cells.get(lesson, set())
        reason = preflight(notebook, lesson, given, {o: c for o, c in self.cells.items() if o != lesson})
        if reason is None and lesson in self.failed_checkers:
            return Outcome(student, lesson, 0.0, 0.0, "error",
                           f"the lesson's checker could not run ({self.failed_checkers[lesson]}); graded again next run",
                           digest, time.perf_counter() - start)
        if reason is not None:
            max_score = gradebook.record_zero(self.course, student, lesson)
            feedback.write_failure_page(self.course, student, lesson, reason)
            return Outcome(student, lesson, 0.0, max_score, "zero", reason, digest, time.perf_counter() - start)
        settings = grading_config(gradebook.gradebook_url(self.course), self.checkers[lesson].socket_path,
                                  str(self.scratch / "private"), self.settings["cell_timeout"], self.settings["sandbox"])
        log_path.unlink(missing_ok=True)
        generation = self.server.generation if self.server is not None else 0
        run = Run(["autograde", lesson, "--student", student, "--force"], self.course, self._env(attempt), log_path,
                  settings)
        with self.lock:
            self.running[(student, lesson)] = run
        code = run.wait(self.settings["notebook_timeout"])
        with self.lock:
            self.running.pop((student, lesson), None)
            server_changed = self.server is not None and self.server.generation != generation
        if (run.killed and code is not None) or (server_changed and attempt < 2):
            return REGRADE
        log = log_path.read_text(errors="replace") if log_path.exists() else ""
        if code is None:
            return Outcome(student, lesson, 0.0, gradebook.possible(self.course, lesson), "error",
                           f"grading took longer than {self.settings['notebook_timeout']} s and was stopped; "
                           "it will be graded again by the next run", digest, time.perf_counter() - start)
        graded = gradebook.scores(self.course, student, lesson)
        if code != 0 or graded is None or "There was an error processing" in log:
            return Outcome(student, lesson, 0.0, gradebook.possible(self.course, lesson), "error",
                           explain_failure(log) + "; it will be graded again by the next run", digest,
                           time.perf_counter() - start)
        notes = [notes_from(self.course / "autograded" / student / lesson / f"{lesson}.ipynb", notebook,
                            self.course / "notebooks" / lesson / f"{lesson}.ipynb", self.settings["cell_timeout"])]
        if attempt >= 2:
            notes.append("graded with a Spark of its own (the shared Spark server failed during its runs)")
        elif attempt == 1:
            notes.append("graded again on a restarted Spark server (the shared one failed during its first run)")
        shutil.rmtree(self.course / "feedback" / student / lesson, ignore_errors=True)
        if Run(["generate_feedback", lesson, "--student", student, "--force"], self.course, self._env(attempt),
               log_path, dict(feedback.FEEDBACK_CONFIG)).wait(300) != 0:
            return Outcome(student, lesson, 0.0, graded[1], "error",
                           f"nbgrader could not write the feedback page (see {log_path.name}); graded again next run",
                           digest, time.perf_counter() - start)
        score, max_score = graded
        usage = self.scratch / "private" / f"usage-{student}-{lesson}.json"
        cpu = json.loads(usage.read_text())["cpu_seconds"] if usage.exists() else 0.0
        return Outcome(student, lesson, score, max_score, "graded", "; ".join(filter(None, notes)) or "graded", digest,
                       time.perf_counter() - start, cpu)


class Progress:
    """Prints done/total, the rate and the time left after each outcome."""

    def __init__(self, total, out):
        self.total, self.out, self.count, self.start = total, out, 0, time.perf_counter()

    def done(self, outcome):
        self.count += 1
        elapsed = time.perf_counter() - self.start
        left = (self.total - self.count) * elapsed / self.count
        print(f"[{self.count}/{self.total}] {outcome.student} {outcome.lesson}: "
              f"{outcome.score:g}/{outcome.max_score:g} {outcome.status} ({outcome.reason}) "
              f"· {self.count / elapsed * 60:.1f} notebooks/min · about {left:.0f} s left", file=self.out, flush=True)


def grade(course, lessons=(), out=sys.stdout, checkers=None, server=None, **settings):
    """Grade every submission under course/submitted that changed since its last grading; the path of grades.csv.

    Settings (see DEFAULTS): workers, cell_timeout, notebook_timeout, sandbox, spark ("connect": one
    warm shared server, watched; "local": a Spark per kernel).
    """
    path = Batch(course, lessons, out=out, checkers=checkers, server=server, **settings).run()
    print(f"grades: {path}", file=out)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="lessons to grade (default: every lesson submitted)")
    parser.add_argument("--course", type=Path, default=ROOT, help="nbgrader course directory (default: the repository)")
    parser.add_argument("--workers", type=int, default=DEFAULTS["workers"], help="submissions graded at once")
    parser.add_argument("--cell-timeout", type=int, default=DEFAULTS["cell_timeout"], help="seconds a cell may run")
    parser.add_argument("--notebook-timeout", type=int, default=DEFAULTS["notebook_timeout"],
                        help="seconds a whole submission may take")
    parser.add_argument("--spark", choices=["local", "connect"], default=DEFAULTS["spark"],
                        help="connect: one warm Spark Connect server for all kernels (fast); local: a Spark per kernel")
    parser.add_argument("--no-sandbox", action="store_true", help="grade without bubblewrap (trusted notebooks only)")
    args = parser.parse_args(argv)
    if not args.no_sandbox and not shutil.which("bwrap"):
        parser.exit(2, "bubblewrap (bwrap) is needed to grade untrusted submissions: apt install bubblewrap "
                       "(or pass --no-sandbox for trusted notebooks).\n")
    try:
        grade(args.course, args.lessons, workers=args.workers, cell_timeout=args.cell_timeout,
              notebook_timeout=args.notebook_timeout, sandbox=not args.no_sandbox, spark=args.spark)
    except BatchLocked as error:
        parser.exit(3, f"{error}\n")

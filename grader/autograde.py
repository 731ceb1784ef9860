"""Grade a whole class with nbgrader: submissions in parallel, each in a sandbox, idempotent, with feedback and CSV.

Every submission is graded by real `nbgrader autograde`, in a process of its own forked from one
that imported nbgrader once. Its kernel runs in a sandbox of its own (grader/sandbox_kernel.py),
forked from a zygote that imported pandas, PySpark... once (grader/kernel_zygote.py). Before that, a
preflight refuses what cannot be graded honestly (not a notebook, another lesson's notebook, code
that tampers with the checks) with a zero and a reason. Results go to nbgrader's gradebook, to
grading/<lesson>/<student>.json (what makes re-runs skip unchanged submissions), to grades.csv,
and to feedback/ as HTML. A script that calls grade() needs `if __name__ == "__main__":`, as any
script using multiprocessing does: the fork server imports its __main__.

    python -m grader.autograde --course DIR [LESSON ...] [--workers 2] [--spark connect|local]
"""

import argparse
import ast
import contextlib
import csv
import hashlib
import html
import json
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

from .course import ROOT, nbgrader, tool_env
from .kernel_zygote import KernelZygote

KERNEL_NAME = "sparkcourse-sandbox"
MAX_NOTEBOOK_BYTES = 20 * 2**20
# What an answer may not touch: it could change how the checks behave instead of answering.
# A guard against tampering with the checks, not a proof: the sandbox bounds what any code can reach.
FORBIDDEN_CALLS = {"setattr", "delattr", "exec", "eval", "compile", "__import__", "globals", "locals", "vars",
                   "breakpoint"}
FORBIDDEN_MODULES = {"builtins", "importlib", "ctypes", "gc", "inspect", "sparkcourse", "pyspark.testing"}
FORBIDDEN_ATTRIBUTES = {"modules", "__dict__", "__globals__", "__builtins__", "__code__", "__closure__", "_getframe",
                        "f_globals", "f_locals", "f_back", "tb_frame", "gi_frame", "settrace", "setprofile"}
CHECK_NAMES = ("check_", "assertDataFrameEqual", "assertSchemaEqual", "AnswerError", "__builtins__")


@dataclass
class Outcome:
    student: str
    lesson: str
    score: float
    max_score: float  # the autograded points; written answers are graded by hand in the formgrader
    status: str  # graded | zero
    reason: str
    sha256: str = ""
    seconds: float = 0.0


# --- the course directory ------------------------------------------------------------------------

def submissions(course, lessons):
    """(student, lesson, folder) for every submitted/<student>/<lesson>/ folder."""
    found = []
    for lesson_dir in sorted((course / "submitted").glob("*/*")):
        student, lesson = lesson_dir.parent.name, lesson_dir.name
        if lesson_dir.is_dir() and (not lessons or lesson in lessons):
            found.append((student, lesson, lesson_dir))
    return found


def lesson_cells(released_notebook):
    """The released notebook's cells the student does not write: all of them, and the code ones."""
    released = nbformat.read(released_notebook, as_version=4)
    given = [c for c in released.cells if not c.metadata.get("nbgrader", {}).get("solution")]
    return {c.source for c in given}, {c.source for c in given if c.cell_type == "code"}


def gradebook_url(course):
    """The gradebook, waiting up to 2 minutes for a lock: parallel gradings write to it at once."""
    return f"sqlite:///{course / 'gradebook.db'}?timeout=120"


def record_path(course, student, lesson):
    return course / "grading" / lesson / f"{student}.json"


# --- preflight -----------------------------------------------------------------------------------

def _root(node):
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def tampering(nb, fixed_sources):
    """A reason if code the student wrote could tamper with the checks, else None."""
    for number, cell in enumerate(nb.cells, 1):
        if cell.cell_type != "code" or cell.source in fixed_sources:
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue  # it fails when it runs, and scores what it scores
        modules = {"F", "pd", "np", "plt", "os", "sys", "pyspark", "pandas", "numpy"}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                prefix = f"{node.module}." if isinstance(node, ast.ImportFrom) and node.module else ""
                for alias in node.names:
                    name = prefix + alias.name
                    if any(name == m or name.startswith(m + ".") or prefix == m + "." for m in FORBIDDEN_MODULES):
                        return f"cell {number} imports {name}, which answers may not use (it could change the checks)"
                    modules.add((alias.asname or alias.name).split(".")[0])
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
                return f"cell {number} calls {node.func.id}(), which answers may not use (it could change the checks)"
            elif isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRIBUTES:
                return f"cell {number} uses .{node.attr}, which answers may not use (it could change the checks)"
            elif isinstance(node, ast.Name) and node.id.startswith(CHECK_NAMES) and isinstance(node.ctx, (ast.Store, ast.Del)):
                return f"cell {number} redefines {node.id}, one of the course's checks"
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, (ast.Store, ast.Del)):
                if node.attr.startswith(CHECK_NAMES) or _root(node) in modules:
                    return f"cell {number} changes {ast.unparse(node)}, an attribute of a module"
    return None


def preflight(notebook_path, lesson, given_sources, fixed_sources, other_lessons):
    """A reason why this file cannot be graded, or None."""
    if not notebook_path.exists():
        found = ", ".join(sorted(p.name for p in notebook_path.parent.iterdir())) or "nothing"
        return f"no {notebook_path.name} in the submission (found: {found})"
    if notebook_path.stat().st_size > MAX_NOTEBOOK_BYTES:
        return f"the notebook is {notebook_path.stat().st_size / 2**20:.0f} MB, over the {MAX_NOTEBOOK_BYTES // 2**20} MB limit"
    try:
        nb = nbformat.read(notebook_path, as_version=4)
        nbformat.validate(nb)
    except Exception as error:  # any parse or schema failure means: not a notebook we can grade
        first = str(error).strip().splitlines()[0][:160] if str(error).strip() else type(error).__name__
        return f"not a valid Jupyter notebook ({first})"
    sources = {c.source for c in nb.cells}
    matches = len(sources & given_sources)
    best = max(other_lessons, key=lambda other: len(sources & other_lessons[other]), default=None)
    if best is not None and len(sources & other_lessons[best]) > matches:
        return f"this is the notebook of {best}, not of {lesson}"
    if matches == 0:
        return f"none of {lesson}'s cells are in this notebook (was it started from the course's copy?)"
    return tampering(nb, fixed_sources)


# --- grading one submission ------------------------------------------------------------------------

def install_kernelspec(folder):
    """A kernelspec that starts kernels through the sandbox launcher; returns a JUPYTER_PATH entry."""
    spec = folder / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, str(ROOT / "grader" / "sandbox_kernel.py"), "-f", "{connection_file}"],
        "display_name": "Python 3 (sandboxed for grading)", "language": "python",
        "interrupt_mode": "message",  # a signal would reach bubblewrap, not the kernel inside it
    }))
    return str(folder)


def scores(course, student, lesson):
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(gradebook_url(course)) as gradebook:
        try:
            sub = gradebook.find_submission_notebook(lesson, lesson, student)
        except MissingEntry:
            return None
        auto = [g for g in sub.grades if g.cell_type == "code"]  # written answers wait for a person
        return float(sum(g.auto_score or 0 for g in auto)), float(sum(g.max_score for g in auto))


def record_zero(course, student, lesson):
    """Make sure the gradebook lists this submission (with no points) so exports show it."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(gradebook_url(course)) as gradebook:
        gradebook.update_or_create_student(student)
        try:
            gradebook.find_submission(lesson, student)
        except MissingEntry:
            gradebook.add_submission(lesson, student)
        return float(sum(c.max_score for n in gradebook.find_assignment(lesson).notebooks for c in n.grade_cells
                         if c.cell_type == "code"))


def explain_failure(log):
    if "DeadKernelError" in log or "Kernel died" in log or "kernel died" in log.lower():
        return "the kernel died while running the notebook (os._exit, a crash, or memory exhausted)"
    if "missing" in log.lower() and "cell" in log.lower():
        return "cells the grader needs were deleted from the notebook"
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
    return "; ".join(notes)


# `nbgrader autograde` for one submission, in a process forked from one that imported nbgrader once:
# the same as `python -m nbgrader autograde ...`, without paying for Python and nbgrader's imports each time.
FORK = multiprocessing.get_context("forkserver")
multiprocessing.set_forkserver_preload(["__main__", "grader.nbgrader_preload", "grader.course"])


def _nbgrader_main(argv, cwd, env, log_path):
    os.setsid()  # its own process group, so a timeout stops it and everything it started
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    with open(log_path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    from nbgrader.apps.nbgraderapp import NbGraderApp

    NbGraderApp.launch_instance(argv=argv)


def run_nbgrader(argv, cwd, env, log_path, timeout):
    """Run nbgrader with argv in cwd, its output added to log_path; its exit code, or None if it ran past timeout."""
    process = FORK.Process(target=_nbgrader_main, args=(argv, str(cwd), env, str(log_path)), daemon=True)
    process.start()
    process.join(timeout)
    if process.is_alive():
        os.killpg(process.pid, signal.SIGKILL)
        process.join()
        return None
    return process.exitcode


def grade_one(course, student, lesson, folder, settings):
    """Preflight, then nbgrader autograde in a sandbox; returns an Outcome, whatever happens."""
    for _attempt in (1, 2):  # a second try for what was the grader's trouble (a locked gradebook, say)
        try:
            return _grade_one(course, student, lesson, folder, settings)
        except Exception as error:  # a bug of ours or a file we did not foresee must not stop the batch
            reason = f"the grader itself failed on this submission ({type(error).__name__}: {error}); tell the course team"
    return Outcome(student, lesson, 0.0, 0.0, "zero", reason)


def _grade_one(course, student, lesson, folder, settings):
    notebook = folder / f"{lesson}.ipynb"
    digest = hashlib.sha256(notebook.read_bytes()).hexdigest() if notebook.is_file() else ""
    start = time.perf_counter()
    log_path = record_path(course, student, lesson).with_suffix(".log")  # nbgrader's own words, for the instructor
    log_path.parent.mkdir(parents=True, exist_ok=True)
    reason = preflight(notebook, lesson, *settings["lesson_cells"][lesson], settings["other_lessons"](lesson))
    if reason is None:
        argv = ["autograde", lesson, "--student", student, "--force", f"--Execute.timeout={settings['cell_timeout']}",
                f"--CourseDirectory.db_url={gradebook_url(course)}"]
        if settings["sandbox"]:
            argv.append(f"--Execute.kernel_name={KERNEL_NAME}")
        log_path.unlink(missing_ok=True)
        returncode = run_nbgrader(argv, course, settings["env"], log_path, settings["notebook_timeout"])
        log = log_path.read_text(errors="replace")
        if returncode is None:
            reason = f"grading took longer than {settings['notebook_timeout']} s and was stopped"
        else:
            graded = scores(course, student, lesson)
            if returncode != 0 or graded is None or "There was an error processing" in log:
                reason = explain_failure(log)
    seconds = time.perf_counter() - start
    if reason is not None:
        max_score = record_zero(course, student, lesson)
        write_failure_feedback(course, student, lesson, reason)
        return Outcome(student, lesson, 0.0, max_score, "zero", reason, digest, seconds)
    score, max_score = graded
    notes = [notes_from(course / "autograded" / student / lesson / f"{lesson}.ipynb", notebook,
                        course / "notebooks" / lesson / f"{lesson}.ipynb", settings["cell_timeout"])]
    # nbgrader's feedback page, made now, while the other worker grades
    if run_nbgrader(["generate_feedback", lesson, "--student", student, "--force"], course, settings["env"],
                    log_path, timeout=300) != 0:
        notes.append(f"nbgrader could not write the feedback page (see {log_path.name})")
    return Outcome(student, lesson, score, max_score, "graded", "; ".join(filter(None, notes)) or "graded", digest,
                   seconds)


def write_failure_feedback(course, student, lesson, reason):
    folder = course / "feedback" / student / lesson
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / f"{lesson}.html").write_text(
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{lesson}: feedback</title></head><body>"
        f"<h1>{html.escape(lesson)}: 0 points</h1><p>Your submission could not be graded: "
        f"{html.escape(reason)}.</p><p>Fix this and submit again, or ask your instructor.</p></body></html>\n")


# --- the batch ---------------------------------------------------------------------------------------

def prepare(course, lessons):
    """Make sure the gradebook knows each lesson (nbgrader generate_assignment stores its cells)."""
    for lesson in lessons:
        released = course / "notebooks" / lesson / f"{lesson}.ipynb"
        if not released.exists() or not (course / "gradebook.db").exists():
            nbgrader("generate_assignment", lesson, "--force", cwd=course)
        else:
            from nbgrader.api import Gradebook, MissingEntry

            with Gradebook(gradebook_url(course)) as gradebook:
                try:
                    gradebook.find_assignment(lesson)
                except MissingEntry:
                    nbgrader("generate_assignment", lesson, "--force", cwd=course)


def write_csv(course):
    rows = []
    for path in sorted((course / "grading").glob("*/*.json")):
        rows.append(json.loads(path.read_text()))
    rows.sort(key=lambda r: (r["lesson"], r["student"]))
    with open(course / "grades.csv", "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=["student", "lesson", "score", "max_score", "status", "reason"],
                                extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return course / "grades.csv"


def grade(course, lessons=(), workers=2, cell_timeout=120, notebook_timeout=900, sandbox=True, spark="local",
          out=sys.stdout):
    """Grade every submission under course/submitted that changed since its last grading.

    spark="local": every kernel starts its own Spark (fully isolated). spark="connect": every kernel
    uses one warm, sandboxed Spark Connect server; if that server dies while submissions run, they
    are graded again, one by one, each with its own Spark, so no submission can cost another points.
    """
    course = Path(course).resolve()
    found = submissions(course, set(lessons))
    chosen = sorted({lesson for _, lesson, _ in found})
    prepare(course, chosen)
    # Every lesson the course knows, to tell a notebook of another lesson by its content.
    released = {p.parent.name: p for folder in (ROOT / "notebooks", course / "notebooks") for p in folder.glob("*/*.ipynb")}
    cells = {lesson: lesson_cells(path) for lesson, path in released.items()}
    todo = []
    for student, lesson, folder in found:
        record = record_path(course, student, lesson)
        notebook = folder / f"{lesson}.ipynb"
        digest = hashlib.sha256(notebook.read_bytes()).hexdigest() if notebook.is_file() else ""
        if record.exists() and json.loads(record.read_text()).get("sha256") == digest:
            continue  # unchanged since it was graded
        todo.append((student, lesson, folder))
    print(f"{len(found)} submissions, {len(found) - len(todo)} unchanged, grading {len(todo)} "
          f"with {workers} workers and {spark} Spark", file=out, flush=True)

    with tempfile.TemporaryDirectory(prefix="grading-") as scratch, contextlib.ExitStack() as cleanup:
        scratch = Path(scratch)
        env = tool_env(JUPYTER_PATH=install_kernelspec(scratch),
                       SANDBOX_HIDE=os.pathsep.join([str(course), str(ROOT), str(scratch)]),
                       SANDBOX_SHOW=os.pathsep.join([str(ROOT / "sparkcourse"), str(ROOT / "data")]))
        env.pop("SPARK_REMOTE", None)
        # Kernels forked from one that imported pandas, PySpark... once; it starts while the server does.
        zygote = KernelZygote(scratch / "zygote", env).start() if sandbox and todo else None
        if zygote is not None:
            cleanup.callback(zygote.stop)
        server = None
        if spark == "connect" and todo:
            from .warm_spark import WarmSpark

            server = WarmSpark(scratch / "connect", hide=[course, ROOT, scratch])
            cleanup.callback(server.stop)
            server.start()
        if zygote is not None and zygote.ready():
            env["SANDBOX_ZYGOTE"] = zygote.socket_path
        settings = {
            "lesson_cells": cells, "cell_timeout": cell_timeout, "notebook_timeout": notebook_timeout,
            "sandbox": sandbox, "env": env,
            "other_lessons": lambda lesson: {other: cells[other][0] for other in cells if other != lesson},
        }
        if server is not None:
            shared = dict(settings, env=dict(env, SPARK_REMOTE=server.url))
        progress = Progress(len(todo), out)
        retry, lock = [], threading.Lock()

        def run(task):
            if server is None:
                return grade_one(course, *task, settings)
            generation = server.generation
            outcome = grade_one(course, *task, shared)
            with lock:
                if server.generation != generation or not server.alive():
                    if not server.alive():
                        print("the shared Spark server stopped: restarting it; submissions that were "
                              "running will be graded again with their own Spark", file=out, flush=True)
                        server.stop()
                        server.start()
                        shared["env"]["SPARK_REMOTE"] = server.url
                    retry.append(task)
                    return None
            return outcome

        def regrade(task):
            outcome = grade_one(course, *task, settings)
            outcome.reason += "; graded again with its own Spark (the shared Spark server stopped during its run)"
            return outcome

        with ThreadPoolExecutor(max_workers=workers) as pool:
            for future in as_completed([pool.submit(run, task) for task in todo]):
                if future.result() is not None:
                    progress.done(course, future.result())
            for future in as_completed([pool.submit(regrade, task) for task in retry]):
                progress.done(course, future.result())
    path = write_csv(course)
    print(f"grades: {path}", file=out)
    return path


class Progress:
    """Records each outcome and prints done/total, the rate and the time left."""

    def __init__(self, total, out):
        self.total, self.out, self.count, self.start = total, out, 0, time.perf_counter()

    def done(self, course, outcome):
        record = record_path(course, outcome.student, outcome.lesson)
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(asdict(outcome), indent=1) + "\n")
        self.count += 1
        elapsed = time.perf_counter() - self.start
        left = (self.total - self.count) * elapsed / self.count
        print(f"[{self.count}/{self.total}] {outcome.student} {outcome.lesson}: "
              f"{outcome.score:g}/{outcome.max_score:g} {outcome.status} ({outcome.reason}) "
              f"· {self.count / elapsed * 60:.1f} notebooks/min · about {left:.0f} s left", file=self.out, flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="lessons to grade (default: every lesson submitted)")
    parser.add_argument("--course", type=Path, default=ROOT, help="nbgrader course directory (default: the repository)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="submissions graded at once")
    parser.add_argument("--cell-timeout", type=int, default=120, help="seconds a cell may run")
    parser.add_argument("--notebook-timeout", type=int, default=900, help="seconds a whole submission may take")
    parser.add_argument("--spark", choices=["local", "connect"], default="connect",
                        help="connect: one warm Spark Connect server for all kernels (fast); local: a Spark per kernel")
    parser.add_argument("--no-sandbox", action="store_true", help="grade without bubblewrap (trusted notebooks only)")
    args = parser.parse_args(argv)
    if not args.no_sandbox and not shutil.which("bwrap"):
        parser.exit(2, "bubblewrap (bwrap) is needed to grade untrusted submissions: apt install bubblewrap "
                       "(or pass --no-sandbox for trusted notebooks).\n")
    grade(args.course, args.lessons, args.workers, args.cell_timeout, args.notebook_timeout,
          not args.no_sandbox, args.spark)


if __name__ == "__main__":
    main()

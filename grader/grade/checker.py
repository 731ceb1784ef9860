"""The checker: decides every test cell's outcome in a process that never runs student code.

One checker per lesson and grading batch. It runs the lesson's trusted source notebook once (the
solution, so every name the lesson defines holds the solution's value, computed from the course's
own data, with its own local Spark), then serves requests: for a test cell, the student's answers
as recorded data (sparkcourse/answers.py), bound only to the names that cell's ``check_answer``
records, and runs the cell's hidden part, which decides (the visible part ran in the student's
kernel; here it only runs, with the solution's names, when the hidden part reads what it defines). Nothing a
submission does reaches it but that data; names it did not record keep the solution's values.

    python -m grader.grade.checker SOCKET SOURCE_NOTEBOOK     (Checker starts it; it serves until killed)
"""

import ast
import contextlib
import io
import json
import os
import re
import select
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..common import listen_unix

HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[ \t]*\n(.*?)^[ \t]*### END HIDDEN TESTS[ \t]*$\n?", re.S | re.M)
MAX_MESSAGE = 600


class CheckerError(RuntimeError):
    """The checker itself failed (it could not start, or stopped answering): the grader's trouble, not the student's."""


def split_test(source):
    """(visible part, hidden part) of a test cell's source."""
    hidden = "\n".join(m.group(1) for m in HIDDEN.finditer(source))
    return HIDDEN.sub("", source), hidden


def _stored(source):
    try:
        return {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    except SyntaxError:
        return set()


def _read(source):
    try:
        return {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    except SyntaxError:
        return set()


def recorded_names(source):
    """The names a test cell's ``check_answer`` calls record (its keyword arguments), from the trusted source."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "check_answer":
            names += [k.arg for k in node.keywords if k.arg not in (None, "ordered", "tolerance", "hidden")]
    return names


# --- the protocol: length-prefixed JSON over a Unix socket ------------------------------------------------


def send(conn, obj):
    data = json.dumps(obj).encode()
    conn.sendall(struct.pack("!Q", len(data)) + data)


def receive(conn, limit=512 * 2**20):
    header = _exactly(conn, 8)
    (size,) = struct.unpack("!Q", header)
    if size > limit:
        raise ValueError("a message larger than the checker takes")
    return json.loads(_exactly(conn, size))


def _exactly(conn, size):
    data = b""
    while len(data) < size:
        chunk = conn.recv(min(size - len(data), 1 << 20))
        if not chunk:
            raise ConnectionError("the other side closed the connection")
        data += chunk
    return data


# --- the server ------------------------------------------------------------------------------------------


class Judge:
    """The checker's state: an IPython shell that ran the solution, and what it takes to run one test cell."""

    def __init__(self, source_notebook):
        import nbformat

        from grader.release.selfchecks import checks_path

        source_notebook = Path(source_notebook).resolve()
        lesson = source_notebook.parent.name
        path = checks_path(lesson, source_notebook.parents[2])
        self.lesson = lesson
        self.fingerprints = json.loads(path.read_text()).get("exercises", {}) if path.exists() else {}
        from IPython.core.interactiveshell import InteractiveShell

        import sparkcourse.exercises

        sparkcourse.exercises._state["mode"] = "checker"
        self.shell = InteractiveShell.instance()
        self.shell.showtraceback = lambda *a, **k: None  # errors are read from the result, not printed
        from .slicing import needed_cells

        nb = nbformat.read(source_notebook, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        tests = [c.source for c in code if c.metadata.get("nbgrader", {}).get("grade")
                 and not c.metadata.get("nbgrader", {}).get("solution")]
        cells = [(c.metadata.get("nbgrader", {}).get("grade_id") or c.get("id"), c.source) for c in code
                 if c.source not in tests]  # test cells run per submission
        for index in needed_cells(cells, tests):  # what the tests need of the solution, no more
            error = self._run(cells[index][1])
            if error is not None:
                raise CheckerError(f"the solution fails in the checker, in cell {cells[index][0]}: {error}")

    def _run(self, source):
        """Run code in the shell; None, or 'Name: message' for what it raised. Output is kept out of the reply."""
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a grade never depends on a warning
                result = self.shell.run_cell(source, store_history=False, silent=True)
        error = result.error_before_exec or result.error_in_exec
        if error is None:
            return None
        from sparkcourse.errors import AnswerError

        if isinstance(error, (AnswerError, AssertionError)):
            return str(error) or "an assertion failed"
        text = f"{type(error).__name__}: {error}"
        return text[:MAX_MESSAGE]

    def check(self, item):
        """{"grade_id", "source", "answers" (recorded JSON, or None), "missing" (why none)} -> the outcome."""
        from sparkcourse.answers import AnswerDataError, decode

        visible, hidden = split_test(item["source"])
        names = recorded_names(item["source"])
        outcome = {"grade_id": item["grade_id"], "visible": None, "hidden": None, "passed": False}
        if item.get("answers") is None:
            outcome["visible"] = item.get("missing") or "no answer was recorded for this exercise"
            return outcome
        spark = self.shell.user_ns.get("spark")
        try:
            values = decode(item["answers"], spark, names=set(names))
        except AnswerDataError as error:
            outcome["visible"] = f"your answer could not be read for grading: {error}"
            return outcome
        absent = [n for n in names if n not in values]
        if absent:
            outcome["visible"] = f"nothing was recorded for {', '.join(f'`{n}`' for n in absent)}"
            return outcome
        namespace = self.shell.user_ns
        saved = {n: namespace[n] for n in names if n in namespace}
        try:
            # The visible part only defines what the hidden part may read of it (it computed the student's
            # answers in the student's kernel): here it runs with the solution's names, its outcome unused.
            if set(_stored(visible)) & set(_read(hidden)):
                self._run(visible)
            namespace.update(values)  # only now the student's answers, so nothing above can overwrite them
            outcome["hidden"] = self._run(hidden) if hidden.strip() else None
        finally:
            for n in names:
                if n in saved:
                    namespace[n] = saved[n]
                else:
                    namespace.pop(n, None)
        outcome["passed"] = outcome["visible"] is None and outcome["hidden"] is None
        outcome["selfcheck"] = self.selfcheck(item)
        return outcome

    def selfcheck(self, item):
        """Whether the student's own self-check (the release's fingerprints) accepts these answers: True,
        False, or None when the exercise has no fingerprint for them (values kept to hidden tests)."""
        from sparkcourse.fingerprints import FingerprintError, compare

        try:
            recorded = json.loads(item["answers"])
            exercise = item["grade_id"].removesuffix("-test")
            expected = self.fingerprints.get(exercise, {}).get("answers", {})
            verdicts = []
            for name, want in expected.items():
                if "fingerprint" in want and name in recorded:
                    verdicts.append(compare(recorded[name], want["fingerprint"], f"{self.lesson}/{exercise}/{name}")[0])
        except (ValueError, TypeError, KeyError, FingerprintError):
            return False
        return all(verdicts) if verdicts else None


def serve(socket_path, source_notebook):
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.chdir(tempfile.mkdtemp(prefix="checker-"))  # what the solution writes stays out of the course
    try:
        judge = Judge(source_notebook)
    except CheckerError as error:
        print(f"error: {error}", flush=True)
        sys.exit(2)
    server = listen_unix(socket_path)
    print("ready", flush=True)
    while True:
        conn, _ = server.accept()
        with conn:
            try:
                request = receive(conn)
                send(conn, [judge.check(item) for item in request["items"]])
            except (OSError, ValueError, KeyError) as error:
                print(f"refused a request: {error}", file=sys.stderr, flush=True)


# --- the client --------------------------------------------------------------------------------------


def failed_marker(socket_path):
    return Path(socket_path).with_suffix(".failed")


def ask(socket_path, items, timeout=600):
    """Send test cells with their recorded answers to a checker; its outcomes, in order.

    Waits for a checker still running its solution (its socket appears when it serves).
    """
    deadline = time.monotonic() + timeout
    while not os.path.exists(socket_path):
        if failed_marker(socket_path).exists():
            raise CheckerError(failed_marker(socket_path).read_text().strip())
        if time.monotonic() > deadline:
            raise CheckerError(f"the checker did not start within {timeout} s")
        time.sleep(0.2)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(max(1.0, deadline - time.monotonic()))
        try:
            conn.connect(socket_path)
            send(conn, {"items": items})
            return receive(conn)
        except (OSError, ValueError) as error:
            raise CheckerError(f"the checker did not answer ({type(error).__name__}: {error})") from None


class Checker:
    """A lesson's checker process, as the grading batch and the harness use it."""

    def __init__(self, source_notebook, folder, env=None):
        self.source, self.folder, self.env, self.proc = Path(source_notebook), Path(folder), env, None
        self.socket_path = str(self.folder / "checker.sock")

    def start(self):
        from ..common import C1_SUBMIT_ARGS, die_with_parent

        self.folder.mkdir(parents=True, exist_ok=True)
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)
        env = dict(self.env if self.env is not None else os.environ)
        env.pop("SPARK_REMOTE", None)  # its own local Spark, shared with nobody
        env.update(SPARKCOURSE_UI="0", MPLBACKEND="Agg", PYSPARK_SUBMIT_ARGS=C1_SUBMIT_ARGS)
        self.log = open(self.folder / "checker.log", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "grader.grade.checker", self.socket_path, str(self.source)],
                                     env=env, stdout=subprocess.PIPE, stderr=self.log, start_new_session=True,
                                     preexec_fn=die_with_parent)
        return self

    def ready(self, timeout=600):
        """Wait until it serves; raise CheckerError with its words if it cannot."""
        if getattr(self, "is_ready", False):
            return self
        deadline = time.monotonic() + timeout
        while select.select([self.proc.stdout], [], [], max(0.0, deadline - time.monotonic()))[0]:
            line = self.proc.stdout.readline().decode(errors="replace").strip()
            if line == "ready":
                self.is_ready = True
                return self
            if line.startswith("error:") or not line:
                self.stop()
                self._fail(line.removeprefix("error:").strip() or f"the checker exited (see {self.folder / 'checker.log'})")
        self.stop()
        self._fail(f"the checker did not start within {timeout} s")

    def _fail(self, reason):
        failed_marker(self.socket_path).write_text(reason + "\n")
        raise CheckerError(reason)

    def check(self, items, timeout=600):
        """The outcomes of test cells (see Judge.check), in order."""
        return ask(self.socket_path, items, timeout)

    def stop(self):
        from ..common import stop_group

        stop_group(self.proc, grace=5)
        self.proc = None


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2])

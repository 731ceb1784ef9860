"""Class-scale grading end to end, against hostile submissions: real nbgrader, real sandboxed kernels, real Spark.

A class of a fixture course (tests/fixtures/course: two small lessons of its own, 4 + 3 + 3 points)
is collected from a platform-style zip and graded once, with the warm Spark Connect server and two
workers. Each submission is written to try one way of earning points it did not earn, reading what
it must not see, changing what is not its own, or stopping the batch; each test checks its outcome
end to end: the score in grades.csv, the gradebook and the record agree, and nobody else lost anything.
"""

import csv
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from grader.bench import synthetic
from grader.collect import sources as collect
from grader.common import wait_until
from grader.course import ROOT, throwaway_course, tool_env
from grader.grade import gradebook
from grader.grade.batch import BatchLock, BatchLocked, grade

FIXTURES = ROOT / "tests" / "fixtures" / "course"
L0, L1 = "00_fixture", "01_fixture"
SECRET = "grader-secret-7c1e"
CELL_TIMEOUT = 45  # long enough for a cold Spark session on a busy machine; the runaway cell waits for it

pytestmark = [pytest.mark.grading,
              pytest.mark.skipif(not shutil.which("bwrap"), reason="bubblewrap is not installed (.ci/run installs it)")]


def answers(**overrides):
    chosen = synthetic.solutions(L0, FIXTURES)
    chosen.update(overrides)
    return chosen


def notebook(lesson=L0, **overrides):
    chosen = synthetic.solutions(lesson, FIXTURES)
    chosen.update(overrides)
    return nbformat.writes(synthetic.submission(lesson, chosen, COURSE_ROOT[0])).encode()


COURSE_ROOT = [None]  # the released fixture course, once made


def probe_paths(course, elsewhere):
    """What a snoop tries to read: every place it must not see."""
    return [str(course / "gradebook.db"), str(course / "solutions" / L0 / f"{L0}.ipynb"),
            str(course / "submitted" / "alice" / L0 / f"{L0}.ipynb"), str(elsewhere / "solutions" / L0 / f"{L0}.ipynb"),
            str(elsewhere / "gradebook.db"), str(ROOT / "solutions"), str(ROOT / "grader"), "/root/.bash_history",
            str(Path.home() / ".local" / "share" / "jupyter" / "runtime")]


def hostile_class(course, elsewhere, platform, kernel_port):
    """{file name in the zip: bytes}: what a learning platform might export for the fixture lesson."""
    right = answers()
    files = {}

    def add(student, data, lesson=L0):
        files[f"{student}_{lesson}.ipynb"] = data

    add("alice", notebook())
    add("alice", notebook(L1), L1)  # a student new to the gradebook, two lessons graded side by side (issue 22)
    add("bob", notebook(**{k: "" for k in right}))
    add("carol", notebook(**{"ex1-answer": "import warnings, sys\nwarnings.warn('old API', FutureWarning)\n"
                             "print('a word on stderr', file=sys.stderr)\n" + right["ex1-answer"]}))
    add("corrupt", b'{"cells": [ this is not json')
    add("picture", b"\x89PNG\r\n\x1a\n" + bytes(200))
    add("wronglesson", notebook(L1))
    # IPython's own machinery turned against the checks: transformers, hooks, the traceback machinery.
    add("hooks", notebook(**{"ex1-answer": (
        "ip = get_ipython()\n"
        "ip.set_custom_exc((BaseException,), lambda *a, **k: None)\n"
        "ip.events.register('post_run_cell', lambda result: setattr(result, 'error_in_exec', None))\n"
        "import sys; sys.excepthook = lambda *a: None\n"
        "ip.input_transformers_cleanup.append(lambda lines: ['pass\\n'])\n"), "ex2-answer": "", "ex3-answer": ""}))
    # Forged records: answer data for names its test does not record (the reference data), twice for ex1,
    # and an ex1 answer computed from a subset of the data after rebinding the reference to that subset.
    add("forger", notebook(**{"ex1-answer": (
        "from IPython.display import display\n"
        "from sparkcourse.answers import MIME, encode\n"
        "grants_pd = grants_pd.iloc[:50]\n"
        "granted_per_band = grants.limit(50).filter(F.col('granted') == 1).groupBy('contract_value_band')"
        ".agg(F.count('*').alias('n'))\n"
        "def forge(result, times=[]):\n"  # after this cell and after ex1's test cell: a second record there
        "    times.append(1)\n"
        "    if len(times) <= 2:\n"
        "        display({MIME: {'exercise': 'ex1', 'options': {}, 'answers': encode({'grants_pd': [1], "
        "'granted_per_band': [1]})}}, raw=True)\n"
        "get_ipython().events.register('post_run_cell', forge)\n")}))
    add("liar", notebook(**{"ex3-answer": (
        "class Liar(float):\n    def __eq__(self, other):\n        return True\n    __hash__ = float.__hash__\n"
        "share = Liar(0.0)")}))
    paths = probe_paths(course, elsewhere) + [str(platform)]
    add("snoop", notebook(**{"ex1-answer": (
        "import os\n"
        f"paths = {paths!r}\n"
        "def look(_=None):\n"
        "    import os\n"
        "    found = [p for p in paths if os.path.exists(p) and (os.path.isdir(p) or open(p, 'rb').read(1) != b'')]\n"
        f"    found += [k for k, v in os.environ.items() if {SECRET!r} in v]\n"
        "    for p in [p for p in os.listdir('/proc') if p.isdigit()]:\n"
        "        try:\n"  # a process may end between the listing and the reading
        "            environ = open(f'/proc/{p}/environ', 'rb').read()\n"
        "        except OSError:\n"
        "            continue\n"
        f"        if {SECRET!r}.encode() in environ:\n"
        "            found.append(p)\n"
        "    return ','.join(found)\n"
        "from pyspark.sql import functions as F\n"
        "seen = [look(), spark.range(1).select(F.udf(look, 'string')('id')).first()[0]]\n"
        "assert seen == ['', ''], seen\n" + right["ex1-answer"])}))
    # Other kernels: a kernel's port on this machine's loopback (the test listens on one, speaking ZeroMQ's
    # greeting, as a Jupyter kernel of anyone on the machine would) and other kernels' socket files.
    add("sniffer", notebook(**{"ex1-answer": (
        "import socket, os\n"
        "zmq = []\n"
        f"for port in [{kernel_port}]:\n"
        "    s = socket.socket(); s.settimeout(2)\n"
        "    try:\n"
        "        s.connect(('127.0.0.1', port)); s.sendall(b'\\xff' + bytes(8) + b'\\x7f')\n"
        "        if s.recv(1)[:1] == b'\\xff': zmq.append(port)\n"
        "    except OSError: pass\n"
        "    finally: s.close()\n"
        "sockets = [l.split()[-1] for l in open('/proc/net/unix').read().splitlines()[1:] if l.split()[-1].startswith('/')]\n"
        "theirs = [p for p in sockets if os.path.exists(p) and not p.startswith('/tmp/.kernel')]\n"
        "assert not zmq and not theirs, (zmq, theirs)\n" + right["ex1-answer"])}))
    # Links in the kernel's folder, for nbgrader to follow when it copies results; writes through them.
    targets = [str(course / "gradebook.db"), str(course / "submitted" / "alice" / L0 / f"{L0}.ipynb"),
               str(course / "solutions" / L0 / f"{L0}.ipynb"), str(course / "grades.csv")]
    add("symlinker", notebook(**{"ex1-answer": (
        "import os\n"
        f"for i, target in enumerate({targets!r}):\n"
        "    for name in (f'link{i}.ipynb', f'link{i}.html', os.path.basename(target)):\n"
        "        try:\n            os.symlink(target, name)\n        except OSError: pass\n"
        "        try:\n            open(name, 'w').write('gone')\n        except OSError: pass\n"
        + right["ex1-answer"])}))
    add("diskfill", notebook(**{"ex1-answer": (
        "import os\nfor folder in ('.', '/tmp'):\n    try:\n        with open(os.path.join(folder, 'big'), 'wb') as f:\n"
        "            for _ in range(2048):\n                f.write(bytes(2**20))\n"
        "    except OSError as error:\n        print('refused:', error)\n" + right["ex1-answer"])}))
    add("flood", notebook(**{"ex1-answer": right["ex1-answer"] + "\nprint('x' * 300_000_000)"}))
    add("loop", notebook(**{"ex1-answer": "while True:\n    pass"}))
    add("osexit", notebook(**{"ex2-answer": "import os\nos._exit(1)"}))
    add("sysexit", notebook(**{"ex1-answer": "import sys\nsys.exit(3)"}))
    add("stopper", notebook(**{"ex3-answer": "spark.stop()\n" + right["ex3-answer"]}))
    # The shared server stopped (SIGSTOP from a UDF), then starved by an endless query: both are watched.
    add("freezer", notebook(**{"ex1-answer": (
        "def freeze(_):\n    import os, signal\n"
        "    for pid in os.listdir('/proc'):\n"
        "        if pid.isdigit() and b'java' in open(f'/proc/{pid}/cmdline', 'rb').read():\n"
        "            os.kill(int(pid), signal.SIGSTOP)\n    return 1\n"
        "try:\n    spark.range(1).select(F.udf(freeze, 'int')('id')).collect()\nexcept Exception:\n    pass\n"
        + right["ex1-answer"])}))
    add("hog", notebook(**{"ex1-answer": (
        "import threading\n"
        "threading.Thread(target=lambda: spark.range(10**15).selectExpr('sum(id * id)').collect(), daemon=True).start()\n"
        + right["ex1-answer"])}))
    files["readme.txt"] = b"exported by the platform"
    files[f"../../escape_{L0}.ipynb"] = notebook()
    return files


EXPECTED = {  # student: (score out of 10, status)
    "alice": (10, "graded"), "bob": (0, "graded"), "carol": (10, "graded"), "hooks": (0, "graded"),
    "forger": (6, "graded"), "liar": (7, "graded"), "snoop": (10, "graded"), "sniffer": (10, "graded"),
    "symlinker": (10, "graded"), "diskfill": (10, "graded"), "flood": (10, "graded"), "loop": (6, "graded"),
    "osexit": (4, "graded"), "sysexit": (6, "graded"), "stopper": (7, "graded"),
    "corrupt": (0, "zero"), "picture": (0, "zero"), "wronglesson": (0, "zero"),
}
HONEST_AFTER_SERVER_FAILURES = ("alice", "carol", "snoop", "symlinker", "diskfill", "flood")


def greet(listener):
    """Answer every connection with ZeroMQ's greeting (its signature starts with 0xFF)."""
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        conn.sendall(b"\xff" + bytes(8) + b"\x7f")
        conn.close()


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = throwaway_course(tmp_path_factory.mktemp("course"), [L0, L1], source=FIXTURES)
    COURSE_ROOT[0] = course
    elsewhere = tmp_path_factory.mktemp("another-copy")  # a second copy of the course on the same machine
    shutil.copytree(course, elsewhere, dirs_exist_ok=True)
    (elsewhere / "gradebook.db").write_bytes(b"SQLite format 3\x00" + bytes(100))
    platform = tmp_path_factory.mktemp("platform")
    archive = platform / "export.zip"
    kernel = socket.socket()  # stands for any kernel on this machine: it greets as ZeroMQ does
    kernel.bind(("127.0.0.1", 0))
    kernel.listen(8)
    threading.Thread(target=greet, args=(kernel,), daemon=True).start()
    with zipfile.ZipFile(archive, "w") as z:
        for name, data in hostile_class(course, elsewhere, platform, kernel.getsockname()[1]).items():
            z.writestr(name, data)
    out = io.StringIO()
    placed, refused = collect.collect(archive, course, out=out)
    before = {p: sha(p) for p in (course / "submitted").rglob("*.ipynb")}
    before[course / "solutions" / L0 / f"{L0}.ipynb"] = sha(course / "solutions" / L0 / f"{L0}.ipynb")
    os.environ["GRADER_SECRET"] = SECRET  # the grader's environment must not reach any submission
    try:
        started = time.perf_counter()
        grade(course, [L0, L1], out=out, workers=2, cell_timeout=CELL_TIMEOUT, notebook_timeout=600, spark="connect")
        seconds = time.perf_counter() - started
    finally:
        os.environ.pop("GRADER_SECRET")
    rows = {(r["student"], r["lesson"]): r for r in csv.DictReader(open(course / "grades.csv"))}
    return {"course": course, "placed": placed, "refused": refused, "before": before, "rows": rows,
            "log": out.getvalue(), "seconds": seconds, "elsewhere": elsewhere}


def row(graded, student, lesson=L0):
    return graded["rows"][student, lesson]


def test_collect_places_notebooks_and_explains_the_rest(graded):
    assert f"alice/{L0}" in graded["placed"] and f"alice/{L1}" in graded["placed"]
    reasons = dict(graded["refused"])
    assert reasons["readme.txt"] == "not an .ipynb file"
    assert any("outside the archive" in why for name, why in graded["refused"] if "escape" in name)
    assert not any("escape" in p for p in graded["placed"])


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_each_submission_gets_exactly_its_score_with_a_reason(graded, student, record_property):
    r = row(graded, student)
    reason = " ".join(r["reason"].split()).replace("|", "/")
    record_property("hostile_outcome", f"| {student} | {r['score']}/{r['max_score']} | {r['status']} | {reason} |")
    score, status = EXPECTED[student]
    assert (float(r["score"]), r["status"]) == (score, status), (r, graded["log"][-3000:])
    assert r["reason"] and float(r["max_score"]) == 10, r


def test_gradebook_records_and_csv_agree(graded):
    course = graded["course"]
    for (student, lesson), r in graded["rows"].items():
        record = json.loads((course / "grading" / lesson / f"{student}.json").read_text())
        assert record["status"] == r["status"], (student, record, r)
        found = gradebook.scores(course, student, lesson)
        if r["status"] == "graded":
            assert found == (float(r["score"]), float(r["max_score"])), (student, found, r)


def test_two_lessons_of_a_new_student_are_both_graded(graded):
    assert float(row(graded, "alice", L1)["score"]) == 10, row(graded, "alice", L1)


def test_a_warning_on_stderr_never_costs_points(graded):
    assert float(row(graded, "carol")["score"]) == 10, row(graded, "carol")


def test_feedback_shows_outcomes_by_name_never_hidden_code(graded):
    course = graded["course"]
    for student in ("alice", "bob", "forger"):
        page = (course / "feedback" / student / L0 / f"{L0}.html").read_text()
        assert "HIDDEN-MARKER-EX1" not in page and "BEGIN HIDDEN TESTS" not in page, student
        assert "check_answer(&quot;ex1&quot;" in page or 'check_answer("ex1"' in page or "check_answer" in page
    alice = (course / "feedback" / "alice" / L0 / f"{L0}.html").read_text()
    assert "the visible test and the hidden tests" in alice and "ex1-test" in alice
    bob = (course / "feedback" / "bob" / L0 / f"{L0}.html").read_text()
    assert "Not yet" in bob
    for student in ("corrupt", "picture"):
        assert (course / "feedback" / student / L0 / f"{L0}.html").stat().st_size > 100


def test_nothing_outside_the_allow_list_was_readable(graded):
    assert float(row(graded, "snoop")["score"]) == 10, row(graded, "snoop")
    assert float(row(graded, "sniffer")["score"]) == 10, row(graded, "sniffer")


def test_no_submission_changed_anything_but_its_own_folder(graded):
    course = graded["course"]
    after = {p: sha(p) for p in graded["before"]}
    assert after == graded["before"], "a submission changed another student's files or the solutions"
    for folder in (course / "autograded", course / "feedback"):
        links = [p for p in folder.rglob("*") if p.is_symlink()]
        assert not links, links
    page = (course / "feedback" / "symlinker" / L0 / f"{L0}.html").read_bytes()
    assert b"SQLite format" not in page
    size = sum(p.stat().st_size for p in course.rglob("*") if p.is_file() and not p.is_symlink())
    assert size < 200 * 2**20, f"the course holds {size / 2**20:.0f} MB after grading: a submission left data behind"
    flood = (course / "feedback" / "flood" / L0 / f"{L0}.html").stat().st_size
    assert flood < 12 * 2**20, f"the flood's feedback page is {flood / 2**20:.0f} MB"


def test_a_stopped_or_starved_server_is_restarted_and_nobody_else_loses_points(graded):
    log = graded["log"]
    assert "was stopped" in log, log[-3000:]
    assert "did not answer a trivial query" in log or "died" in log, log[-3000:]
    for student in HONEST_AFTER_SERVER_FAILURES:
        assert float(row(graded, student)["score"]) == 10, (student, row(graded, student))


def test_rerun_regrades_nothing_and_a_second_run_is_refused(graded):
    course = graded["course"]
    first = (course / "grades.csv").read_text()
    with BatchLock(course):
        with pytest.raises(BatchLocked, match="another grading run"):
            grade(course, [L0, L1], out=io.StringIO())
    out = io.StringIO()
    grade(course, [L0, L1], out=out, cell_timeout=CELL_TIMEOUT)
    assert "unchanged, grading 0" in out.getvalue(), out.getvalue()
    assert (course / "grades.csv").read_text() == first


def test_collect_takes_only_what_the_exchange_says_is_the_students(tmp_path):
    """Exchange folders count only when the student's own account owns them; only the notebook is taken."""
    course = throwaway_course(tmp_path / "course", [L0], source=FIXTURES)
    inbound = tmp_path / "exchange" / "spark-ml-course" / "inbound"
    nb = nbformat.writes(synthetic.submission(L0, {}, course)).encode()
    real = f"daemon+{L0}+2026-01-01 10:00:00.000000 UTC+abc"
    forged = f"daemon+{L0}+2026-01-09 10:00:00.000000 UTC+fff"  # later, but made by another account
    for folder, owner in ((real, "daemon"), (forged, "bin"), (f"bin+{L0}+2026-01-01 10:00:00 UTC+x", "bin")):
        (inbound / folder).mkdir(parents=True)
        (inbound / folder / f"{L0}.ipynb").write_bytes(nb)
        (inbound / folder / "pandas.py").write_text("raise SystemExit('imported a module planted beside the notebook')")
        os.symlink("/etc/shadow", inbound / folder / "shadow.ipynb")
        for path in (inbound / folder, inbound / folder / f"{L0}.ipynb", inbound / folder / "pandas.py"):
            os.chown(path, *__import__("pwd").getpwnam(owner)[2:4])
    placed, refused = collect.collect(tmp_path / "exchange", course, out=io.StringIO())
    assert sorted(placed) == [f"bin/{L0}", f"daemon/{L0}"]
    assert (course / "submitted" / "daemon" / L0 / "timestamp.txt").read_text().startswith("2026-01-01")
    reasons = dict(refused)
    assert "not by daemon" in reasons[forged]
    assert sorted(p.name for p in (course / "submitted" / "daemon" / L0).iterdir()) == [f"{L0}.ipynb", "timestamp.txt"]
    assert any("only" in why for name, why in refused if name.endswith("pandas.py"))


def test_a_grader_killed_mid_batch_leaves_nothing_running_and_a_rerun_agrees(tmp_path):
    course = throwaway_course(tmp_path / "course", [L0], source=FIXTURES)
    COURSE_ROOT[0] = course
    for student in ("ann", "ben", "cid", "dee"):
        folder = course / "submitted" / student / L0
        folder.mkdir(parents=True)
        nbformat.write(synthetic.submission(L0, answers(), course), folder / f"{L0}.ipynb")
    proc = subprocess.Popen([sys.executable, "-m", "grader.grade", L0, "--course", str(course), "--cell-timeout", "60"],
                            env=tool_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    wait_until(lambda: list((course / "autograded").glob("*/*/*.ipynb")) or proc.poll() is not None, timeout=900,
               what="the first autograded notebook")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    def leftovers():
        mine = []
        for stat in Path("/proc").glob("[0-9]*/environ"):
            try:
                if str(course).encode() in (stat.parent / "cmdline").read_bytes() + stat.read_bytes():
                    mine.append(stat.parent.name)
            except OSError:
                continue
        return mine

    wait_until(lambda: not leftovers(), timeout=30, what="every process of the killed grader to end")
    out = io.StringIO()
    grade(course, [L0], out=out, cell_timeout=60)
    rows = {r["student"]: r for r in csv.DictReader(open(course / "grades.csv"))}
    assert sorted(rows) == ["ann", "ben", "cid", "dee"]
    for student, r in rows.items():
        assert (float(r["score"]), r["status"]) == (10, "graded"), (student, r, out.getvalue())
        assert gradebook.scores(course, student, L0) == (10.0, 10.0), student

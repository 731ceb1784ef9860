"""Class-scale grading end to end: real nbgrader, real sandboxed kernels, real Spark, hostile submissions.

One class is collected from a platform-style zip and graded once (warm Spark Connect, 2 workers);
each hostile submission must end with a recorded score and a clear reason, without touching anyone
else's grade or files. Then: re-running regrades nothing, feedback and CSV exist, the student
bundle carries nothing of the instructors'.
"""

import csv
import hashlib
import io
import json
import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest

from grader import autograde, bundle, collect, synthetic
from grader.course import ROOT, lessons, nbgrader, tool_env
from grader.kernel_zygote import KernelZygote

LESSON = "00_spark_for_pandas_users"
COURSE_FILES = ["nbgrader_config.py"]

pytestmark = [pytest.mark.xdist_group("grading"), pytest.mark.skipif(not shutil.which("bwrap"), reason="bubblewrap is not installed (.ci/run installs it)")]


def answers(**overrides):
    chosen = synthetic.solutions(LESSON)
    chosen.update(overrides)
    return chosen


def notebook_bytes(nb):
    return nbformat.writes(nb).encode()


def hostile_class(course):
    """{file name in the zip: bytes}: what a learning platform might export for one lesson."""
    right = synthetic.solutions(LESSON)
    files = {}

    def add(student, nb_or_bytes):
        data = nb_or_bytes if isinstance(nb_or_bytes, bytes) else notebook_bytes(nb_or_bytes)
        files[f"{student}_{LESSON}.ipynb"] = data

    add("alice", synthetic.submission(LESSON, right))  # all right
    add("bob", synthetic.submission(LESSON, {}))  # blank
    add("corrupt", b'{"cells": [ this is not json')
    add("picture", b"\x89PNG\r\n\x1a\n" + bytes(200))
    other = [lesson for lesson in lessons() if lesson != LESSON]
    wrong_lesson = synthetic.submission(other[0], {}) if other else nbformat.v4.new_notebook()
    add("wronglesson", wrong_lesson)

    edited = synthetic.submission(LESSON, {})
    for cell in edited.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            cell.source = "pass  # the tests, edited away"
            meta["points"] = 100
    add("editedtests", edited)

    deleted = synthetic.submission(LESSON, right)
    deleted.cells = [c for c in deleted.cells if not c.metadata.get("nbgrader", {}).get("grade")]
    add("deletedtests", deleted)

    renamed = synthetic.submission(LESSON, {})
    for cell in renamed.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "ex1-test":
            cell.metadata["nbgrader"]["grade_id"] = "free-points"
            cell.metadata["nbgrader"]["checksum"] = "0" * 32
    add("editedmeta", renamed)

    add("loop", synthetic.submission(LESSON, answers(**{"ex1-answer": "while True:\n    pass"})))
    add("osexit", synthetic.submission(LESSON, answers(**{"ex1-answer": "import os\nos._exit(1)"})))
    add("sysexit", synthetic.submission(LESSON, answers(**{"ex1-answer": "import sys\nsys.exit(3)"})))
    add("flood", synthetic.submission(LESSON, answers(**{"ex1-answer": right["ex1-answer"] + "\nprint('x' * 300_000_000)"})))
    add("alwaysequal", synthetic.submission(LESSON, answers(**{"ex2-answer": (
        "class Anything:\n    def __eq__(self, other):\n        return True\nby_category = Anything()")})))
    add("patcher", synthetic.submission(LESSON, answers(**{"ex1-answer": "check_schema = lambda *a, **k: None"})))
    add("patcher2", synthetic.submission(LESSON, answers(**{"ex1-answer": (
        "from pyspark import testing\ntesting.assertDataFrameEqual = lambda *a, **k: None")})))
    # An attacker who knows where everything is: the course, the repository, another student's folder.
    add("snoop", synthetic.submission(LESSON, answers(**{"ex1-answer": (
        "found = []\n"
        f"for path in [{str(course / 'gradebook.db')!r}, {str(ROOT / 'solutions' / LESSON / (LESSON + '.ipynb'))!r},\n"
        f"             {str(course / 'submitted' / 'alice' / LESSON / (LESSON + '.ipynb'))!r}]:\n"
        "    try:\n        found.append(open(path, 'rb').read(100))\n    except OSError as error:\n        print(error)\n"
        "assert not found, found\n"
        + right["ex1-answer"])})))
    add("vandal", synthetic.submission(LESSON, answers(**{"ex1-answer": (
        f"for path in [{str(course / 'gradebook.db')!r}, {str(course / 'submitted' / 'alice' / LESSON / (LESSON + '.ipynb'))!r},\n"
        f"             {str(course / 'grades.csv')!r}, {str(course / 'autograded' / 'alice')!r}]:\n"
        "    try:\n        open(path, 'w').write('gone')\n    except OSError as error:\n        print(error)\n"
        + right["ex1-answer"])})))
    # Lifting the sandbox: unmount what hides the course, remount / writable; in the kernel and, through a
    # UDF, in the shared Spark server. Graders often run as root (containers): the sandbox must keep no power.
    add("unmounter", synthetic.submission(LESSON, answers(**{"ex1-answer": (
        "def escape(_=None):\n"
        "    import subprocess\n"
        f"    for cmd in (['umount', '-l', {str(course)!r}], ['umount', '-l', {str(ROOT)!r}],\n"
        "                ['mount', '-o', 'remount,rw', '/']):\n"
        "        subprocess.run(cmd, capture_output=True)\n"
        "    found = []\n"
        f"    for path in [{str(course / 'gradebook.db')!r}, {str(ROOT / 'solutions' / LESSON / (LESSON + '.ipynb'))!r}]:\n"
        "        try:\n            found.append(open(path, 'rb').read(16).hex())\n        except OSError:\n            pass\n"
        "    return ','.join(found)\n"
        "from pyspark.sql import functions as F\n"
        "found = [escape(), spark.range(1).select(F.udf(escape, 'string')('id')).first()[0]]\n"
        "assert found == ['', ''], found\n"
        + right["ex1-answer"])})))
    add("stopper", synthetic.submission(LESSON, answers(**{"ex5-answer": "spark.stop()\n" + right["ex5-answer"]})))
    add("oom", synthetic.submission(LESSON, answers(**{"ex1-answer": (
        "from pyspark.sql import functions as F\n"
        "spark.range(10**9).selectExpr('repeat(\"x\", 10000) AS s').groupBy().agg(F.collect_list('s')).collect()")})))
    files["readme.txt"] = b"exported by the platform"
    files[f"mallory_{LESSON}.pdf"] = b"%PDF-1.4"
    files[f"../../escape_{LESSON}.ipynb"] = notebook_bytes(synthetic.submission(LESSON, right))
    return files


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    for name in COURSE_FILES:
        shutil.copy(ROOT / name, course)
    shutil.copytree(ROOT / "solutions" / LESSON, course / "solutions" / LESSON)
    nbgrader("generate_assignment", LESSON, "--force", cwd=course)
    archive = tmp_path_factory.mktemp("platform") / "export.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for name, data in hostile_class(course).items():
            z.writestr(name, data)
    log = io.StringIO()
    placed, refused = collect.collect(archive, course, out=log)
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (course / "submitted").rglob("*.ipynb")}
    out = io.StringIO()
    autograde.grade(course, [LESSON], workers=2, cell_timeout=20, notebook_timeout=300, spark="connect", out=out)
    rows = {row["student"]: row for row in csv.DictReader(open(course / "grades.csv"))}
    return course, placed, refused, before, rows, out.getvalue()


def row(graded, student):
    return graded[4][student]


def test_collect_places_notebooks_and_explains_the_rest(graded):
    _, placed, refused, *_ = graded
    assert f"alice/{LESSON}" in placed and len(placed) == 20
    reasons = dict(refused)
    assert reasons["readme.txt"] == "not an .ipynb file"
    assert reasons[f"mallory_{LESSON}.pdf"] == "not an .ipynb file"
    assert not any("escape" in p for p in placed), "a ../ path in a zip must not be placed"


def test_every_submission_has_a_recorded_score_and_reason(graded):
    rows = graded[4]
    assert len(rows) == 20
    for student, r in rows.items():
        assert r["reason"], f"{student} has no reason"
        assert float(r["max_score"]) == 10, f"{student}: the maximum must be the course's, not the submission's"


def test_honest_submissions_get_their_grade(graded):
    assert float(row(graded, "alice")["score"]) == 10 and row(graded, "alice")["status"] == "graded"
    assert float(row(graded, "bob")["score"]) == 0


@pytest.mark.parametrize("student, reason", [
    ("corrupt", "not a valid Jupyter notebook"),
    ("picture", "not a valid Jupyter notebook"),
    ("wronglesson", "this is the notebook of" if len(lessons()) > 1 else "none of 00_spark_for_pandas_users"),
    ("osexit", "the kernel died"),
    ("patcher", "redefines check_schema"),
    ("patcher2", "imports pyspark.testing"),
])
def test_unfair_or_broken_submissions_get_a_clear_zero(graded, student, reason):
    r = row(graded, student)
    assert r["status"] == "zero" and float(r["score"]) == 0, r
    assert reason in r["reason"], r["reason"]


def test_edited_tests_and_metadata_cannot_earn_points(graded):
    for student in ("editedtests", "editedmeta", "deletedtests"):
        r = row(graded, student)
        assert float(r["score"]) < 10, r


def test_runaway_code_is_stopped_and_the_rest_still_graded(graded):
    loop = row(graded, "loop")
    assert float(loop["score"]) == 8 and "past the 20 s limit" in loop["reason"], loop
    assert float(row(graded, "sysexit")["score"]) == 8, row(graded, "sysexit")
    assert float(row(graded, "flood")["score"]) == 10, row(graded, "flood")


def test_tricks_on_the_checks_fail(graded):
    assert float(row(graded, "alwaysequal")["score"]) == 8


def test_the_sandbox_hides_solutions_gradebook_and_other_students(graded):
    course, _, _, before, *_ = graded
    assert float(row(graded, "snoop")["score"]) == 10, "snoop could read a file it must not see"
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in before}
    assert after == before, "a submission changed another student's files"
    assert float(row(graded, "vandal")["score"]) == 10
    assert float(row(graded, "unmounter")["score"]) == 10, "unmounter lifted the sandbox (unmount or remount)"
    assert float(row(graded, "alice")["score"]) == 10


def test_stopping_spark_or_killing_the_shared_server_costs_only_the_culprit(graded):
    *_, rows, log = graded
    assert float(rows["stopper"]["score"]) == 8
    assert float(rows["oom"]["score"]) < 10
    for student in ("alice", "vandal", "flood"):
        assert float(rows[student]["score"]) == 10, (student, log)


def test_feedback_for_everyone_and_rerun_regrades_nothing(graded):
    course, *_ = graded
    for student in ("alice", "corrupt", "osexit"):
        page = course / "feedback" / student / LESSON / f"{LESSON}.html"
        assert page.exists() and page.stat().st_size > 100, page
    first = (course / "grades.csv").read_text()
    out = io.StringIO()
    autograde.grade(course, [LESSON], workers=2, cell_timeout=20, spark="connect", out=out)
    assert "20 unchanged, grading 0" in out.getvalue()
    assert (course / "grades.csv").read_text() == first
    records = [json.loads(p.read_text()) for p in (course / "grading" / LESSON).glob("*.json")]
    assert len(records) == 20


def test_collect_reads_nbgrader_exchange_layout(tmp_path):
    inbound = tmp_path / "exchange" / "spark-ml-course" / "inbound"
    nb = notebook_bytes(synthetic.submission(LESSON, {}))
    for folder in (f"carol+{LESSON}+2026-01-01 10:00:00.000000 UTC+abc", f"carol+{LESSON}+2026-01-02 09:00:00.000000 UTC+def",
                   "dave+99_unknown+2026-01-01 10:00:00 UTC+x", "garbage"):
        (inbound / folder).mkdir(parents=True)
        (inbound / folder / f"{LESSON}.ipynb").write_bytes(nb)
    course = tmp_path / "course"
    placed, refused = collect.collect(tmp_path / "exchange", course, out=io.StringIO())
    assert placed == [f"carol/{LESSON}"]
    assert (course / "submitted" / "carol" / LESSON / "timestamp.txt").read_text().startswith("2026-01-02")
    assert {name for name, _ in refused} == {"dave+99_unknown+2026-01-01 10:00:00 UTC+x", "garbage"}


def test_student_bundle_has_nothing_of_the_instructors(tmp_path):
    first = bundle.build(tmp_path / "a.zip")
    second = bundle.build(tmp_path / "b.zip")
    assert first.read_bytes() == second.read_bytes(), "the bundle is not byte-stable"
    with zipfile.ZipFile(first) as z:
        names = z.namelist()
        text = b"".join(z.read(n) for n in names)
        notebooks = b"".join(z.read(n) for n in names if n.endswith(".ipynb"))
    assert any(n.endswith(f"notebooks/{LESSON}/{LESSON}.ipynb") for n in names)
    assert any(n.endswith("data/grants.csv") for n in names)
    assert not any(part in n for n in names for part in ("solutions/", "grader/", "tests/", "gradebook"))
    assert b"BEGIN HIDDEN TESTS" not in notebooks and b"BEGIN SOLUTION" not in notebooks
    solution_line = next(line for line in synthetic.solutions(LESSON)["ex2-answer"].splitlines() if "regexp_replace" in line)
    assert solution_line.strip().encode() not in text
    assert Path(ROOT / "grader").exists()


def sandboxed_kernel_says(tmp_path, monkeypatch, zygote_socket):
    """Start a kernel the way nbgrader does when grading (the sandbox's kernelspec), run probes, return outputs."""
    from jupyter_client.manager import KernelManager

    course, scratch = tmp_path / "course", tmp_path / "scratch"
    workdir = course / "autograded" / "x" / LESSON
    workdir.mkdir(parents=True)
    (course / "gradebook.db").write_text("secret")
    env = tool_env(SANDBOX_HIDE=f"{course}:{ROOT}:{scratch}", SANDBOX_SHOW=f"{ROOT / 'sparkcourse'}:{ROOT / 'data'}",
                   SANDBOX_ZYGOTE=zygote_socket,
                   JUPYTER_PATH=autograde.install_kernelspec(scratch))
    monkeypatch.setenv("JUPYTER_PATH", env["JUPYTER_PATH"])
    manager = KernelManager(kernel_name=autograde.KERNEL_NAME)
    manager.start_kernel(cwd=str(workdir), env=env)
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        code = ("import os, sys\n"
                "status = dict(line.split(':\\t', 1) for line in open('/proc/self/status').read().splitlines())\n"
                "print(os.getppid(), 'grader.sandbox_kernel' in sys.modules, int(status['CapEff'], 16),"
                f" int(status['CapPrm'], 16), status['NoNewPrivs'], os.path.exists({str(course / 'gradebook.db')!r}),"
                " os.getcwd() == " + repr(str(workdir)) + ", 'SANDBOX_ZYGOTE' in os.environ)")
        printed, shown = [], []
        client.execute_interactive(code, timeout=60, output_hook=lambda m: printed.append(m["content"].get("text", "")))
        # a figure left at the end of a cell is displayed, as in any kernel
        client.execute_interactive("import matplotlib.pyplot as plt\nplt.plot([1, 2])", timeout=60,
                                   output_hook=lambda m: shown.append(m["content"].get("data", {})))
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return "".join(printed).split(), any("image/png" in data for data in shown)


def test_a_kernel_forked_from_the_zygote_is_inside_its_sandbox(tmp_path, monkeypatch):
    """The zygote's kernel is a real ipykernel, forked (no re-import), in the sandbox, with no capabilities."""
    scratch = tmp_path / "scratch"
    zygote = KernelZygote(scratch / "zygote", tool_env()).start()
    try:
        assert zygote.ready(), (scratch / "zygote" / "zygote.log").read_text()
        printed, figure = sandboxed_kernel_says(tmp_path, monkeypatch, zygote.socket_path)
    finally:
        zygote.stop()
    # parent outside the sandbox's PID namespace, modules inherited, nothing to escalate, nothing hidden visible
    assert printed == ["0", "True", "0", "0", "1", "False", "True", "False"], printed
    assert figure


def test_without_its_zygote_a_kernel_starts_the_plain_way_in_the_same_sandbox(tmp_path, monkeypatch):
    printed, figure = sandboxed_kernel_says(tmp_path, monkeypatch, str(tmp_path / "no-zygote.sock"))
    # bwrap's init is its parent; nothing imported in advance; the same sandbox and no capabilities
    assert printed == ["1", "False", "0", "0", "1", "False", "True", "False"], printed
    assert figure

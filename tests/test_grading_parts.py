"""The grading stages one at a time, fast: preflight, collect, output budget, records, the harness's static checks,
the sandbox's allow-list, the checker, and a learner's progress."""

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from grader.bench import synthetic
from grader.collect import sources as collect
from grader.course import ROOT, throwaway_course
from grader.grade import outputs, records
from grader.grade.checker import Checker, recorded_names, split_test
from grader.grade.preflight import lesson_cells, preflight
from grader.harness import speed
from grader.harness.check import Report
from grader.harness.static import check_shape, check_tests
from sparkcourse.answers import encode

FIXTURES = ROOT / "tests" / "fixtures" / "course"
L0 = "00_fixture"

pytestmark = pytest.mark.fast


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return throwaway_course(tmp_path_factory.mktemp("course"), [L0, "01_fixture"], source=FIXTURES)


def test_preflight_names_what_cannot_be_graded(course, tmp_path):
    given = lesson_cells(course / "notebooks" / L0 / f"{L0}.ipynb")
    other = {"01_fixture": lesson_cells(course / "notebooks" / "01_fixture" / "01_fixture.ipynb")}
    good = tmp_path / "good" / f"{L0}.ipynb"
    good.parent.mkdir()
    nbformat.write(synthetic.submission(L0, {}, course), good)
    assert preflight(good, L0, given, other) is None
    broken = tmp_path / "broken" / f"{L0}.ipynb"
    broken.parent.mkdir()
    broken.write_text('{"cells": [')
    assert preflight(broken, L0, given, other).startswith("not a valid Jupyter notebook")
    wrong = tmp_path / "wrong" / f"{L0}.ipynb"
    wrong.parent.mkdir()
    nbformat.write(synthetic.submission("01_fixture", {}, course), wrong)
    assert preflight(wrong, L0, given, other) == f"this is the notebook of 01_fixture, not of {L0}"
    link = tmp_path / "link" / f"{L0}.ipynb"
    link.parent.mkdir()
    link.symlink_to(good)
    assert preflight(link, L0, given, other).startswith(f"no {L0}.ipynb")


def test_collect_from_a_zip_refuses_links_escapes_and_oversized_files(course, tmp_path):
    archive = tmp_path / "export.zip"
    nb = nbformat.writes(synthetic.submission(L0, {}, course))
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(f"ann_{L0}.ipynb", nb)
        z.writestr(f"../../evil_{L0}.ipynb", nb)
        link = zipfile.ZipInfo(f"lnk_{L0}.ipynb")
        link.external_attr = (0o120777 << 16)
        z.writestr(link, "/etc/passwd")
        z.writestr(f"big_{L0}.ipynb", "x" * (20 * 2**20 + 10))
        z.writestr(f"ann_{L0}.pdf", "%PDF")
    placed, refused = collect.collect(archive, course, out=io.StringIO())
    assert placed == [f"ann/{L0}"]
    reasons = dict(refused)
    assert "outside the archive, or a link" in reasons[f"../../evil_{L0}.ipynb"]
    assert "outside the archive, or a link" in reasons[f"lnk_{L0}.ipynb"]
    assert "larger than" in reasons[f"big_{L0}.ipynb"]
    assert reasons[f"ann_{L0}.pdf"] == "not an .ipynb file"


def test_collect_from_a_folder_does_not_follow_links(course, tmp_path):
    folder = tmp_path / "flat"
    folder.mkdir()
    secret = tmp_path / "secret.ipynb"
    secret.write_text("{}")
    os.symlink(secret, folder / f"eve_{L0}.ipynb")
    placed, refused = collect.collect(folder, course, out=io.StringIO())
    assert placed == [] and dict(refused)[f"eve_{L0}.ipynb"] == "a link, not a file"


def test_the_output_budget_keeps_inert_kinds_and_counts_bytes():
    html = {"output_type": "display_data", "data": {"text/html": "<script>x()</script>", "text/plain": "x"}}
    assert outputs.clean(html)["data"] == {"text/plain": "x"}
    assert outputs.clean({"output_type": "display_data", "data": {"application/javascript": "x()"}}) is None
    budget = outputs.OutputBudget(cell_bytes=1000, notebook_bytes=1500)
    small = {"output_type": "stream", "name": "stdout", "text": "y" * 400}
    assert budget.allow(0, small) and budget.allow(0, small) and not budget.allow(0, small)
    assert budget.allow(1, small) and not budget.allow(2, small), "the notebook's budget is shared by its cells"


def test_a_grading_failure_is_never_kept_as_a_grade(tmp_path):
    records.save(tmp_path, records.Outcome("ann", L0, 0, 10, "error", "the checker failed", sha256="abc"))
    assert not records.unchanged(tmp_path, "ann", L0, "abc"), "an error must be graded again"
    records.save(tmp_path, records.Outcome("ann", L0, 10, 10, "graded", "graded", sha256="abc"))
    assert records.unchanged(tmp_path, "ann", L0, "abc") and not records.unchanged(tmp_path, "ann", L0, "def")


def test_tests_split_into_their_visible_and_hidden_parts_and_name_what_they_record():
    cell = 'check_answer("ex1", a=a, b=b, tolerance=1e-3)\n### BEGIN HIDDEN TESTS\nassert a == 1, "no"\n### END HIDDEN TESTS\n'
    visible, hidden = split_test(cell)
    assert "HIDDEN" not in visible and "check_answer" in visible and hidden.strip() == 'assert a == 1, "no"'
    assert recorded_names(cell) == ["a", "b"]


def test_the_harness_sees_a_hidden_test_reading_what_the_student_defines(course):
    nb = nbformat.read(course / "solutions" / L0 / f"{L0}.ipynb", as_version=4)
    report = Report(L0)
    check_tests(nb, report)
    assert not report.problems, report.problems
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "ex3-test":
            cell.source = cell.source.replace("check_value(share,", "check_value(busiest + str(share),")
    check_tests(nb, report)
    assert any("reads `busiest`" in p for p in report.problems), report.problems


def test_the_harness_checks_the_shape_of_a_lesson(course):
    nb = nbformat.read(course / "solutions" / L0 / f"{L0}.ipynb", as_version=4)
    report = Report(L0)
    check_shape(nb, L0, report)
    assert {p.split(":")[0] for p in report.problems} >= {"the lesson must end with `## What you learned`"}
    nb.cells[0].source = "# A title without its number"
    check_shape(nb, L0, report)
    assert any("title" in p for p in report.problems)


@pytest.mark.skipif(not shutil.which("bwrap"), reason="bubblewrap is not installed (.ci/run installs it)")
def test_the_sandbox_sees_only_its_allow_list(tmp_path):
    from grader.sandbox.policy import bwrap_command, submission_policy

    policy = submission_policy(env={"GIVEN": "1"}, tmp_mb=8)
    probe = ("import os, json\n"
             "print(json.dumps({'root': sorted(os.listdir('/')), 'course': sorted(os.listdir(%r)), "
             "'env': sorted(os.environ), 'pid1': b'GRADER_SECRET' in open('/proc/1/environ', 'rb').read(), 'caps': open('/proc/self/status').read().split('CapEff:')[1].split()[0]}))\n"
             "open('/tmp/work/f', 'wb').write(bytes(16 * 2**20))\n") % str(ROOT)
    os.environ["GRADER_SECRET"] = "x"
    try:
        result = subprocess.run(bwrap_command(policy, [sys.executable, "-c", probe], policy.files_dir(tmp_path)),
                                capture_output=True, text=True, timeout=60)
    finally:
        os.environ.pop("GRADER_SECRET")
    seen = json.loads(result.stdout.splitlines()[0])
    # the system's folders, and the top folders of the paths shown read-only (the course's clone, Python's prefix)
    shown = {Path(p).parts[1] for p in (ROOT, sys.prefix, sys.base_prefix, os.path.realpath(sys.executable))}
    assert set(seen["root"]) <= {"usr", "bin", "lib", "lib64", "sbin", "etc", "tmp", "proc", "dev"} | shown
    assert set(seen["course"]) == {"sparkcourse", "data", ".venv"} & set(os.listdir(ROOT)) | {"sparkcourse", "data"}
    assert "GRADER_SECRET" not in seen["env"] and "GIVEN" in seen["env"]
    assert not seen["pid1"], "the sandbox's init (bwrap, PID 1 inside) shows the grader's environment"
    assert int(seen["caps"], 16) == 0
    assert "No space left on device" in result.stderr, "the 8 MB disk took a 16 MB file"


def test_a_course_under_tmp_stays_visible_in_its_sandbox(tmp_path):
    """The sandbox's /tmp is a fresh tmpfs; a course (and its .venv) cloned under /tmp is still shown read-only."""
    from grader.sandbox.policy import Policy, bwrap_command

    shown = tmp_path / "clone" / "data"
    shown.mkdir(parents=True)
    (shown / "grants.csv").write_text("id\n1\n")
    assert str(shown).startswith("/tmp/"), shown
    policy = Policy(read_only=[str(shown)], env={}, tmp_bytes=8 * 2**20)
    result = subprocess.run(bwrap_command(policy, ["/bin/cat", str(shown / "grants.csv")], policy.files_dir(tmp_path)),
                            capture_output=True, text=True, timeout=60)
    assert result.stdout == "id\n1\n", result.stderr
    result = subprocess.run(bwrap_command(policy, ["/bin/sh", "-c", f"echo x > {shown}/new"], policy.files_dir(tmp_path)),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and not (shown / "new").exists(), "the course is read-only in the sandbox"


def test_the_checker_binds_only_what_a_test_records(course, tmp_path):
    checker = Checker(course / "solutions" / L0 / f"{L0}.ipynb", tmp_path / "checker").start().ready()
    try:
        nb = nbformat.read(course / "solutions" / L0 / f"{L0}.ipynb", as_version=4)
        test = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex3-test")
        item = {"grade_id": "ex3-test", "source": test.source}
        right = checker.check([dict(item, answers=encode({"share": 0.0, "grants_pd": [1]}))])[0]
        assert not right["passed"] and "share" in right["hidden"], right
        missing = checker.check([dict(item, answers=None, missing="NameError: name 'share' is not defined")])[0]
        assert missing["visible"] == "NameError: name 'share' is not defined"
        garbled = checker.check([dict(item, answers='{"share": {"$": "pickle"}}')])[0]
        assert "could not be read" in garbled["visible"]
        solution = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex3-answer")
        assert "share" in solution.source
        # the right share, computed here with pandas: a Spark session made in this process would outlive the test
        # and be the session that later tests in this worker get back (without the course's settings)
        share = float(pd.read_csv(ROOT / "data" / "grants.csv").granted.mean())
        good = checker.check([dict(item, answers=encode({"share": share}))])[0]
        assert good["passed"], good
    finally:
        checker.stop()


def test_progress_reads_a_partly_done_notebook(course, tmp_path):
    """A learner's saved notebook: ex1 passed its self-check, ex2 said what is wrong, ex3 not started."""
    folder = tmp_path / "notebooks" / L0
    folder.mkdir(parents=True)
    nb = synthetic.submission(L0, {"ex1-answer": "granted_per_band = 1", "ex2-answer": "busiest = 'x'"}, course)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id == "ex1-test":
            cell.outputs = [nbformat.v4.new_output("stream", text="✓ self-check passed: ex1 · ...\n")]
        if grade_id == "ex2-test":
            cell.outputs = [nbformat.v4.new_output("error", ename="AnswerError", evalue="not yet", traceback=[])]
    nbformat.write(nb, folder / f"{L0}.ipynb")
    before = (folder / f"{L0}.ipynb").read_bytes()
    out = subprocess.run(["make", "--no-print-directory", "progress", f"NOTEBOOKS={tmp_path / 'notebooks'}"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith(L0))
    assert " 1/3" in line and "✓ex1" in line and "✗ex2" in line, out
    assert (folder / f"{L0}.ipynb").read_bytes() == before, "progress changed the learner's notebook"


def test_the_speed_workload_counts_its_own_cpu_and_scales_by_the_median():
    """The harness scales CPU budgets by speed.slowdown: each sample is the CPU of one fresh interpreter
    running the workload (not its wall time, not this process's), and the scale is their median."""
    import time
    before = time.process_time()
    times = speed.sample(2)
    assert time.process_time() - before < 0.5, "the workload runs in a child, not in this process"
    assert all(0.1 < t < 30 for t in times), times
    assert speed.slowdown([3.0, 1.0, 2.0]) == 2.0 / speed.REFERENCE_S


def test_a_cpu_budget_scales_up_with_a_slow_machine_never_down_and_fails_past_its_ceiling():
    """cpu_limits: the stated budget times the slowdown, never less than stated; budget_problem, the harness's
    verdict, is silent up to 1.5x that budget (over the target, within the ceiling) and names both past it."""
    from grader.harness.check import budget_problem, cpu_limits

    assert cpu_limits(60, 2.0) == (120, 180)
    assert cpu_limits(60, 0.7) == (60, 90), "a fast Python workload must not tighten the budget"
    assert budget_problem(62.2, 60, 0.7) is None, "over the target but within the ceiling: reported, not failed"
    assert budget_problem(170, 60, 2.0) is None
    problem = budget_problem(91, 60, 0.7)
    assert problem and "91 CPU-seconds" in problem and "1.5x its budget of 60" in problem, problem
    assert budget_problem(181, 60, 2.0) is not None


def test_the_harness_tables_count_each_class_by_its_rejected_wrong_answers_and_quote_why_values_are_hidden():
    from grader.harness.check import class_cell, class_gaps, exercise_table
    from grader.harness.prove import hidden_reasons
    from grader.harness.static import class_applies

    assert class_applies("the hidden test reads the plan") and not class_applies("does not apply")
    assert not class_applies("Not applicable (nothing is fitted)") and not class_applies("not demanded, so not checked")
    report = Report("xx_lesson", classes={"method": "reads the plan", "training-rows": "does not apply"})
    report.exercises = {
        "ex1": {"checked": ["a"], "hidden": ["m"], "why": "a model | its kind", "wrong": 3, "rejected": 3,
                "self_rejected": 1, "right": 1, "accepted": 1, "applies": ["method", "tolerance"],
                "classes_rejected": {"method"}},
        "ex2": {"checked": [], "hidden": ["n"], "why": "", "wrong": 1, "rejected": 1, "self_rejected": 0,
                "right": 1, "accepted": 1, "applies": ["method"], "classes_rejected": set()}}
    report.class_rejections = {"method": 2}
    assert class_cell(report, "method") == "2 (1/2)", "two rejected, in one of the two exercises it applies to"
    assert class_cell(report, "training-rows") == "n/a" and class_cell(report, "behaviour") == "–"
    assert class_gaps(report) == [("ex1", "tolerance"), ("ex2", "method")]
    rows = exercise_table([report]).splitlines()
    assert rows[2].split(" | ")[1:5] == ["ex1", "a", "m", "a model / its kind"], "a | in a reason cannot break the table"
    assert rows[2].endswith("method ✓, tolerance ✗ |") and rows[3].endswith("method ✗ |")
    cell = 'check_answer("ex1", a=a, m=m,  # a model: its kind\n             hidden=("m",))  # noqa: E501\n' \
           "### BEGIN HIDDEN TESTS\n# a hidden comment\nassert True\n### END HIDDEN TESTS\n"
    assert hidden_reasons(cell) == "a model: its kind", "the visible part's comments only, never the hidden tests'"


def test_every_exercise_of_every_lesson_names_all_six_classes_and_a_missing_one_is_a_problem():
    import copy

    from grader.course import lessons, source_notebook
    from grader.harness.static import CLASSES, check_recorded_answers, load_recorded

    for lesson in lessons():
        nb = nbformat.read(source_notebook(lesson), as_version=4)
        recorded = load_recorded(lesson)
        report = Report(lesson)
        check_recorded_answers(nb, recorded, report)
        assert not report.problems, report.problems
        # The same answers with one class entry taken out of the first exercise: a problem that names it.
        first = sorted(recorded)[0]
        damaged = copy.deepcopy(recorded)
        del damaged[first]["classes"][CLASSES[1]]
        report = Report(lesson)
        check_recorded_answers(nb, damaged, report)
        assert len(report.problems) == 1 and first in report.problems[0] and CLASSES[1] in report.problems[0], \
            report.problems

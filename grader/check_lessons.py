"""The integrity harness: prove, for each lesson, that its exercises grade what they claim.

For a lesson it checks, with real nbgrader and a real kernel:
  1. the solution runs with no error and scores full marks under ``nbgrader autograde``;
  2. the unanswered student notebook scores 0 on every autograded test cell (under nbgrader, and
     in a kernel where every other answer is right);
  3. every autograded test cell rejects at least one recorded wrong answer
     (grader/wrong_answers/<lesson>.yml), and every recorded wrong answer is rejected;
  4. notebooks/<lesson> is exactly what ``make release`` generates now;
  5. no solution code and no hidden test leaks into the student notebook;
  6. the solution runs within the time budget;
  7. every assert in a test cell carries a message for the student.
Run ``python -m grader.check_lessons [LESSON ...]`` for a table; tests/test_lessons.py runs it too.
"""

import argparse
import ast
import json
import re
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml
from jupyter_client.manager import start_new_kernel

from .course import ROOT, WRONG_ANSWERS, lessons, nbgrader, source_notebook, student_notebook, tool_env

TIME_BUDGET_S = 60
# The solution is graded alone, so its time is measured on idle cores. What runs after it, two at a
# time and untimed, uses a JVM that compiles less (C1 only): half the JIT's CPU, on 2 cores that counts.
SIDE_BY_SIDE_ENV = {"PYSPARK_SUBMIT_ARGS": "--driver-java-options -XX:TieredStopAtLevel=1 pyspark-shell"}
CELL_TIMEOUT_S = 120
REGION = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.S)


@dataclass
class Report:
    lesson: str
    seconds: float = 0.0
    auto_points: float = 0.0
    manual_points: float = 0.0
    solution_points: float = 0.0
    blank_points: float = 0.0
    # test cell id -> descriptions of the wrong answers it rejected
    rejections: dict = field(default_factory=dict)
    wrong_answers: int = 0
    problems: list = field(default_factory=list)

    def problem(self, text):
        self.problems.append(text)


def nbgrader_meta(cell):
    return cell.metadata.get("nbgrader", {})


def is_test(cell):
    meta = nbgrader_meta(cell)
    return meta.get("grade") and not meta.get("solution") and cell.cell_type == "code"


def is_solution(cell):
    meta = nbgrader_meta(cell)
    return meta.get("solution") and not meta.get("grade") and cell.cell_type == "code"


def exercises(nb):
    """Group test cells with the solution cell before them: [(solution cell, [test cells])]."""
    groups = []
    for cell in nb.cells:
        if is_solution(cell):
            groups.append((cell, []))
        elif is_test(cell):
            if not groups:
                groups.append((None, []))
            groups[-1][1].append(cell)
    return groups


def load_wrong_answers(lesson):
    path = WRONG_ANSWERS / f"{lesson}.yml"
    if not path.exists():
        return {}
    return yaml.safe_load(path.read_text()) or {}


# --- static checks ---------------------------------------------------------------------------------

def check_asserts_have_messages(nb, report):
    for cell in filter(is_test, nb.cells):
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Assert) and node.msg is None:
                report.problem(f"{nbgrader_meta(cell)['grade_id']}: `assert {ast.unparse(node.test)}` has no message")


def check_no_leaks(source, student, report):
    """Lines that appear only inside solution/hidden regions of the source must not reach students."""
    regions, public = set(), set()
    for cell in source.cells:
        hidden_text = "\n".join(m.group(2) for m in REGION.finditer(cell.source))
        regions.update(line.strip() for line in hidden_text.splitlines())
        public.update(line.strip() for line in REGION.sub("", cell.source).splitlines())
    secret = {line for line in regions - public if len(line) >= 12 and not line.startswith("#")}
    text = json.dumps(student, sort_keys=True)
    student_lines = {line.strip() for cell in student.cells for line in cell.source.splitlines()}
    for line in sorted(secret & student_lines):
        report.problem(f"student notebook leaks: {line!r}")
    for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        if marker in text:
            report.problem(f"student notebook contains the marker {marker!r}")
    if any(cell.get("outputs") for cell in student.cells):
        report.problem("student notebook carries outputs")


# --- nbgrader -----------------------------------------------------------------------------------------

def make_course(lesson, workdir):
    """A throwaway nbgrader course directory holding just this lesson, released afresh."""
    shutil.copy(ROOT / "nbgrader_config.py", workdir / "nbgrader_config.py")
    shutil.copytree(source_notebook(lesson).parent, workdir / "solutions" / lesson)
    nbgrader("generate_assignment", lesson, "--force", cwd=workdir)
    return workdir


def autograde(workdir, lesson, student, notebook_path, env=None):
    """Submit a notebook as `student`, autograde it, and return (seconds, {grade_id: (score, max)})."""
    from nbgrader.api import Gradebook

    target = workdir / "submitted" / student / lesson
    target.mkdir(parents=True)
    shutil.copy(notebook_path, target / f"{lesson}.ipynb")
    start = time.perf_counter()
    nbgrader("autograde", lesson, "--student", student, "--force", cwd=workdir, env=env)
    seconds = time.perf_counter() - start
    with Gradebook(f"sqlite:///{workdir / 'gradebook.db'}") as gradebook:
        sub = gradebook.find_submission_notebook(lesson, lesson, student)
        scores = {g.name: (g.auto_score, g.max_score, g.cell_type) for g in sub.grades}
    graded = nbformat.read(workdir / "autograded" / student / lesson / f"{lesson}.ipynb", as_version=4)
    return seconds, scores, graded


# --- one kernel for blank stubs and wrong answers -------------------------------------------------------

class Kernel:
    def __init__(self, cwd, env=None):
        self.manager, self.client = start_new_kernel(kernel_name="python3", cwd=str(cwd), env=tool_env(**(env or {})))

    def run(self, code):
        """Run code; return None on success, else 'ErrorName: message'."""
        errors = []

        def on_output(msg):
            if msg["msg_type"] == "error":
                errors.append(f"{msg['content']['ename']}: {msg['content']['evalue']}")

        reply = self.client.execute_interactive(code, timeout=CELL_TIMEOUT_S, output_hook=on_output)
        if reply["content"]["status"] == "ok":
            return None
        return errors[0] if errors else f"{reply['content'].get('ename')}: {reply['content'].get('evalue')}"

    def close(self):
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def prove_exercises(source, student, wrong_answers, report, cwd, env=None):
    """Run the solution in one kernel; at each exercise, try the blank stub and each wrong answer first."""
    stubs = {nbgrader_meta(c).get("grade_id"): c.source for c in student.cells if nbgrader_meta(c)}
    groups = {id(sol): tests for sol, tests in exercises(source) if sol is not None}
    unused = set(wrong_answers) - {nbgrader_meta(sol)["grade_id"] for sol, _ in exercises(source) if sol}
    for grade_id in sorted(unused):
        report.problem(f"wrong answers recorded for {grade_id!r}, which is not a solution cell")
    kernel = Kernel(cwd, env)
    try:
        for cell in source.cells:
            if cell.cell_type != "code" or is_test(cell):
                continue  # tests run with their exercise, below
            tests = groups.get(id(cell))
            if tests is None:
                error = kernel.run(cell.source)
                if error:
                    report.problem(f"cell {cell.id} fails in the solution: {error}")
                continue
            grade_id = nbgrader_meta(cell)["grade_id"]
            kernel.run(stubs.get(grade_id, ""))  # the blank answer: raises NotImplementedError, as designed
            for test in tests:
                if kernel.run(test.source) is None:
                    report.problem(f"{nbgrader_meta(test)['grade_id']} passes on the unanswered notebook")
            for wrong in wrong_answers.get(grade_id, []):
                report.wrong_answers += 1
                kernel.run(wrong["code"])
                rejected_by = [t for t in tests if kernel.run(t.source) is not None]
                for test in rejected_by:
                    report.rejections.setdefault(nbgrader_meta(test)["grade_id"], []).append(wrong["why"])
                if not rejected_by:
                    report.problem(f"{grade_id}: wrong answer accepted by every test ({wrong['why']})")
            error = kernel.run(cell.source)
            if error:
                report.problem(f"solution cell {grade_id} fails: {error}")
            for test in tests:
                error = kernel.run(test.source)
                if error:
                    report.problem(f"{nbgrader_meta(test)['grade_id']} fails on the solution: {error}")
    finally:
        kernel.close()
    for test in filter(is_test, source.cells):
        if not report.rejections.get(nbgrader_meta(test)["grade_id"]):
            report.problem(f"{nbgrader_meta(test)['grade_id']} rejects none of the recorded wrong answers")


# --- the whole check ----------------------------------------------------------------------------------

def check_lesson(lesson):
    report = Report(lesson)
    source = nbformat.read(source_notebook(lesson), as_version=4)
    student = nbformat.read(student_notebook(lesson), as_version=4) if student_notebook(lesson).exists() else None
    if student is None:
        report.problem(f"notebooks/{lesson} is missing: run make release")
        return report
    if any(cell.get("outputs") for cell in source.cells):
        report.problem("the solution notebook carries outputs: clear them before committing")
    check_asserts_have_messages(source, report)
    check_no_leaks(source, student, report)
    for cell in source.cells:
        meta = nbgrader_meta(cell)
        if meta.get("grade"):
            report.auto_points += meta["points"] if is_test(cell) else 0
            report.manual_points += 0 if is_test(cell) else meta["points"]

    with tempfile.TemporaryDirectory(prefix=f"check-{lesson}-") as tmp:
        workdir = make_course(lesson, Path(tmp))
        released = student_notebook(lesson, workdir)
        if released.read_bytes() != student_notebook(lesson).read_bytes():
            report.problem(f"notebooks/{lesson} differs from what make release generates now")

        report.seconds, scores, graded = autograde(workdir, lesson, "solution", source_notebook(lesson))
        for cell in graded.cells:
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    report.problem(f"solution raises {output.ename}: {output.evalue} (cell {cell.id})")
        for grade_id, (score, maximum, cell_type) in scores.items():
            if cell_type == "code" and grade_id in {nbgrader_meta(c).get("grade_id") for c in source.cells if is_test(c)}:
                report.solution_points += score or 0
                if score != maximum:
                    report.problem(f"solution scores {score}/{maximum} on {grade_id}")
        if report.seconds > TIME_BUDGET_S:
            report.problem(f"solution took {report.seconds:.0f} s to grade, over the {TIME_BUDGET_S} s budget")

        # The unanswered notebook under nbgrader, side by side with the kernel that tries the wrong answers.
        with ThreadPoolExecutor(max_workers=1) as pool:
            blank = pool.submit(autograde, workdir, lesson, "blank", student_notebook(lesson), SIDE_BY_SIDE_ENV)
            prove_exercises(source, student, load_wrong_answers(lesson), report, workdir / "solutions" / lesson,
                            SIDE_BY_SIDE_ENV)
            _, scores, _ = blank.result()
        for grade_id, (score, maximum, _) in scores.items():
            if grade_id in {nbgrader_meta(c).get("grade_id") for c in source.cells if is_test(c)}:
                report.blank_points += score or 0
                if score:
                    report.problem(f"the unanswered notebook scores {score}/{maximum} on {grade_id}")
    return report


def table(reports):
    lines = [
        "| lesson | solution graded in | autograded points | manual points | test cells | wrong answers | rejections | problems |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in reports:
        lines.append(
            f"| {r.lesson} | {r.seconds:.1f} s | {r.solution_points:g}/{r.auto_points:g} | {r.manual_points:g} | "
            f"{len(r.rejections)} | {r.wrong_answers} | {sum(map(len, r.rejections.values()))} | {len(r.problems)} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="lessons to check (default: all)")
    parser.add_argument("--report", type=Path, help="also write the table (Markdown) to this file")
    args = parser.parse_args(argv)
    reports = []
    for lesson in args.lessons or lessons():
        report = check_lesson(lesson)
        reports.append(report)
        for problem in report.problems:
            print(f"  {lesson}: {problem}")
        for test_id, whys in sorted(report.rejections.items()):
            print(f"  {lesson}: {test_id} rejects {len(whys)}: " + "; ".join(whys))
    print(table(reports))
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(table(reports) + "\n")
    return 1 if any(r.problems for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())

"""What the harness checks by reading a lesson: its shape, its tests' rules, its recorded answers, no leaks.

Nothing here runs code. Each check appends plain sentences to the report's problems.
"""

import ast
import builtins
import json
import re

import yaml

from ..course import RECORDED_ANSWERS, is_answer, is_test  # noqa: F401 - is_test is part of this module's vocabulary

REGION = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.S)
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)
CLASSES = ("method", "training-rows", "nondeterminism", "tolerance", "behaviour", "prompt-agreement")
# A class entry that says it does not apply to the exercise (the rest say how the tests cover it).
NOT_APPLYING = re.compile(r"^\s*(does not apply|not applicable|not demanded|n/a)\b", re.I)


def class_applies(text):
    """Whether an exercise's ``classes:`` entry says the class applies (rather than why it does not)."""
    return not NOT_APPLYING.match(str(text))


TITLE = re.compile(r"^# (\d\d) · \S")
EXERCISE = re.compile(r"^### Exercise (\d+) · \S", re.M)


def nbgrader_meta(cell):
    return cell.metadata.get("nbgrader", {})


is_solution = is_answer


def exercises(nb):
    """[(solution cell, [test cells])]: each test cell with the solution cell before it."""
    groups = []
    for cell in nb.cells:
        if is_solution(cell):
            groups.append((cell, []))
        elif is_test(cell):
            if not groups:
                groups.append((None, []))
            groups[-1][1].append(cell)
    return groups


def load_recorded(lesson):
    """{solution cell id: {"wrong": [...], "right": [...], "classes": {...}}} from grader/harness/answers/<lesson>.yml."""
    path = RECORDED_ANSWERS / f"{lesson}.yml"
    data = (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}
    recorded = {}
    for grade_id, entry in data.items():
        if isinstance(entry, list):  # the older form: a list of wrong answers
            entry = {"wrong": entry}
        recorded[grade_id] = {"wrong": entry.get("wrong") or [], "right": entry.get("right") or [],
                              "classes": entry.get("classes") or {}}
    return recorded


# --- the lesson's shape --------------------------------------------------------------------------------


def check_shape(nb, lesson, report):
    """Goals, setup cell, headings that start cells, exercises in threes, a written question, what you learned."""
    cells = nb.cells
    first = cells[0].source if cells else ""
    if not cells or cells[0].cell_type != "markdown" or not TITLE.match(first) or TITLE.match(first).group(1) != lesson[:2]:
        report.problem(f"the first cell must be the title `# {lesson[:2]} · ...`")
    elif len(first.strip().splitlines()) < 3:
        report.problem("the title cell must say what the reader will be able to do (the goals)")
    setup = next((c for c in cells if nbgrader_meta(c).get("grade_id") == "setup"), None)
    if setup is None or setup.cell_type != "code" or not nbgrader_meta(setup).get("locked"):
        report.problem("a read-only setup cell with id `setup` must come after the title")
    elif f'use_lesson("{lesson}")' not in setup.source:
        report.problem(f'the setup cell must call use_lesson("{lesson}")')
    for cell in cells:
        if cell.cell_type == "markdown":
            lines = cell.source.splitlines()
            for line in lines[1:]:
                if re.match(r"^#{1,3} ", line):
                    report.problem(f"cell {cell.id}: the heading {line!r} must start a cell of its own")
                    break
    for number, (solution, tests) in enumerate(exercises(nb), 1):
        if solution is None:
            report.problem("a test cell comes before any solution cell")
            continue
        grade_id = nbgrader_meta(solution)["grade_id"]
        if grade_id != f"ex{number}-answer":
            report.problem(f"the solution cells must be ex1-answer, ex2-answer, ... in order ({grade_id} is number {number})")
        if [nbgrader_meta(t)["grade_id"] for t in tests] != [f"ex{number}-test"]:
            report.problem(f"{grade_id} must be followed by exactly one test cell, ex{number}-test")
        index = cells.index(solution)
        prompt = cells[index - 1] if index else None
        if prompt is None or prompt.cell_type != "markdown" or not EXERCISE.search(prompt.source):
            report.problem(f"{grade_id}: the cell before it must be the prompt `### Exercise {number} · ...`")
    written = [c for c in cells if c.cell_type == "markdown" and nbgrader_meta(c).get("solution")
               and nbgrader_meta(c).get("grade")]
    if not written:
        report.problem("a lesson needs a written answer (a manually graded markdown answer cell)")
    for cell in written:
        index = cells.index(cell)
        question = "\n".join(c.source for c in cells[max(0, index - 2):index] if c.cell_type == "markdown")
        if "## " not in question or "own words" not in question.lower() and "reflection" not in question.lower():
            report.problem(f"the written answer {nbgrader_meta(cell)['grade_id']} needs its own section "
                           "(`## N. In your own words`, or a reflection in a capstone)")
    tail = [c for c in cells[-3:] if c.cell_type == "markdown"]
    if not any(c.source.startswith("## What you learned") for c in tail):
        report.problem("the lesson must end with `## What you learned`")
    if not cells or cells[-1].cell_type != "code" or "progress()" not in cells[-1].source:
        report.problem("the last cell must show the learner's progress: `progress()`")


# --- the tests' rules ------------------------------------------------------------------------------------


def _assigned(source):
    names = set()
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return names
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names


def _answer_names(source):
    """What an answer cell defines at its top level (assignments, functions, classes), imports aside."""
    names = set()
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return names
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For, ast.With)):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    names.add(sub.id)
    return names


def _loaded(source):
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


def check_tests(nb, report):
    """Every test records its answers with check_answer, and its hidden part reads only what it may.

    In the checker, a name the student's answer cell defines holds the *solution's* value unless the
    test records it: a hidden test reading it would check the solution, not the student.
    """
    from ..grade.checker import recorded_names, split_test

    student_defined = set()
    for solution, _ in exercises(nb):
        if solution is not None:
            student_defined |= _answer_names(solution.source)
    for cell in filter(is_test, nb.cells):
        grade_id = nbgrader_meta(cell)["grade_id"]
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Assert) and node.msg is None:
                report.problem(f"{grade_id}: `assert {ast.unparse(node.test)}` has no message")
        visible, hidden = split_test(cell.source)
        recorded = set(recorded_names(cell.source))
        if "check_answer(" not in visible or not recorded:
            report.problem(f"{grade_id}: the visible test must record the answers with check_answer(\"exN\", name=value)")
            continue
        if not hidden.strip():
            report.problem(f"{grade_id}: there are no hidden tests")
        own = _assigned(hidden) | _assigned(visible)
        for name in sorted((_loaded(hidden) & student_defined) - recorded - own):
            report.problem(f"{grade_id}: the hidden test reads `{name}`, which the student's answer defines but the test "
                           "does not record: in the checker it would be the solution's (record it, or what it computes)")


def check_recorded_answers(nb, recorded, report):
    """Every exercise names all six classes and records at least one wrong and one right answer; no answers for nothing."""
    ids = [nbgrader_meta(s)["grade_id"] for s, _ in exercises(nb) if s is not None]
    for grade_id in sorted(set(recorded) - set(ids)):
        report.problem(f"answers recorded for {grade_id!r}, which is not a solution cell")
    for grade_id in ids:
        entry = recorded.get(grade_id)
        if not entry:
            report.problem(f"{grade_id}: no recorded answers (grader/harness/answers/)")
            continue
        if not entry["wrong"]:
            report.problem(f"{grade_id}: no wrong answers recorded")
        if not entry["right"]:
            report.problem(f"{grade_id}: no correct answer in another style recorded (`right:`)")
        unknown = set(entry["classes"]) - set(CLASSES)
        if unknown:
            report.problem(f"{grade_id}: unknown classes {sorted(unknown)} (the six are {', '.join(CLASSES)})")
        if not entry["classes"]:
            report.problem(f"{grade_id}: say which of the six classes apply and how the tests cover them (`classes:`)")
        elif missing := [name for name in CLASSES if name not in entry["classes"]]:
            report.problem(f"{grade_id}: name every one of the six classes under `classes:`; missing: "
                           f"{', '.join(missing)} (say how the tests cover it, or `does not apply; <why>`)")
        for wrong in entry["wrong"]:
            if wrong.get("class") and wrong["class"] not in CLASSES:
                report.problem(f"{grade_id}: wrong answer {wrong['why']!r} names an unknown class {wrong['class']!r}")


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
    for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "# HINT:"):
        if marker in text:
            report.problem(f"student notebook contains {marker!r}")
    if any(cell.get("outputs") for cell in student.cells):
        report.problem("student notebook carries outputs")


def builtin_names():
    return set(dir(builtins))

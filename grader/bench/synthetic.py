"""Synthetic student submissions: the released notebook with each answer filled in a chosen way.

Used by the grading benchmark and the grading tests. An answer is the solution, a recorded wrong
answer (grader/harness/answers/), any code you give, or left blank.
"""

import random
import re

import nbformat

from ..course import ROOT, source_notebook, student_notebook
from ..harness.static import load_recorded

MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$\n?", re.M)


def solutions(lesson, root=ROOT):
    """{grade_id: solution code} of every answer cell of a lesson (of the course in ``root``)."""
    nb = nbformat.read(source_notebook(lesson, root), as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: MARKERS.sub("", c.source)
            for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}


def submission(lesson, answers, root=ROOT):
    """The student notebook with answer cells replaced by answers[grade_id] (others left blank)."""
    nb = nbformat.read(student_notebook(lesson, root), as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return nb


def class_of(lesson, size, seed=0):
    """`size` submissions with a realistic spread: mostly right, some wrong answers, some blanks."""
    rng = random.Random(seed)
    right = solutions(lesson)
    wrong = {grade_id: entry["wrong"] for grade_id, entry in load_recorded(lesson).items()}
    students = {}
    for i in range(size):
        answers = {}
        for grade_id, code in right.items():
            roll = rng.random()
            if roll < 0.65:
                answers[grade_id] = code
            elif roll < 0.9 and wrong.get(grade_id):
                answers[grade_id] = rng.choice(wrong[grade_id])["code"]
        students[f"student{i + 1:02d}"] = submission(lesson, answers)
    return students

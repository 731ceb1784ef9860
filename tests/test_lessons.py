"""The integrity harness on every lesson: real nbgrader, real kernels, real Spark (see grader/check_lessons.py)."""

import pytest

from grader.check_lessons import check_lesson, table
from grader.course import ROOT, lessons


@pytest.mark.xdist_group("lessons")  # one lesson at a time: its solution's time budget is measured
@pytest.mark.parametrize("lesson", lessons())
def test_lesson_integrity(lesson):
    report = check_lesson(lesson)
    (ROOT / "build" / "lessons").mkdir(parents=True, exist_ok=True)
    (ROOT / "build" / "lessons" / f"{lesson}.md").write_text(table([report]) + "\n")
    assert not report.problems, "\n".join(report.problems)
